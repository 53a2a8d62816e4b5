"""Reminders that cannot be forgotten: every follow-up and commitment of an open case
is announced to the people responsible 7 days before it is due (or on the first run
after that) and on the day, and once overdue to them and the case's lead coordinators.
A commitment whose responsible person has left the team (or the owning organisation)
is announced to the lead coordinators instead, who hand it on.

Each reminder is a notification with a key of its own (the item, its id and the kind),
and the database creates a key once per person (``Notification``'s unique constraint),
so a run repeated, or two workers running at once, send nothing twice; the e-mail that
follows says only that there are notifications (sspf.notifications). The texts name the
case by number and the date, never a person or what was promised."""

from __future__ import annotations

from datetime import date, timedelta

from django.urls import reverse
from django.utils import timezone

from cases.models import Case, CaseMember, Commitment, FollowUp
from sspf.notifications import email_pending, notify

SOON_DAYS = 7


def _kind(due_on: date, today: date) -> str:
    if due_on < today:
        return "overdue"
    return "due" if due_on == today else "soon"


def _leads(case_ids) -> dict[int, list]:
    leads: dict[int, list] = {}
    for member in CaseMember.objects.filter(
            case_id__in=case_ids, removed_at__isnull=True,
            role_in_case=CaseMember.CaseRole.LEAD, user__is_active=True).select_related("user"):
        leads.setdefault(member.case_id, []).append(member.user)
    return leads


def _follow_up_text(item: FollowUp, kind: str) -> str:
    day = item.due_on.isoformat()
    if kind == "overdue":
        return f"Uppföljningen i ärende #{item.case_id} planerades till {day} och är inte gjord."
    when = "i dag" if kind == "due" else f"den {day}"
    return f"Uppföljning i ärende #{item.case_id} {when}."


def _commitment_text(item: Commitment, kind: str) -> str:
    day = item.due_on.isoformat()
    if kind == "overdue":
        return f"Ett åtagande i ärende #{item.case_id} skulle vara klart {day} och är försenat."
    when = "i dag" if kind == "due" else f"senast {day}"
    return f"Ett åtagande i ärende #{item.case_id} ska vara klart {when}."


def send_due(today: date | None = None) -> int:
    """Create every reminder due by ``today`` not yet created; returns how many."""
    today = today or timezone.localdate()
    horizon = today + timedelta(days=SOON_DAYS)
    open_cases = Case.objects.filter(status__in=Case.OPEN_STATUSES)
    follow_ups = list(FollowUp.objects.filter(case__in=open_cases, held_on__isnull=True,
                                              due_on__lte=horizon))
    commitments = list(Commitment.objects.filter(
        case__in=open_cases, status__in=Commitment.OPEN_STATUSES, due_on__lte=horizon,
    ).select_related("responsible"))
    leads = _leads({i.case_id for i in [*follow_ups, *commitments]})
    created = 0
    for item in follow_ups:
        kind = _kind(item.due_on, today)
        for person in leads.get(item.case_id, []):
            created += notify(user=person, key=f"follow_up:{item.pk}:{kind}",
                              text=_follow_up_text(item, kind),
                              link=reverse("case_detail", args=[item.case_id]))
    on_team = set(CaseMember.objects.filter(
        case_id__in={c.case_id for c in commitments}, removed_at__isnull=True,
    ).values_list("case_id", "user_id", "user__organisation_id"))
    for item in commitments:
        kind = _kind(item.due_on, today)
        # The responsible person while still on the team for the owning organisation;
        # otherwise the case's lead coordinators, who hand the commitment on.
        responsible = item.responsible
        still_there = (responsible.is_active
                       and (item.case_id, responsible.pk, item.source_org_id) in on_team)
        people = [responsible] if still_there else []
        if kind == "overdue" or not still_there:
            people += [p for p in leads.get(item.case_id, []) if p not in people]
        for person in people:
            created += notify(user=person, key=f"commitment:{item.pk}:{kind}",
                              text=_commitment_text(item, kind),
                              link=reverse("case_detail", args=[item.case_id]))
    email_pending()
    return created
