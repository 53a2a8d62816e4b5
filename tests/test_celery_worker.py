"""The scheduled tasks through a real broker and a real worker, not in eager mode.

By default the broker is the embedded one (kombu's SQLAlchemy transport on a SQLite
file), which is what ``make demo`` runs. ``CELERY_TEST_BROKER_URLS`` (comma-separated)
adds server brokers; CI sets it to the local Redis and RabbitMQ, so the production
transports are exercised too. Tasks are sent by name, the way beat sends them. The
worker runs in a thread with its own database connection, so the data it reads must be
committed: these are TransactionTestCases.
"""

from __future__ import annotations

import inspect
import io
import os
import tempfile
import time
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from celery import Celery
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.conf import settings
from django.core.management import call_command
from django.db import OperationalError, connections
from django.test import TransactionTestCase
from django.utils import timezone

from audit.models import AccessEvent, Action
from consent import services
from sspf.models import Notification
from tests.conftest import AuditTablesFlushable, DemoWorld
from tests.test_consent import give_all, orgs

SERVER_BROKERS = [url.strip() for url in os.environ.get("CELERY_TEST_BROKER_URLS", "").split(",")
                  if url.strip()]


def _close_connections(**_kwargs):
    connections.close_all()  # the worker thread's own connection, after each task


def worker_app(url: str) -> Celery:
    app = Celery("sspf-worker-test")
    app.config_from_object("django.conf:settings", namespace="CELERY")
    app.conf.update(broker_url=url, task_always_eager=False, worker_hijack_root_logger=False)
    app.autodiscover_tasks(force=True)
    return app


@contextmanager
def running_worker(url: str):
    app = worker_app(url)
    task_postrun.connect(_close_connections, weak=False)
    try:
        with start_worker(app, perform_ping_check=False, shutdown_timeout=20):
            yield app
    finally:
        task_postrun.disconnect(_close_connections)


def _table_locked(exc: OperationalError) -> bool:
    # SQLite's in-memory test database is shared between threads in shared-cache mode,
    # where a read that meets the worker's write fails at once instead of waiting.
    return "locked" in str(exc)


def wait_for(condition, *, seconds=30):
    """Poll until ``condition()`` is true; a deadline for the worker, not a speed test."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if condition():
                return True
        except OperationalError as exc:
            if not _table_locked(exc):
                raise
        time.sleep(0.2)
    return False


def read(query, *, seconds=30):
    """``query()``'s answer, asked again while the worker holds a table lock."""
    answers = []
    if not wait_for(lambda: answers.append(query()) or True, seconds=seconds):
        raise AssertionError("the database stayed locked")
    return answers[-1]


def test_every_scheduled_task_is_registered_and_takes_no_arguments():
    """No arguments: nothing personal can travel through a broker in a task message."""
    app = worker_app("memory://")
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert scheduled
    assert scheduled <= set(app.tasks)
    for name in scheduled:
        assert not inspect.signature(app.tasks[name].run).parameters, name


class ScheduledTasksOnARealWorker(AuditTablesFlushable, TransactionTestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self._tmp.cleanup)
        embedded = f"sqla+sqlite:///{Path(self._tmp.name) / 'broker.sqlite3'}"
        self.brokers = {"embedded": embedded,
                        **{url.split(":", 1)[0]: url for url in SERVER_BROKERS}}
        os.environ.setdefault("DEMO_PASSWORD", "demo-password-for-tests")
        call_command("seed_demo", stdout=io.StringIO())
        self.demo = DemoWorld()

    def test_audit_verification_and_consent_reminder_run_on_the_worker(self):
        demo = self.demo
        lead, elsa = demo["koordinator"], demo.cases["Elsa"]
        give_all(demo, elsa)
        verified = AccessEvent.objects.filter(action=Action.AUDIT_VERIFIED)
        for days, (name, url) in enumerate(self.brokers.items(), start=3):
            with self.subTest(broker=name), running_worker(url) as app:
                before = verified.count()
                # A newer grant of the young person, ending soon: one reminder is due.
                services.grant_record(
                    user=lead, case_id=elsa.pk, giver_type="youth",
                    organisations=orgs(demo, "skolkurator", "socialsekreterare"),
                    categories=["school"], purpose="Kort", form="written",
                    valid_until=timezone.localdate() + timedelta(days=days))
                Notification.objects.filter(user=lead).delete()

                app.send_task("audit.verify_chains")
                app.send_task("consent.remind_expiring")

                self.assertTrue(wait_for(lambda n=before: verified.count() > n))
                self.assertTrue(read(verified.last).purpose.endswith("links verified"))
                self.assertTrue(wait_for(Notification.objects.filter(user=lead).exists))
                note = read(lambda: Notification.objects.get(user=lead))
                self.assertIn(f"ärende #{elsa.pk}", note.text)
                self.assertIn("7 dagar", note.text)
                self.assertNotIn("Elsa", note.text)
                self.assertNotIn("Demosson", note.text)

    def test_follow_up_and_commitment_reminders_run_on_the_worker(self):
        from cases import services as case_services

        demo = self.demo
        lead, elsa, counsellor = demo["koordinator"], demo.cases["Elsa"], demo["skolkurator"]
        case_services.plan_save(user=lead, case_id=elsa.pk, goals="Skolgång")
        for days, (name, url) in enumerate(self.brokers.items()):
            with self.subTest(broker=name), running_worker(url) as app:
                commitment = case_services.commitment_add(
                    user=lead, case_id=elsa.pk, organisation=counsellor.organisation_id,
                    responsible=counsellor.username, description="Studieplan med Elsa",
                    due_on=timezone.localdate() + timedelta(days=days))
                mine = Notification.objects.filter(user=counsellor,
                                                   key__startswith=f"commitment:{commitment.pk}:")
                app.send_task("cases.remind_due")
                self.assertTrue(wait_for(mine.exists))
                note = read(mine.get)
                self.assertIn(f"ärende #{elsa.pk}", note.text)
                for personal in ("Elsa", "Demosson", "Studieplan"):
                    self.assertNotIn(personal, note.text)
                # A second run (known to have run by the reminder of a commitment added
                # meanwhile) does not remind of the first one again.
                later = case_services.commitment_add(
                    user=lead, case_id=elsa.pk, organisation=counsellor.organisation_id,
                    responsible=counsellor.username, description="Uppföljande samtal",
                    due_on=timezone.localdate())
                app.send_task("cases.remind_due")
                self.assertTrue(wait_for(Notification.objects.filter(
                    user=counsellor, key=f"commitment:{later.pk}:due").exists))
                self.assertEqual(read(mine.count), 1)
