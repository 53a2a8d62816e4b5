"""Daily consent reminders: to each case's lead coordinators, in-app and (if e-mail is
configured) an e-mail without personal data, for the latest grant of a giver who must
consent now, when it ends within 30 days, within 7 days, or has ended. Idempotent:
each reminder has a key and is created once, and its e-mail is sent once, by the first
run that gets it through (see sspf.notifications), so a missed, failed or repeated run
neither loses nor doubles one. What is due is read through consent.selectors, which
records the read like every other."""

from __future__ import annotations

from celery import shared_task
from django.urls import reverse

from cases.models import Case
from consent import rules
from consent.selectors import reminders_due
from sspf.notifications import email_pending, notify


def _text(case: Case, grant: rules.Grant, kind: str) -> str:
    until = grant.valid_until.isoformat()
    if kind == "expired":
        return (f"Ett samtycke i ärende #{case.pk} var giltigt t.o.m. {until} och har gått ut. "
                "Förnya eller avsluta.")
    return (f"Ett samtycke i ärende #{case.pk} är giltigt t.o.m. {until} "
            f"och går ut inom {kind} dagar.")


@shared_task(name="consent.remind_expiring")
def remind_expiring() -> int:
    created = 0
    for reminder in reminders_due():
        case, grant, kind = reminder.case, reminder.grant, reminder.kind
        for lead in reminder.leads:
            if notify(user=lead, key=f"consent:{grant.id}:{kind}",
                      text=_text(case, grant, kind),
                      link=reverse("consent_overview", args=[case.pk])):
                created += 1
    # Also what an earlier run created and could not e-mail.
    email_pending()
    return created
