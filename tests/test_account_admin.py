"""Account administration: every change an administrator makes to an account is an
access event, a new role or organisation ends the account's case teams, and the way to
log in as someone else (set the password, replace the second factor) shows in the log."""

import pytest
from django.contrib.auth.models import Group
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.models import AccessEvent, Action
from cases.models import CaseMember
from tests.conftest import log_in_verified, personal_strings

pytestmark = pytest.mark.django_db


def change_form(account, **changes) -> dict:
    data = {
        "username": account.username, "first_name": account.first_name,
        "last_name": account.last_name, "email": account.email,
        "organisation": account.organisation_id or "", "role": account.role,
        "is_active": "on" if account.is_active else "",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v != ""}


def events_since(first_id, **filters):
    return AccessEvent.objects.filter(pk__gt=first_id, **filters).order_by("id")


def last_event_id() -> int:
    return AccessEvent.objects.order_by("-id").values_list("id", flat=True).first()


def test_moving_a_member_to_another_organisation_ends_their_teams(demo, client, api_client):
    elsa, school = demo.cases["Elsa"], demo["skolkurator"]
    social = demo["socialsekreterare"].organisation
    first = last_event_id()
    log_in_verified(client, demo["admin"])

    response = client.post(f"/admin/sspf/user/{school.pk}/change/",
                           change_form(school, organisation=social.pk))

    assert response.status_code == 302
    school.refresh_from_db()
    assert school.organisation == social
    membership = CaseMember.objects.get(case=elsa, user=school)
    assert membership.removed_at is not None and membership.removed_by == demo["admin"]
    answer = api_client(school).get(f"/api/v1/cases/{elsa.pk}/entries/")
    assert answer.status_code == 404
    assert [s for s in personal_strings(elsa) if s in answer.content.decode()] == []
    (changed,) = events_since(first, action=Action.ACCOUNT_CHANGED)
    assert (changed.actor_username, changed.object_type, changed.object_id) == (
        "admin", "sspf.User", str(school.pk))
    assert changed.purpose == "organisation"  # the field's name, never its value
    removal = events_since(first, action=Action.DELETE, case_id=elsa.pk).get()
    assert removal.object_type == "cases.CaseMember"


def test_the_sole_lead_keeps_organisation_until_another_coordinator_joins(demo, client):
    lead = demo["koordinator"]
    before = (lead.organisation_id, CaseMember.objects.filter(
        user=lead, removed_at__isnull=True).count())
    log_in_verified(client, demo["admin"])

    response = client.post(f"/admin/sspf/user/{lead.pk}/change/",
                           change_form(lead, organisation=demo["polis"].organisation_id))

    assert response.status_code == 200
    assert "Kontot är ensam ansvarig samordnare i 3 öppna ärenden" in response.content.decode()
    lead.refresh_from_db()
    assert (lead.organisation_id, CaseMember.objects.filter(
        user=lead, removed_at__isnull=True).count()) == before


def test_an_administrator_setting_a_password_is_recorded(demo, client):
    lead = demo["koordinator"]
    first = last_event_id()
    log_in_verified(client, demo["admin"])

    response = client.post(f"/admin/sspf/user/{lead.pk}/password/", {
        "password1": "Ett-nytt-langt-losenord-42", "password2": "Ett-nytt-langt-losenord-42",
        "usable_password": "true"})

    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.check_password("Ett-nytt-langt-losenord-42")
    event = events_since(first, action=Action.PASSWORD_SET).get()
    assert (event.actor_username, event.object_id) == ("admin", str(lead.pk))
    assert "Ett-nytt" not in f"{event.purpose} {event.path}"


def test_resetting_the_second_factor_is_recorded_and_forces_a_new_enrolment(demo, client):
    lead = demo["koordinator"]
    first = last_event_id()
    log_in_verified(client, demo["admin"])

    response = client.post("/admin/sspf/user/", {
        "action": "reset_second_factor", "_selected_action": [lead.pk, demo["admin"].pk]})

    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=lead).exists()
    assert TOTPDevice.objects.filter(user=demo["admin"]).exists()  # not one's own
    event = events_since(first, action=Action.OTP_RESET).get()
    assert (event.actor_username, event.object_id) == ("admin", str(lead.pk))

    client.logout()
    client.post("/login/", {"username": "koordinator", "password": "demo-password-for-tests"})
    case_page = client.get(f"/arenden/{demo.cases['Elsa'].pk}/")
    assert case_page.status_code == 302
    assert case_page["Location"].startswith("/login/aktivera-tvasteg/")


def test_second_factor_devices_and_role_groups_have_no_admin_pages(demo, client):
    log_in_verified(client, demo["admin"])
    device = TOTPDevice.objects.get(user=demo["koordinator"])
    group = Group.objects.get(name="coordinator")

    for path in ("/admin/otp_totp/totpdevice/", f"/admin/otp_totp/totpdevice/{device.pk}/change/",
                 "/admin/otp_totp/totpdevice/add/", "/admin/auth/group/",
                 f"/admin/auth/group/{group.pk}/change/"):
        response = client.get(path)
        assert response.status_code in (302, 404), path
        assert device.key not in response.content.decode()


def test_an_account_created_in_the_admin_is_recorded(demo, client):
    first = last_event_id()
    log_in_verified(client, demo["admin"])

    response = client.post("/admin/sspf/user/add/", {
        "username": "nykurator", "organisation": demo["skolkurator"].organisation_id,
        "role": "school_staff", "password1": "Ett-nytt-langt-losenord-42",
        "password2": "Ett-nytt-langt-losenord-42", "usable_password": "true"})

    assert response.status_code == 302
    created = demo["skolkurator"].__class__.objects.get(username="nykurator")
    assert list(created.groups.values_list("name", flat=True)) == ["school_staff"]
    event = events_since(first, action=Action.ACCOUNT_CREATED).get()
    assert (event.actor_username, event.object_id) == ("admin", str(created.pk))
