"""Reads of the action plan, its commitments and the follow-ups, and of what is due:
the start page's "Att göra" and ``GET /api/v1/follow-ups/due/``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from django.core.paginator import Page, Paginator
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

import audit
from audit.models import Action
from cases import policy
from cases.models import ActionPlan, Case, Commitment, FollowUp, Meeting

PAGE_SIZE = 25


@dataclass
class PlanView:
    plan: ActionPlan | None
    commitments: list[Commitment]
    follow_ups: list[FollowUp]

    @property
    def next_follow_up(self) -> FollowUp | None:
        return next((f for f in self.follow_ups if f.held_on is None), None)

    @property
    def objects(self) -> list:
        return [*([self.plan] if self.plan else []), *self.commitments, *self.follow_ups]


def plan_view(user, case: Case, crosses=None) -> PlanView:
    """The plan, commitments and follow-ups of a case the user sees, through the gate;
    recorded by the caller with the rest of its page."""
    def rows(model):
        return policy.visible_items(user, case, model, crosses=crosses)

    return PlanView(
        plan=rows(ActionPlan).first(),
        commitments=list(rows(Commitment).select_related(
            "source_org", "responsible").order_by("due_on", "id")),
        follow_ups=list(rows(FollowUp).order_by("-due_on", "-id")),
    )


def _item_page(user, case_id, model, order, page, per_page, prefetch=()) -> Page:
    case = policy.require_case(user, case_id)
    with transaction.atomic():
        result = Paginator(policy.visible_items(user, case, model).select_related(
            "source_org", "author").prefetch_related(*prefetch).order_by(*order),
            per_page).get_page(page)
        result.object_list = list(result.object_list)
        audit.record_shown(result.object_list, actor=user, case_id=case.pk,
                           youth_id=case.youth_id)
    return result


def commitment_page(*, user, case_id, page=1, per_page: int = PAGE_SIZE) -> Page:
    return _item_page(user, case_id, Commitment, ("due_on", "id"), page, per_page)


def follow_up_page(*, user, case_id, page=1, per_page: int = PAGE_SIZE) -> Page:
    return _item_page(user, case_id, FollowUp, ("-due_on", "-id"), page, per_page)


def meeting_page(*, user, case_id, page=1, per_page: int = PAGE_SIZE) -> Page:
    """The network meetings the user may see (their organisation took part, and the
    consent allows), newest first."""
    return _item_page(user, case_id, Meeting, ("-held_at", "-id"), page, per_page,
                      prefetch=("participants__user", "guardians_present"))


def plan_goals(*, user, case: Case) -> ActionPlan | None:
    """The plan of a case already checked, through the gate, its read recorded (the
    goals form shows it alone)."""
    with transaction.atomic():
        plan = policy.visible_items(user, case, ActionPlan).first()
        if plan is not None:
            audit.record_shown([plan], actor=user, case_id=case.pk, youth_id=case.youth_id)
    return plan


def plan_detail(*, user, case_id) -> tuple[Case, PlanView]:
    case = policy.require_case(user, case_id)
    with transaction.atomic():
        view = plan_view(user, case)
        audit.record_shown(view.objects, actor=user, case_id=case.pk, youth_id=case.youth_id)
    return case, view


@dataclass
class DueItem:
    type: str  # "follow_up" or "commitment"
    obj: FollowUp | Commitment

    @property
    def id(self) -> int:
        return self.obj.pk

    @property
    def case(self) -> int:
        return self.obj.case_id

    @property
    def due_on(self) -> date:
        return self.obj.due_on


@dataclass
class Due:
    due_this_week: list[DueItem] = field(default_factory=list)
    overdue: list[DueItem] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.due_this_week) + len(self.overdue)


def due(*, user, today: date | None = None) -> Due:
    """The user's follow-ups and commitments due this week (to Sunday) and overdue, in
    open cases: the follow-ups and commitments of the cases they coordinate, and the
    commitments they are responsible for. Every row is an item the user may see (the
    coordinators see a case's commitments and follow-ups, a responsible person their
    own organisation's); each is recorded as shown."""
    today = today or timezone.localdate()
    sunday = today + timedelta(days=6 - today.weekday())
    managed = policy.managed_cases(user).filter(status__in=Case.OPEN_STATUSES)
    follow_ups = FollowUp.objects.filter(case__in=managed, held_on__isnull=True,
                                         due_on__lte=sunday)
    commitments = Commitment.objects.filter(
        Q(case__in=managed) | Q(responsible_id=user.pk,
                                case__in=policy.visible_cases(user),
                                source_org_id=user.organisation_id),
        case__status__in=Case.OPEN_STATUSES, status__in=Commitment.OPEN_STATUSES,
        due_on__lte=sunday)
    result = Due()
    with transaction.atomic():
        rows = [DueItem("follow_up", f) for f in follow_ups.select_related("case")] + [
            DueItem("commitment", c) for c in commitments.select_related("case", "source_org")]
        rows.sort(key=lambda r: (r.due_on, r.type, r.id))
        for row in rows:
            (result.overdue if row.due_on < today else result.due_this_week).append(row)
        audit.record_many([{"actor": user, "action": Action.LIST,
                            "object_type": row.obj._meta.label, "object_id": row.id,
                            "case_id": row.case, "youth_id": row.obj.case.youth_id}
                           for row in rows])
    return result
