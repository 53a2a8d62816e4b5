"""Refused anonymous requests: throttled per address, and recorded as one event per
address and minute with their number, so nobody without a login fills the log."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from rest_framework.test import APIClient

from audit import chain
from audit.models import AccessEvent, Action
from sspf.models import RefusalTally
from sspf.tasks import record_refusals

pytestmark = pytest.mark.django_db

START = timezone.now().replace(second=5, microsecond=0)


def refused_events():
    return list(AccessEvent.objects.filter(action__in=[Action.DENIED, Action.LOGIN_FAILED])
                .order_by("id"))


def test_a_hundred_anonymous_api_calls_write_one_event_and_are_throttled(settings):
    settings.SSPF_REFUSALS_PER_MINUTE = 30
    api = APIClient(REMOTE_ADDR="10.6.6.6")
    with time_machine.travel(START, tick=False):
        statuses = [api.get("/api/v1/cases/").status_code for _ in range(100)]
    assert statuses == [401] * 30 + [429] * 70
    (event,) = refused_events()
    assert (event.ip, event.purpose, event.actor_id) == ("10.6.6.6", "no API token", None)
    throttled = APIClient(REMOTE_ADDR="10.6.6.6")
    with time_machine.travel(START, tick=False):
        answer = throttled.get("/api/v1/me/")
    assert answer.status_code == 429 and "Vänta en minut" in answer.json()["detail"]


def test_the_rest_of_a_minute_is_recorded_with_its_number_by_the_next_refusal():
    api = APIClient(REMOTE_ADDR="10.6.6.7")
    with time_machine.travel(START, tick=False) as traveller:
        for _ in range(5):
            api.get("/api/v1/cases/")
        traveller.shift(60)
        api.get("/api/v1/cases/", HTTP_AUTHORIZATION="Token sspf_nonsense")
    first, summary, next_first = refused_events()
    assert first.purpose == "no API token"
    assert summary.ip == "10.6.6.7" and summary.purpose.startswith(
        "4 more refused request(s) without a login from this address in the minute from ")
    assert (next_first.action, next_first.purpose) == (Action.LOGIN_FAILED, "API token refused")
    assert RefusalTally.objects.count() == 1  # only the minute still under way
    assert chain.verify().ok


def test_the_minutely_task_records_minutes_that_are_over():
    with time_machine.travel(START, tick=False) as traveller:
        for address in ("10.6.6.8", "10.6.6.9"):
            client = APIClient(REMOTE_ADDR=address)
            for _ in range(3 if address.endswith("8") else 1):
                client.get("/api/v1/cases/")
        assert record_refusals.delay().get() == 0  # the minute is not over yet
        traveller.shift(timedelta(minutes=1))
        assert record_refusals.delay().get() == 1
    assert [(e.ip, e.purpose[:2]) for e in refused_events()] == [
        ("10.6.6.8", "no"), ("10.6.6.9", "no"), ("10.6.6.8", "2 ")]
    assert not RefusalTally.objects.exists()


def test_addresses_are_counted_apart(settings):
    settings.SSPF_REFUSALS_PER_MINUTE = 2
    with time_machine.travel(START, tick=False):
        one = [APIClient(REMOTE_ADDR="10.6.7.1").get("/api/v1/me/").status_code
               for _ in range(3)]
        other = APIClient(REMOTE_ADDR="10.6.7.2").get("/api/v1/me/").status_code
    assert (one, other) == ([401, 401, 429], 401)
    assert [e.ip for e in refused_events()] == ["10.6.7.1", "10.6.7.2"]


def test_anonymous_page_requests_are_counted_but_still_sent_to_the_login_page(client,
                                                                             settings):
    settings.SSPF_REFUSALS_PER_MINUTE = 2
    with time_machine.travel(START, tick=False):
        answers = [client.get(f"/arenden/{n}/", REMOTE_ADDR="10.6.8.1") for n in range(5)]
    assert {a.status_code for a in answers} == {302}
    assert all(a["Location"].startswith("/login/") for a in answers)
    assert [e.purpose for e in refused_events()] == ["not logged in"]
    assert RefusalTally.objects.get().count == 5


def test_refused_requests_are_a_scheduled_task():
    from django.conf import settings

    assert settings.CELERY_BEAT_SCHEDULE["refused-requests-every-minute"]["task"] == \
        "sspf.record_refusals"


def test_addresses_of_one_ipv6_network_share_the_limit(settings):
    """A client with an IPv6 /64 may change the last 64 bits on every request."""
    settings.SSPF_REFUSALS_PER_MINUTE = 30
    with time_machine.travel(START, tick=False):
        codes = [APIClient(REMOTE_ADDR=f"2001:db8:0:1::{i:x}").get("/api/v1/cases/").status_code
                 for i in range(1, 41)]
        assert APIClient(REMOTE_ADDR="2001:db8:0:2::1").get("/api/v1/cases/").status_code == 401
    assert codes[:30] == [401] * 30 and set(codes[30:]) == {429}
    assert AccessEvent.objects.filter(action=Action.DENIED).count() == 2
    assert set(RefusalTally.objects.values_list("ip", flat=True)) == {
        "2001:db8:0:1::", "2001:db8:0:2::"}


def test_anonymous_requests_for_the_api_schema_and_unknown_api_paths_are_refusals(client):
    with time_machine.travel(START, tick=False):
        schema = client.get("/api/schema/", REMOTE_ADDR="10.8.8.8")
        unknown = APIClient(REMOTE_ADDR="10.8.8.7").get("/api/v1/nothing-here/")
    assert schema.status_code == 302 and schema["Location"].startswith("/login/")
    assert unknown.status_code == 401 and unknown["Content-Type"] == "application/json"
    assert AccessEvent.objects.filter(ip="10.8.8.8", outcome="denied").count() == 1
    assert AccessEvent.objects.filter(ip="10.8.8.7", outcome="denied").count() == 1
