"""THE access policy. Every question "may this person see or do this?" about case data
is answered here and nowhere else.

- Deny by default. Only the case-work roles (coordinator, social worker, school,
  leisure and police staff) acting for an organisation ever see case content;
  auditors, analysts, administrators and superusers do not, whatever their flags.
- A case is visible only to its team: the members holding django-guardian's
  ``view_case`` object permission (CaseUserObjectPermission, a direct foreign key), and
  only within the member's own municipality. Leaving the team removes the permission,
  so access ends with the next request.
- An entry from organisation S reaches a member of organisation V when S == V, the
  entry carries a statutory basis naming V as its recipient, or the effective consent
  covers S, V and the entry's category. Consent is asked through
  ``register_crossing_rule`` (the consent app registers its rule at start), so this
  module does not depend on consent.
- The household's addresses and phone numbers and the guardians' identity numbers
  reach the case's coordinators, and other members only with a consent covering their
  organisation and the ``basic`` category; with a protected identity in the household,
  the coordinators only.
- Lists are querysets filtered in SQL. What the user may not see answers 404
  (``NotVisible``), a forbidden action on what they see answers 403 (``Forbidden``);
  both are recorded as ``denied`` events before they are raised.

The checks that deny must run outside the transaction of the work they guard: a
denial event written inside a transaction that the raised exception rolls back would
be lost.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum

from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils.translation import gettext_lazy

import audit
from audit.events import add_flag
from audit.models import Action, Outcome
from cases.models import (
    Case,
    CaseItem,
    CaseMember,
    CaseUserObjectPermission,
    Entry,
    Guardian,
    Signal,
)
from sspf.roles import CASE_WORK_ROLES, Role

MAX_ID = 2**63 - 1


class NotVisible(Http404):
    """The object does not exist for this user (404)."""


class Forbidden(PermissionDenied):
    """The user sees the object but may not do this to it (403)."""


class CaseClosed(Exception):
    """The user may do this to the case, but it is closed and so read-only (409). Asked
    before any input is read; nothing is written."""

    http_status = 409
    message = gettext_lazy(
        "Ärendet är avslutat och kan inte ändras. Ansvarig samordnare kan öppna det igen.")


class CaseAction(Enum):
    VIEW = "view"
    ADD_ENTRY = "add_entry"
    MANAGE = "manage"  # lead the case: seen as one of its coordinators
    EXTEND = "extend"  # change team, guardians or the case's fields: MANAGE, while open
    # Handle the case's consent: withdraw a grant, keep its signed form. Also on a closed
    # case: a giver may withdraw at any time.
    RECORD_CONSENT = "record_consent"
    NEW_CONSENT = "new_consent"  # record a new grant: RECORD_CONSENT, only while open
    CHANGE_STATUS = "change_status"  # move between the open statuses, or close
    REOPEN = "reopen"  # open a closed case again
    ATTACH_SIGNAL = "attach_signal"  # take a signal up into the case
    ADD_ASSESSMENT = "add_assessment"  # a new version of the kartläggning
    EDIT_PLAN = "edit_plan"  # the action plan, its commitments, the follow-ups
    RECORD_MEETING = "record_meeting"  # a network meeting and its minutes
    UPDATE_COMMITMENT = "update_commitment"  # a commitment's status (its owner; see below)


def works_on_cases(user) -> bool:
    return bool(
        user is not None
        and user.is_authenticated
        and user.is_active
        and user.role in CASE_WORK_ROLES
        and user.organisation_id is not None
    )


def role_grants(user, perm: str) -> bool:
    """Whether the user's role group carries the model permission ``app_label.codename``.

    Not ``user.has_perm``: Django's backend answers True to every active superuser,
    and here a superuser is an administrator like any other."""
    cache = getattr(user, "_sspf_role_perms", None)
    if cache is None:
        cache = {f"{app}.{codename}" for app, codename in Permission.objects.filter(
            group__user=user).values_list("content_type__app_label", "codename")}
        user._sspf_role_perms = cache
    return perm in cache


def _object_permission(user, codename: str) -> QuerySet:
    return CaseUserObjectPermission.objects.filter(
        user=user, permission__codename=codename, permission__content_type__app_label="cases"
    ).values("content_object_id")


def visible_cases(user) -> QuerySet[Case]:
    if not works_on_cases(user):
        return Case.objects.none()
    return Case.objects.filter(
        municipality_id=user.organisation.municipality_id,
        pk__in=_object_permission(user, "view_case"),
    )


def _open(user, case) -> bool:
    return case.is_open


def _closed(user, case) -> bool:
    return not case.is_open


def _manages(user, case) -> bool:
    """A coordinator whose role carries ``manage_case`` and who holds it on this case
    (the case's coordinators: the lead and any added coordinator)."""
    return (
        user.role == Role.COORDINATOR
        and role_grants(user, "cases.manage_case")
        and _object_permission(user, "manage_case").filter(content_object_id=case.pk).exists()
    )


def _records_consent(user, case) -> bool:
    """The coordinators, and social workers where the municipality lets them."""
    if user.role == Role.SOCIAL_WORKER:
        return case.municipality.social_worker_records_consent
    return _manages(user, case)


def _adds_entries(user, case) -> bool:
    return role_grants(user, "cases.add_entry")


# Who may do what to a case they see (every action needs the case visible first): each
# action is the conjunction of its conditions. New actions get a row here, nothing else.
ACTIONS: dict[CaseAction, tuple[Callable[[object, Case], bool], ...]] = {
    CaseAction.VIEW: (),
    CaseAction.ADD_ENTRY: (_open, _adds_entries),
    CaseAction.MANAGE: (_manages,),
    CaseAction.EXTEND: (_open, _manages),
    CaseAction.RECORD_CONSENT: (_records_consent,),
    CaseAction.NEW_CONSENT: (_open, _records_consent),
    CaseAction.CHANGE_STATUS: (_open, _manages),
    CaseAction.REOPEN: (_closed, _manages),
    CaseAction.ATTACH_SIGNAL: (_open, _manages),
    CaseAction.ADD_ASSESSMENT: (_open, _adds_entries),
    CaseAction.EDIT_PLAN: (_open, _manages),
    CaseAction.RECORD_MEETING: (_open, _manages),
    CaseAction.UPDATE_COMMITMENT: (_open,),
}


def may(user, case: Case, action: CaseAction) -> bool:
    if not visible_cases(user).filter(pk=case.pk).exists():
        return False
    return all(condition(user, case) for condition in ACTIONS[action])


def may_create_case(user) -> bool:
    return (
        works_on_cases(user)
        and user.role == Role.COORDINATOR
        and role_grants(user, "cases.add_case")
    )


def deny(user, *, status: int, object_type: str, object_id, case_id=None, youth_id=None,
         purpose: str = "") -> Exception:
    """Record the denial and return the exception to raise (404 or 403)."""
    audit.record(
        action=Action.DENIED,
        actor=user,
        outcome=Outcome.DENIED,
        object_type=object_type,
        object_id=object_id,
        case_id=case_id,
        youth_id=youth_id,
        purpose=purpose,
    )
    return NotVisible() if status == 404 else Forbidden()


def require_case(user, case_id, action: CaseAction = CaseAction.VIEW) -> Case:
    """The case, if the user may do ``action`` to it; else a recorded 404 or 403."""
    try:
        case_pk = int(case_id)
    except (TypeError, ValueError):
        case_pk = 0
    if not 0 < case_pk <= MAX_ID:  # no such id can exist; it must not reach a bigint column
        raise deny(user, status=404, object_type="cases.Case", object_id=str(case_id)[:64])
    case = visible_cases(user).filter(pk=case_pk).select_related("youth", "municipality").first()
    if case is None:
        raise deny(user, status=404, object_type="cases.Case", object_id=case_pk,
                   case_id=case_pk)
    if action is not CaseAction.VIEW and not may(user, case, action):
        closed = _closed_stops(user, case, action)
        deny(user, status=403, object_type="cases.Case", object_id=case_pk, case_id=case_pk,
             youth_id=case.youth_id,
             purpose=f"{action.value}: case closed" if closed else action.value)
        raise CaseClosed() if closed else Forbidden()
    return case


def _closed_stops(user, case: Case, action: CaseAction) -> bool:
    """Whether the case being closed is all that stops the action: then the answer is
    the closed case's 409 (with its message), not a 403."""
    conditions = ACTIONS[action]
    return (_open in conditions and not case.is_open
            and all(condition(user, case) for condition in conditions if condition is not _open))


def require_case_object(user, model, object_id, action: CaseAction = CaseAction.VIEW):
    """An object that belongs to a case (its ``case`` foreign key), if the user may do
    ``action`` to that case; else a recorded 404 or 403. A missing object and one on a
    case the user does not see answer alike."""
    obj = None
    if str(object_id).isdigit() and 0 < int(object_id) <= MAX_ID:
        obj = model.objects.filter(pk=int(object_id)).select_related("case").first()
    if obj is None:
        raise deny(user, status=404, object_type=model._meta.label,
                   object_id=str(object_id)[:64])
    require_case(user, obj.case_id, action)
    return obj


def managed_cases(user) -> QuerySet[Case]:
    """The cases the user sees as one of their coordinators."""
    if not (works_on_cases(user) and user.role == Role.COORDINATOR
            and role_grants(user, "cases.manage_case")):
        return Case.objects.none()
    return visible_cases(user).filter(pk__in=_object_permission(user, "manage_case"))


def require_commitment_update(user, commitment) -> None:
    """A recorded 403 for a member who sees the commitment but may not change it."""
    if not may_update_commitment(user, commitment):
        raise deny(user, status=403, object_type="cases.Commitment", object_id=commitment.pk,
                   case_id=commitment.case_id, youth_id=commitment.case.youth_id,
                   purpose="update commitment")


def may_update_commitment(user, commitment) -> bool:
    """A commitment's status is changed by its responsible person and by the case's
    coordinators (the commitment is seen first, through ``visible_items``)."""
    return commitment.responsible_id == user.pk or _manages(user, commitment.case)


def may_receive(account, case: Case, category: str, sources: frozenset[int]) -> bool:
    """Whether information of ``category`` from one of ``sources`` may reach the
    account's organisation: its own, or by a registered disclosure rule (the effective
    consent). Asked for who may take part in a meeting."""
    if account.organisation_id in sources:
        return True
    return any(rule(account, case, category, sources) for rule in _disclosure_rules)


def require_item(user, model: type[CaseItem], item_id, action: CaseAction = CaseAction.VIEW):
    """A case item the user sees through ``visible_items`` (404 otherwise, recorded, the
    same as for a missing one), on a case they may do ``action`` to."""
    item = require_case_object(user, model, item_id)
    if not visible_items(user, item.case, model).filter(pk=item.pk).exists():
        raise deny(user, status=404, object_type=model._meta.label, object_id=item.pk,
                   case_id=item.case_id, youth_id=item.case.youth_id)
    if action is not CaseAction.VIEW:
        require_case(user, item.case_id, action)
    return item


def coordinates(user) -> bool:
    """An SSPF coordinator acting for an organisation (the coordinators' start page,
    triage of signals)."""
    return works_on_cases(user) and user.role == Role.COORDINATOR


def may_raise_signal(user) -> bool:
    """Any case-work staff member acting for an organisation raises signals of
    concern; raising one gives no access to any case."""
    return works_on_cases(user)


def visible_signals(user) -> QuerySet[Signal]:
    """The signals a user sees as signals (not as items of a case): a reporter their
    own, a coordinator every signal of their municipality (the triage queue)."""
    if not works_on_cases(user):
        return Signal.objects.none()
    own = Q(author=user)
    if not coordinates(user):
        return Signal.objects.filter(own)
    # Once taken up a signal is an item of its case: only that case's coordinators see
    # it whole (and the case it went to); the others, the reporter included, see it as
    # they would outside the case.
    return Signal.objects.filter(municipality_id=user.organisation.municipality_id).filter(
        own | Q(case__isnull=True) | Q(case__in=managed_cases(user)))


def sees_signal_whole(user, signal: Signal) -> bool:
    """Whether the user sees a signal as the triage does (who reported it, the case it
    went to, the protected-identity mark): a coordinator, for a signal not taken up or
    taken up into a case they coordinate; the reporter otherwise sees what they wrote."""
    if not may_triage(user):
        return False
    return signal.case_id is None or managed_cases(user).filter(pk=signal.case_id).exists()


def may_triage(user) -> bool:
    """The municipality's coordinators triage its signals."""
    return coordinates(user) and role_grants(user, "cases.add_case")


def require_signal(user, signal_id, *, triage: bool = False) -> Signal:
    """A signal the user sees (404 otherwise), and for ``triage`` one they may triage
    (403 for its reporter); both refusals recorded."""
    signal = None
    if str(signal_id).isdigit() and 0 < int(signal_id) <= MAX_ID:
        signal = visible_signals(user).filter(pk=int(signal_id)).first()
    if signal is None:
        raise deny(user, status=404, object_type="cases.Signal", object_id=str(signal_id)[:64])
    if triage and not may_triage(user):
        raise deny(user, status=403, object_type="cases.Signal", object_id=signal.pk,
                   purpose="triage")
    return signal


def may_join_team(account) -> bool:
    """Whether an account may be added to a case team: an active case-work account
    (its municipality is the case's, checked where the account is looked up)."""
    return bool(account.is_active and account.role in CASE_WORK_ROLES)


def joins_as_lead(account) -> bool:
    """A coordinator added to a team is one of the case's coordinators (lead, with the
    right to manage it); everyone else is a member."""
    return account.role == Role.COORDINATOR


def require_create_case(user) -> None:
    if not may_create_case(user):
        raise deny(user, status=403, object_type="cases.Case", object_id=None,
                   purpose="create")


_crossing_rules: list[Callable[[object, Case], Q]] = []


def register_crossing_rule(rule: Callable[[object, Case], Q]) -> None:
    """Let another part (consent) add a condition under which an item from another
    organisation crosses to the user: ``rule(user, case)`` returns a Q over the fields
    of ``CaseItem`` (``source_org_id``, ``category``), valid for every item type.
    The rule is consulted on every request; it must return a Q that matches nothing
    when it allows nothing."""
    if rule not in _crossing_rules:
        _crossing_rules.append(rule)


def crossing(user, case: Case) -> Q:
    """What lets another organisation's item reach the user in this case: a statutory
    basis naming their organisation, or a registered crossing rule (the effective
    consent), over the fields of ``CaseItem``. Read once for a page that shows several
    item types, and handed to ``visible_items``."""
    crosses = Q(statutory_recipient_id=user.organisation_id)
    for rule in _crossing_rules:
        crosses |= rule(user, case)
    return crosses


def visible_items(user, case: Case, model: type[CaseItem], *, crosses: Q | None = None
                  ) -> QuerySet:
    """The items of one type (any ``CaseItem``) of a case, already checked visible,
    that cross to the user's organisation: its own, those whose statutory basis names it
    as the recipient, and those a registered crossing rule (the effective consent) lets
    through. One query shape for every item type, over the fields CaseItem defines."""
    if not works_on_cases(user):
        return model.objects.none()
    # A recipient is only ever set together with a basis (each item type's constraint).
    items = model.objects.filter(case=case)
    if model.reaches_case_coordinators and _manages(user, case):
        return items  # addressed to the coordination (a signal): its coordinators see all
    if crosses is None:
        crosses = crossing(user, case)
    items = items.filter(Q(source_org_id=user.organisation_id) | crosses)
    if model.audience:  # meant for some organisations only (a meeting's participants')
        items = items.filter(pk__in=model.objects.filter(
            Q(source_org_id=user.organisation_id)
            | Q(**{model.audience: user.organisation_id})).values("pk"))
    return items


def visible_entries(user, case: Case) -> QuerySet[Entry]:
    return visible_items(user, case, Entry)


PROTECTED_FLAG = "protected_identity"


def _an_id(value: str) -> bool:
    """A string that can be a primary key (a refused request records what it was sent)."""
    return value.isdigit() and 0 < int(value) <= MAX_ID


def flag_protected_identity(events) -> None:
    """Mark access events about a young person or guardian with protected personal data
    for the log review (DESIGN §3): every access to them is followed up. One query for
    all events of a write, two when guardians are among them."""
    case_ids = {e.case_id for e in events if e.case_id}
    youth_ids = {e.youth_id for e in events if e.youth_id}
    if not case_ids and not youth_ids and not any(
            e.object_type == "cases.Signal" for e in events):
        return
    rows = Case.objects.filter(Q(pk__in=case_ids) | Q(youth_id__in=youth_ids),
                               youth__protected_identity=True).values_list("pk", "youth_id")
    cases = {case_id for case_id, _ in rows}
    youths = {youth_id for _, youth_id in rows}
    guardian_ids = {int(e.object_id) for e in events
                    if e.object_type == "cases.Guardian" and _an_id(e.object_id)}
    guardians = set(Guardian.objects.filter(pk__in=guardian_ids, protected_identity=True)
                    .values_list("pk", flat=True)) if guardian_ids else set()
    signal_ids = {int(e.object_id) for e in events
                  if e.object_type == "cases.Signal" and _an_id(e.object_id)}
    signals = set(Signal.objects.filter(pk__in=signal_ids, protected_identity=True)
                  .values_list("pk", flat=True)) if signal_ids else set()
    protected_objects = {"cases.Guardian": guardians, "cases.Signal": signals}
    for event in events:
        if (event.case_id in cases or event.youth_id in youths
                or (_an_id(event.object_id)
                    and int(event.object_id) in protected_objects.get(event.object_type, ()))):
            add_flag(event, PROTECTED_FLAG)


_disclosure_rules: list[Callable[[object, Case, str, frozenset[int]], bool]] = []


def register_disclosure_rule(rule: Callable[[object, Case, str, frozenset[int]], bool]
                             ) -> None:
    """Let another part (consent) say whether the case's information of a category may
    flow from one of the organisations that hold it to the user's organisation:
    ``rule(user, case, category, sources)``. Asked for what is not an entry, such as the
    household's contact details (category ``basic``, held by the coordination)."""
    if rule not in _disclosure_rules:
        _disclosure_rules.append(rule)


CONTACT_CATEGORY = "basic"


def may_see_contact_details(user, case: Case, guardians: list[Guardian], *,
                            may_manage: bool | None = None) -> bool:
    """Address and phone of the household (the young person and the guardians) and the
    guardians' identity numbers: to the case's coordinators, and to another member only
    when the effective consent covers their organisation, a coordinator's organisation
    (where the details come from) and the ``basic`` category.
    When anyone in the household has a protected identity, only the coordinators see
    any of it: the whole household, because its members usually share an address, so the
    young person's or another guardian's address would show where the protected person
    lives."""
    if may_manage is None:
        may_manage = may(user, case, CaseAction.MANAGE)
    if may_manage:
        return True
    household = [case.youth, *guardians]
    if any(person.protected_identity for person in household):
        return False
    # The coordinators record the household's details: they flow from the coordinators'
    # organisations, which the consent must cover as well as the reader's.
    sources = frozenset(CaseMember.objects.filter(
        case=case, user__role=Role.COORDINATOR).values_list("user__organisation_id", flat=True))
    return any(rule(user, case, CONTACT_CATEGORY, sources) for rule in _disclosure_rules)
