"""Reads of the case itself: lists, search, the case page, guardians and the items."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.paginator import Page, Paginator
from django.db import transaction
from django.db.models import CharField, Prefetch, QuerySet, Value
from django.utils.translation import gettext as _

import audit
from audit.models import Action
from cases import policy
from cases.models import Assessment, Case, CaseMember, Entry, Guardian, Meeting, Signal
from cases.selectors.assessments import latest_assessment
from cases.selectors.plans import PlanView, plan_view
from sspf.crypto import blind_index
from sspf.personnummer import InvalidIdentityNumber, parse

PAGE_SIZE = 25
PNR_INDEX = "personnummer"
OPEN_FILTER = "open"  # a list filter: every status but closed


def personnummer_index(value: str) -> str:
    """Blind index of a valid identity number; ValidationError naming the field otherwise."""
    try:
        number = parse(value)
    except InvalidIdentityNumber as exc:
        raise ValidationError({"personnummer": [str(exc)]}) from None
    return blind_index(number.normalised, purpose=PNR_INDEX)


_flag_providers: list[Callable[[list[Case]], dict[int, list[str]]]] = []


def register_case_flags(provider: Callable[[list[Case]], dict[int, list[str]]]) -> None:
    """Let another part (consent) put short warnings on cases in lists and on the case
    page: ``provider(cases)`` returns ``{case_id: [text, ...]}`` for the cases given, in
    a bounded number of queries."""
    if provider not in _flag_providers:
        _flag_providers.append(provider)


@dataclass
class StartSection:
    template: str
    rows: list


_start_sections: list[Callable[[object], StartSection | None]] = []


def register_start_section(provider: Callable[[object], StartSection | None]) -> None:
    """Let another part add a section to the start page: ``provider(user)`` reads what it
    shows through the policy, records the read, and returns a StartSection or None."""
    if provider not in _start_sections:
        _start_sections.append(provider)


def start_sections(user) -> list[StartSection]:
    sections = (provider(user) for provider in _start_sections)
    return [s for s in sections if s is not None]


_case_page_sections: dict[str, Callable[..., object]] = {}


def register_case_page_section(name: str, provider: Callable[..., object]) -> None:
    """Let another part add a section to the case page: ``provider(user=, case_id=)``
    reads through the policy, records the read, and returns what the case page's
    template shows under ``name``."""
    _case_page_sections[name] = provider


def case_page_sections(*, user, case_id) -> dict[str, object]:
    return {name: provider(user=user, case_id=case_id)
            for name, provider in _case_page_sections.items()}


def _flag(cases: list[Case]) -> None:
    for case in cases:
        case.flags = []
    if not cases:
        return
    for provider in _flag_providers:
        found = provider(cases)
        for case in cases:
            case.flags += found.get(case.pk, [])


def _record_case_rows(user, cases, action=Action.LIST, purpose=""):
    audit.record_many(
        [
            {
                "actor": user,
                "action": action,
                "object_type": "cases.Case",
                "object_id": c.pk,
                "case_id": c.pk,
                "youth_id": c.youth_id,
                "purpose": purpose,
            }
            for c in cases
        ]
    )


def _active_members() -> Prefetch:
    return Prefetch(
        "memberships",
        queryset=CaseMember.objects.filter(removed_at__isnull=True)
        .select_related("user__organisation")
        .order_by("added_at"),
        to_attr="active_members",
    )


def _case_rows(user, status: str | None) -> QuerySet[Case]:
    cases = (
        policy.visible_cases(user)
        .select_related("youth", "municipality")
        .prefetch_related(_active_members())
    )
    if status == OPEN_FILTER:
        cases = cases.filter(status__in=Case.OPEN_STATUSES)
    elif status:
        cases = cases.filter(status=status)
    return cases.order_by("-opened_at", "-id")


def case_page(
    *, user, status: str | None = None, page: int | str = 1, per_page: int = PAGE_SIZE
) -> Page:
    """One page of the cases the user may see; each row's read is recorded."""
    if status and status not in (*Case.Status.values, OPEN_FILTER):
        raise ValidationError({"status": [_("Okänd status.")]})
    with transaction.atomic():
        result = Paginator(_case_rows(user, status), per_page).get_page(page)
        rows = list(result.object_list)
        _record_case_rows(user, rows)
        _flag(rows)
    result.object_list = rows
    return result


def case_search(*, user, personnummer: str) -> list[Case]:
    """Exact search by identity number through the blind index. The search itself is
    recorded (without the number) and so is each case it shows."""
    index = personnummer_index(personnummer)
    with transaction.atomic():
        rows = list(_case_rows(user, None).filter(youth_index=index))
        audit.record(
            action=Action.SEARCH,
            object_type="cases.Youth",
            purpose=f"identity number search, {len(rows)} hit(s)",
        )
        _record_case_rows(user, rows, action=Action.SEARCH)
        _flag(rows)
    return rows


@dataclass
class CaseDetail:
    case: Case
    guardians: list[Guardian]
    members: list[CaseMember]
    entries: list[Entry]
    entry_page: Page
    show_contact: bool
    may_manage: bool
    may_add_entry: bool
    assessment: Assessment | None = None
    plan: PlanView | None = None
    meetings: list = field(default_factory=list)


def case_detail(*, user, case_id, entry_page: int | str = 1,
                per_page: int = PAGE_SIZE) -> CaseDetail:
    """The case page: the young person, guardians, team and one page of the entries the
    user may see (newest first); what is shown is recorded, entry by entry."""
    case = policy.require_case(user, case_id)
    with transaction.atomic():
        guardians = list(case.youth.guardians.order_by("id"))
        members = list(
            case.memberships.filter(removed_at__isnull=True)
            .select_related("user__organisation")
            .order_by("added_at")
        )
        case.active_members = members
        # What lets other organisations' items through, read once for every item type.
        crosses = policy.crossing(user, case)
        entries_shown = _visible_entry_page(user, case, entry_page, per_page, crosses)
        entries = entries_shown.object_list
        may_manage = policy.may(user, case, policy.CaseAction.MANAGE)
        show_contact = policy.may_see_contact_details(user, case, guardians,
                                                      may_manage=may_manage)
        detail = CaseDetail(
            case=case,
            guardians=guardians,
            members=members,
            entries=entries,
            entry_page=entries_shown,
            show_contact=show_contact,
            may_manage=may_manage,
            may_add_entry=policy.may(user, case, policy.CaseAction.ADD_ENTRY),
            assessment=latest_assessment(user, case, crosses),
            plan=plan_view(user, case, crosses),
            meetings=list(policy.visible_items(user, case, Meeting, crosses=crosses)
                          .prefetch_related("participants__user").order_by("-held_at")[:5]),
        )
        # Withheld contact details do not travel to the template at all, so no template
        # change or debug output can show them; these instances are never saved.
        if not show_contact:
            for person in (case.youth, *guardians):
                withhold_contact(person)
        _record_case_detail(user, case, guardians,
                            [*entries, *([detail.assessment] if detail.assessment else []),
                             *detail.plan.objects, *detail.meetings])
        _flag([case])
    return detail


# The item types shown in a case's list of items, by the ``kind`` the API names them.
ITEM_KINDS: dict[str, type] = {"entry": Entry, "signal": Signal}


def _visible_entry_page(user, case: Case, page, per_page: int, crosses=None) -> Page:
    """One page of the case's items the policy lets through (entries and signals taken
    up, each marked with its ``kind``), newest first. One query pages the ids of every
    kind together; one more per kind on the page loads them."""
    parts = [policy.visible_items(user, case, model, crosses=crosses).annotate(
        kind=Value(kind, output_field=CharField())).order_by().values_list(
        "kind", "id", "created_at") for kind, model in ITEM_KINDS.items()]
    ids = parts[0].union(*parts[1:], all=True).order_by("-created_at", "-id")
    result = Paginator(ids, per_page).get_page(page)
    rows = list(result.object_list)
    loaded = {}
    for kind, model in ITEM_KINDS.items():
        wanted = [pk for k, pk, _at in rows if k == kind]
        if wanted:
            for item in model.objects.filter(pk__in=wanted).select_related(
                    "source_org", "author", "statutory_recipient"):
                item.kind = kind
                loaded[kind, item.pk] = item
    result.object_list = [loaded[kind, pk] for kind, pk, _at in rows if (kind, pk) in loaded]
    return result


def withhold_contact(person) -> None:
    """Drop a person's address and phone from an instance read for display, and a
    guardian's identity number (the young person's identifies the case to its team)."""
    person.address = None
    person.phone = None
    if isinstance(person, Guardian):
        person.personnummer = None
    person.save = _refuse_save


def _refuse_save(*args, **kwargs):
    raise RuntimeError("a person read with withheld contact details is not saved")


def _record_case_detail(user, case, guardians, entries):
    audit.record_shown([case, case.youth, *guardians, *entries], actor=user, case_id=case.pk,
                       youth_id=case.youth_id)


def guardian_list(*, user, case_id) -> list[Guardian]:
    """The guardians of a case's young person (the API gives no contact details; their
    identity numbers only to whom the policy shows contact details)."""
    case = policy.require_case(user, case_id)
    with transaction.atomic():
        guardians = list(case.youth.guardians.order_by("id"))
        if not policy.may_see_contact_details(user, case, guardians):
            for guardian in guardians:
                withhold_contact(guardian)
        audit.record_shown(guardians, actor=user, case_id=case.pk, youth_id=case.youth_id)
    return guardians


def entry_page(*, user, case_id, page: int | str = 1, per_page: int = PAGE_SIZE) -> Page:
    """One page of the entries of a case the user may see, newest first; only the
    entries shown are recorded."""
    case = policy.require_case(user, case_id)
    with transaction.atomic():
        result = _visible_entry_page(user, case, page, per_page)
        entries = result.object_list
        audit.record_shown(entries, actor=user, case_id=case.pk, youth_id=case.youth_id)
    return result


def coordinator_open_cases(*, user, limit: int = 10) -> list[Case]:
    """The start page's list: open cases where the user is on the team."""
    with transaction.atomic():
        rows = list(_case_rows(user, OPEN_FILTER)[:limit])
        _record_case_rows(user, rows)
        _flag(rows)
    return rows


def statutory_recipients(*, user, case: Case) -> list:
    """The organisations an entry's statutory basis may name as recipient: the team's
    other organisations (organisations are not personal data; no event)."""
    return list(case.team_organisations().exclude(pk=user.organisation_id).order_by("name"))
