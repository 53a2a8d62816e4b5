"""Personal access tokens: issued by command or on the profile page after TOTP,
stored hashed, expiring, revocable."""

import io
from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import AccessEvent
from sspf.models import ApiToken
from tests.conftest import log_in_verified

pytestmark = pytest.mark.django_db


def token_client(key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_issue_token_prints_the_key_last_and_stores_only_its_hash(coordinator):
    out = io.StringIO()
    call_command("issue_token", "alice", stdout=out)
    key = out.getvalue().strip().splitlines()[-1]
    token = ApiToken.objects.get(user=coordinator)
    assert key.startswith("sspf_") and len(key) > 40
    assert key not in token.key_hash and token.key_hash != key
    assert token_client(key).get("/api/v1/me/").json()["username"] == "alice"
    assert timedelta(days=29) < token.expires_at - timezone.now() <= timedelta(days=30)


def test_issue_token_for_unknown_user_is_refused(db):
    with pytest.raises(CommandError, match="No active account"):
        call_command("issue_token", "nobody", stdout=io.StringIO())
    assert not ApiToken.objects.exists()


def test_expired_token_is_refused(coordinator):
    out = io.StringIO()
    call_command("issue_token", "alice", "--days", "1", stdout=out)
    key = out.getvalue().strip().splitlines()[-1]
    with time_machine.travel(timezone.now() + timedelta(days=1, minutes=1)):
        response = token_client(key).get("/api/v1/me/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert AccessEvent.objects.filter(action="login_failed", purpose="API token refused").exists()


def test_a_refused_token_is_credited_to_nobody_not_the_browser_session(client, coordinator):
    log_in_verified(client, coordinator)
    response = client.get("/api/v1/me/", HTTP_AUTHORIZATION="Token sspf_not-a-real-key")
    assert response.status_code == 401
    (event,) = AccessEvent.objects.filter(action="login_failed")
    assert (event.actor_id, event.actor_username, event.outcome) == (None, "", "denied")
    assert event.purpose == "API token refused"
    assert not AccessEvent.objects.filter(actor_id=coordinator.pk,
                                          action="login_failed").exists()


def test_token_of_a_deactivated_account_is_refused(coordinator):
    out = io.StringIO()
    call_command("issue_token", "alice", stdout=out)
    key = out.getvalue().strip().splitlines()[-1]
    coordinator.is_active = False
    coordinator.save()
    assert token_client(key).get("/api/v1/me/").status_code == 401


def test_profile_page_issues_a_token_once_and_revokes_it(client, coordinator):
    log_in_verified(client, coordinator)
    body = client.post("/profil/", {"name": "Integration"}).content.decode()
    token = ApiToken.objects.get(user=coordinator)
    key = body.split("<code>")[1].split("</code>")[0]
    assert key.startswith(token.prefix)
    assert key not in client.get("/profil/").content.decode()  # shown only once
    assert token_client(key).get("/api/v1/me/").status_code == 200
    client.post("/profil/", {"revoke": token.pk})
    assert token_client(key).get("/api/v1/me/").status_code == 401


def test_profile_page_needs_the_second_factor(client, coordinator):
    from tests.factories import PASSWORD

    client.post("/login/", {"username": "alice", "password": PASSWORD})
    response = client.post("/profil/", {"name": "x"})
    assert response.status_code == 302
    assert response["Location"].startswith("/login/tvasteg/")
    assert not ApiToken.objects.exists()


def test_a_session_does_not_open_the_api(client, coordinator):
    log_in_verified(client, coordinator)
    assert client.get("/api/v1/me/").status_code == 401


def test_an_api_call_without_a_token_is_credited_to_nobody_not_the_browser_session(
        client, coordinator):
    log_in_verified(client, coordinator)
    assert client.get("/api/v1/me/").status_code == 401
    (event,) = AccessEvent.objects.filter(action="denied", purpose="no API token")
    assert (event.actor_id, event.actor_username, event.path) == (None, "", "/api/v1/me/")


def test_openapi_schema_documents_the_error_answers(demo, client):
    import yaml

    from tests.conftest import log_in_verified

    log_in_verified(client, demo["koordinator"])
    schema = yaml.safe_load(client.get("/api/schema/").content)
    paths = schema["paths"]
    entries = paths["/api/v1/cases/{case_id}/entries/"]
    assert {"401", "404"} <= set(entries["get"]["responses"])
    assert {"400", "401", "403", "404", "413"} <= set(entries["post"]["responses"])
    assert "409" in paths["/api/v1/cases/{case_id}/members/"]["post"]["responses"]
    assert "409" in paths["/api/v1/cases/{case_id}/"]["patch"]["responses"]
    update = schema["components"]["schemas"]["UpdateIn"]
    assert set(update["required"]) == {"area", "version"}  # a PATCH is not partial here
    assert schema["components"]["schemas"]["FieldErrors"]["additionalProperties"]


def test_the_api_answers_json_only_and_options_describes_nothing(demo, api_client):
    elsa = demo.cases["Elsa"]
    browser_accept = "text/html,application/xhtml+xml,*/*;q=0.8"
    answer = api_client(demo["koordinator"]).get(f"/api/v1/cases/{elsa.pk}/",
                                                 HTTP_ACCEPT=browser_accept)
    assert answer.status_code == 200
    assert answer["Content-Type"] == "application/json"
    assert answer.json()["id"] == elsa.pk
    options = api_client(demo["koordinator2"]).options(f"/api/v1/cases/{elsa.pk}/entries/")
    assert options.status_code == 405
    assert set(options.json()) == {"detail"}
