"""The case's timeline: status changes, members in and out, consents given and
withdrawn (from the consent part, through ``register_timeline_source``) and the items
added, each with the organisation and the time, oldest first.

Only what the viewer may see is on it: items through ``policy.visible_items`` (an item
the consent keeps from the viewer is not there at all, not even as an empty row), the
reasons written for status changes only for the case's coordinators, and no item text
at all (the case page shows that). The read is recorded with the objects shown."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils.translation import gettext as _

import audit
from cases import policy
from cases.models import Case, CaseMember, CaseStatusChange, case_item_models


@dataclass
class TimelineEvent:
    at: datetime
    kind: str  # status, member_added, member_removed, consent_given, consent_withdrawn, item
    text: str
    organisation: str = ""
    by: str = ""
    detail: str = ""  # a coordinator's reason for a status change
    label: str = ""  # the model label of the object, for the audit event
    object_id: int | None = None


_sources: list[Callable[[object, Case], list[TimelineEvent]]] = []


def register_timeline_source(source: Callable[[object, Case], list[TimelineEvent]]) -> None:
    """Let another part (consent) add its events: ``source(user, case)`` returns
    TimelineEvents for a case the user sees, with nothing the user may not read."""
    if source not in _sources:
        _sources.append(source)


def _status_events(case: Case, show_reasons: bool) -> list[TimelineEvent]:
    events = []
    for change in CaseStatusChange.objects.filter(case=case).select_related(
            "changed_by__organisation"):
        text = _("Status: %(from)s → %(to)s") % {
            "from": Case.Status(change.from_status).label,
            "to": Case.Status(change.to_status).label}
        if change.closure_reason:
            text += " (" + str(change.get_closure_reason_display()) + ")"
        events.append(TimelineEvent(
            at=change.changed_at, kind="status", text=text,
            organisation=_org(change.changed_by), by=change.changed_by.username,
            detail=change.reason if show_reasons else "",
            label="cases.CaseStatusChange", object_id=change.pk))
    return events


def _org(user) -> str:
    return user.organisation.name if user.organisation_id else ""


def _member_events(case: Case) -> list[TimelineEvent]:
    events = []
    for member in CaseMember.objects.filter(case=case).select_related(
            "user__organisation", "added_by", "removed_by"):
        events.append(TimelineEvent(
            at=member.added_at, kind="member_added",
            text=_("%(username)s lades till i teamet") % {"username": member.user.username},
            organisation=_org(member.user), by=member.added_by.username))
        if member.removed_at:
            events.append(TimelineEvent(
                at=member.removed_at, kind="member_removed",
                text=_("%(username)s lämnade teamet") % {"username": member.user.username},
                organisation=_org(member.user),
                by=member.removed_by.username if member.removed_by else ""))
    return events


def _item_events(user, case: Case) -> list[TimelineEvent]:
    events = []
    crosses = policy.crossing(user, case)  # read once for every item type
    for model in case_item_models():
        for item in policy.visible_items(user, case, model, crosses=crosses).select_related(
                "source_org", "author"):
            events.append(TimelineEvent(
                at=item.created_at, kind="item",
                text=_("%(type)s (%(category)s)") % {
                    "type": str(model._meta.verbose_name).capitalize(),
                    "category": item.get_category_display()},
                organisation=item.source_org.name, by=item.author.username,
                label=model._meta.label, object_id=item.pk))
    return events


def case_timeline(*, user, case_id) -> tuple[Case, list[TimelineEvent]]:
    case = policy.require_case(user, case_id)
    with transaction.atomic():
        show_reasons = policy.may(user, case, policy.CaseAction.MANAGE)
        events = [*_status_events(case, show_reasons), *_member_events(case),
                  *_item_events(user, case)]
        for source in _sources:
            events += source(user, case)
        events.sort(key=lambda e: e.at)
        shown = [(e.label, e.object_id) for e in events if e.label
                 and (e.kind != "status" or show_reasons)]
        audit.record_shown([case, *shown], actor=user, case_id=case.pk,
                           youth_id=case.youth_id, purpose="timeline")
    return case, events
