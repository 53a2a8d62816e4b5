"""Fictional demo cases, written through the services so teams, permissions and audit
events are exactly what real use would leave behind.

Ages are fixed relative to the day the demo was first seeded (the lead coordinator's
account creation day), so a demo seeded in any year shows youths inside the age span,
and running the seed again finds the same people. The identity numbers follow
Skatteverket's published test series ("Testpersonnummer", open data under CC0,
https://www.dataportal.se/sv/datasets/6_67959/testpersonnummer), in which every date
has the birth numbers 238 (female) and 239 (male); those numbers are never given to a
real person."""

from __future__ import annotations

from datetime import date, timedelta

from django.db import transaction
from django.utils import timezone

from cases import services
from cases.models import Signal, Youth
from cases.selectors import PNR_INDEX
from sspf.crypto import blind_index
from sspf.models import User
from sspf.personnummer import check_digit

TEST_SERIES_BIRTH_NUMBER = {"F": "238", "M": "239"}


def test_series_number(born: date, sex: str) -> str:
    """``YYYYMMDD-NNNN`` in Skatteverket's test series for a birth date and sex."""
    nine = born.strftime("%y%m%d") + TEST_SERIES_BIRTH_NUMBER[sex]
    return f"{born:%Y%m%d}-{TEST_SERIES_BIRTH_NUMBER[sex]}{check_digit(nine)}"


def born_before(anchor: date, years: int, days: int) -> date:
    try:
        day = anchor.replace(year=anchor.year - years)
    except ValueError:  # 29 February in a year without one
        day = anchor.replace(year=anchor.year - years, day=28)
    return day - timedelta(days=days)


def demo_anchor(lead: User) -> date:
    return timezone.localdate(lead.date_joined)


def person_number(anchor: date, person: tuple) -> str:
    _first, _last, sex, (years, days) = person[:4]
    return test_series_number(born_before(anchor, years, days), sex)


# youth (first, last, sex, (age in years, extra days), protected), contact (address,
# phone), area, lead, team, guardians (first, last, sex, age, custodian), entries
# (author, category, text, "" or (statutory basis, username whose organisation it lets
# the entry reach)). The addresses are made up; the phone numbers come from the series
# that Post- och telestyrelsen keeps for fiction (070-174 06 05 to 070-174 06 99), so
# no real subscriber is reached.
DEMO_CASES = [
    {
        "youth": ("Elsa", "Demosson", "F", (15, 250), False),
        "contact": ("Kvarnbackavägen 12", "070-174 06 05"),
        "area": "Kvarnbacka",
        "lead": "koordinator",
        "team": ["skolkurator", "socialsekreterare", "fritidsledare"],
        "guardians": [("Maria", "Demosson", "F", (52, 255), True),
                      ("Johan", "Demosson", "M", (50, 65), True)],
        "entries": [
            ("skolkurator", "school", "Hög frånvaro sedan höstlovet, främst måndagar. "
             "Elsa säger att hon mår dåligt på morgnarna.", ""),
            ("skolkurator", "school", "Orosanmälan gjord till socialtjänsten efter samtal "
             "med Elsa och mentor.", ("Orosanmälan enligt 14 kap. 1 § SoL",
                                      "socialsekreterare")),
            ("socialsekreterare", "social", "Förhandsbedömning inledd. Familjen har tackat "
             "ja till samtal.", ""),
            ("fritidsledare", "leisure", "Elsa har börjat i tjejgruppen på tisdagar och "
             "trivs enligt egen utsago.", ""),
            ("koordinator", "basic", "Nätverksmöte bokat med familjen, skolan och "
             "fritidsgården.", ""),
        ],
    },
    {
        "youth": ("Omar", "Exempelsson", "M", (16, 81), False),
        "contact": ("Torggatan 8", "070-174 06 06"),
        "area": "Centrum",
        "lead": "koordinator",
        "team": ["polis", "socialsekreterare"],
        "guardians": [("Leila", "Exempelsson", "F", (48, 325), True)],
        "entries": [
            ("polis", "police", "Omar har setts med äldre ungdomar vid centrumtorget "
             "sena kvällar.", ""),
            ("socialsekreterare", "social", "Kontakt etablerad med mamma. Insats "
             "diskuteras.", ""),
        ],
    },
    {
        "youth": ("Nora", "Testlund", "F", (14, 154), True),
        "contact": ("Ängabyvägen 3", "070-174 06 07"),
        "area": "Ängaby",
        "lead": "koordinator",
        "team": ["skolkurator"],
        "guardians": [("Sara", "Testlund", "F", (45, 333), True)],
        "entries": [
            ("skolkurator", "school", "Nora har bytt skola under terminen. "
             "Skyddade personuppgifter: visa inga kontaktuppgifter.", ""),
        ],
    },
    {
        "youth": ("Alva", "Grannbydotter", "F", (13, 311), False),
        "contact": ("", ""),
        "area": "",
        "lead": "koordinator2",
        "team": [],
        "guardians": [],
        "entries": [
            ("koordinator2", "basic", "Signal från skolan i Grannby om oro för Alva.", ""),
        ],
    },
]


# Signals waiting in the coordinator's queue: (reporter, first, last, school, concerns,
# text). Names only: the reporters do not know the identity numbers.
DEMO_SIGNALS = [
    ("fritidsledare", "Leo", "Påhittsson", "Kvarnbackaskolan", ["risky_places",
     "criminal_peers"], "Leo har flera kvällar setts med en grupp äldre vid "
     "parkeringen bakom centrum. Han verkar stressad och har slutat komma till gården."),
    ("polis", "Mira", "Fiktivsdotter", "", ["own_crime", "alcohol_drugs"],
     "Mira påträffades berusad i samband med en snatteriutredning i helgen."),
]


def seed_demo_signals() -> int:
    """The demo's signals, once: a reporter with signals of their own gets none more."""
    created = 0
    for reporter, first, last, school, concerns, text in DEMO_SIGNALS:
        user = User.objects.filter(username=reporter).first()
        if user is None or Signal.objects.filter(author=user).exists():
            continue
        services.signal_raise(user=user, first_name=first, last_name=last, school=school,
                              concerns=concerns, text=text)
        created += 1
    return created


def demo_youth_numbers() -> list[tuple[str, str]]:
    """(name, identity number) of each demo youth whose lead exists, computed from the
    demo definition rather than read from the records, so printing them is no read of
    personal data."""
    leads = {u.username: u for u in User.objects.filter(
        username__in={spec["lead"] for spec in DEMO_CASES})}
    return [(f"{spec['youth'][0]} {spec['youth'][1]}",
             person_number(demo_anchor(leads[spec["lead"]]), spec["youth"]))
            for spec in DEMO_CASES if spec["lead"] in leads]


@transaction.atomic
def seed_demo_cases() -> int:
    created = 0
    for spec in DEMO_CASES:
        lead = User.objects.get(username=spec["lead"])
        municipality = lead.organisation.municipality
        anchor = demo_anchor(lead)
        first, last, _sex, _age, protected = spec["youth"]
        pnr = person_number(anchor, spec["youth"])
        index = blind_index(pnr.replace("-", ""), purpose=PNR_INDEX)
        # An existence check by blind index: it reads nothing personal.
        if Youth.objects.filter(municipality=municipality, personnummer_index=index).exists():
            continue
        area = spec["area"] if spec["area"] in municipality.areas else ""
        address, phone = spec["contact"]
        case = services.case_create(user=lead, personnummer=pnr, first_name=first,
                                    last_name=last, protected_identity=protected, area=area,
                                    address=address, phone=phone)
        for username in spec["team"]:
            services.member_add(user=lead, case_id=case.pk, username=username)
        for guardian in spec["guardians"]:
            services.guardian_add(user=lead, case_id=case.pk,
                                  personnummer=person_number(anchor, guardian),
                                  first_name=guardian[0], last_name=guardian[1],
                                  custodian=guardian[4], protected_identity=protected)
        for author, category, text, basis in spec["entries"]:
            basis, recipient = basis or ("", None)
            if recipient is not None:
                recipient = User.objects.get(username=recipient).organisation_id
            services.entry_add(user=User.objects.get(username=author), case_id=case.pk,
                               category=category, text=text, statutory_basis=basis,
                               statutory_recipient=recipient)
        created += 1
    seed_demo_signals()
    return created
