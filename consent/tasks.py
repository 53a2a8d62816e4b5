"""Daily consent reminders: to each case's lead coordinators, in-app and (if e-mail is
configured) an e-mail without personal data, for the latest grant of a giver who must
consent now, when it ends within 30 days, within 7 days, or has ended. Idempotent:
each reminder has a key and is created once, and its e-mail is sent once, by the first
run that gets it through (see sspf.notifications), so a missed, failed or repeated run
neither loses nor doubles one."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from cases.models import Case, CaseMember
from consent import enforcement, rules
from consent.models import ConsentGrant
from sspf.notifications import email_pending, notify

WINDOWS = ((7, "7"), (30, "30"))


def reminders_due(now=None) -> list[tuple[Case, rules.Grant, str]]:
    now = timezone.localtime(now)
    today = now.date()
    horizon = today + timedelta(days=30)
    case_ids = (ConsentGrant.objects.filter(withdrawn_at__isnull=True,
                                            valid_until__lte=horizon,
                                            case__status=Case.Status.OPEN)
                .values_list("case_id", flat=True).distinct())
    cases = list(Case.objects.filter(pk__in=case_ids).select_related("youth", "municipality"))
    statuses = enforcement.case_consents(cases, now=now)
    due = []
    for case in cases:
        # Only givers who must consent now: a reminder about a grant of a guardian who
        # has lost custody, or of a youth under the own-consent age, asks for nothing.
        for grant in statuses[case.pk].current_required().values():
            if grant.withdrawn(now) or grant.given_on > today:
                continue
            days_left = (grant.valid_until - today).days
            if days_left < 0:
                due.append((case, grant, "expired"))
                continue
            for limit, kind in WINDOWS:
                if days_left <= limit:
                    due.append((case, grant, kind))
                    break
    return due


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
    for case, grant, kind in reminders_due():
        leads = CaseMember.objects.filter(
            Q(case=case) & Q(removed_at__isnull=True)
            & Q(role_in_case=CaseMember.CaseRole.LEAD)).select_related("user")
        for membership in leads:
            if notify(user=membership.user, key=f"consent:{grant.id}:{kind}",
                      text=_text(case, grant, kind),
                      link=reverse("consent_overview", args=[case.pk])):
                created += 1
    # Also what an earlier run created and could not e-mail.
    email_pending()
    return created
