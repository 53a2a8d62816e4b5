"""Kartläggning: versions never overwritten, compared two at a time, each version a
case item of its organisation gated by consent like an entry."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from audit.models import AccessEvent, Action
from cases import services
from cases.models import Assessment, Factor
from consent import services as consent_services
from tests.conftest import log_in_verified
from tests.factories import add_guardian, consent_of_all, open_case
from tests.factories import youth_number as number

pytestmark = pytest.mark.django_db
API = "/api/v1/"
TODAY = timezone.localdate().isoformat()
DAY = timezone.localdate()


@pytest.fixture
def case(world):
    case = open_case(world, personnummer=number(16), team=["school", "police", "social"])
    add_guardian(world, case)
    return case


def factors(**levels):
    """``school_risk="high"`` → a factor row."""
    rows = []
    for key, level in levels.items():
        domain, kind = key.rsplit("_", 1)
        rows.append({"domain": domain, "kind": kind, "level": level, "note": f"Om {key}"})
    return rows


def post(api_client, user, case, rows, made_on=TODAY):
    return api_client(user).post(f"{API}cases/{case.pk}/assessments/",
                                 {"made_on": made_on, "factors": rows}, format="json")


def test_versions_are_numbered_never_overwritten_and_compared(world, case, api_client):
    first = post(api_client, world["school"], case,
                 factors(school_risk="high", peers_risk="medium", family_protective="low"))
    assert first.status_code == 201, first.content
    second = post(api_client, world["school"], case,
                  factors(school_risk="medium", peers_risk="high", leisure_protective="low"))
    assert (first.json()["version"], second.json()["version"]) == (1, 2)
    assert first.json()["category"] == "school"
    assert Factor.objects.filter(assessment_id=first.json()["id"]).count() == 3  # untouched
    listed = api_client(world["school"]).get(f"{API}cases/{case.pk}/assessments/").json()
    assert [a["version"] for a in listed["results"]] == [2, 1]
    assert set(listed["results"][0]) >= {"id", "source_org", "category", "created_at"}

    compared = api_client(world["school"]).get(
        f"{API}cases/{case.pk}/assessments/compare/", {"from": 1, "to": 2}).json()
    what = {(c["domain"], c["kind"]): c["what"] for c in compared["changes"]}
    assert what == {("school", "risk"): "fell", ("peers", "risk"): "rose",
                    ("family", "protective"): "disappeared",
                    ("leisure", "protective"): "appeared"}


def test_a_school_assessment_is_hidden_from_police_until_consent_and_again_after_withdrawal(
        world, case, api_client):
    post(api_client, world["school"], case, factors(school_risk="high"))
    police = api_client(world["police"])

    def police_sees():
        response = police.get(f"{API}cases/{case.pk}/assessments/")
        assert response.status_code == 200
        return response.json()["count"]

    assert police_sees() == 0
    assert "Om school_risk" not in police.get(f"{API}cases/{case.pk}/").content.decode()
    grants = consent_of_all(world, case, organisations=["school", "police"],
                            categories=["school"])
    assert police_sees() == 1
    guardian_grant = next(g for g in grants if g.guardian_id)
    consent_services.grant_withdraw(user=world.coordinator, grant_id=guardian_grant.pk,
                                    reason="Vårdnadshavaren ångrar sig")
    assert police_sees() == 0
    # and a version the police may not see is no version to them
    response = police.get(f"{API}cases/{case.pk}/assessments/compare/", {"from": 1, "to": 1})
    assert response.status_code == 400 and "Om school_risk" not in response.content.decode()


@pytest.mark.parametrize(("body", "field"), [
    ({"made_on": TODAY, "factors": []}, "factors"),
    ({"made_on": TODAY, "factors": [{"domain": "space", "kind": "risk", "level": "low"}]},
     "factors"),
    ({"made_on": TODAY, "factors": [{"domain": "school", "kind": "doubt", "level": "low"}]},
     "factors"),
    ({"made_on": TODAY, "factors": [{"domain": "school", "kind": "risk", "level": "huge"}]},
     "factors"),
    ({"made_on": TODAY, "factors": factors(school_risk="low") * 2}, "factors"),
    ({"made_on": TODAY, "factors": [{"domain": "school", "kind": "risk", "level": "low",
                                     "note": "x" * 2001}]}, "factors"),
    ({"made_on": "2999-01-01", "factors": factors(school_risk="low")}, "made_on"),
    ({"factors": factors(school_risk="low")}, "made_on"),
])
def test_bad_assessments_are_refused_naming_the_field(world, case, api_client, body, field):
    response = api_client(world["school"]).post(f"{API}cases/{case.pk}/assessments/", body,
                                                format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Assessment.objects.exists()


def test_non_members_get_404_and_reads_are_recorded(world, case, api_client):
    post(api_client, world["school"], case, factors(school_risk="high"))
    for who in ("leisure", "elsewhere", "auditor"):
        for path in ("assessments/", "assessments/compare/?from=1&to=1"):
            response = api_client(world[who]).get(f"{API}cases/{case.pk}/{path}")
            assert response.status_code == 404, (who, path)
    assert post(api_client, world["leisure"], case,
                factors(school_risk="low")).status_code == 404
    api_client(world["school"]).get(f"{API}cases/{case.pk}/assessments/")
    assert AccessEvent.objects.filter(action=Action.VIEW, object_type="cases.Assessment",
                                      actor_username=world["school"].username).exists()


def test_the_pages(world, case, client):
    log_in_verified(client, world["school"])
    assert client.get(f"/arenden/{case.pk}/kartlaggning/ny/").status_code == 200
    response = client.post(f"/arenden/{case.pk}/kartlaggning/ny/", {
        "made_on": TODAY, "school_risk_level": "high", "school_risk_note": "Frånvaro",
        "peers_protective_level": "medium"})
    assert response.status_code == 302
    services.assessment_add(user=world["school"], case_id=case.pk,
                            made_on=timezone.localdate(), factors=factors(school_risk="low"))
    page = client.get(f"/arenden/{case.pk}/").content.decode()
    assert "Version 2" in page
    compare = client.get(f"/arenden/{case.pk}/kartlaggning/jamfor/?from=1&to=2")
    assert compare.status_code == 200
    assert "sänkt" in compare.content.decode()
    bad = client.post(f"/arenden/{case.pk}/kartlaggning/ny/", {"made_on": TODAY})
    assert bad.status_code == 400
    assert Assessment.objects.count() == 2


@pytest.mark.parametrize("note", [["en", "lista"], 5, {"a": 1}])
def test_a_factor_note_that_is_not_text_is_refused_naming_the_row(world, case, api_client,
                                                                 note):
    """``AssessmentIn.factors`` is a list of unvalidated dicts and ``text_field`` calls
    ``.strip()`` on whatever ``note`` holds: AttributeError, a 500."""
    response = api_client(world["school"]).post(
        f"{API}cases/{case.pk}/assessments/",
        {"made_on": DAY.isoformat(),
         "factors": [{"domain": "school", "kind": "risk", "level": "high", "note": note}]},
        format="json")
    assert response.status_code == 400
    assert "Rad 1" in response.json()["factors"][0]
    assert not Assessment.objects.exists()


@pytest.mark.skipif(connection.vendor != "sqlite", reason="PostgreSQL compares them fine")
def test_numbers_beyond_bigint_are_refused_not_500(world, case, api_client):
    """``require_case`` bounds ids by MAX_ID before they reach a bigint column; the new
    compare ``from``/``to`` and the meeting's ``guardians_present`` do not."""
    school = api_client(world["school"])
    school.post(f"{API}cases/{case.pk}/assessments/", {
        "made_on": DAY.isoformat(),
        "factors": [{"domain": "school", "kind": "risk", "level": "high"}]}, format="json")
    compared = school.get(f"{API}cases/{case.pk}/assessments/compare/",
                          {"from": 1, "to": 2**70})
    assert compared.status_code == 400 and "to" in compared.json()
    consent_of_all(world, case, organisations=["school", "coordination"],
                   categories=["basic"])
    meeting = api_client(world.coordinator).post(f"{API}cases/{case.pk}/meetings/", {
        "held_at": (timezone.now() - timedelta(hours=1)).isoformat(),
        "participants": [world["school"].username], "minutes": "Möte",
        "guardians_present": [2**63]}, format="json")
    assert meeting.status_code == 400 and "guardians_present" in meeting.json()


def test_version_numbers_do_not_reveal_versions_the_reader_may_not_see(world, case,
                                                                       api_client):
    """Versions are numbered across the case's organisations. The police, without
    consent for the school's category, list their own versions 1 and 3, and so learn
    that another organisation made version 2 (and when, from the gap)."""
    rows = [{"domain": "peers", "kind": "risk", "level": "high"}]
    for who in ("police", "school", "police"):
        services.assessment_add(user=world[who], case_id=case.pk, made_on=DAY,
                                factors=rows)
    listed = api_client(world["police"]).get(f"{API}cases/{case.pk}/assessments/").json()
    assert [a["version"] for a in listed["results"]] == [2, 1]


def test_factor_messages_are_plain_swedish(world, case, api_client):
    """A wrong-typed code is echoed as a Python repr ("okänd område ['school']"), the
    adjective does not agree with the neuter nouns (okänt område, okänd typ, okänd
    nivå), and a duplicate row is described in codes ("school har redan en risk")."""
    response = api_client(world["school"]).post(f"{API}cases/{case.pk}/assessments/", {
        "made_on": DAY.isoformat(), "factors": [
            {"domain": ["school"], "kind": "risk", "level": "high"},
            {"domain": "school", "kind": "risk", "level": "high"},
            {"domain": "school", "kind": "risk", "level": "low"}]}, format="json")
    assert response.status_code == 400
    text = " ".join(response.json()["factors"])
    assert "['" not in text
    assert "okänd område" not in text
    assert "school har redan en risk" not in text
