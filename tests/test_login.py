"""Login: password, then a TOTP code; enrolment on first login; lockout; session
limits; headers on every response."""

from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

import sspf.settings as production_settings
from sspf.roles import Role
from tests.conftest import log_in_verified
from tests.factories import PASSWORD, current_code, make_staff

pytestmark = pytest.mark.django_db


def password_step(client, username, password=PASSWORD):
    return client.post(reverse("login"), {"username": username, "password": password})


def test_password_alone_does_not_open_any_page(client, coordinator):
    response = password_step(client, "alice")
    assert response.status_code == 302
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"] == reverse("otp_verify")


def test_password_and_totp_log_in(client, coordinator):
    password_step(client, "alice")
    response = client.post(reverse("otp_verify"), {"code": current_code(coordinator)})
    assert response.status_code == 302
    home = client.get(reverse("home"))
    assert home.status_code == 200
    assert "alice" in home.content.decode()


def test_wrong_totp_code_is_refused_with_a_message(client, coordinator):
    password_step(client, "alice")
    wrong = f"{(int(current_code(coordinator)) + 1) % 1_000_000:06d}"
    response = client.post(reverse("otp_verify"), {"code": wrong})
    assert response.status_code == 200
    assert "Fel engångskod" in response.content.decode()
    assert client.get(reverse("home")).status_code == 302


def test_malformed_totp_code_names_the_field(client, coordinator):
    password_step(client, "alice")
    response = client.post(reverse("otp_verify"), {"code": "12ab"})
    assert "sex siffror" in response.content.decode()


def test_wrong_password_and_unknown_user_get_the_same_message(client, coordinator):
    wrong = password_step(client, "alice", "nope").content.decode()
    unknown = password_step(client, "nobody", "nope").content.decode()
    assert "Fel användarnamn eller lösenord." in wrong
    assert "Fel användarnamn eller lösenord." in unknown
    assert client.get(reverse("home")).status_code == 302


def test_inactive_account_cannot_log_in(client, coordinator):
    coordinator.is_active = False
    coordinator.save()
    response = password_step(client, "alice")
    assert "Fel användarnamn eller lösenord." in response.content.decode()


def test_first_login_enrols_a_totp_device_with_qr_code(client):
    user = make_staff("newbie", role=Role.SOCIAL_WORKER, totp=False)
    password_step(client, "newbie")
    assert client.get(reverse("home"))["Location"] == reverse("otp_enrol")
    page = client.get(reverse("otp_enrol"))
    body = page.content.decode()
    assert 'src="data:image/svg+xml;base64,' in body
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    assert page.context["secret"].replace(" ", "") in body.replace(" ", "")

    from django_otp.oath import totp

    code = f"{totp(device.bin_key):06d}"
    response = client.post(reverse("otp_enrol"), {"code": code})
    assert response.status_code == 302
    device.refresh_from_db()
    assert device.confirmed
    assert client.get(reverse("home")).status_code == 200
    # The secret is not shown again once enrolled.
    assert client.get(reverse("otp_enrol"))["Location"] == reverse("home")


def test_reloading_enrolment_replaces_the_secret(client):
    user = make_staff("newbie", role=Role.SOCIAL_WORKER, totp=False)
    password_step(client, "newbie")
    first = client.get(reverse("otp_enrol")).context["secret"]
    second = client.get(reverse("otp_enrol")).context["secret"]
    assert first != second
    assert TOTPDevice.objects.filter(user=user).count() == 1


def test_lockout_after_five_failures(client, coordinator):
    for _ in range(5):
        password_step(client, "alice", "wrong-password")
    response = password_step(client, "alice")  # right password, but locked
    assert response.status_code == 429
    assert "tillfälligt spärrat" in response.content.decode()
    assert client.get(reverse("home")).status_code == 302


def test_a_typed_unknown_name_is_locked_out_but_never_stored(client, db):
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog

    typed = "Kalle Anka 19121212-1212"
    for _ in range(5):
        password_step(client, typed, "wrong-password")
    assert password_step(client, typed, "wrong-password").status_code == 429
    stored = [str(v) for model in (AccessAttempt, AccessFailureLog, AccessLog)
              for row in model.objects.values() for v in row.values()]
    assert stored and not [v for v in stored if "Kalle" in v or "19121212" in v]
    assert AccessAttempt.objects.get().username.startswith("okänt-")


def test_a_nul_in_user_agent_or_accept_header_still_counts_failures_and_locks(client,
                                                                               coordinator):
    from axes.models import AccessAttempt

    from audit.models import AccessEvent

    headers = {"HTTP_USER_AGENT": "Läsare\x00/1.0", "HTTP_ACCEPT": "text/html\x00"}
    answers = [client.post(reverse("login"), {"username": "alice", "password": "wrong"},
                           **headers).status_code for _ in range(5)]
    assert answers == [200, 200, 200, 200, 429]  # the fifth failure locks
    attempt = AccessAttempt.objects.get()
    assert attempt.failures_since_start == 5
    assert "\x00" not in attempt.user_agent + attempt.http_accept
    assert client.post(reverse("login"), {"username": "alice", "password": PASSWORD},
                       **headers).status_code == 429
    assert AccessEvent.objects.filter(action="login_failed").count() >= 5
    assert AccessEvent.objects.filter(action="lockout").exists()


def test_four_failures_do_not_lock(client, coordinator):
    for _ in range(4):
        password_step(client, "alice", "wrong-password")
    assert password_step(client, "alice").status_code == 302


def test_idle_session_expires_after_30_minutes(client, coordinator):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        log_in_verified(client, coordinator)
        assert client.get(reverse("home")).status_code == 200
        traveller.shift(timedelta(minutes=29))
        assert client.get(reverse("home")).status_code == 200  # activity extends the session
        traveller.shift(timedelta(minutes=31))
        response = client.get(reverse("home"))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_active_session_ends_after_ten_hours(client, coordinator):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        log_in_verified(client, coordinator)
        for _ in range(10 * 60 // 25):
            assert client.get(reverse("home")).status_code == 200
            traveller.shift(timedelta(minutes=25))
        assert client.get(reverse("home")).status_code == 200  # exactly ten hours
        traveller.shift(timedelta(minutes=25))
        response = client.get(reverse("home"))
        assert response.status_code == 302
        assert response["Location"] == reverse("login")
        assert "Din session har gått ut" in client.get(reverse("login")).content.decode()


def test_logout_ends_the_session(client, coordinator):
    log_in_verified(client, coordinator)
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 302


def _all_paths():
    def walk(patterns, prefix=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                yield prefix + str(p.pattern)

    return sorted(set(walk(get_resolver().url_patterns)))


def _concrete(route: str) -> str:
    import re

    path = re.sub(r"<(?:int:)?[^>]+>", "1", route)
    path = path.lstrip("^").rstrip("$").replace("\\Z", "")
    return "/" + path


def test_every_page_but_login_redirects_anonymous_visitors_to_login(client, settings):
    settings.SSPF_REFUSALS_PER_MINUTE = 1000  # every path from one address within a minute
    allowed = {"/login/"}
    for route in _all_paths():
        path = _concrete(route)
        if path in allowed or "(?P" in path:
            continue
        if route == "^api/(?!schema/$|docs/$)":  # no endpoint there: 401 like every other
            path = "/api/v1/finns-inte/"
        if path.startswith("/api/v1/"):
            response = client.get(path)
            assert response.status_code == 401, path  # the API answers, it does not redirect
            assert response["WWW-Authenticate"] == "Token"
            continue
        response = client.get(path, follow=True)
        assert response.redirect_chain, path
        assert response.redirect_chain[-1][0].startswith(reverse("login")), path
        assert response.status_code == 200
        assert response.request["PATH_INFO"] == reverse("login"), path


def test_login_page_is_reachable_without_a_session(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert 'name="password"' in response.content.decode()


def test_authenticated_responses_are_not_stored(client, coordinator):
    log_in_verified(client, coordinator)
    response = client.get(reverse("home"))
    assert "no-store" in response["Cache-Control"]


def test_content_security_policy_forbids_inline_code(client):
    header = client.get(reverse("login"))["Content-Security-Policy"]
    assert "unsafe-inline" not in header
    assert "script-src 'self'" in header
    assert "frame-ancestors 'none'" in header


def test_passwords_are_hashed_with_argon2():
    assert production_settings.PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher")


def test_admin_login_goes_through_the_same_login(client):
    response = client.get("/admin/login/")
    assert response.status_code == 302
    assert response["Location"] == reverse("login")


def test_settings_language_and_zone():
    assert settings.LANGUAGE_CODE == "sv"
    assert settings.TIME_ZONE == "Europe/Stockholm"
    assert ("en", "Engelska") in [(c, str(n)) for c, n in settings.LANGUAGES]


def test_pages_are_swedish_whatever_the_browser_asks(client):
    body = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="en-GB,en").content.decode()
    assert "Logga in" in body


def test_the_language_switch_gives_english_pages(client):
    response = client.post("/sprak/", {"language": "en", "next": "/login/"})
    assert response.status_code == 302
    body = client.get(reverse("login")).content.decode()
    assert "Log in" in body and "Logga in" not in body
    assert client.get(reverse("login"))["Content-Language"] == "en"


def test_anonymous_attempts_at_pages_and_api_are_recorded_as_denied(client, db):
    from audit.models import AccessEvent

    client.get("/", REMOTE_ADDR="10.7.7.7")  # where everyone starts: not an attempt
    assert not AccessEvent.objects.filter(action="denied").exists()
    client.get("/arenden/42/", REMOTE_ADDR="10.7.7.7", HTTP_USER_AGENT="Nyfiken/1.0")
    client.get("/api/v1/cases/42/entries/", REMOTE_ADDR="10.7.7.8")
    events = list(AccessEvent.objects.filter(action="denied").order_by("id"))
    assert [(e.path, e.ip, e.outcome, e.actor_id, e.purpose) for e in events] == [
        ("/arenden/42/", "10.7.7.7", "denied", None, "not logged in"),
        ("/api/v1/cases/42/entries/", "10.7.7.8", "denied", None, "no API token"),
    ]
    assert events[0].user_agent == "Nyfiken/1.0"


def test_after_password_and_code_the_person_lands_on_the_page_they_asked_for(client,
                                                                              coordinator):
    asked = "/arenden/?status=open"
    to_login = client.get(asked)
    assert to_login.status_code == 302
    login_url = to_login["Location"]
    after_password = client.post(login_url, {"username": "alice", "password": PASSWORD})
    to_code = client.get(after_password["Location"])
    assert to_code["Location"].startswith(reverse("otp_verify") + "?next=")
    done = client.post(to_code["Location"], {"code": current_code(coordinator)})
    assert done["Location"] == asked


def test_a_next_page_elsewhere_is_not_followed(client, coordinator):
    password_step(client, "alice")
    done = client.post(reverse("otp_verify") + "?next=https://example.org/",
                       {"code": current_code(coordinator)})
    assert done["Location"] == reverse("home")
