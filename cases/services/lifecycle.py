"""The case's lifecycle: kartläggning (assessing) → active (plan agreed) → follow-up →
closed, with reopening. Only the case's coordinators move it; every move is a
``CaseStatusChange`` (who, when, from, to, why) and an audit event. A closed case is
read-only (the policy answers every write with ``CaseClosed``); a giver may still
withdraw consent."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.models import Action
from cases import policy
from cases.models import STATUS_REASON_MAX_LENGTH, Case, CaseStatusChange, ClosureReason
from cases.services._base import _bump, _errors, _locked_case, _record, text_field
from cases.services.cases import _answer_duplicate
from cases.services.facts import refresh_facts

S = Case.Status

# The moves between open statuses; closing and reopening have their own services.
TRANSITIONS: dict[str, frozenset[str]] = {
    S.ASSESSING: frozenset({S.ACTIVE}),
    S.ACTIVE: frozenset({S.FOLLOW_UP, S.ASSESSING}),
    S.FOLLOW_UP: frozenset({S.ACTIVE}),
}


def _reason(value: str, errors: dict, *, field: str = "reason", required: bool,
            label: str | None = None) -> str:
    return text_field(value, errors, field=field, label=label or _("Motiveringen"),
                      limit=STATUS_REASON_MAX_LENGTH, required=required)


def _move(user, case: Case, to_status: str, *, reason: str, closure_reason: str = ""):
    """Move a locked case and record the change."""
    change = CaseStatusChange.objects.create(
        case=case, from_status=case.status, to_status=to_status,
        closure_reason=closure_reason, reason=reason, changed_by=user)
    case.status = to_status
    case.closure_reason = closure_reason
    case.closed_at = timezone.localdate() if to_status == S.CLOSED else None
    case.save(update_fields=["status", "closure_reason", "closed_at"])
    _bump(case)
    refresh_facts(case)
    _record(user, Action.UPDATE, case, case, purpose=f"status {change.from_status} -> {to_status}"
            + (f" ({closure_reason})" if closure_reason else ""))
    return change


def _transition_error(case: Case, to_status: str) -> ValidationError | None:
    if to_status == S.CLOSED:
        return ValidationError({"status": [_("Ett ärende avslutas med ett skäl för avslut "
                                             "(Avsluta ärendet), inte genom att byta status.")]})
    if to_status not in S.values:
        return ValidationError({"status": [_("Okänd status. Välj en av: %(choices)s.")
                                           % {"choices": ", ".join(TRANSITIONS)}]})
    if to_status not in TRANSITIONS[case.status]:
        allowed = ", ".join(str(S(s).label).lower() for s in sorted(TRANSITIONS[case.status]))
        return ValidationError({"status": [
            _("Ärendet kan inte gå från %(from)s till %(to)s. Härifrån går det till: "
              "%(allowed)s.") % {"from": str(S(case.status).label).lower(),
                                 "to": str(S(to_status).label).lower(), "allowed": allowed}]})
    return None


def case_set_status(*, user, case_id, status: str, reason: str = "") -> Case:
    case = policy.require_case(user, case_id, policy.CaseAction.CHANGE_STATUS)
    errors: dict = {}
    reason = _reason(reason, errors, required=False)
    _errors(errors)
    status = (status or "").strip()
    if (error := _transition_error(case, status)) is not None:
        raise error
    with _locked_case(user, case, policy.CaseAction.CHANGE_STATUS) as case:
        if (error := _transition_error(case, status)) is not None:
            raise error
        _move(user, case, status, reason=reason)
    return case


def case_close(*, user, case_id, reason: str, note: str = "") -> Case:
    """Close with a reason and an outcome note (encrypted)."""
    case = policy.require_case(user, case_id, policy.CaseAction.CHANGE_STATUS)
    errors: dict = {}
    reason = (reason or "").strip()
    if not reason:
        errors["reason"] = [_("Ange skälet för avslut.")]
    elif reason not in ClosureReason.values:
        errors["reason"] = [_("Okänt skäl för avslut. Välj ett av: %(choices)s.")
                            % {"choices": ", ".join(ClosureReason.values)}]
    note = _reason(note, errors, field="note", required=False, label=_("Anteckningen"))
    _errors(errors)
    with _locked_case(user, case, policy.CaseAction.CHANGE_STATUS) as case:
        _move(user, case, S.CLOSED, reason=note, closure_reason=reason)
    return case


def case_reopen(*, user, case_id, reason: str) -> Case:
    """Open a closed case again, in the status it was closed from. Not while the young
    person has another open case in the municipality (answered as opening a case
    answers it)."""
    case = policy.require_case(user, case_id, policy.CaseAction.REOPEN)
    errors: dict = {}
    reason = _reason(reason, errors, required=True)
    _errors(errors)
    other = Case.objects.filter(municipality_id=case.municipality_id,
                                youth_index=case.youth_index).exclude(
        status=S.CLOSED).exclude(pk=case.pk).first()
    if other is not None:
        try:
            _answer_duplicate(user, other)
        except ValidationError as exc:
            raise ValidationError({"reason": exc.message_dict["personnummer"]}) from None
    try:
        with _locked_case(user, case, policy.CaseAction.REOPEN) as case:
            closing = case.status_changes.filter(to_status=S.CLOSED).order_by("-id").first()
            back_to = closing.from_status if closing and closing.from_status in TRANSITIONS \
                else S.ASSESSING
            _move(user, case, back_to, reason=reason)
    except IntegrityError:  # another case of the person was opened a moment ago
        other = Case.objects.filter(municipality_id=case.municipality_id,
                                    youth_index=case.youth_index).exclude(
            status=S.CLOSED).exclude(pk=case.pk).first()
        if other is None:
            raise
        try:
            _answer_duplicate(user, other)
        except ValidationError as exc:
            raise ValidationError({"reason": exc.message_dict["personnummer"]}) from None
    return case
