"""Reminders of follow-ups and commitments: 7 days before and on the day to the people
responsible, overdue also to the lead coordinator; each exactly once, however often and
however many at once the task runs; the texts and e-mails carry no person."""

import threading
import unittest
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.db import connection, connections
from django.test import TransactionTestCase, override_settings
from django.utils import timezone

from cases import services
from cases.services import reminders
from cases.tasks import remind_due
from sspf.models import Notification
from sspf.services import staff_account_save
from tests.conftest import AuditTablesFlushable
from tests.factories import World, add_guardian, open_case
from tests.factories import youth_number as number

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate()


@pytest.fixture
def planned(world):
    return make_planned(world)


def make_planned(world):
    """An agreed plan with a school commitment due in 10 days; the first follow-up in
    the municipality's 6 weeks."""
    case = open_case(world, personnummer=number(16), first_name="Sigrid",
                     team=["school", "social"])
    add_guardian(world, case)
    services.plan_save(user=world.coordinator, case_id=case.pk, goals="Skolgång")
    commitment = services.commitment_add(
        user=world.coordinator, case_id=case.pk, organisation=world.orgs["school"].pk,
        responsible=world["school"].username, description="Hemlig studieplan",
        due_on=TODAY + timedelta(days=10))
    services.plan_agree(user=world.coordinator, case_id=case.pk)
    return case, commitment


def keys(user):
    return sorted(Notification.objects.filter(user=user).values_list("key", flat=True))


def test_each_reminder_comes_once_at_its_time(world, planned):
    case, commitment = planned
    school, lead = world["school"], world.coordinator
    assert remind_due() == 0  # ten days out: nothing yet
    with time_machine.travel(TODAY + timedelta(days=3), tick=False):
        assert remind_due() == 1
        assert remind_due() == 0  # the same run again sends nothing
    assert keys(school) == [f"commitment:{commitment.pk}:soon"]
    with time_machine.travel(TODAY + timedelta(days=10), tick=False):
        remind_due()
    with time_machine.travel(TODAY + timedelta(days=12), tick=False):
        remind_due()
        remind_due()
    assert keys(school) == [f"commitment:{commitment.pk}:{kind}"
                            for kind in ("due", "overdue", "soon")]
    assert f"commitment:{commitment.pk}:overdue" in keys(lead)
    weeks = case.municipality.follow_up_interval_weeks
    with time_machine.travel(TODAY + timedelta(weeks=weeks), tick=False):
        remind_due()
    assert any(k.startswith("follow_up:") and k.endswith(":due") for k in keys(lead))
    texts = " ".join(Notification.objects.values_list("text", flat=True))
    assert f"ärende #{case.pk}" in texts
    for personal in ("Sigrid", "Testsson", "Hemlig studieplan", case.youth.personnummer):
        assert personal not in texts


def test_nothing_is_reminded_for_a_done_commitment_or_a_closed_case(world, planned):
    case, commitment = planned
    services.commitment_set_status(user=world["school"], commitment_id=commitment.pk,
                                   status="done")
    with time_machine.travel(TODAY + timedelta(days=3), tick=False):
        assert remind_due() == 0
    services.case_close(user=world.coordinator, case_id=case.pk, reason="goals_met")
    with time_machine.travel(TODAY + timedelta(weeks=8), tick=False):
        assert remind_due() == 0


@override_settings(SSPF_NOTIFY_BY_EMAIL=True, SSPF_SITE_URL="https://sspf.example.se")
def test_the_email_carries_no_person(world, planned):
    case, _commitment = planned
    world["school"].email = "kurator@example.org"
    world["school"].save(update_fields=["email"])
    with time_machine.travel(TODAY + timedelta(days=3), tick=False):
        remind_due()
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    text = message.subject + message.body
    assert "1 ny notis" in message.body and "https://sspf.example.se/" in message.body
    for personal in ("Sigrid", "Testsson", "Hemlig", case.youth.personnummer, f"#{case.pk}"):
        assert personal not in text


@unittest.skipUnless(connection.vendor == "postgresql",
                     "SQLite serialises its writers; the race needs PostgreSQL")
class TwoWorkersAtOnce(AuditTablesFlushable, TransactionTestCase):
    def test_each_reminder_is_sent_once(self):
        world = World()
        _case, commitment = make_planned(world)
        barrier = threading.Barrier(2)
        results = []

        def worker():
            try:
                barrier.wait()
                results.append(reminders.send_due(TODAY + timedelta(days=12)))
            finally:
                connections.close_all()

        threads = [threading.Thread(target=worker) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert Notification.objects.filter(key=f"commitment:{commitment.pk}:overdue",
                                           user=world["school"]).count() == 1
        assert sum(results) == Notification.objects.count() > 0


@pytest.fixture
def case(world):
    case = open_case(world, personnummer=number(16), team=["school", "social", "police"])
    add_guardian(world, case)
    return case


def school_commitment(world, case, *, due_in=10):
    services.plan_save(user=world.coordinator, case_id=case.pk, goals="Skolgång")
    return services.commitment_add(
        user=world.coordinator, case_id=case.pk, organisation=world.orgs["school"].pk,
        responsible=world["school"].username, description="Hemlig studieplan",
        due_on=TODAY + timedelta(days=due_in))


@pytest.mark.parametrize("how", ["removed", "moved"])
def test_reminders_go_only_to_people_still_on_the_team(world, case, how):
    """``send_due`` reminds ``commitment.responsible`` whenever the account is active,
    without asking whether they are still on the case's team (removed, or moved to
    another organisation, which ends their team access). They are told about a case they
    may no longer see, and nobody on the team is told until the commitment is overdue."""
    commitment = school_commitment(world, case)
    services.plan_agree(user=world.coordinator, case_id=case.pk)
    school = world["school"]
    if how == "removed":
        services.member_remove(user=world.coordinator, case_id=case.pk,
                               username=school.username)
    else:
        staff_account_save(username=school.username, role=school.role,
                           organisation=world.orgs["leisure"])
    with time_machine.travel(TODAY + timedelta(days=3), tick=False):
        remind_due()
    assert not Notification.objects.filter(
        user=school, key__startswith=f"commitment:{commitment.pk}:").exists()
