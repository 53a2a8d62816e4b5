"""Network meetings: participants from the team whose organisations the consent covers;
the minutes reach the participants' organisations only, under the consent."""

from datetime import timedelta

import pytest
from django.utils import timezone

from cases import services
from cases.models import Meeting
from consent import services as consent_services
from sspf.services import staff_account_save
from tests.conftest import log_in_verified
from tests.factories import add_guardian, consent_of_all, open_case
from tests.factories import youth_number as number

pytestmark = pytest.mark.django_db
API = "/api/v1/"


@pytest.fixture
def case(world):
    case = open_case(world, personnummer=number(16), team=["school", "social", "police"])
    add_guardian(world, case)
    return case


def body(world, case, **changes):
    values = {"held_at": (timezone.now() - timedelta(hours=2)).isoformat(),
              "participants": [world["school"].username, world.coordinator.username],
              "youth_present": True,
              "guardians_present": list(case.youth.guardians.values_list("pk", flat=True)),
              "minutes": "Eleven och skolan kom överens om studiestöd.",
              "decisions": "Studiestöd från vecka 50."}
    values.update(changes)
    return values


def test_a_participant_needs_the_consent_to_cover_their_organisation(world, case,
                                                                     api_client):
    client = api_client(world.coordinator)
    refused = client.post(f"{API}cases/{case.pk}/meetings/", body(world, case), format="json")
    assert refused.status_code == 400
    message = refused.json()["participants"][0]
    assert world["school"].username in message and "samtycket" in message
    assert not Meeting.objects.exists()
    consent_of_all(world, case, organisations=["school", "coordination"],
                   categories=["basic"])
    response = client.post(f"{API}cases/{case.pk}/meetings/", body(world, case),
                           format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert set(data) >= {"id", "source_org", "category", "created_at"}
    assert set(data["participants"]) == {world["school"].username, world.coordinator.username}
    assert data["youth_present"] and data["guardians_present"]


def test_the_minutes_reach_only_the_participants_organisations(world, case, api_client):
    consent_of_all(world, case, organisations=["school", "police", "coordination"],
                   categories=["basic"])
    api_client(world.coordinator).post(
        f"{API}cases/{case.pk}/meetings/",
        body(world, case, participants=[world["school"].username]), format="json")

    def count(who):
        return api_client(world[who]).get(f"{API}cases/{case.pk}/meetings/").json()["count"]

    assert count("school") == 1
    assert count("coordination") == 1  # its own
    assert count("police") == 0  # covered by the consent, but not at the meeting
    assert count("social") == 0  # neither
    grants = consent_services.ConsentGrant.objects.filter(case=case, guardian__isnull=False)
    consent_services.grant_withdraw(user=world.coordinator, grant_id=grants.first().pk,
                                    reason="Ångrar sig")
    assert count("school") == 0  # the consent no longer covers it
    assert "studiestöd" not in api_client(world["police"]).get(
        f"{API}cases/{case.pk}/").content.decode()


@pytest.mark.parametrize(("change", "field"), [
    ({"participants": []}, "participants"),
    ({"participants": ["nobody"]}, "participants"),
    ({"held_at": (timezone.now() + timedelta(days=2)).isoformat()}, "held_at"),
    ({"minutes": ""}, "minutes"),
    ({"guardians_present": [999999]}, "guardians_present"),
])
def test_bad_meetings_are_refused_naming_the_field(world, case, api_client, change, field):
    consent_of_all(world, case, organisations=["school", "coordination"],
                   categories=["basic"])
    response = api_client(world.coordinator).post(
        f"{API}cases/{case.pk}/meetings/", body(world, case, **change), format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Meeting.objects.exists()


def test_only_coordinators_record_meetings_and_outsiders_get_404(world, case, api_client):
    assert api_client(world["school"]).post(f"{API}cases/{case.pk}/meetings/",
                                            body(world, case), format="json"
                                            ).status_code == 403
    assert api_client(world["leisure"]).get(f"{API}cases/{case.pk}/meetings/"
                                            ).status_code == 404


def test_the_meeting_page(world, case, client):
    consent_of_all(world, case, organisations=["school", "coordination"],
                   categories=["basic"])
    log_in_verified(client, world.coordinator)
    assert client.get(f"/arenden/{case.pk}/moten/ny/").status_code == 200
    response = client.post(f"/arenden/{case.pk}/moten/ny/", {
        "held_at": (timezone.localtime() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        "participants": [world["school"].username], "minutes": "Bra möte"})
    assert response.status_code == 302, response.content.decode()[:400]
    assert "Bra möte" in client.get(f"/arenden/{case.pk}/").content.decode()
    services.case_close(user=world.coordinator, case_id=case.pk, reason="goals_met")
    assert client.get(f"/arenden/{case.pk}/moten/ny/").status_code == 409
TODAY = timezone.localdate()


def test_minutes_do_not_reach_an_organisation_that_was_not_at_the_meeting(world, case,
                                                                          api_client):
    """The audience is ``participants__user__organisation`` read at request time. When
    the school participant is moved to the police organisation (their team access ends,
    as it should), the meeting's audience silently becomes the police: every police
    member of the team now reads minutes of a meeting no police officer attended."""
    consent_of_all(world, case, organisations=["school", "police", "coordination"],
                   categories=["basic"])
    services.meeting_record(user=world.coordinator, case_id=case.pk,
                            held_at=timezone.now() - timedelta(hours=1),
                            participants=[world["school"].username],
                            minutes="Hemliga minnesanteckningar")
    police = api_client(world["police"])
    assert police.get(f"{API}cases/{case.pk}/meetings/").json()["count"] == 0
    staff_account_save(username=world["school"].username, role=world["school"].role,
                       organisation=world.orgs["police"])
    assert police.get(f"{API}cases/{case.pk}/meetings/").json()["count"] == 0
    assert "Hemliga minnesanteckningar" not in police.get(
        f"{API}cases/{case.pk}/").content.decode()


def test_a_meeting_cannot_be_recorded_as_held_before_the_case_was_opened(world, case,
                                                                        api_client):
    consent_of_all(world, case, organisations=["school", "coordination"],
                   categories=["basic"])
    response = api_client(world.coordinator).post(f"{API}cases/{case.pk}/meetings/", {
        "held_at": "0001-01-01T00:00:00Z", "participants": [world["school"].username],
        "minutes": "Möte"}, format="json")
    assert response.status_code == 400 and "held_at" in response.json()
    assert not Meeting.objects.exists()
