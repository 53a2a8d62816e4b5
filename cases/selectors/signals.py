"""Reads of signals as signals: the reporter's own, and the municipality's for its
coordinators (the triage queue, oldest first). Each read is recorded."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.paginator import Page, Paginator
from django.db import transaction
from django.utils.translation import gettext as _

import audit
from audit.models import Action
from cases import policy
from cases.models import Signal

PAGE_SIZE = 25


def _mark_whole(user, signals) -> None:
    """``signal.whole``: whether the user sees it as the triage does
    (``policy.sees_signal_whole``), for the whole page in one query."""
    triage = policy.may_triage(user)
    managed = set(policy.managed_cases(user).filter(
        pk__in={s.case_id for s in signals if s.case_id}).values_list("pk", flat=True)
    ) if triage else set()
    for signal in signals:
        signal.whole = triage and (signal.case_id is None or signal.case_id in managed)


def _record(user, signals) -> None:
    audit.record_many([{"actor": user, "action": Action.VIEW, "object_type": "cases.Signal",
                        "object_id": s.pk, "case_id": s.case_id} for s in signals])


def signal_page(*, user, status: str = "", page: int | str = 1,
                per_page: int = PAGE_SIZE) -> Page:
    """The signals the user sees, newest first; the queue of new ones oldest first."""
    if status and status not in Signal.Status.values:
        raise ValidationError({"status": [_("Okänd status. Välj en av: %(choices)s.")
                                          % {"choices": ", ".join(Signal.Status.values)}]})
    rows = policy.visible_signals(user).select_related("source_org", "author")
    if status:
        rows = rows.filter(status=status)
    order = ("created_at", "id") if status == Signal.Status.NEW else ("-created_at", "-id")
    with transaction.atomic():
        result = Paginator(rows.order_by(*order), per_page).get_page(page)
        result.object_list = list(result.object_list)
        _mark_whole(user, result.object_list)
        _record(user, result.object_list)
    return result


def signal_detail(*, user, signal_id) -> Signal:
    signal = policy.require_signal(user, signal_id)
    with transaction.atomic():
        _mark_whole(user, [signal])
        _record(user, [signal])
    return signal


def new_signal_count(user) -> int | None:
    """The triage queue's length for the coordinators' start page (a count, no event);
    None for anyone who does not triage."""
    if not policy.may_triage(user):
        return None
    return policy.visible_signals(user).filter(status=Signal.Status.NEW).count()
