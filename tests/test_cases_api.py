"""REST API v1 for cases, seen from the outside: the contract of every endpoint, who
sees which case and which entry, what a refused or bad request leaves behind (nothing),
what the audit log records, and how many queries the case list costs.

Everything runs against the seeded demo world (tests/conftest.py ``demo``): Elsa, Omar
and Nora in Demo, Alva in Grannby. A leak check looks for the value itself in the raw
response body; each such check is paired with a check that the same method does find
what should be there, so an escaped body cannot pass by accident.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import AccessEvent, Action, Outcome
from cases import services
from cases.models import (
    ENTRY_TEXT_MAX_LENGTH,
    Case,
    CaseMember,
    CaseUserObjectPermission,
    Entry,
    Guardian,
    Youth,
)
from cases.selectors import PAGE_SIZE
from sspf.models import Organisation
from sspf.personnummer import luhn_ok
from sspf.roles import Role
from sspf.tokens import issue_token, revoke_token
from tests.conftest import personal_strings
from tests.factories import make_staff

pytestmark = pytest.mark.django_db

API = "/api/v1/"

# Elsa's demo entries (cases/demo.py), by the start of their text.
SCHOOL_PLAIN = "Hög frånvaro sedan höstlovet"  # Kvarnbackaskolan, no statutory basis
SCHOOL_REPORT = "Orosanmälan gjord till socialtjänsten"  # Kvarnbackaskolan, SoL 14:1 to
# Socialtjänsten only
SOCIAL = "Förhandsbedömning inledd"  # Socialtjänsten
LEISURE = "Elsa har börjat i tjejgruppen"  # Fritidsgården Mötesplatsen
BASIC = "Nätverksmöte bokat"  # SSPF-samordningen
ELSA_ENTRIES = {SCHOOL_PLAIN, SCHOOL_REPORT, SOCIAL, LEISURE, BASIC}

CASE_KEYS = {"id", "status", "area", "opened_at", "version", "closure", "youth", "members"}
YOUTH_KEYS = {"id", "personnummer", "first_name", "last_name", "birth_date",
              "protected_identity"}
ENTRY_KEYS = {"id", "kind", "concerns", "category", "text", "source_org", "author",
              "created_at", "statutory_basis", "statutory_recipient"}


# --- helpers ----------------------------------------------------------------------------


def pnr(birth: date, serial: str = "970") -> str:
    """A valid identity number (YYYYMMDD-NNNN) for ``birth`` with the three-digit serial."""
    yymmdd = birth.strftime("%y%m%d")
    for digit in "0123456789":
        if luhn_ok(yymmdd + serial + digit):
            return f"{birth:%Y%m%d}-{serial}{digit}"
    raise AssertionError("no check digit")  # pragma: no cover


def born_years_ago(years: int) -> date:
    """A birth date that makes the person ``years`` or ``years - 1`` old today."""
    return date(timezone.localdate().year - years, 5, 5)


def years_before(years: int, days: int = 0) -> date:
    """Today ``years`` years ago, moved by ``days``."""
    today = timezone.localdate()
    try:
        return today.replace(year=today.year - years) + timedelta(days=days)
    except ValueError:  # pragma: no cover - 29 February
        pytest.skip("no same day in that year")


def youth_pnr(serial: str = "970") -> str:
    """A valid number of someone 13 or 14 years old: inside the 12–18 span."""
    return pnr(born_years_ago(14), serial)


def counts() -> dict[str, int]:
    """Row counts of everything a case write touches."""
    models = (Case, Youth, Entry, Guardian, CaseMember, CaseUserObjectPermission)
    return {model.__name__: model.objects.count() for model in models}


def case_url(case, suffix: str = "") -> str:
    return f"{API}cases/{case.pk}/{suffix}"


def body(response) -> str:
    return response.content.decode("utf-8")


def assert_no_leak(response, strings) -> None:
    text = body(response)
    leaked = [s for s in strings if s and s in text]
    assert not leaked, f"response leaks {leaked}"


def entry_texts(response) -> set[str]:
    """Which of Elsa's demo entries (by text prefix) a response lists."""
    return {prefix for prefix in ELSA_ENTRIES
            if any(e["text"].startswith(prefix) for e in response.json()["results"])}


def new_youth(serial: str = "970", **extra) -> dict:
    return {"youth": {"personnummer": youth_pnr(serial), "first_name": "Ture",
                      "last_name": "Provsson", **extra}}


def events_after(last_id: int, **filters) -> list[AccessEvent]:
    return list(AccessEvent.objects.filter(id__gt=last_id, **filters).order_by("id"))


def last_event_id() -> int:
    return AccessEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


@pytest.fixture
def elsa(demo):
    return demo.cases["Elsa"]


# --- me and organisations ---------------------------------------------------------------


def test_me_describes_the_caller_their_organisation_and_municipality(demo, api_client):
    response = api_client(demo["skolkurator"]).get(f"{API}me/")

    assert response.status_code == 200
    org = demo["skolkurator"].organisation
    assert response.json() == {
        "username": "skolkurator",
        "role": "school_staff",
        "organisation": {"id": org.pk, "name": "Kvarnbackaskolan", "kind": "school"},
        "municipality": "Demo",
    }


def test_me_for_administrator_without_organisation_has_nulls(demo, api_client):
    response = api_client(demo["admin"]).get(f"{API}me/")

    assert response.status_code == 200
    assert response.json() == {"username": "admin", "role": "administrator",
                               "organisation": None, "municipality": None}


def test_organisations_lists_only_the_callers_municipality(demo, api_client):
    response = api_client(demo["koordinator"]).get(f"{API}organisations/")

    assert response.status_code == 200
    rows = response.json()
    expected = Organisation.objects.filter(municipality__name="Demo")
    assert {r["id"] for r in rows} == set(expected.values_list("pk", flat=True))
    assert all(set(r) == {"id", "name", "kind"} and isinstance(r["id"], int) for r in rows)
    assert "SSPF Grannby" not in body(response)
    assert "Kvarnbackaskolan" in body(response)


def test_organisations_of_grannby_do_not_include_demo(demo, api_client):
    response = api_client(demo["koordinator2"]).get(f"{API}organisations/")

    assert [r["name"] for r in response.json()] == ["SSPF Grannby"]


# --- authentication ---------------------------------------------------------------------


def assert_401(response) -> None:
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize("path", ["me/", "organisations/", "cases/", "cases/{elsa}/",
                                  "cases/{elsa}/entries/", "cases/{elsa}/guardians/"])
def test_request_without_token_is_refused_with_401(demo, elsa, path):
    response = APIClient().get(API + path.format(elsa=elsa.pk))

    assert_401(response)
    assert_no_leak(response, personal_strings(elsa))


def test_post_without_token_is_refused_and_writes_nothing(demo):
    before = counts()

    response = APIClient().post(f"{API}cases/", new_youth(), format="json")

    assert_401(response)
    assert counts() == before


def test_invalid_token_is_refused_and_recorded_as_failed_login(demo, elsa):
    last = last_event_id()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token sspf_not-a-real-key")

    response = client.get(case_url(elsa))

    assert_401(response)
    assert_no_leak(response, personal_strings(elsa))
    (event,) = events_after(last)
    assert (event.action, event.outcome) == (Action.LOGIN_FAILED, Outcome.DENIED)
    assert "sspf_not-a-real-key" not in event.purpose


def test_expired_token_is_refused(demo, elsa):
    _token, key = issue_token(user=demo["koordinator"], lifetime=timedelta(seconds=-1))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")

    assert_401(client.get(case_url(elsa)))


def test_revoked_token_is_refused_at_once(demo, elsa):
    token, key = issue_token(user=demo["koordinator"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get(case_url(elsa)).status_code == 200

    assert revoke_token(user=demo["koordinator"], token_id=token.pk)

    assert_401(client.get(case_url(elsa)))


def test_token_of_deactivated_account_is_refused(demo, elsa, api_client):
    client = api_client(demo["koordinator"])
    demo["koordinator"].is_active = False
    demo["koordinator"].save(update_fields=["is_active"])

    assert_401(client.get(case_url(elsa)))


def test_other_authorization_scheme_is_refused(demo, elsa):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer something")

    assert_401(client.get(case_url(elsa)))


def test_logged_in_browser_session_does_not_reach_the_api(demo, elsa, verified_client):
    client = verified_client(demo["koordinator"])
    assert client.get(f"/arenden/{elsa.pk}/").status_code == 200  # the session works

    response = client.get(case_url(elsa))

    assert_401(response)
    assert_no_leak(response, personal_strings(elsa))


# --- case list --------------------------------------------------------------------------


def test_case_list_has_page_shape_and_only_the_callers_team_cases(demo, api_client):
    response = api_client(demo["koordinator"]).get(f"{API}cases/")

    assert response.status_code == 200
    data = response.json()
    assert set(data) == {"count", "next", "previous", "results"}
    assert (data["count"], data["next"], data["previous"]) == (3, None, None)
    names = {c["youth"]["first_name"] for c in data["results"]}
    assert names == {"Elsa", "Omar", "Nora"}
    for row in data["results"]:
        assert set(row) == CASE_KEYS
        assert set(row["youth"]) == YOUTH_KEYS
        assert isinstance(row["id"], int) and isinstance(row["youth"]["id"], int)
        date.fromisoformat(row["opened_at"])
        date.fromisoformat(row["youth"]["birth_date"])
    assert_no_leak(response, personal_strings(demo.cases["Alva"]))


@pytest.mark.parametrize(("username", "expected"), [
    ("skolkurator", {"Elsa", "Nora"}),
    ("socialsekreterare", {"Elsa", "Omar"}),
    ("polis", {"Omar"}),
    ("fritidsledare", {"Elsa"}),
    ("koordinator2", {"Alva"}),
    ("rektor2", set()),
])
def test_case_list_holds_exactly_the_cases_the_user_is_on_the_team_of(
        demo, api_client, username, expected):
    data = api_client(demo[username]).get(f"{API}cases/").json()

    assert {c["youth"]["first_name"] for c in data["results"]} == expected
    assert data["count"] == len(expected)


def test_case_list_filters_by_status(demo, api_client):
    services.case_close(user=demo["koordinator"], case_id=demo.cases["Omar"].pk, reason="moved")
    client = api_client(demo["koordinator"])

    closed = client.get(f"{API}cases/", {"status": "closed"}).json()
    open_ = client.get(f"{API}cases/", {"status": "open"}).json()

    assert [c["youth"]["first_name"] for c in closed["results"]] == ["Omar"]
    assert closed["results"][0]["status"] == "closed"
    assert {c["youth"]["first_name"] for c in open_["results"]} == {"Elsa", "Nora"}


def test_case_list_with_unknown_status_is_400_naming_status(demo, api_client):
    response = api_client(demo["koordinator"]).get(f"{API}cases/", {"status": "archived"})

    assert response.status_code == 400
    assert "status" in response.json()


def test_case_list_pages_with_next_and_previous_links(demo, api_client):
    koordinator = demo["koordinator"]
    for i in range(PAGE_SIZE):  # 3 demo cases + 25 = two pages
        services.case_create(user=koordinator, personnummer=youth_pnr(f"{100 + i}"),
                             first_name="Sida", last_name="Testsson")
    client = api_client(koordinator)

    first = client.get(f"{API}cases/", {"status": "open"}).json()
    second = client.get(first["next"]).json()

    assert first["count"] == PAGE_SIZE + 3
    assert len(first["results"]) == PAGE_SIZE and first["previous"] is None
    assert "page=2" in first["next"] and "status=open" in first["next"]
    assert len(second["results"]) == 3 and second["next"] is None
    assert second["previous"] is not None
    ids = [c["id"] for c in first["results"] + second["results"]]
    assert len(set(ids)) == PAGE_SIZE + 3


# --- search by identity number ----------------------------------------------------------


NUMBER_FORMS = {  # from YYYYMMDD-NNNN to every accepted way of writing it
    "YYYYMMDD-NNNN": lambda n: n,
    "YYYYMMDDNNNN": lambda n: n.replace("-", ""),
    "YYMMDD-NNNN": lambda n: n[2:],
    "YYMMDDNNNN": lambda n: n[2:].replace("-", ""),
    "spaces": lambda n: f" {n[2:8]} {n[9:]} ",
}


@pytest.mark.parametrize("form", NUMBER_FORMS)
def test_search_finds_the_case_in_every_accepted_format(demo, api_client, elsa, form):
    number = NUMBER_FORMS[form](demo.pnr["Elsa"])
    response = api_client(demo["skolkurator"]).post(
        f"{API}cases/search/", {"personnummer": number}, format="json")

    assert response.status_code == 200
    data = response.json()
    assert set(data) == {"count", "next", "previous", "results"}
    assert data["count"] == 1
    assert [c["id"] for c in data["results"]] == [elsa.pk]
    assert set(data["results"][0]) == CASE_KEYS


@pytest.mark.parametrize("number", ["Maria", youth_pnr("555")])
def test_search_is_exact_and_covers_only_youths(demo, api_client, number):
    """A guardian's number (Elsa's mother) or a valid number of no one finds nothing."""
    number = demo.pnr.get(number, number)
    response = api_client(demo["koordinator"]).post(
        f"{API}cases/search/", {"personnummer": number}, format="json")

    assert response.status_code == 200
    assert response.json() == {"count": 0, "next": None, "previous": None, "results": []}


@pytest.mark.parametrize("number", ["20110314-9802", "abc", "20111314-9801", ""])
def test_search_with_invalid_number_is_400_on_the_field(demo, api_client, number):
    response = api_client(demo["koordinator"]).post(
        f"{API}cases/search/", {"personnummer": number}, format="json")

    assert response.status_code == 400
    assert list(response.json()) == ["personnummer"]
    if number.strip():
        assert number not in body(response)


@pytest.mark.parametrize("username", ["rektor2", "polis", "koordinator2", "revisor",
                                      "analytiker", "admin"])
def test_search_outside_the_team_finds_nothing(demo, api_client, elsa, username):
    response = api_client(demo[username]).post(
        f"{API}cases/search/", {"personnummer": demo.pnr["Elsa"]}, format="json")

    assert response.status_code == 200
    assert response.json()["count"] == 0
    assert response.json()["results"] == []
    assert_no_leak(response, personal_strings(elsa))


# --- creating a case --------------------------------------------------------------------


def test_coordinator_creates_case_and_becomes_its_lead_member(demo, api_client):
    koordinator = demo["koordinator"]
    number = youth_pnr()
    client = api_client(koordinator)

    response = client.post(f"{API}cases/", {
        "youth": {"personnummer": number.replace("-", ""), "first_name": "Ture",
                  "last_name": "Provsson"},
        "area": "Norra",
    }, format="json")

    assert response.status_code == 201
    data = response.json()
    assert set(data) == CASE_KEYS
    assert (data["status"], data["area"], data["version"]) == ("assessing", "Norra", 1)
    assert data["opened_at"] == timezone.localdate().isoformat()
    assert data["youth"]["personnummer"] == number  # normalised to YYYYMMDD-NNNN
    assert data["youth"]["birth_date"] == f"{number[:4]}-{number[4:6]}-{number[6:8]}"
    assert (data["youth"]["first_name"], data["youth"]["protected_identity"]) == (
        "Ture", False)
    assert data["members"] == [{"username": "koordinator",
                                "organisation": "SSPF-samordningen",
                                "role": "coordinator", "role_in_case": "lead"}]
    case = Case.objects.get(pk=data["id"])
    assert case.memberships.get().role_in_case == CaseMember.CaseRole.LEAD
    assert client.get(f"{API}cases/{case.pk}/").status_code == 200
    found = client.post(f"{API}cases/search/", {"personnummer": number}, format="json")
    assert [c["id"] for c in found.json()["results"]] == [case.pk]


def test_created_case_with_protected_identity_is_flagged(demo, api_client):
    response = api_client(demo["koordinator"]).post(
        f"{API}cases/", new_youth(protected_identity=True), format="json")

    assert response.status_code == 201
    assert response.json()["youth"]["protected_identity"] is True


@pytest.mark.parametrize("username", ["socialsekreterare", "skolkurator", "rektor2",
                                      "fritidsledare", "polis", "revisor", "analytiker",
                                      "admin"])
def test_only_coordinators_may_create_cases(demo, api_client, username):
    before = counts()
    client = api_client(demo[username])

    valid = client.post(f"{API}cases/", new_youth(), format="json")
    invalid = client.post(f"{API}cases/", {"youth": {"personnummer": "x"}}, format="json")

    assert valid.status_code == 403
    assert invalid.status_code == 403  # refused before any word about the input
    assert counts() == before


def test_second_open_case_for_the_same_youth_is_refused(demo, api_client, elsa):
    before = counts()

    response = api_client(demo["koordinator"]).post(f"{API}cases/", {
        "youth": {"personnummer": demo.pnr["Elsa"][2:], "first_name": "Annan",
                  "last_name": "Person"},
    }, format="json")

    assert response.status_code == 400
    assert list(response.json()) == ["youth"]
    assert list(response.json()["youth"]) == ["personnummer"]
    assert counts() == before
    elsa.youth.refresh_from_db()
    assert (elsa.youth.first_name, elsa.youth.last_name) == ("Elsa", "Demosson")


def test_new_case_after_a_closed_one_has_its_own_record_and_search_finds_both(
        demo, api_client, elsa):
    services.case_close(user=demo["koordinator"], case_id=elsa.pk, reason="moved")
    client = api_client(demo["koordinator"])

    response = client.post(f"{API}cases/", {
        "youth": {"personnummer": demo.pnr["Elsa"], "first_name": "Elsa",
                  "last_name": "Nyström"}}, format="json")

    assert response.status_code == 201
    assert response.json()["youth"]["id"] != elsa.youth_id
    assert response.json()["id"] != elsa.pk
    assert client.get(case_url(elsa)).json()["youth"]["last_name"] == "Demosson"
    assert client.get(f"{API}cases/{response.json()['id']}/guardians/").json() == []
    found = client.post(f"{API}cases/search/", {"personnummer": demo.pnr["Elsa"]},
                        format="json").json()
    assert {c["id"] for c in found["results"]} == {elsa.pk, response.json()["id"]}


def test_same_number_in_another_municipality_is_a_separate_youth(demo, api_client, elsa):
    response = api_client(demo["koordinator2"]).post(f"{API}cases/", {
        "youth": {"personnummer": demo.pnr["Elsa"], "first_name": "Elsa", "last_name": "Grannby"},
    }, format="json")

    assert response.status_code == 201
    grannby_case = response.json()
    assert grannby_case["youth"]["id"] != elsa.youth_id
    for username, expected in (("koordinator", elsa.pk), ("koordinator2", grannby_case["id"])):
        found = api_client(demo[username]).post(
            f"{API}cases/search/", {"personnummer": demo.pnr["Elsa"]}, format="json").json()
        assert [c["id"] for c in found["results"]] == [expected]
    elsa.youth.refresh_from_db()
    assert elsa.youth.last_name == "Demosson"


@pytest.mark.parametrize("number", ["20110314-9802", "not a number", "20991231-1234", ""])
def test_create_with_invalid_number_is_400_under_youth(demo, api_client, number):
    before = counts()

    response = api_client(demo["koordinator"]).post(f"{API}cases/", {
        "youth": {"personnummer": number, "first_name": "Ture", "last_name": "Provsson"},
    }, format="json")

    assert response.status_code == 400
    assert list(response.json()) == ["youth"]
    assert list(response.json()["youth"]) == ["personnummer"]
    assert counts() == before


def test_create_with_unknown_area_is_400_on_area(demo, api_client):
    before = counts()

    response = api_client(demo["koordinator"]).post(
        f"{API}cases/", {**new_youth(), "area": "Atlantis"}, format="json")

    assert response.status_code == 400
    assert list(response.json()) == ["area"]
    assert counts() == before


@pytest.mark.parametrize("years", [5, 11, 20, 40])
def test_create_for_youth_outside_the_age_span_is_refused(demo, api_client, years):
    before = counts()
    number = pnr(born_years_ago(years))

    response = api_client(demo["koordinator"]).post(f"{API}cases/", {
        "youth": {"personnummer": number, "first_name": "Ture", "last_name": "Provsson"},
    }, format="json")

    assert response.status_code == 400
    assert list(response.json()["youth"]) == ["personnummer"]
    assert "12" in response.json()["youth"]["personnummer"][0]
    assert counts() == before


@pytest.mark.parametrize("youth", [
    {"personnummer": "PNR", "first_name": "", "last_name": "Provsson"},
    {"personnummer": "PNR", "first_name": "   ", "last_name": "Provsson"},
    {"personnummer": "PNR", "first_name": "Ture"},
    {"personnummer": "PNR", "first_name": "x" * 101, "last_name": "Provsson"},
])
def test_create_with_missing_or_too_long_name_is_400_under_youth(demo, api_client, youth):
    before = counts()
    youth = {**youth, "personnummer": youth_pnr()}

    response = api_client(demo["koordinator"]).post(f"{API}cases/", {"youth": youth},
                                                    format="json")

    assert response.status_code == 400
    assert set(response.json()["youth"]) <= {"first_name", "last_name"}
    assert counts() == before


def test_create_without_youth_is_400(demo, api_client):
    before = counts()

    response = api_client(demo["koordinator"]).post(f"{API}cases/", {"area": "Norra"},
                                                    format="json")

    assert response.status_code == 400
    assert "youth" in response.json()
    assert counts() == before


@pytest.mark.parametrize(("birth", "status"), [
    (lambda: years_before(12), 201),  # 12 today
    (lambda: years_before(12, days=1), 400),  # 12 tomorrow
    (lambda: years_before(19, days=1), 201),  # 18, turns 19 tomorrow
    (lambda: years_before(19), 400),  # 19 today
], ids=["12-today", "11", "18", "19-today"])
def test_age_span_is_inclusive_from_12_to_18(demo, api_client, birth, status):
    before = counts()

    response = api_client(demo["koordinator"]).post(f"{API}cases/", {
        "youth": {"personnummer": pnr(birth()), "first_name": "Ture",
                  "last_name": "Provsson"}}, format="json")

    assert response.status_code == status
    if status == 400:
        assert list(response.json()["youth"]) == ["personnummer"]
        assert counts() == before


def test_case_for_a_coordination_number_is_created_and_found(demo, api_client):
    birth = born_years_ago(14)
    yymmdd = f"{birth:%y%m}{birth.day + 60:02d}"
    digit = next(d for d in "0123456789" if luhn_ok(yymmdd + "976" + d))
    number = f"{birth:%Y}{yymmdd[2:]}-976{digit}"  # samordningsnummer: day + 60
    client = api_client(demo["koordinator"])

    created = client.post(f"{API}cases/", {"youth": {
        "personnummer": number, "first_name": "Sam", "last_name": "Ordning"}}, format="json")
    found = client.post(f"{API}cases/search/", {"personnummer": yymmdd + "976" + digit},
                        format="json")

    assert created.status_code == 201
    assert created.json()["youth"]["personnummer"] == number
    assert created.json()["youth"]["birth_date"] == birth.isoformat()
    assert [c["id"] for c in found.json()["results"]] == [created.json()["id"]]


def test_names_and_contact_details_at_their_length_limits_are_accepted(demo, api_client):
    response = api_client(demo["koordinator"]).post(f"{API}cases/", {"youth": {
        "personnummer": youth_pnr(), "first_name": "é" * 100, "last_name": "Å" * 100,
        "address": "ö" * 200, "phone": "0" * 40}}, format="json")

    assert response.status_code == 201
    youth = Youth.objects.get(pk=response.json()["youth"]["id"])
    assert (youth.first_name, youth.address, youth.phone) == ("é" * 100, "ö" * 200, "0" * 40)


# --- case detail and update -------------------------------------------------------------


def test_case_detail_shape_for_a_team_member(demo, api_client, elsa):
    response = api_client(demo["socialsekreterare"]).get(case_url(elsa))

    assert response.status_code == 200
    data = response.json()
    assert set(data) == CASE_KEYS
    assert set(data["youth"]) == YOUTH_KEYS
    assert (data["id"], data["status"], data["area"]) == (elsa.pk, "assessing", "Kvarnbacka")
    number = demo.pnr["Elsa"]
    assert data["youth"] == {"id": elsa.youth_id, "personnummer": number,
                             "first_name": "Elsa", "last_name": "Demosson",
                             "birth_date": f"{number[:4]}-{number[4:6]}-{number[6:8]}",
                             "protected_identity": False}
    assert [(m["username"], m["organisation"], m["role"], m["role_in_case"])
            for m in data["members"]] == [
        ("koordinator", "SSPF-samordningen", "coordinator", "lead"),
        ("skolkurator", "Kvarnbackaskolan", "school_staff", "member"),
        ("socialsekreterare", "Socialtjänsten", "social_worker", "member"),
        ("fritidsledare", "Fritidsgården Mötesplatsen", "leisure_staff", "member"),
    ]


def test_patch_area_with_current_version_updates_and_bumps_version(demo, api_client, elsa):
    elsa.refresh_from_db()

    response = api_client(demo["koordinator"]).patch(
        case_url(elsa), {"area": "Centrum", "version": elsa.version}, format="json")

    assert response.status_code == 200
    assert (response.json()["area"], response.json()["version"]) == (
        "Centrum", elsa.version + 1)
    elsa.refresh_from_db()
    assert elsa.area == "Centrum"


def test_patch_with_stale_version_is_409_and_changes_nothing(demo, api_client, elsa):
    elsa.refresh_from_db()
    version = elsa.version

    response = api_client(demo["koordinator"]).patch(
        case_url(elsa), {"area": "Centrum", "version": version - 1}, format="json")

    assert response.status_code == 409
    assert "detail" in response.json()
    elsa.refresh_from_db()
    assert (elsa.area, elsa.version) == ("Kvarnbacka", version)


@pytest.mark.parametrize(("payload", "field"), [
    ({"area": "Atlantis", "version": "CURRENT"}, "area"),
    ({"area": "Centrum"}, "version"),
    ({"area": "Centrum", "version": "abc"}, "version"),
])
def test_patch_with_bad_input_is_400_and_changes_nothing(demo, api_client, elsa, payload,
                                                          field):
    elsa.refresh_from_db()
    version = elsa.version
    payload = {k: (version if v == "CURRENT" else v) for k, v in payload.items()}

    response = api_client(demo["koordinator"]).patch(case_url(elsa), payload, format="json")

    assert response.status_code == 400
    assert field in response.json()
    elsa.refresh_from_db()
    assert (elsa.area, elsa.version) == ("Kvarnbacka", version)


@pytest.mark.parametrize("username", ["skolkurator", "socialsekreterare", "fritidsledare"])
def test_team_member_who_is_not_coordinator_cannot_patch(demo, api_client, elsa, username):
    elsa.refresh_from_db()

    response = api_client(demo[username]).patch(
        case_url(elsa), {"area": "Centrum", "version": elsa.version}, format="json")

    assert response.status_code == 403
    elsa.refresh_from_db()
    assert elsa.area == "Kvarnbacka"


# --- team members -----------------------------------------------------------------------


def test_coordinator_adds_member_who_then_sees_the_case(demo, api_client, elsa):
    rektor = api_client(demo["rektor2"])
    assert rektor.get(case_url(elsa)).status_code == 404

    response = api_client(demo["koordinator"]).post(
        case_url(elsa, "members/"), {"username": "rektor2"}, format="json")

    assert response.status_code == 201
    assert response.json() == {"username": "rektor2", "organisation": "Ängabyskolan",
                               "role": "school_staff", "role_in_case": "member"}
    detail = rektor.get(case_url(elsa))
    assert detail.status_code == 200
    assert "rektor2" in [m["username"] for m in detail.json()["members"]]
    # A new member from another school sees none of the first school's entries: no
    # consent, and the report of concern is for social services only.
    assert entry_texts(rektor.get(case_url(elsa, "entries/"))) == set()


@pytest.mark.parametrize("username", ["nobody", "koordinator2", "revisor", "analytiker",
                                      "admin", ""])
def test_adding_unknown_foreign_or_non_case_user_is_400_on_username(demo, api_client, elsa,
                                                                     username):
    before = counts()
    version = Case.objects.get(pk=elsa.pk).version

    response = api_client(demo["koordinator"]).post(
        case_url(elsa, "members/"), {"username": username}, format="json")

    assert response.status_code == 400
    assert list(response.json()) == ["username"]
    assert counts() == before
    assert Case.objects.get(pk=elsa.pk).version == version


def test_user_of_another_municipality_gets_the_same_answer_as_no_user(demo, api_client, elsa):
    client = api_client(demo["koordinator"])

    foreign = client.post(case_url(elsa, "members/"), {"username": "koordinator2"},
                          format="json")
    unknown = client.post(case_url(elsa, "members/"), {"username": "nobody"}, format="json")

    assert foreign.json() == unknown.json()


def test_adding_someone_already_on_the_team_is_400(demo, api_client, elsa):
    before = counts()

    response = api_client(demo["koordinator"]).post(
        case_url(elsa, "members/"), {"username": "skolkurator"}, format="json")

    assert response.status_code == 400
    assert list(response.json()) == ["username"]
    assert counts() == before


@pytest.mark.parametrize("payload", [{"username": "rektor2"}, {"username": ""}, {}])
def test_member_who_is_not_coordinator_cannot_add_members(demo, api_client, elsa, payload):
    before = counts()

    response = api_client(demo["skolkurator"]).post(case_url(elsa, "members/"), payload,
                                                    format="json")

    assert response.status_code == 403
    assert counts() == before
    assert api_client(demo["rektor2"]).get(case_url(elsa)).status_code == 404


def test_removed_member_loses_access_at_once(demo, api_client, elsa):
    skolkurator = api_client(demo["skolkurator"])  # token issued while on the team
    assert skolkurator.get(case_url(elsa)).status_code == 200

    response = api_client(demo["koordinator"]).delete(case_url(elsa, "members/skolkurator/"))

    assert response.status_code == 204
    assert not response.content
    for suffix in ("", "entries/", "guardians/"):
        denied = skolkurator.get(case_url(elsa, suffix))
        assert denied.status_code == 404
        assert_no_leak(denied, personal_strings(elsa))
    listed = skolkurator.get(f"{API}cases/").json()
    assert elsa.pk not in [c["id"] for c in listed["results"]]
    found = skolkurator.post(f"{API}cases/search/", {"personnummer": demo.pnr["Elsa"]},
                             format="json").json()
    assert found["count"] == 0
    members = api_client(demo["koordinator"]).get(case_url(elsa)).json()["members"]
    assert "skolkurator" not in [m["username"] for m in members]
    membership = CaseMember.objects.get(case=elsa, user=demo["skolkurator"])
    assert membership.removed_by == demo["koordinator"]


def test_removed_member_can_be_added_again(demo, api_client, elsa):
    client = api_client(demo["koordinator"])
    assert client.delete(case_url(elsa, "members/skolkurator/")).status_code == 204

    response = client.post(case_url(elsa, "members/"), {"username": "skolkurator"},
                           format="json")

    assert response.status_code == 201
    assert api_client(demo["skolkurator"]).get(case_url(elsa)).status_code == 200


def test_the_last_lead_coordinator_cannot_be_removed(demo, api_client, elsa):
    client = api_client(demo["koordinator"])

    response = client.delete(case_url(elsa, "members/koordinator/"))

    assert response.status_code == 400
    assert list(response.json()) == ["username"]
    assert client.get(case_url(elsa)).status_code == 200


def test_removing_someone_not_on_the_team_is_400(demo, api_client, elsa):
    response = api_client(demo["koordinator"]).delete(case_url(elsa, "members/rektor2/"))

    assert response.status_code == 400
    assert list(response.json()) == ["username"]


def test_member_who_is_not_coordinator_cannot_remove_members(demo, api_client, elsa):
    response = api_client(demo["skolkurator"]).delete(
        case_url(elsa, "members/socialsekreterare/"))

    assert response.status_code == 403
    assert api_client(demo["socialsekreterare"]).get(case_url(elsa)).status_code == 200


def test_member_change_with_stale_version_is_409_and_changes_nothing(demo, api_client, elsa):
    before = counts()
    elsa.refresh_from_db()
    client = api_client(demo["koordinator"])

    added = client.post(case_url(elsa, "members/"),
                        {"username": "rektor2", "version": elsa.version - 1}, format="json")
    removed = client.delete(case_url(elsa, f"members/skolkurator/?version={elsa.version - 1}"))

    assert (added.status_code, removed.status_code) == (409, 409)
    assert counts() == before
    assert api_client(demo["skolkurator"]).get(case_url(elsa)).status_code == 200


def test_inactive_account_cannot_be_added(demo, api_client, elsa):
    rektor = demo["rektor2"]
    rektor.is_active = False
    rektor.save(update_fields=["is_active"])
    before = counts()

    response = api_client(demo["koordinator"]).post(
        case_url(elsa, "members/"), {"username": "rektor2"}, format="json")

    assert response.status_code == 400
    assert list(response.json()) == ["username"]
    assert counts() == before


def test_member_removal_with_a_non_integer_version_is_400(demo, api_client, elsa):
    response = api_client(demo["koordinator"]).delete(
        case_url(elsa, "members/skolkurator/?version=abc"))

    assert response.status_code == 400
    assert list(response.json()) == ["version"]
    assert api_client(demo["skolkurator"]).get(case_url(elsa)).status_code == 200


@pytest.fixture
def koordinator3(demo):
    """A second coordinator of Demo (same organisation as koordinator), on no team."""
    return make_staff("koordinator3", role=Role.COORDINATOR,
                      organisation=demo["koordinator"].organisation)


def test_coordinator_not_on_the_team_gets_404_and_cannot_add_themselves(
        demo, api_client, elsa, koordinator3):
    client = api_client(koordinator3)

    assert_outsider_gets_404_everywhere(client, elsa)
    added = client.post(case_url(elsa, "members/"), {"username": "koordinator3"},
                        format="json")

    assert added.status_code == 404
    assert client.get(f"{API}cases/").json()["count"] == 0


def test_second_lead_takes_over_and_the_removed_lead_loses_access(
        demo, api_client, elsa, koordinator3):
    first = api_client(demo["koordinator"])
    second = api_client(koordinator3)
    added = first.post(case_url(elsa, "members/"), {"username": "koordinator3"},
                       format="json")
    assert added.status_code == 201
    assert added.json()["role"] == "coordinator"

    removed = second.delete(case_url(elsa, "members/koordinator/"))

    assert removed.status_code == 204
    assert first.get(case_url(elsa)).status_code == 404
    assert first.post(case_url(elsa, "members/"), {"username": "koordinator"},
                      format="json").status_code == 404
    assert second.patch(case_url(elsa), {"area": "Norra", "version": elsa.version + 2},
                        format="json").status_code == 200


# --- guardians --------------------------------------------------------------------------


def test_coordinator_adds_guardian_and_the_team_lists_it(demo, api_client, elsa):
    number = pnr(date(1980, 2, 2), "971")

    response = api_client(demo["koordinator"]).post(case_url(elsa, "guardians/"), {
        "personnummer": number, "first_name": "Kalle", "last_name": "Demosson",
        "custodian": False,
    }, format="json")

    assert response.status_code == 201
    created = response.json()
    assert isinstance(created["id"], int)
    assert (created["personnummer"], created["first_name"], created["custodian"]) == (
        number, "Kalle", False)
    listed = api_client(demo["socialsekreterare"]).get(case_url(elsa, "guardians/"))
    assert listed.status_code == 200
    rows = listed.json()
    assert [g["first_name"] for g in rows] == ["Maria", "Johan", "Kalle"]
    assert all(set(g) == {"id", "personnummer", "first_name", "last_name", "custodian",
                          "protected_identity"} for g in rows)


@pytest.mark.parametrize(("payload", "field"), [
    ({"personnummer": "19800202-0000"}, "personnummer"),
    ({"personnummer": "Elsa"}, "personnummer"),  # the youth's own number
    ({"personnummer": "Maria"}, "personnummer"),  # already a guardian
    ({"first_name": ""}, "first_name"),
    ({"custodian": None}, "custodian"),
])
def test_bad_guardian_is_400_on_the_field_and_nothing_written(demo, api_client, elsa,
                                                              payload, field):
    before = counts()
    elsa.refresh_from_db()
    data = {"personnummer": pnr(date(1980, 2, 2), "971"), "first_name": "Kalle",
            "last_name": "Demosson", "custodian": True, **payload}
    data = {k: demo.pnr.get(v, v) for k, v in data.items() if v is not None}

    response = api_client(demo["koordinator"]).post(case_url(elsa, "guardians/"), data,
                                                    format="json")

    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert counts() == before
    assert Case.objects.get(pk=elsa.pk).version == elsa.version


def test_guardian_with_stale_version_is_409_and_nothing_written(demo, api_client, elsa):
    before = counts()
    version = Case.objects.get(pk=elsa.pk).version

    response = api_client(demo["koordinator"]).post(case_url(elsa, "guardians/"), {
        "personnummer": pnr(date(1980, 2, 2), "971"), "first_name": "Kalle",
        "last_name": "Demosson", "custodian": True, "version": version - 1,
    }, format="json")

    assert response.status_code == 409
    assert counts() == before
    assert Case.objects.get(pk=elsa.pk).version == version


def test_member_who_is_not_coordinator_cannot_add_guardians(demo, api_client, elsa):
    before = counts()

    response = api_client(demo["socialsekreterare"]).post(case_url(elsa, "guardians/"), {
        "personnummer": pnr(date(1980, 2, 2), "971"), "first_name": "Kalle",
        "last_name": "Demosson", "custodian": True,
    }, format="json")

    assert response.status_code == 403
    assert counts() == before


# --- entries: who sees what -------------------------------------------------------------


def test_entries_have_the_documented_shape(demo, api_client, elsa):
    response = api_client(demo["skolkurator"]).get(case_url(elsa, "entries/"))

    assert response.status_code == 200
    org = demo["skolkurator"].organisation
    page = response.json()
    assert (page["count"], page["next"], page["previous"]) == (len(page["results"]), None, None)
    for entry in page["results"]:
        assert set(entry) == ENTRY_KEYS
        assert isinstance(entry["id"], int)
        assert entry["source_org"] == {"id": org.pk, "name": "Kvarnbackaskolan",
                                       "kind": "school"}
        assert entry["author"] == "skolkurator"
        assert entry["category"] == "school"
        datetime.fromisoformat(entry["created_at"])


def test_school_staff_sees_own_school_entries_and_nothing_else(demo, api_client, elsa):
    response = api_client(demo["skolkurator"]).get(case_url(elsa, "entries/"))

    assert entry_texts(response) == {SCHOOL_PLAIN, SCHOOL_REPORT}
    assert SCHOOL_PLAIN in body(response)
    for hidden in (SOCIAL, LEISURE, BASIC):
        assert hidden not in body(response)


def test_school_entry_hidden_from_social_services_without_consent(demo, api_client, elsa):
    response = api_client(demo["socialsekreterare"]).get(case_url(elsa, "entries/"))

    assert response.status_code == 200
    assert entry_texts(response) == {SOCIAL, SCHOOL_REPORT}
    assert SCHOOL_REPORT in body(response) and SOCIAL in body(response)
    assert SCHOOL_PLAIN not in body(response)
    assert "Hög frånvaro" not in body(response)
    assert LEISURE not in body(response) and BASIC not in body(response)
    report = next(e for e in response.json()["results"] if e["text"].startswith(SCHOOL_REPORT))
    assert report["statutory_basis"] == "Orosanmälan enligt 14 kap. 1 § SoL"
    assert report["source_org"]["name"] == "Kvarnbackaskolan"
    social = demo["socialsekreterare"].organisation
    assert report["statutory_recipient"] == {"id": social.pk, "name": "Socialtjänsten",
                                             "kind": "social_services"}


def test_leisure_staff_sees_only_leisure_not_a_report_meant_for_social_services(
        demo, api_client, elsa):
    response = api_client(demo["fritidsledare"]).get(case_url(elsa, "entries/"))

    assert entry_texts(response) == {LEISURE}
    for hidden in (SCHOOL_PLAIN, SCHOOL_REPORT, SOCIAL, BASIC):
        assert hidden not in body(response)


def test_coordinator_sees_only_own_entries_without_consent(demo, api_client, elsa):
    response = api_client(demo["koordinator"]).get(case_url(elsa, "entries/"))

    assert entry_texts(response) == {BASIC}
    for hidden in (SCHOOL_PLAIN, SCHOOL_REPORT, SOCIAL, LEISURE):
        assert hidden not in body(response)


def test_entry_written_by_a_member_carries_the_authors_organisation(demo, api_client, elsa):
    social = api_client(demo["socialsekreterare"])

    response = social.post(case_url(elsa, "entries/"), {
        "category": "social", "text": "  Beslut om insats fattat.  "}, format="json")

    assert response.status_code == 201
    entry = response.json()
    org = demo["socialsekreterare"].organisation
    assert entry["source_org"] == {"id": org.pk, "name": "Socialtjänsten",
                                   "kind": "social_services"}
    assert (entry["author"], entry["category"], entry["text"], entry["statutory_basis"],
            entry["statutory_recipient"]) == (
        "socialsekreterare", "social", "Beslut om insats fattat.", "", None)
    assert entry["id"] in [e["id"] for e in
                           social.get(case_url(elsa, "entries/")).json()["results"]]
    school_view = api_client(demo["skolkurator"]).get(case_url(elsa, "entries/"))
    assert "Beslut om insats" not in body(school_view)


def test_statutory_basis_is_stored_encrypted_and_masked_in_the_change_history(demo,
                                                                               api_client):
    """The basis is typed by staff and may name a person: it is sealed at rest like the
    entry text, and the change history says only that it was set."""
    from auditlog.models import LogEntry

    omar = demo.cases["Omar"]
    social = demo["socialsekreterare"].organisation
    basis = "Orosanmälan från Kalle Grannesson, 14 kap. 1 § SoL"
    response = api_client(demo["polis"]).post(case_url(omar, "entries/"), {
        "category": "police", "text": "Anmälan upprättad.", "statutory_basis": basis,
        "statutory_recipient": social.pk}, format="json")
    assert response.status_code == 201
    with connection.cursor() as cursor:
        cursor.execute("SELECT statutory_basis FROM cases_entry WHERE id = %s",
                       [response.json()["id"]])
        (stored,) = cursor.fetchone()
    assert "Grannesson" not in stored and "SoL" not in stored
    assert Entry.objects.get(pk=response.json()["id"]).statutory_basis == basis
    history = LogEntry.objects.get_for_object(Entry.objects.get(pk=response.json()["id"]))
    assert history.get().changes["statutory_basis"][1] == "[krypterat]"
    assert "Grannesson" not in " ".join(str(e.changes) for e in LogEntry.objects.all())


def test_entry_with_statutory_basis_reaches_its_recipient_and_no_one_else(demo, api_client):
    omar = demo.cases["Omar"]
    social = demo["socialsekreterare"].organisation
    response = api_client(demo["polis"]).post(case_url(omar, "entries/"), {
        "category": "police", "text": "Anmälan om brott upprättad.",
        "statutory_basis": "10 kap. 18 a § OSL", "statutory_recipient": social.pk},
        format="json")

    assert response.status_code == 201
    assert response.json()["statutory_basis"] == "10 kap. 18 a § OSL"
    assert response.json()["statutory_recipient"]["id"] == social.pk
    seen = api_client(demo["socialsekreterare"]).get(case_url(omar, "entries/"))
    assert "Anmälan om brott" in body(seen)
    not_seen = api_client(demo["koordinator"]).get(case_url(omar, "entries/"))
    assert not_seen.status_code == 200
    assert "Anmälan om brott" not in body(not_seen)


@pytest.mark.parametrize(("payload", "field"), [
    ({"category": "gossip", "text": "Något."}, "category"),
    ({"text": "Något."}, "category"),
    ({"category": "school", "text": ""}, "text"),
    ({"category": "school", "text": "   "}, "text"),
    ({"category": "school"}, "text"),
    ({"category": "school", "text": "x" * (ENTRY_TEXT_MAX_LENGTH + 1)}, "text"),
    ({"category": "school", "text": "Något.", "statutory_basis": "x" * 201},
     "statutory_basis"),
    ({"category": "school", "text": "Noll\x00tecken"}, "text"),
    ({"category": "school", "text": "Något.", "statutory_basis": "SoL\x00"}, "statutory_basis"),
    ({"category": "school", "text": "Något.", "statutory_basis": "14 kap. 1 § SoL"},
     "statutory_recipient"),  # a basis names its recipient
    ({"category": "school", "text": "Något.", "statutory_recipient": "@socialsekreterare"},
     "statutory_basis"),  # a recipient needs a basis
    ({"category": "school", "text": "Något.", "statutory_basis": "14 kap. 1 § SoL",
      "statutory_recipient": "@skolkurator"}, "statutory_recipient"),  # own organisation
    ({"category": "school", "text": "Något.", "statutory_basis": "14 kap. 1 § SoL",
      "statutory_recipient": "@polis"}, "statutory_recipient"),  # not on Elsa's team
    ({"category": "school", "text": "Något.", "statutory_basis": "14 kap. 1 § SoL",
      "statutory_recipient": "@koordinator2"}, "statutory_recipient"),  # Grannby
    ({"category": "school", "text": "Något.", "statutory_basis": "14 kap. 1 § SoL",
      "statutory_recipient": "Socialtjänsten"}, "statutory_recipient"),
])
def test_bad_entry_is_400_on_the_field_and_nothing_written(demo, api_client, elsa, payload,
                                                           field):
    before = counts()

    recipient = payload.get("statutory_recipient")
    if isinstance(recipient, str) and recipient.startswith("@"):
        payload = {**payload, "statutory_recipient": demo[recipient[1:]].organisation_id}
    response = api_client(demo["skolkurator"]).post(case_url(elsa, "entries/"), payload,
                                                    format="json")

    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert counts() == before


def test_entry_text_of_exactly_the_limit_is_accepted(demo, api_client, elsa):
    text = "å" * ENTRY_TEXT_MAX_LENGTH

    response = api_client(demo["skolkurator"]).post(
        case_url(elsa, "entries/"), {"category": "school", "text": text}, format="json")

    assert response.status_code == 201
    assert Entry.objects.get(pk=response.json()["id"]).text == text


def test_no_entries_on_a_closed_case(demo, api_client, elsa):
    services.case_close(user=demo["koordinator"], case_id=elsa.pk, reason="moved")
    before = counts()

    response = api_client(demo["skolkurator"]).post(
        case_url(elsa, "entries/"), {"category": "school", "text": "Sent."}, format="json")

    assert response.status_code == 409
    assert counts() == before


@pytest.mark.parametrize(("path", "payload"), [
    ("members/", {"username": "rektor2"}),
    ("guardians/", {"personnummer": "19800202-2385", "first_name": "Sen",
                    "last_name": "Förälder", "custodian": True}),
])
def test_a_closed_case_takes_no_new_member_or_guardian(demo, api_client, elsa, path, payload):
    services.case_close(user=demo["koordinator"], case_id=elsa.pk, reason="moved")
    before = counts()

    response = api_client(demo["koordinator"]).post(case_url(elsa, path), payload,
                                                    format="json")

    assert response.status_code == 409
    assert counts() == before
    rektor = api_client(demo["rektor2"]).get(case_url(elsa))
    assert rektor.status_code == 404


# --- malformed and oversized requests ---------------------------------------------------


@pytest.mark.parametrize("path", ["cases/", "cases/{elsa}/entries/", "cases/{elsa}/members/",
                                  "cases/{elsa}/guardians/", "cases/search/"])
def test_malformed_json_is_400_and_nothing_written(demo, api_client, elsa, path):
    before = counts()

    response = api_client(demo["koordinator"]).post(
        API + path.format(elsa=elsa.pk), data='{"youth": {"personnummer": ',
        content_type="application/json")

    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["Innehållet är inte giltig JSON."]}
    assert counts() == before


@pytest.mark.parametrize("path", ["cases/", "cases/{elsa}/entries/"])
def test_body_over_512_kb_is_413_and_nothing_written(demo, api_client, elsa, path):
    before = counts()
    payload = json.dumps({"category": "school", "text": "x" * (512 * 1024),
                          **new_youth()})

    response = api_client(demo["koordinator"]).post(
        API + path.format(elsa=elsa.pk), data=payload, content_type="application/json")

    assert response.status_code == 413
    assert "detail" in response.json()
    assert counts() == before


def test_body_just_under_the_limit_reaches_validation(demo, api_client, elsa):
    payload = json.dumps({"category": "school", "text": "x" * (500 * 1024)})

    response = api_client(demo["skolkurator"]).post(
        case_url(elsa, "entries/"), data=payload, content_type="application/json")

    assert response.status_code == 400
    assert list(response.json()) == ["text"]


# --- isolation: outsiders get 404 and nothing else --------------------------------------


def elsa_requests(elsa):
    """Every API request on Elsa's case, with a body that would pass validation."""
    return [
        ("get", case_url(elsa), None),
        ("patch", case_url(elsa), {"area": "Centrum", "version": elsa.version}),
        ("get", case_url(elsa, "members/"), None),
        ("post", case_url(elsa, "members/"), {"username": "rektor2"}),
        ("delete", case_url(elsa, "members/skolkurator/"), None),
        ("get", case_url(elsa, "guardians/"), None),
        ("post", case_url(elsa, "guardians/"), {
            "personnummer": pnr(date(1980, 2, 2), "971"), "first_name": "Kalle",
            "last_name": "Demosson", "custodian": True}),
        ("get", case_url(elsa, "entries/"), None),
        ("post", case_url(elsa, "entries/"), {"category": "school", "text": "Inbrott."}),
        ("post", case_url(elsa, "entries/"), {"category": "gossip", "text": ""}),
    ]


def assert_outsider_gets_404_everywhere(client, case) -> None:
    case.refresh_from_db()
    secrets = personal_strings(case)
    before = counts()
    for method, url, payload in elsa_requests(case):
        response = getattr(client, method)(url, payload, format="json")
        assert response.status_code in (404, 405), (method, url, response.status_code)
        if response.status_code == 405:  # GET members/ is not an endpoint
            assert (method, url) == ("get", case_url(case, "members/"))
            continue
        assert_no_leak(response, secrets)
    malformed = client.post(case_url(case, "entries/"), data='{"text": ',
                            content_type="application/json")
    assert malformed.status_code == 404  # the policy answers before the parser
    assert counts() == before
    assert Case.objects.get(pk=case.pk).version == case.version


def test_school_staff_of_another_school_gets_404_on_every_case_url(demo, api_client, elsa):
    assert_outsider_gets_404_everywhere(api_client(demo["rektor2"]), elsa)


def test_outsider_gets_empty_list_and_empty_search(demo, api_client, elsa):
    client = api_client(demo["rektor2"])

    listed = client.get(f"{API}cases/")
    found = client.post(f"{API}cases/search/", {"personnummer": demo.pnr["Elsa"]}, format="json")

    assert listed.json() == {"count": 0, "next": None, "previous": None, "results": []}
    assert found.json() == {"count": 0, "next": None, "previous": None, "results": []}
    assert_no_leak(found, personal_strings(elsa))


def test_invisible_case_answers_exactly_like_a_missing_one(demo, api_client, elsa):
    client = api_client(demo["rektor2"])
    missing = Case.objects.order_by("-pk").first().pk + 1000

    invisible = client.get(case_url(elsa))
    absent = client.get(f"{API}cases/{missing}/")

    assert (invisible.status_code, absent.status_code) == (404, 404)
    assert invisible.json() == absent.json()


@pytest.mark.parametrize("name", ["Elsa", "Omar", "Nora"])
def test_coordinator_of_another_municipality_gets_404_on_demo_cases(demo, api_client, name):
    assert_outsider_gets_404_everywhere(api_client(demo["koordinator2"]), demo.cases[name])


def test_demo_coordinator_gets_404_on_grannby_case(demo, api_client):
    alva = demo.cases["Alva"]
    client = api_client(demo["koordinator"])

    assert_outsider_gets_404_everywhere(client, alva)
    found = client.post(f"{API}cases/search/", {"personnummer": demo.pnr["Alva"]},
                        format="json")
    assert found.json()["count"] == 0


def test_member_moved_to_another_municipality_loses_access(demo, api_client, elsa):
    skolkurator = demo["skolkurator"]
    client = api_client(skolkurator)
    skolkurator.organisation = demo["koordinator2"].organisation
    skolkurator.save(update_fields=["organisation"])

    response = client.get(case_url(elsa))

    assert response.status_code == 404
    assert client.get(f"{API}cases/").json()["count"] == 0


@pytest.mark.parametrize("username", ["revisor", "analytiker", "admin"])
def test_auditor_analyst_and_administrator_get_no_case_content(demo, api_client, elsa,
                                                               username):
    client = api_client(demo[username])
    before = counts()

    listed = client.get(f"{API}cases/")
    created = client.post(f"{API}cases/", new_youth(), format="json")

    assert listed.status_code == 200
    assert listed.json()["count"] == 0 and listed.json()["results"] == []
    assert created.status_code == 403
    assert counts() == before
    for name in ("Elsa", "Omar", "Nora", "Alva"):
        assert_outsider_gets_404_everywhere(client, demo.cases[name])


@pytest.mark.parametrize("who", ["rektor2", "socialsekreterare"])
def test_a_request_for_html_gets_406_and_nothing(demo, api_client, elsa, who):
    """The API renders JSON only: no HTML page of its own shows case data, to an
    outsider or to the team."""
    client = api_client(demo[who])
    for suffix in ("", "entries/", "guardians/"):
        response = client.get(case_url(elsa, suffix), HTTP_ACCEPT="text/html")

        assert response.status_code == 406
        assert_no_leak(response, personal_strings(elsa))


def test_options_answers_alike_for_visible_invisible_and_missing_cases(demo, api_client, elsa):
    client = api_client(demo["rektor2"])
    missing = Case.objects.order_by("-pk").first().pk + 1000

    answers = {body(client.options(f"{API}cases/{pk}/entries/"))
               for pk in (elsa.pk, demo.cases["Alva"].pk, missing)}

    assert len(answers) == 1
    assert_no_leak(client.options(case_url(elsa)), personal_strings(elsa))


# Regression: at fcef6f5, require_case() wrote the requested id into the denial event's
# bigint case_id, so an id beyond 64 bits ended in 500 (and no denial was recorded).
@pytest.mark.parametrize("suffix", ["", "entries/", "guardians/"])
def test_case_id_beyond_64_bits_is_404_like_any_missing_case(demo, api_client, suffix):
    client = api_client(demo["rektor2"])
    client.raise_request_exception = False
    last = last_event_id()

    response = client.get(f"{API}cases/{2**63}/{suffix}")

    assert response.status_code == 404
    assert response.json() == client.get(f"{API}cases/{2**63 - 1}/").json()
    denial = events_after(last, action=Action.DENIED)[0]
    assert (denial.outcome, denial.object_type, denial.object_id) == (
        Outcome.DENIED, "cases.Case", str(2**63))


def test_case_page_id_beyond_64_bits_is_404(demo, verified_client):
    client = verified_client(demo["rektor2"])
    client.raise_request_exception = False

    assert client.get(f"/arenden/{2**63}/").status_code == 404


# --- protected identity -----------------------------------------------------------------


def test_protected_identity_case_has_no_contact_fields_in_the_api(demo, api_client):
    nora = demo.cases["Nora"]
    for username in ("koordinator", "skolkurator"):
        client = api_client(demo[username])
        detail = client.get(case_url(nora)).json()
        guardians = client.get(case_url(nora, "guardians/")).json()

        assert detail["youth"]["protected_identity"] is True
        assert set(detail["youth"]) == YOUTH_KEYS
        assert not {"address", "phone"} & set(detail["youth"])
        assert guardians and all(not {"address", "phone"} & set(g) for g in guardians)


@pytest.fixture
def hidden_case(demo):
    """A protected-identity case with a stored address and phone, and a guardian with
    protected identity and contact details too; skolkurator is on the team."""
    koordinator = demo["koordinator"]
    case = services.case_create(
        user=koordinator, personnummer=youth_pnr("972"), first_name="Siri",
        last_name="Skyddad", protected_identity=True, address="Hemliga vägen 1",
        phone="070-1234567")
    services.guardian_add(
        user=koordinator, case_id=case.pk, personnummer=pnr(date(1979, 9, 9), "973"),
        first_name="Gun", last_name="Skyddad", protected_identity=True,
        address="Dolda gränd 7", phone="070-7654321")
    services.member_add(user=koordinator, case_id=case.pk, username="skolkurator")
    return case


CONTACT = ["Hemliga vägen 1", "070-1234567", "Dolda gränd 7", "070-7654321"]


def test_protected_contact_details_shown_to_the_coordinator_on_the_page(
        demo, verified_client, hidden_case):
    response = verified_client(demo["koordinator"]).get(f"/arenden/{hidden_case.pk}/")

    assert response.status_code == 200
    page = body(response)
    for value in CONTACT:
        assert value in page


def test_protected_contact_details_hidden_from_other_members_on_the_page(
        demo, verified_client, hidden_case):
    response = verified_client(demo["skolkurator"]).get(f"/arenden/{hidden_case.pk}/")

    assert response.status_code == 200
    page = body(response)
    assert "Siri" in page  # the page itself is shown
    for value in CONTACT:
        assert value not in page


def test_protected_contact_details_never_in_the_api(demo, api_client, hidden_case):
    for username in ("koordinator", "skolkurator"):
        client = api_client(demo[username])
        for suffix in ("", "guardians/", "entries/"):
            response = client.get(case_url(hidden_case, suffix))
            assert response.status_code == 200
            assert_no_leak(response, CONTACT)
        assert_no_leak(client.get(f"{API}cases/"), CONTACT)


# --- audit ------------------------------------------------------------------------------


def test_case_detail_read_records_a_view_of_each_object_shown(demo, api_client, elsa):
    client = api_client(demo["socialsekreterare"])
    last = last_event_id()

    client.get(case_url(elsa))

    events = events_after(last)
    assert {e.action for e in events} == {Action.VIEW}
    assert {e.actor_username for e in events} == {"socialsekreterare"}
    assert {(e.case_id, e.youth_id) for e in events} == {(elsa.pk, elsa.youth_id)}
    seen = {(e.object_type, e.object_id) for e in events}
    guardians = {("cases.Guardian", str(g.pk)) for g in elsa.youth.guardians.all()}
    assert {("cases.Case", str(elsa.pk)), ("cases.Youth", str(elsa.youth_id))} | guardians <= seen
    assert all(e.path == case_url(elsa) for e in events)


def test_entries_read_records_exactly_the_visible_entries(demo, api_client, elsa):
    client = api_client(demo["socialsekreterare"])
    last = last_event_id()

    response = client.get(case_url(elsa, "entries/"))

    events = events_after(last)
    shown = {str(e["id"]) for e in response.json()["results"]}
    assert len(shown) == 2
    assert {e.object_id for e in events} == shown
    assert {(e.action, e.object_type, e.case_id) for e in events} == {
        (Action.VIEW, "cases.Entry", elsa.pk)}
    hidden = Entry.objects.filter(case=elsa).exclude(pk__in=shown)
    assert not AccessEvent.objects.filter(object_type="cases.Entry",
                                          object_id__in=[str(e.pk) for e in hidden],
                                          actor_username="socialsekreterare").exists()


def test_case_list_records_one_list_event_per_row(demo, api_client):
    client = api_client(demo["koordinator"])
    last = last_event_id()

    response = client.get(f"{API}cases/")

    events = events_after(last)
    assert {e.action for e in events} == {Action.LIST}
    assert sorted(e.case_id for e in events) == sorted(c["id"] for c in response.json()[
        "results"])
    assert {e.actor_username for e in events} == {"koordinator"}


def test_denied_read_records_a_denied_event_for_the_attempted_case(demo, api_client, elsa):
    client = api_client(demo["rektor2"])
    last = last_event_id()

    client.get(case_url(elsa, "entries/"))

    (event,) = events_after(last)
    assert (event.action, event.outcome) == (Action.DENIED, Outcome.DENIED)
    assert (event.object_type, event.object_id, event.case_id) == (
        "cases.Case", str(elsa.pk), elsa.pk)
    assert event.actor_username == "rektor2"
    assert event.youth_id is None  # the outsider learns nothing, not even through the log


def test_forbidden_action_records_a_denied_event_naming_the_action(demo, api_client, elsa):
    client = api_client(demo["skolkurator"])
    last = last_event_id()

    client.post(case_url(elsa, "members/"), {"username": "rektor2"}, format="json")

    (event,) = events_after(last)
    assert (event.action, event.outcome, event.purpose) == (Action.DENIED, Outcome.DENIED,
                                                           "extend")  # add to the case
    assert (event.object_type, event.object_id, event.case_id, event.youth_id) == (
        "cases.Case", str(elsa.pk), elsa.pk, elsa.youth_id)


def test_refused_case_creation_is_recorded(demo, api_client):
    client = api_client(demo["revisor"])
    last = last_event_id()

    client.post(f"{API}cases/", new_youth(), format="json")

    (event,) = events_after(last)
    assert (event.action, event.outcome, event.purpose) == (Action.DENIED, Outcome.DENIED,
                                                           "create")


def test_search_is_recorded_without_the_number(demo, api_client, elsa):
    client = api_client(demo["koordinator"])
    last = last_event_id()

    client.post(f"{API}cases/search/", {"personnummer": demo.pnr["Elsa"][2:]}, format="json")

    events = events_after(last)
    (search,) = [e for e in events if e.object_type == "cases.Youth"]
    assert (search.action, search.outcome) == (Action.SEARCH, Outcome.ALLOWED)
    assert search.actor_username == "koordinator"
    shown = [e for e in events if e.object_type == "cases.Case"]
    assert [(e.action, e.case_id) for e in shown] == [(Action.SEARCH, elsa.pk)]
    assert_events_hold_no_personal_data(events, personal_strings(elsa))


def assert_events_hold_no_personal_data(events, secrets) -> None:
    fields = [f.attname for f in AccessEvent._meta.concrete_fields]
    for event in events:
        for field in fields:
            value = str(getattr(event, field) or "")
            leaked = [s for s in secrets if s and s in value]
            assert not leaked, (field, leaked)


def test_no_access_event_holds_identity_numbers_names_or_text(demo, api_client, elsa):
    client = api_client(demo["koordinator"])
    last = last_event_id()
    number = youth_pnr("974")
    created = client.post(f"{API}cases/", {"youth": {"personnummer": number,
                                                     "first_name": "Lovisa",
                                                     "last_name": "Loggfri"}}, format="json")
    new_case = created.json()["id"]
    client.post(f"{API}cases/{new_case}/guardians/", {
        "personnummer": pnr(date(1981, 1, 1), "975"), "first_name": "Bertil",
        "last_name": "Loggfri", "custodian": True}, format="json")
    client.post(f"{API}cases/{new_case}/entries/", {"category": "basic",
                                                    "text": "Hemlig anteckningstext."},
                format="json")
    for form in (number, number.replace("-", "")[2:], demo.pnr["Elsa"]):
        client.post(f"{API}cases/search/", {"personnummer": form}, format="json")
    client.get(f"{API}cases/")
    client.get(f"{API}cases/{new_case}/")
    client.get(f"{API}cases/{new_case}/entries/")
    client.get(case_url(elsa))
    api_client(demo["rektor2"]).get(f"{API}cases/{new_case}/")

    events = events_after(last)
    assert len(events) > 10
    secrets = personal_strings(elsa) + personal_strings(Case.objects.get(pk=new_case))
    secrets += [number, number.replace("-", ""), "Hemlig anteckningstext"]
    assert_events_hold_no_personal_data(events, secrets)


def test_guardian_list_records_a_view_per_guardian(demo, api_client, elsa):
    client = api_client(demo["fritidsledare"])
    last = last_event_id()

    response = client.get(case_url(elsa, "guardians/"))

    events = events_after(last)
    assert len(response.json()) == 2
    assert sorted(e.object_id for e in events) == sorted(str(g["id"]) for g in response.json())
    assert {(e.action, e.object_type, e.case_id, e.actor_username) for e in events} == {
        (Action.VIEW, "cases.Guardian", elsa.pk, "fritidsledare")}


def test_search_without_hits_is_recorded_too(demo, api_client, elsa):
    client = api_client(demo["rektor2"])
    last = last_event_id()

    client.post(f"{API}cases/search/", {"personnummer": demo.pnr["Elsa"]}, format="json")

    (event,) = events_after(last)
    assert (event.action, event.object_type, event.actor_username) == (
        Action.SEARCH, "cases.Youth", "rektor2")
    assert event.case_id is None and event.youth_id is None
    assert_events_hold_no_personal_data([event], personal_strings(elsa))


def test_writes_through_the_api_are_recorded_with_the_token_user(demo, api_client, elsa):
    client = api_client(demo["skolkurator"])
    last = last_event_id()

    entry = client.post(case_url(elsa, "entries/"), {"category": "school",
                                                     "text": "Ny anteckning."},
                        format="json").json()

    (event,) = events_after(last)
    assert (event.action, event.object_type, event.object_id) == (
        Action.CREATE, "cases.Entry", str(entry["id"]))
    assert (event.actor_username, event.case_id, event.youth_id) == (
        "skolkurator", elsa.pk, elsa.youth_id)
    assert event.path == case_url(elsa, "entries/")


# --- query count ------------------------------------------------------------------------

# GET cases/ with a fresh token, found empirically: token lookup and its last-use update,
# count, cases with their youth, active members with users and organisations, one bulk
# insert of the list events, the chain head and one bulk insert of the chain links,
# plus savepoints; the protected-identity marks on the events look up the cases' young
# people; PostgreSQL adds the chain's advisory lock; the consent flags add the
# custodians, the grants and their organisations (SQLite 17 without grants, PostgreSQL
# one more, and one more again when a case has grants).
# None of these depends on the number of cases or of rows on the page.
LIST_QUERY_BUDGET = 19


def add_cases(user, n: int, first_serial: int = 100) -> None:
    for i in range(n):
        case = services.case_create(user=user, personnummer=youth_pnr(f"{first_serial + i}"),
                                    first_name="Mängd", last_name="Testsson")
        services.member_add(user=user, case_id=case.pk, username="skolkurator")
        services.member_add(user=user, case_id=case.pk, username="polis")


@pytest.mark.parametrize("extra", [0, PAGE_SIZE, 3 * PAGE_SIZE])
def test_case_list_query_count_is_a_constant_whatever_the_number_of_cases(
        demo, api_client, django_assert_max_num_queries, extra):
    koordinator = demo["koordinator"]
    add_cases(koordinator, extra)
    client = api_client(koordinator)

    with django_assert_max_num_queries(LIST_QUERY_BUDGET):
        response = client.get(f"{API}cases/")

    data = response.json()
    assert data["count"] == extra + 3
    assert len(data["results"]) == min(extra + 3, PAGE_SIZE)
    assert all(len(c["members"]) >= 1 for c in data["results"])


def test_case_list_query_count_is_the_same_for_three_rows_and_a_full_page(demo, api_client):
    koordinator = demo["koordinator"]
    client = api_client(koordinator)
    client.get(f"{API}me/")  # the token's first-use update is out of the way

    with CaptureQueriesContext(connection) as few:
        assert len(client.get(f"{API}cases/").json()["results"]) == 3
    add_cases(koordinator, PAGE_SIZE)
    with CaptureQueriesContext(connection) as many:
        assert len(client.get(f"{API}cases/").json()["results"]) == PAGE_SIZE

    assert len(many.captured_queries) == len(few.captured_queries)


def test_entries_come_a_page_at_a_time_and_only_the_page_shown_is_recorded(demo, api_client,
                                                                          elsa):
    from cases import services

    school = demo["skolkurator"]
    for n in range(30):
        services.entry_add(user=school, case_id=elsa.pk, category="school", text=f"Notis {n}")
    client = api_client(school)
    last = last_event_id()

    first = client.get(case_url(elsa, "entries/")).json()
    shown_first = events_after(last, object_type="cases.Entry")
    second = client.get(first["next"]).json()

    assert first["count"] == second["count"] >= 31
    assert len(first["results"]) == 25 and first["previous"] is None
    assert first["results"][0]["text"] == "Notis 29"  # newest first
    assert {str(e["id"]) for e in first["results"]} == {e.object_id for e in shown_first}
    assert second["previous"] and not set(e["id"] for e in first["results"]) & set(
        e["id"] for e in second["results"])


def test_an_unknown_api_path_answers_json_404_and_without_a_token_401(demo, api_client):
    for client, status in ((api_client(demo["koordinator"]), 404), (APIClient(), 401)):
        response = client.get(f"{API}finns-inte/191212121212/")
        assert response.status_code == status
        assert response["Content-Type"] == "application/json"
        assert list(response.json()) == ["detail"]
    assert response.json() != {"detail": "Hittades inte."}  # nothing said about the path


@pytest.mark.parametrize("debug", [False, True])
def test_an_unexpected_error_in_the_api_answers_json_500(demo, api_client, monkeypatch,
                                                         settings, debug):
    from cases import selectors

    settings.DEBUG = debug

    def broken(**kwargs):
        raise RuntimeError("the disk is on fire")

    monkeypatch.setattr(selectors, "case_page", broken)
    client = api_client(demo["koordinator"])
    client.raise_request_exception = False
    response = client.get(f"{API}cases/")
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert "Tekniskt fel" in response.json()["detail"]
    assert "disk" not in response.content.decode()


def test_a_field_of_the_wrong_type_is_answered_in_swedish_naming_the_field(demo, api_client):
    client = api_client(demo["koordinator"])
    created = client.post("/api/v1/cases/", {
        "youth": {"personnummer": demo.pnr["Elsa"], "first_name": "A", "last_name": "B"},
        "area": ["Norr"]}, format="json")
    searched = client.post("/api/v1/cases/search/", {"personnummer": ["x"]}, format="json")
    for response, field in ((created, "area"), (searched, "personnummer")):
        assert response.status_code == 400
        assert response.json()[field] == ["Ange en text."]
