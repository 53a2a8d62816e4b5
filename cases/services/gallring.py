"""Gallring: erasing the personal data of cases closed longer ago than their
municipality's retention period (``Municipality.retention_years``, set by its
document management plan), and of signals that never became part of a case: dismissed,
or raised and never triaged, that long ago.

What goes: the case's young person and guardians (each case has records of its own,
see ``Youth``), every case item and signal, the status changes, the team, the
object permissions, the case row itself, and through the parts that registered an
eraser (consent) the consent grants and signed forms. What stays: the case's
``CaseFacts`` row, marked erased, which names no one and which nothing points to any
more, and the audit trail, which holds ids only, so ``verify_audit`` still passes.
The change history is not written for these deletions; the erasure is one access
event per case (``erased``), written before anything is deleted, which is also what
the consent tables' guards look for (consent/triggers.py).

Idempotent: what is erased is gone, and a second run finds nothing to do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from auditlog.context import disable_auditlog
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

import audit
from audit.models import Action
from cases.models import Case, CaseMember, CaseStatusChange, Signal, Youth, case_item_models
from cases.services.facts import cases_without_facts, refresh_facts
from sspf.models import Municipality

_erasers: list[Callable[[list[int]], None]] = []


def register_eraser(eraser: Callable[[list[int]], None]) -> None:
    """Let another part (consent) erase what it holds about cases being erased:
    ``eraser(case_ids)`` runs inside the erasure's transaction, after the ``erased``
    events are written and before the cases are deleted."""
    if eraser not in _erasers:
        _erasers.append(eraser)


def retention_cutoff(municipality: Municipality, today: date) -> date:
    """Cases closed before this day are past the retention period."""
    years = municipality.retention_years
    try:
        return today.replace(year=today.year - years)
    except ValueError:  # 29 February
        return today.replace(year=today.year - years, day=28)


@dataclass
class Due:
    municipality: Municipality
    case_ids: list[int] = field(default_factory=list)
    signal_ids: list[int] = field(default_factory=list)


def due(today: date | None = None) -> list[Due]:
    """What is past its retention period, per municipality (ids only)."""
    today = today or timezone.localdate()
    found = []
    for municipality in Municipality.objects.order_by("name"):
        cutoff = retention_cutoff(municipality, today)
        case_ids = list(Case.objects.filter(
            municipality=municipality, status=Case.Status.CLOSED, closed_at__lt=cutoff,
        ).order_by("pk").values_list("pk", flat=True))
        # Signals that never became part of a case: dismissed that long ago, or raised
        # that long ago and never triaged.
        signal_ids = list(Signal.objects.filter(case__isnull=True, municipality=municipality
                                                ).filter(
            Q(status=Signal.Status.DISMISSED, triaged_at__date__lt=cutoff)
            | Q(status=Signal.Status.NEW, created_at__date__lt=cutoff),
        ).order_by("pk").values_list("pk", flat=True))
        if case_ids or signal_ids:
            found.append(Due(municipality, case_ids, signal_ids))
    return found


def erase_case(case_id: int, today: date | None = None) -> bool:
    """Erase one case past its retention period; False when it is not (any more)."""
    with transaction.atomic(), disable_auditlog():
        case = Case.objects.select_for_update().select_related(
            "municipality", "youth").filter(pk=case_id).first()
        if case is None or case.is_open or case.closed_at is None or case.closed_at >= \
                retention_cutoff(case.municipality, today or timezone.localdate()):
            return False
        facts = refresh_facts(case)
        facts.erased = True
        facts.save(update_fields=["erased"])
        audit.record(action=Action.ERASED, actor=None, object_type="cases.Case",
                     object_id=case.pk, case_id=case.pk, youth_id=case.youth_id,
                     purpose=f"gallring after {case.municipality.retention_years} years")
        for eraser in _erasers:
            eraser([case.pk])
        for model in case_item_models():
            model.objects.filter(case=case).delete()
        CaseStatusChange.objects.filter(case=case).delete()
        CaseMember.objects.filter(case=case).delete()
        youth_id = case.youth_id
        case.delete()  # its object permissions go with it
        Youth.objects.filter(pk=youth_id).exclude(
            pk__in=Case.objects.values("youth_id")).delete()  # guardians go with the youth
    return True


def erase_signals(signal_ids: list[int]) -> int:
    """Erase dismissed signals past the retention period (they belong to no case)."""
    with transaction.atomic(), disable_auditlog():
        signals = list(Signal.objects.select_for_update().filter(
            pk__in=signal_ids, case__isnull=True,
            status__in=(Signal.Status.DISMISSED, Signal.Status.NEW)))
        audit.record_many([{"action": Action.ERASED, "actor": None,
                            "object_type": "cases.Signal", "object_id": s.pk,
                            "purpose": f"gallring of a {s.status} signal"} for s in signals])
        Signal.objects.filter(pk__in=[s.pk for s in signals]).delete()
    return len(signals)


def run(today: date | None = None) -> dict[str, int]:
    """The daily task's work: facts for any case still without them, then erasure of
    everything due. Each case is its own transaction."""
    for case in Case.objects.filter(pk__in=cases_without_facts()).select_related("youth"):
        with transaction.atomic():
            refresh_facts(case)
    cases = signals = 0
    for item in due(today):
        cases += sum(erase_case(case_id, today) for case_id in item.case_ids)
        signals += erase_signals(item.signal_ids)
    return {"cases": cases, "signals": signals}

