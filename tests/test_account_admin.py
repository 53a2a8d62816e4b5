"""Account administration: every change an administrator makes to an account is an
access event, a new role or organisation ends the account's case teams, and the way to
log in as someone else (set the password, replace the second factor) takes two
administrators for an account that works on cases, ends its sessions and tokens, tells
the owner and marks the owner's next login."""


import io
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.models import AccessEvent, Action
from cases.models import CaseMember
from sspf.models import CredentialReset, Notification, User
from sspf.roles import Role
from tests.conftest import log_in_verified, personal_strings
from tests.factories import current_code, make_staff

pytestmark = pytest.mark.django_db


def totp_code(device) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


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


NEW_PASSWORD = "Ett-nytt-langt-losenord-42"


def request_password(client, account, password=NEW_PASSWORD):
    return client.post(f"/admin/sspf/user/{account.pk}/password/", {
        "password1": password, "password2": password, "usable_password": "true"})


def decide(client, action, reset):
    return client.post("/admin/sspf/credentialreset/", {
        "action": action, "_selected_action": [reset.pk]}, follow=True)


@pytest.fixture
def second_admin(demo):
    return make_staff("admin2", role=Role.ADMINISTRATOR, is_superuser=True)


def test_one_administrator_alone_cannot_take_over_a_case_workers_account(demo, client):
    """The reproduced attack: set the password, reset the second factor, log in as the
    social worker and enrol a new device. Alone, an administrator only asks."""
    social, elsa = demo["socialsekreterare"], demo.cases["Elsa"]
    first = last_event_id()
    log_in_verified(client, demo["admin"])

    response = request_password(client, social)
    assert response.status_code == 302
    client.post("/admin/sspf/user/", {"action": "reset_second_factor",
                                      "_selected_action": [social.pk]})
    resets = list(CredentialReset.objects.filter(account=social).order_by("id"))
    assert [(r.kind, r.status) for r in resets] == [("password", "pending"),
                                                   ("second_factor", "pending")]
    answer = decide(client, "approve", resets[0])  # one's own request
    assert "En annan administratör än den som begärde" in answer.content.decode()

    social.refresh_from_db()
    assert not social.check_password(NEW_PASSWORD)
    assert TOTPDevice.objects.filter(user=social, confirmed=True).exists()
    client.logout()
    client.post("/login/", {"username": "socialsekreterare", "password": NEW_PASSWORD})
    page = client.get(f"/arenden/{elsa.pk}/")
    assert page.status_code == 302 and page["Location"].startswith("/login/")
    assert [s for s in personal_strings(elsa) if s in page.content.decode()] == []
    requested = events_since(first, action=Action.RESET_REQUESTED)
    assert [(e.actor_username, e.object_type) for e in requested] == [
        ("admin", "sspf.CredentialReset")] * 2
    assert not events_since(first, action__in=[Action.PASSWORD_SET, Action.OTP_RESET]).exists()
    assert NEW_PASSWORD not in " ".join(e.purpose for e in events_since(first))


def test_a_second_administrator_approves_and_the_owner_is_told(
        demo, client, api_client, second_admin, settings, mailoutbox,
        django_capture_on_commit_callbacks):
    settings.SSPF_NOTIFY_BY_EMAIL = True
    social = demo["socialsekreterare"]
    social.email = "handlaggare@example.org"
    social.save(update_fields=["email"])
    token_client = api_client(social)
    session = Client()
    log_in_verified(session, social)
    assert session.get("/").status_code == 200
    log_in_verified(client, demo["admin"])
    request_password(client, social)
    reset = CredentialReset.objects.get(account=social)
    assert reset.password_hash and NEW_PASSWORD not in reset.password_hash
    first = last_event_id()

    client.logout()
    log_in_verified(client, second_admin)
    with django_capture_on_commit_callbacks(execute=True):
        answer = decide(client, "approve", reset)
    assert "godkända och genomförda" in answer.content.decode()

    social.refresh_from_db()
    reset.refresh_from_db()
    assert social.check_password(NEW_PASSWORD)
    assert (reset.status, reset.decided_by, reset.password_hash) == ("approved", second_admin, "")
    assert token_client.get("/api/v1/me/").status_code == 401  # tokens revoked
    assert session.get("/").status_code == 302  # the session ended
    note = Notification.objects.get(user=social)
    assert "nytt lösenord" in note.text
    (mail,) = mailoutbox
    assert mail.to == ["handlaggare@example.org"] and "administratör" in mail.body
    assert note.__class__.objects.get(pk=note.pk).emailed_at is not None
    approved = events_since(first, action=Action.RESET_APPROVED).get()
    password_set = events_since(first, action=Action.PASSWORD_SET).get()
    assert approved.actor_username == password_set.actor_username == "admin2"
    assert password_set.object_id == str(social.pk)
    assert "by admin" in password_set.purpose and "1 API token(s) revoked" in password_set.purpose


def test_the_first_login_after_a_reset_is_marked(demo, client, second_admin):
    social = demo["socialsekreterare"]
    log_in_verified(client, demo["admin"])
    client.post("/admin/sspf/user/", {"action": "reset_second_factor",
                                      "_selected_action": [social.pk]})
    reset = CredentialReset.objects.get(account=social)
    client.logout()
    log_in_verified(client, second_admin)
    decide(client, "approve", reset)
    assert not TOTPDevice.objects.filter(user=social).exists()
    event = events_since(0, action=Action.OTP_RESET).get()
    assert (event.actor_username, event.object_id) == ("admin2", str(social.pk))

    client.logout()
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        client.post("/login/", {"username": "socialsekreterare",
                                "password": "demo-password-for-tests"})
        assert client.get("/login/aktivera-tvasteg/").status_code == 200
        device = TOTPDevice.objects.get(user=social, confirmed=False)
        client.post("/login/aktivera-tvasteg/", {"code": totp_code(device)})
        client.logout()
        traveller.shift(60)  # a new code: the same one is never accepted twice
        client.post("/login/", {"username": "socialsekreterare",
                                "password": "demo-password-for-tests"})
        client.post("/login/tvasteg/", {"code": current_code(social)})
    logins = AccessEvent.objects.filter(action=Action.LOGIN, actor_id=social.pk).order_by("id")
    assert [e.flags for e in logins] == ["first_login_after_reset", None]


def test_an_expired_request_cannot_be_approved(demo, client, second_admin):
    social = demo["socialsekreterare"]
    log_in_verified(client, demo["admin"])
    with time_machine.travel(timezone.now() - timedelta(hours=25)):
        request_password(client, social)
    reset = CredentialReset.objects.get(account=social)
    client.logout()
    log_in_verified(client, second_admin)
    assert "Har gått ut" in client.get("/admin/sspf/credentialreset/").content.decode()

    answer = decide(client, "approve", reset)

    assert "Begäran har gått ut" in answer.content.decode()
    social.refresh_from_db()
    assert not social.check_password(NEW_PASSWORD)
    request_password(client, social, password=NEW_PASSWORD + "x")  # asking anew closes it
    assert sorted(CredentialReset.objects.filter(account=social).values_list(
        "status", flat=True)) == ["pending", "rejected"]


def test_a_rejected_request_changes_nothing(demo, client, second_admin):
    social = demo["socialsekreterare"]
    log_in_verified(client, demo["admin"])
    request_password(client, social)
    reset = CredentialReset.objects.get(account=social)
    client.logout()
    log_in_verified(client, second_admin)
    decide(client, "reject", reset)
    reset.refresh_from_db()
    social.refresh_from_db()
    assert (reset.status, reset.password_hash) == ("rejected", "")
    assert not social.check_password(NEW_PASSWORD)
    assert decide(client, "approve", reset).status_code == 200
    social.refresh_from_db()
    assert not social.check_password(NEW_PASSWORD)


def test_an_auditors_or_administrators_account_too_needs_a_second_administrator(
        demo, client, api_client, second_admin):
    """Otherwise one administrator could take over another administrator's account and
    approve their own requests with it (or read the log as an auditor)."""
    log_in_verified(client, demo["admin"])
    for account in (demo["revisor"], second_admin):
        request_password(client, account)
        client.post("/admin/sspf/user/", {"action": "reset_second_factor",
                                          "_selected_action": [account.pk]})
        account.refresh_from_db()
        assert not account.check_password(NEW_PASSWORD)
        assert TOTPDevice.objects.filter(user=account).exists()
    assert CredentialReset.objects.filter(status="pending").count() == 4
    # The account's own administrator cannot decide on a request about themselves.
    client.logout()
    log_in_verified(client, second_admin)
    own = CredentialReset.objects.filter(account=second_admin).first()
    assert "ditt eget konto" in decide(client, "approve", own).content.decode()


def test_nobody_is_made_an_administrator_in_the_admin(demo, client):
    log_in_verified(client, demo["admin"])
    social = demo["socialsekreterare"]
    first = last_event_id()

    changed = client.post(f"/admin/sspf/user/{social.pk}/change/",
                          change_form(social, role="administrator", organisation=""))
    created = client.post("/admin/sspf/user/add/", {
        "username": "nyadmin", "role": "administrator", "password1": NEW_PASSWORD,
        "password2": NEW_PASSWORD, "usable_password": "true"})

    for response in (changed, created):
        assert response.status_code == 200
        assert "manage.py create_administrator" in response.content.decode()
    social.refresh_from_db()
    assert social.role == Role.SOCIAL_WORKER
    assert not social.__class__.objects.filter(username="nyadmin").exists()
    assert not events_since(first, action__startswith="account_").exists()


def test_an_operator_creates_administrators_on_the_server(db, monkeypatch):
    from django.core.management import call_command

    monkeypatch.setattr("getpass.getpass", lambda prompt="": NEW_PASSWORD)
    call_command("create_administrator", "drift", stdout=io.StringIO())
    account = User.objects.get(username="drift")
    assert (account.role, account.is_staff, account.organisation) == (
        Role.ADMINISTRATOR, True, None)
    assert account.check_password(NEW_PASSWORD)
    event = AccessEvent.objects.get(action=Action.ACCOUNT_CREATED, object_id=str(account.pk))
    assert event.actor_id is None and "operator" in event.purpose
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "kort")
    with pytest.raises(CommandError):
        call_command("create_administrator", "drift2", stdout=io.StringIO())
    assert not User.objects.filter(username="drift2").exists()


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


def test_an_account_created_in_the_admin_is_recorded_and_its_first_login_marked(demo, client):
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
    assert created.credentials_reset_at is not None  # its first login is marked


# --- Where security notices go ------------------------------------------------------------


def test_an_email_change_tells_the_old_address_so_a_reset_cannot_be_hidden_from_the_owner(
        demo, client, second_admin, settings, mailoutbox,
        django_capture_on_commit_callbacks):
    """One administrator changes the account's e-mail to one they read, then asks for a
    new password that a second approves: the owner's own address was told at the change."""
    settings.SSPF_NOTIFY_BY_EMAIL = True
    social = demo["socialsekreterare"]
    social.email = "owner@example.org"
    social.save(update_fields=["email"])
    log_in_verified(client, demo["admin"])
    with django_capture_on_commit_callbacks(execute=True):
        changed = client.post(f"/admin/sspf/user/{social.pk}/change/",
                              change_form(social, email="requester@example.org"))
    assert changed.status_code == 302
    (notice,) = mailoutbox
    assert sorted(notice.to) == ["owner@example.org", "requester@example.org"]
    assert "ändrat e-postadressen" in notice.body
    assert [s for s in personal_strings(demo.cases["Elsa"]) if s in notice.body] == []
    client.post(f"/admin/sspf/user/{social.pk}/password/", {
        "password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"})
    reset = CredentialReset.objects.get(account=social)
    client.logout()
    log_in_verified(client, second_admin)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/admin/sspf/credentialreset/", {
            "action": "approve", "_selected_action": [reset.pk]})
    social.refresh_from_db()
    assert social.check_password(NEW_PASSWORD)


def test_demoting_an_administrator_takes_the_superuser_flag_and_ends_the_sessions(
        demo, client, second_admin):
    stamp = second_admin.security_stamp
    log_in_verified(client, demo["admin"])
    org = demo["koordinator"].organisation
    response = client.post(f"/admin/sspf/user/{second_admin.pk}/change/",
                           change_form(second_admin, role="coordinator", organisation=org.pk))
    assert response.status_code == 302
    second_admin.refresh_from_db()
    assert second_admin.role == Role.COORDINATOR
    assert (second_admin.is_superuser, second_admin.is_staff) == (False, False)
    assert second_admin.security_stamp != stamp


@pytest.mark.parametrize("username", ["bad name/", "x" * 200])
def test_create_administrator_refuses_a_bad_username_in_one_line(db, monkeypatch, username):
    monkeypatch.setattr("getpass.getpass", lambda prompt="": NEW_PASSWORD)
    with pytest.raises(CommandError, match=r"^username: "):
        call_command("create_administrator", username, stdout=io.StringIO())
    assert not User.objects.filter(role=Role.ADMINISTRATOR).exists()
