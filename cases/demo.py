"""Fictional demo cases, written through the services so teams, permissions and audit
events are exactly what real use would leave behind.

The identity numbers are made up: valid date and check digit, serial numbers in the
9700–9899 range. They are not taken from Skatteverket's published test series;
replace them with test-series numbers before the demo is shown where real data could
exist."""

from __future__ import annotations

from django.db import transaction

from cases import services
from cases.models import Youth
from cases.selectors import PNR_INDEX
from sspf.crypto import blind_index
from sspf.models import User
from sspf.personnummer import parse

# youth, area, lead, team, guardians, entries (author, category, text, statutory basis)
DEMO_CASES = [
    {
        "youth": ("20110314-9801", "Elsa", "Demosson", False),
        "area": "Kvarnbacka",
        "lead": "koordinator",
        "team": ["skolkurator", "socialsekreterare", "fritidsledare"],
        "guardians": [("19740312-9807", "Maria", "Demosson", True),
                      ("19760918-9811", "Johan", "Demosson", True)],
        "entries": [
            ("skolkurator", "school", "Hög frånvaro sedan höstlovet, främst måndagar. "
             "Elsa säger att hon mår dåligt på morgnarna.", ""),
            ("skolkurator", "school", "Orosanmälan gjord till socialtjänsten efter samtal "
             "med Elsa och mentor.", "Orosanmälan enligt 14 kap. 1 § SoL"),
            ("socialsekreterare", "social", "Förhandsbedömning inledd. Familjen har tackat "
             "ja till samtal.", ""),
            ("fritidsledare", "leisure", "Elsa har börjat i tjejgruppen på tisdagar och "
             "trivs enligt egen utsago.", ""),
            ("koordinator", "basic", "Nätverksmöte bokat med familjen, skolan och "
             "fritidsgården.", ""),
        ],
    },
    {
        "youth": ("20100902-9818", "Omar", "Exempelsson", False),
        "area": "Centrum",
        "lead": "koordinator",
        "team": ["polis", "socialsekreterare"],
        "guardians": [("19780101-9824", "Leila", "Exempelsson", True)],
        "entries": [
            ("polis", "police", "Omar har setts med äldre ungdomar vid centrumtorget "
             "sena kvällar.", ""),
            ("socialsekreterare", "social", "Kontakt etablerad med mamma. Insats "
             "diskuteras.", ""),
        ],
    },
    {
        "youth": ("20120621-9808", "Nora", "Testlund", True),
        "area": "Ängaby",
        "lead": "koordinator",
        "team": ["skolkurator"],
        "guardians": [("19801224-9838", "Sara", "Testlund", True)],
        "entries": [
            ("skolkurator", "school", "Nora har bytt skola under terminen. "
             "Skyddade personuppgifter: visa inga kontaktuppgifter.", ""),
        ],
    },
    {
        "youth": ("20130115-9800", "Alva", "Grannbydotter", False),
        "area": "",
        "lead": "koordinator2",
        "team": [],
        "guardians": [],
        "entries": [
            ("koordinator2", "basic", "Signal från skolan i Grannby om oro för Alva.", ""),
        ],
    },
]


@transaction.atomic
def seed_demo_cases() -> int:
    created = 0
    for spec in DEMO_CASES:
        lead = User.objects.get(username=spec["lead"])
        municipality = lead.organisation.municipality
        pnr, first, last, protected = spec["youth"]
        index = blind_index(parse(pnr).normalised, purpose=PNR_INDEX)
        if Youth.objects.filter(municipality=municipality, personnummer_index=index).exists():
            continue
        area = spec["area"] if spec["area"] in municipality.areas else ""
        case = services.case_create(user=lead, personnummer=pnr, first_name=first,
                                    last_name=last, protected_identity=protected, area=area)
        for username in spec["team"]:
            services.member_add(user=lead, case_id=case.pk, username=username)
        for g_pnr, g_first, g_last, custodian in spec["guardians"]:
            services.guardian_add(user=lead, case_id=case.pk, personnummer=g_pnr,
                                  first_name=g_first, last_name=g_last, custodian=custodian,
                                  protected_identity=protected)
        for author, category, text, basis in spec["entries"]:
            services.entry_add(user=User.objects.get(username=author), case_id=case.pk,
                               category=category, text=text, statutory_basis=basis)
        created += 1
    return created


