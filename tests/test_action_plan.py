"""The action plan: commitments owned by partner organisations on the team, status by
their owner, agreeing the plan makes the case active and schedules the first follow-up;
a follow-up held schedules the next or proposes closure."""

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AccessEvent, Action
from cases import services
from cases.models import Case, Commitment, FollowUp
from consent import services as consent_services
from tests.factories import add_guardian, consent_of_all, open_case
from tests.factories import youth_number as number

pytestmark = pytest.mark.django_db
API = "/api/v1/"
TODAY = timezone.localdate()


@pytest.fixture
def case(world):
    case = open_case(world, personnummer=number(16), team=["school", "social", "police"])
    add_guardian(world, case)
    return case


def plan_with_commitment(world, case, *, due_in=10, owner="school"):
    services.plan_save(user=world.coordinator, case_id=case.pk, goals="Tillbaka i skolan")
    return services.commitment_add(
        user=world.coordinator, case_id=case.pk, organisation=world.orgs[owner].pk,
        responsible=world[owner].username, description="Studiestöd två gånger i veckan",
        due_on=TODAY + timedelta(days=due_in))


def test_agreeing_the_plan_makes_the_case_active_and_schedules_the_first_follow_up(
        world, case, api_client):
    client = api_client(world.coordinator)
    assert client.put(f"{API}cases/{case.pk}/plan/", {"goals": "Tillbaka i skolan"},
                      format="json").status_code == 200
    refused = client.post(f"{API}cases/{case.pk}/plan/agree/")
    assert refused.status_code == 400 and "commitments" in refused.json()
    response = client.post(f"{API}cases/{case.pk}/commitments/", {
        "organisation": world.orgs["school"].pk, "responsible": world["school"].username,
        "description": "Studiestöd", "due_on": (TODAY + timedelta(days=14)).isoformat()},
        format="json")
    assert response.status_code == 201, response.content
    assert set(response.json()) >= {"id", "source_org", "category", "created_at"}
    assert response.json()["source_org"]["id"] == world.orgs["school"].pk
    assert client.post(f"{API}cases/{case.pk}/plan/agree/").status_code == 200
    case.refresh_from_db()
    assert case.status == Case.Status.ACTIVE
    (follow_up,) = FollowUp.objects.filter(case=case)
    assert follow_up.due_on == TODAY + timedelta(weeks=case.municipality.follow_up_interval_weeks)
    again = client.post(f"{API}cases/{case.pk}/plan/agree/")
    assert again.status_code == 400 and "plan" in again.json()
    plan = client.get(f"{API}cases/{case.pk}/plan/").json()
    assert plan["next_follow_up"]["due_on"] == follow_up.due_on.isoformat()


@pytest.mark.parametrize(("change", "field"), [
    ({"organisation": "leisure"}, "organisation"),  # not on the team
    ({"responsible": "social"}, "responsible"),  # a member, but of another organisation
    ({"due_on": (TODAY - timedelta(days=1)).isoformat()}, "due_on"),
    ({"description": ""}, "description"),
])
def test_bad_commitments_are_refused_naming_the_field(world, case, api_client, change, field):
    body = {"organisation": world.orgs["school"].pk, "responsible": world["school"].username,
            "description": "Studiestöd", "due_on": (TODAY + timedelta(days=3)).isoformat()}
    if "organisation" in change:
        body["organisation"] = world.orgs[change["organisation"]].pk
    elif "responsible" in change:
        body["responsible"] = world[change["responsible"]].username
    else:
        body.update(change)
    response = api_client(world.coordinator).post(f"{API}cases/{case.pk}/commitments/", body,
                                                  format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Commitment.objects.exists()


def test_the_owner_updates_status_and_others_cannot(world, case, api_client):
    commitment = plan_with_commitment(world, case)
    url = f"{API}commitments/{commitment.pk}/"
    assert api_client(world["school"]).patch(url, {"status": "ongoing"},
                                             format="json").json()["status"] == "ongoing"
    # the police are on the team but do not see the school's commitment without consent
    assert api_client(world["police"]).patch(url, {"status": "done"},
                                             format="json").status_code == 404
    assert api_client(world["elsewhere"]).patch(url, {"status": "done"},
                                                format="json").status_code == 404
    consent_of_all(world, case, organisations=["school", "police", "coordination"],
                   categories=["school"])
    refused = api_client(world["police"]).patch(url, {"status": "done"}, format="json")
    assert refused.status_code == 403
    bad = api_client(world["school"]).patch(url, {"status": "maybe"}, format="json")
    assert bad.status_code == 400 and "status" in bad.json()
    assert Commitment.objects.get(pk=commitment.pk).status == "ongoing"


def test_commitments_are_gated_by_consent_and_withdrawal(world, case, api_client):
    plan_with_commitment(world, case)
    police = api_client(world["police"])

    def police_count():
        return police.get(f"{API}cases/{case.pk}/commitments/").json()["count"]

    assert police_count() == 0
    grants = consent_of_all(world, case, organisations=["school", "police"],
                            categories=["school"])
    assert police_count() == 1
    consent_services.grant_withdraw(user=world.coordinator,
                                    grant_id=next(g for g in grants if g.guardian_id).pk,
                                    reason="Ångrar sig")
    assert police_count() == 0
    assert api_client(world.coordinator).get(
        f"{API}cases/{case.pk}/commitments/").json()["count"] == 1


def test_a_follow_up_schedules_the_next_or_proposes_closure(world, case, api_client):
    plan_with_commitment(world, case)
    services.plan_agree(user=world.coordinator, case_id=case.pk)
    client = api_client(world.coordinator)
    url = f"{API}cases/{case.pk}/follow-ups/"
    for body, field in (
        ({"held_on": TODAY.isoformat(), "outcome": "improved"}, "next_on"),
        ({"held_on": TODAY.isoformat(), "outcome": "improved",
          "next_on": TODAY.isoformat()}, "next_on"),
        ({"held_on": (TODAY + timedelta(days=1)).isoformat(), "outcome": "improved",
          "propose_closure": True}, "held_on"),
        ({"held_on": TODAY.isoformat(), "outcome": "better", "propose_closure": True},
         "outcome"),
    ):
        response = client.post(url, body, format="json")
        assert response.status_code == 400 and field in response.json(), body
    assert FollowUp.objects.filter(case=case, held_on__isnull=False).count() == 0
    next_on = TODAY + timedelta(weeks=6)
    response = client.post(url, {"held_on": TODAY.isoformat(), "outcome": "improved",
                                 "note": "Går i skolan", "next_on": next_on.isoformat()},
                           format="json")
    assert response.status_code == 201
    assert response.json()["outcome"] == "improved"
    scheduled = FollowUp.objects.get(case=case, held_on__isnull=True)
    assert scheduled.due_on == next_on
    response = client.post(url, {"held_on": TODAY.isoformat(), "outcome": "improved",
                                 "propose_closure": True}, format="json")
    assert response.status_code == 201 and response.json()["propose_closure"]
    assert not FollowUp.objects.filter(case=case, held_on__isnull=True).exists()
    listed = client.get(url).json()
    assert listed["count"] == 2  # the first, held; the one it scheduled, held too


def test_due_lists_the_callers_items(world, case, api_client):
    soon = plan_with_commitment(world, case, due_in=2)
    late = services.commitment_add(
        user=world.coordinator, case_id=case.pk, organisation=world.orgs["social"].pk,
        responsible=world["social"].username, description="Hembesök",
        due_on=TODAY + timedelta(days=1))
    Commitment.objects.filter(pk=late.pk).update(due_on=TODAY - timedelta(days=3))
    school = api_client(world["school"]).get(f"{API}follow-ups/due/").json()
    sunday = TODAY + timedelta(days=6 - TODAY.weekday())
    expected = [{"type": "commitment", "id": soon.pk, "case": case.pk,
                 "due_on": soon.due_on.isoformat()}] if soon.due_on <= sunday else []
    assert school == {"due_this_week": expected, "overdue": []}
    lead = api_client(world.coordinator).get(f"{API}follow-ups/due/").json()
    assert [i["id"] for i in lead["overdue"]] == [late.pk]
    assert api_client(world["leisure"]).get(f"{API}follow-ups/due/").json() == {
        "due_this_week": [], "overdue": []}


def test_non_members_get_404_and_a_closed_case_409(world, case, api_client):
    commitment = plan_with_commitment(world, case)
    for path in ("plan/", "commitments/", "follow-ups/"):
        assert api_client(world["leisure"]).get(f"{API}cases/{case.pk}/{path}"
                                                ).status_code == 404
    services.case_close(user=world.coordinator, case_id=case.pk, reason="moved")
    response = api_client(world["school"]).patch(f"{API}commitments/{commitment.pk}/",
                                                 {"status": "done"}, format="json")
    assert response.status_code == 409
    assert api_client(world.coordinator).put(f"{API}cases/{case.pk}/plan/", {"goals": "x"},
                                             format="json").status_code == 409


def test_the_case_page_goes_from_plan_to_follow_up(world, case, client):
    from tests.conftest import log_in_verified

    log_in_verified(client, world.coordinator)
    assert client.post(f"/arenden/{case.pk}/plan/", {"goals": "Tillbaka i skolan"}
                       ).status_code == 302
    assert client.get(f"/arenden/{case.pk}/ataganden/ny/").status_code == 200
    response = client.post(f"/arenden/{case.pk}/ataganden/ny/", {
        "organisation": world.orgs["school"].pk, "responsible": world["school"].username,
        "description": "Studiestöd", "due_on": (TODAY + timedelta(days=5)).isoformat()})
    assert response.status_code == 302, response.content.decode()[:500]
    assert client.post(f"/arenden/{case.pk}/plan/overens/").status_code == 302
    assert Case.objects.get(pk=case.pk).status == Case.Status.ACTIVE
    page = client.get(f"/arenden/{case.pk}/").content.decode()
    assert "Studiestöd" in page and "Nästa uppföljning" in page
    bad = client.post(f"/arenden/{case.pk}/uppfoljningar/ny/", {
        "held_on": TODAY.isoformat(), "outcome": "improved"})
    assert bad.status_code == 400 and "Nästa uppföljning" in bad.content.decode()
    assert client.post(f"/arenden/{case.pk}/uppfoljningar/ny/", {
        "held_on": TODAY.isoformat(), "outcome": "improved",
        "next_on": (TODAY + timedelta(weeks=6)).isoformat()}).status_code == 302
    commitment = Commitment.objects.get()
    log_in_verified(client, world["school"])
    assert client.post(f"/ataganden/{commitment.pk}/status/", {"status": "done"}
                       ).status_code == 302
    assert Commitment.objects.get().status == "done"
    home = client.get("/").content.decode()
    assert "Att göra" in home


def school_commitment(world, case, *, due_in=10):
    services.plan_save(user=world.coordinator, case_id=case.pk, goals="Skolgång")
    return services.commitment_add(
        user=world.coordinator, case_id=case.pk, organisation=world.orgs["school"].pk,
        responsible=world["school"].username, description="Hemlig studieplan",
        due_on=TODAY + timedelta(days=due_in))


def test_a_member_who_sees_a_commitment_but_may_not_change_it_gets_a_recorded_403(
        world, case, api_client):
    """The police see the school's commitment under consent, but are not responsible:
    a visible object with a forbidden action should be a 403 recorded as ``denied``;
    ``commitment_set_status`` raises a ValidationError (400) and records nothing."""
    commitment = school_commitment(world, case)
    consent_of_all(world, case, organisations=["school", "police", "coordination"],
                   categories=["school"])
    before = AccessEvent.objects.filter(action=Action.DENIED, actor_id=world["police"].pk
                                        ).count()
    response = api_client(world["police"]).patch(f"{API}commitments/{commitment.pk}/",
                                                 {"status": "done"}, format="json")
    assert response.status_code == 403
    assert AccessEvent.objects.filter(action=Action.DENIED,
                                      actor_id=world["police"].pk).count() == before + 1


def test_a_follow_up_cannot_be_held_before_the_plan_was_agreed(world, case, api_client):
    """``follow_up_record`` refuses only a future ``held_on``: year 1 is accepted, and
    so marks the scheduled follow-up as held long before the plan existed."""
    school_commitment(world, case)
    services.plan_agree(user=world.coordinator, case_id=case.pk)
    response = api_client(world.coordinator).post(f"{API}cases/{case.pk}/follow-ups/", {
        "held_on": "0001-01-01", "outcome": "improved",
        "next_on": (TODAY + timedelta(weeks=6)).isoformat()}, format="json")
    assert response.status_code == 400 and "held_on" in response.json()
    assert not FollowUp.objects.filter(held_on__isnull=False).exists()
