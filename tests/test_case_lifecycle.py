"""The case lifecycle: assessing → active → follow-up → closed, only by the case's
coordinators, every move recorded; a closed case is read-only (409) but consent can
still be withdrawn; reopening; the timeline; the anonymous facts."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from audit.models import AccessEvent, Action
from cases import services
from cases.models import Case, CaseFacts, CaseStatusChange, Entry
from consent import services as consent_services
from consent.models import ConsentDocument
from tests.conftest import log_in_verified
from tests.factories import open_case
from tests.factories import youth_number as number

pytestmark = pytest.mark.django_db
API = "/api/v1/"






@pytest.fixture
def case(world):
    return open_case(world, personnummer=number(16), team=["school", "social"])


def test_a_new_case_starts_in_assessing_and_moves_through_the_statuses(world, case,
                                                                       api_client):
    client = api_client(world.coordinator)
    assert client.get(f"{API}cases/{case.pk}/").json()["status"] == "assessing"
    for to in ("active", "follow_up", "active"):
        response = client.post(f"{API}cases/{case.pk}/status/", {"status": to,
                                                                 "reason": "Plan klar"},
                               format="json")
        assert response.status_code == 200, response.content
        assert response.json()["status"] == to
    changes = list(CaseStatusChange.objects.filter(case=case).values_list(
        "from_status", "to_status"))
    assert changes == [("assessing", "active"), ("active", "follow_up"),
                       ("follow_up", "active")]
    assert CaseStatusChange.objects.filter(case=case).first().reason == "Plan klar"
    events = AccessEvent.objects.filter(case_id=case.pk, action=Action.UPDATE,
                                        object_type="cases.Case")
    assert events.filter(purpose="status assessing -> active").exists()


@pytest.mark.parametrize(("payload", "field"), [
    ({"status": "follow_up"}, "status"),  # assessing cannot jump to follow-up
    ({"status": "closed"}, "status"),  # closing needs a reason: its own endpoint
    ({"status": "dormant"}, "status"),
    ({"status": "active", "reason": "x" * 2001}, "reason"),
])
def test_illegal_transitions_are_refused_naming_the_field(world, case, api_client,
                                                           payload, field):
    response = api_client(world.coordinator).post(f"{API}cases/{case.pk}/status/", payload,
                                                  format="json")
    assert response.status_code == 400
    assert field in response.json()
    case.refresh_from_db()
    assert case.status == Case.Status.ASSESSING
    assert not CaseStatusChange.objects.exists()


def test_only_the_cases_coordinators_move_it(world, case, api_client):
    for who, expected in (("school", 403), ("social", 403), ("leisure", 404),
                          ("elsewhere", 404)):
        for path, body in (("status/", {"status": "active"}),
                           ("close/", {"reason": "moved"}), ("reopen/", {"reason": "x"})):
            response = api_client(world[who]).post(f"{API}cases/{case.pk}/{path}", body,
                                                   format="json")
            assert response.status_code == expected, (who, path)
            assert "Testsson" not in response.content.decode()
    case.refresh_from_db()
    assert case.status == Case.Status.ASSESSING


def test_closing_needs_a_reason_and_makes_the_case_read_only(world, case, api_client):
    client = api_client(world.coordinator)
    for body, field in (({"reason": ""}, "reason"), ({"reason": "bored"}, "reason"),
                        ({"reason": "moved", "note": "x" * 2001}, "note")):
        response = client.post(f"{API}cases/{case.pk}/close/", body, format="json")
        assert response.status_code == 400 and field in response.json(), body
    assert Case.objects.get(pk=case.pk).is_open
    response = client.post(f"{API}cases/{case.pk}/close/",
                           {"reason": "goals_met", "note": "Går i skolan igen."},
                           format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "closed"
    assert body["closure"] == {"reason": "goals_met",
                               "closed_on": timezone.localdate().isoformat()}
    assert CaseStatusChange.objects.get(to_status="closed").reason == "Går i skolan igen."

    writes = [
        (world.coordinator, "post", "entries/", {"category": "basic", "text": "x"}),
        (world["school"], "post", "entries/", {"category": "school", "text": "x"}),
        (world.coordinator, "post", "members/", {"username": world["leisure"].username}),
        (world.coordinator, "post", "guardians/", {"personnummer": number(45),
                                                   "first_name": "A", "last_name": "B",
                                                   "custodian": True}),
        (world.coordinator, "patch", "", {"area": "Norr", "version": body["version"]}),
        (world.coordinator, "post", "status/", {"status": "active"}),
        (world.coordinator, "post", "close/", {"reason": "moved"}),
        (world.coordinator, "delete", f"members/{world['school'].username}/", None),
    ]
    for user, method, path, payload in writes:
        response = getattr(api_client(user), method)(f"{API}cases/{case.pk}/{path}",
                                                     payload, format="json")
        assert response.status_code == 409, (path, response.content)
        assert "avslutat" in response.json()["detail"]
    assert not Entry.objects.filter(case=case).exists()
    assert case.memberships.filter(removed_at__isnull=True).count() == 3
    # the team still reads it
    assert api_client(world["school"]).get(f"{API}cases/{case.pk}/").status_code == 200


def test_a_giver_can_still_withdraw_on_a_closed_case(world, case, api_client):
    grant = consent_services.grant_record(
        user=world.coordinator, case_id=case.pk, giver_type="youth",
        organisations=[world.orgs["school"].pk, world.orgs["social"].pk],
        categories=["school"], purpose="Samordning", form="written")
    services.case_close(user=world.coordinator, case_id=case.pk, reason="consent_withdrawn")
    response = api_client(world.coordinator).post(
        f"{API}consents/{grant.pk}/withdraw/", {"reason": "Vill inte längre"}, format="json")
    assert response.status_code == 200, response.content


def test_reopening_returns_to_the_status_it_was_closed_from(world, case, api_client):
    services.case_set_status(user=world.coordinator, case_id=case.pk, status="active")
    services.case_close(user=world.coordinator, case_id=case.pk, reason="moved")
    client = api_client(world.coordinator)
    refused = client.post(f"{API}cases/{case.pk}/reopen/", {"reason": ""}, format="json")
    assert refused.status_code == 400 and "reason" in refused.json()
    response = client.post(f"{API}cases/{case.pk}/reopen/", {"reason": "Flyttade tillbaka"},
                           format="json")
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["closure"]) == ("active", None)
    case.refresh_from_db()
    assert (case.closed_at, case.closure_reason, case.facts.closed_month) == (None, "", None)
    # reopening an open case is a 403 (there is nothing to reopen), not a change
    assert client.post(f"{API}cases/{case.pk}/reopen/", {"reason": "x"},
                       format="json").status_code == 403


def test_a_case_cannot_reopen_while_the_person_has_another_open_case(world, case, api_client):
    services.case_close(user=world.coordinator, case_id=case.pk, reason="moved")
    newer = services.case_create(user=world.coordinator, personnummer=case.youth.personnummer,
                                 first_name="Ny", last_name="Post")
    response = api_client(world.coordinator).post(f"{API}cases/{case.pk}/reopen/",
                                                  {"reason": "Tillbaka"}, format="json")
    assert response.status_code == 400
    assert f"#{newer.pk}" in response.json()["reason"][0]
    assert not Case.objects.get(pk=case.pk).is_open


def test_the_timeline_shows_only_what_the_viewer_may_see(world, case, api_client):
    services.entry_add(user=world["school"], case_id=case.pk, category="school",
                       text="Hög frånvaro")
    services.case_set_status(user=world.coordinator, case_id=case.pk, status="active",
                             reason="Plan överenskommen med familjen")
    consent_services.grant_record(
        user=world.coordinator, case_id=case.pk, giver_type="youth",
        organisations=[world.orgs["school"].pk, world.orgs["social"].pk],
        categories=["health"], purpose="Hemligt syfte", form="written")
    services.member_remove(user=world.coordinator, case_id=case.pk,
                           username=world["social"].username)

    def timeline(who):
        response = api_client(world[who]).get(f"{API}cases/{case.pk}/timeline/")
        assert response.status_code == 200
        return response.json()

    lead = timeline("coordination")
    kinds = [e["kind"] for e in lead]
    assert {"status", "member_added", "member_removed", "consent_given"} <= set(kinds)
    assert [e["at"] for e in lead] == sorted(e["at"] for e in lead)
    assert any(e["detail"] == "Plan överenskommen med familjen" for e in lead)
    school = timeline("school")
    assert any(e["kind"] == "item" and e["organisation"] == world.orgs["school"].name
               for e in school)
    assert all(e["detail"] == "" for e in school)  # the reasons stay with the coordinators
    text = str(school)
    assert "Hemligt syfte" not in text and "Hög frånvaro" not in text
    # the coordinator's organisation has no consent for school items: none on its line
    assert not any(e["kind"] == "item" for e in lead)
    assert api_client(world["leisure"]).get(
        f"{API}cases/{case.pk}/timeline/").status_code == 404


def test_the_facts_name_no_one(world, case):
    services.case_update(user=world.coordinator, case_id=case.pk, area="Norr",
                         expected_version=case.version)
    services.case_close(user=world.coordinator, case_id=case.pk, reason="aged_out",
                        note="Fyllde 18")
    case.refresh_from_db()
    facts = CaseFacts.objects.get(pk=case.facts_id)
    today = timezone.localdate()
    assert (facts.area, facts.age_band, facts.gender, facts.closure_reason) == (
        "Norr", "16-17", "F", "aged_out")
    assert facts.opened_month == today.replace(day=1) == facts.closed_month
    row = CaseFacts.objects.filter(pk=facts.pk).values().get()
    assert set(row) == {"id", "municipality_id", "area", "opened_month", "closed_month",
                        "age_band", "gender", "concerns", "signal_source_kinds",
                        "closure_reason", "erased"}
    stored = " ".join(str(v) for v in row.values())
    for personal in (case.youth.personnummer, case.youth.first_name, "Fyllde 18"):
        assert personal not in stored
    assert not any(f.is_relation and f.related_model is Case
                   for f in CaseFacts._meta.get_fields())


def test_the_case_page_moves_closes_and_reopens(world, case, client):
    log_in_verified(client, world.coordinator)
    page = client.get(f"/arenden/{case.pk}/").content.decode()
    assert "Byt status" in page
    timeline = client.get(f"/arenden/{case.pk}/tidslinje/").content.decode()
    assert "Kartläggning" in timeline or "lades till i teamet" in timeline
    assert client.post(f"/arenden/{case.pk}/status/", {"status": "active"}).status_code == 302
    assert Case.objects.get(pk=case.pk).status == "active"
    bad = client.post(f"/arenden/{case.pk}/avsluta/", {"reason": ""})
    assert bad.status_code == 400
    assert client.post(f"/arenden/{case.pk}/avsluta/",
                       {"reason": "goals_met", "note": "Bra"}).status_code == 302
    closed = client.get(f"/arenden/{case.pk}/anteckningar/ny/")
    assert closed.status_code == 409
    assert "avslutat" in closed.content.decode()
    assert client.post(f"/arenden/{case.pk}/oppna-igen/",
                       {"reason": "Ny oro"}).status_code == 302
    assert Case.objects.get(pk=case.pk).status == "active"


PDF = b"%PDF-1.7\n" + b"Underskrift " * 50


def youth_grant(world, case):
    return consent_services.grant_record(
        user=world.coordinator, case_id=case.pk, giver_type="youth",
        organisations=[world.orgs["school"].pk, world.orgs["coordination"].pk],
        categories=["school"], purpose="Samordning", form="written")


def test_a_signed_form_cannot_be_uploaded_to_a_closed_case(world, client):
    case = open_case(world, personnummer=number(16), team=["school"])
    grant = youth_grant(world, case)
    services.case_close(user=world.coordinator, case_id=case.pk, reason="moved")
    log_in_verified(client, world.coordinator)
    response = client.post(f"/samtycken/{grant.pk}/blankett/",
                           {"document": SimpleUploadedFile("s.pdf", PDF)})
    assert response.status_code == 409
    assert not ConsentDocument.objects.filter(grant=grant).exists()


def test_the_case_page_links_the_timeline(world, client):
    case = open_case(world, personnummer=number(16), team=["school"])
    services.case_set_status(user=world.coordinator, case_id=case.pk, status="active")
    log_in_verified(client, world.coordinator)
    page = client.get(f"/arenden/{case.pk}/").content.decode()
    assert "Inget att visa ännu." not in page, (
        "the case page's timeline section is rendered without events (the view no "
        "longer passes them), so it says nothing has happened")
