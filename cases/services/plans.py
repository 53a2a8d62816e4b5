"""The action plan (åtagandeplan), its commitments and the follow-ups.

The coordinators write the plan's goals and its commitments, each owned by a partner
organisation on the team with a responsible member of it; the responsible person (and
the coordinators) update a commitment's status. Agreeing the plan moves a case in
kartläggning to active and schedules the first follow-up at the municipality's interval.
A follow-up held either schedules the next one or proposes closing the case, so a case
with an agreed plan always has a next follow-up or a proposal to close: at most one
follow-up waits at a time (a database constraint), and none is held without a next one
unless it proposes closure."""

from __future__ import annotations

from datetime import date, timedelta

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.models import Action
from cases import policy
from cases.models import (
    PLAN_TEXT_MAX_LENGTH,
    ActionPlan,
    Case,
    Category,
    Commitment,
    FollowUp,
)
from cases.services._base import _errors, _locked_case, _record, text_field
from cases.services.entries import item_fields
from cases.services.lifecycle import _move
from sspf.models import Organisation

# How far ahead a due date or the next follow-up may be set: further is a typing error,
# and a date that never comes would never be reminded of.
LATEST_AHEAD = timedelta(days=2 * 365)


def _choices(choices) -> str:
    return ", ".join(f"{value} ({label})" for value, label in choices.choices)


def _not_past(day: date | None, field: str, errors: dict, *, label: str) -> None:
    today = timezone.localdate()
    if day is None:
        errors[field] = [_("Ange %(label)s.") % {"label": label}]
    elif day < today:
        errors[field] = [_("%(label)s kan inte ligga i det förflutna.")
                         % {"label": label.capitalize()}]
    elif day > today + LATEST_AHEAD:
        errors[field] = [_("%(label)s kan ligga högst två år fram.")
                         % {"label": label.capitalize()}]


def plan_save(*, user, case_id, goals: str) -> ActionPlan:
    """Write the plan's goals: the first time creates the plan, later times change it."""
    case = policy.require_case(user, case_id, policy.CaseAction.EDIT_PLAN)
    errors: dict = {}
    goals = text_field(goals, errors, field="goals", label=_("Målen"),
                       limit=PLAN_TEXT_MAX_LENGTH, required=True)
    fields = item_fields(user, case, category=Category.BASIC, errors=errors)
    _errors(errors)
    with _locked_case(user, case, policy.CaseAction.EDIT_PLAN) as case:
        plan = ActionPlan.objects.filter(case=case).first()
        if plan is None:
            plan = ActionPlan.objects.create(case=case, goals=goals, **fields)
            _record(user, Action.CREATE, plan, case)
        else:
            plan.goals = goals
            plan.save(update_fields=["goals", "updated_at"])
            _record(user, Action.UPDATE, plan, case)
    return plan


def plan_agree(*, user, case_id) -> ActionPlan:
    """The team has agreed the plan: a case in kartläggning becomes active, and the
    first follow-up is scheduled ``follow_up_interval_weeks`` from today."""
    case = policy.require_case(user, case_id, policy.CaseAction.EDIT_PLAN)
    with _locked_case(user, case, policy.CaseAction.EDIT_PLAN) as case:
        plan = ActionPlan.objects.filter(case=case).first()
        if plan is None:
            raise ValidationError({"goals": [_("Skriv planens mål innan den kan "
                                               "överenskommas.")]})
        if plan.agreed_on is not None:
            raise ValidationError({"plan": [_("Planen är redan överenskommen (%(day)s).")
                                            % {"day": plan.agreed_on.isoformat()}]})
        if not Commitment.objects.filter(case=case).exists():
            raise ValidationError({"commitments": [_("Lägg till minst ett åtagande innan "
                                                     "planen överenskommas.")]})
        plan.agreed_on = timezone.localdate()
        plan.save(update_fields=["agreed_on", "updated_at"])
        _record(user, Action.UPDATE, plan, case, purpose="plan agreed")
        if case.status == Case.Status.ASSESSING:
            _move(user, case, Case.Status.ACTIVE, reason=_("Åtagandeplanen är överenskommen."))
        if not FollowUp.objects.filter(case=case, held_on__isnull=True).exists():
            weeks = case.municipality.follow_up_interval_weeks
            follow_up = FollowUp.objects.create(
                case=case, due_on=plan.agreed_on + timedelta(weeks=weeks),
                **item_fields(user, case, category=Category.BASIC, errors={}))
            _record(user, Action.CREATE, follow_up, case)
    return plan


def _owner(case: Case, organisation, responsible: str, errors: dict):
    """The owning organisation (on the team) and the responsible member of it."""
    try:
        org_id = int(organisation)
    except (TypeError, ValueError):
        org_id = 0
    if org_id not in case.team_organisation_ids():
        errors["organisation"] = [_("Välj en organisation som ingår i ärendets team.")]
        return None, None
    person = get_user_model().objects.filter(
        username=(responsible or "").strip(), is_active=True, organisation_id=org_id,
        case_memberships__case=case, case_memberships__removed_at__isnull=True).first()
    if person is None:
        errors["responsible"] = [_("Den ansvarige måste vara en teammedlem från den valda "
                                   "organisationen.")]
    return Organisation.objects.get(pk=org_id), person


def commitment_add(*, user, case_id, organisation, responsible: str, description: str,
                   due_on: date | None) -> Commitment:
    case = policy.require_case(user, case_id, policy.CaseAction.EDIT_PLAN)
    errors: dict = {}
    owner, person = _owner(case, organisation, responsible, errors)
    description = text_field(description, errors, field="description",
                             label=_("Beskrivningen"), limit=PLAN_TEXT_MAX_LENGTH,
                             required=True)
    _not_past(due_on, "due_on", errors, label=_("datum då åtagandet ska vara klart"))
    _errors(errors)
    with _locked_case(user, case, policy.CaseAction.EDIT_PLAN) as case:
        commitment = Commitment.objects.create(
            case=case, author=user, source_org=owner,
            category=Category.of_organisation(owner), responsible=person,
            description=description, due_on=due_on)
        _record(user, Action.CREATE, commitment, case)
    return commitment


def commitment_set_status(*, user, commitment_id, status: str) -> Commitment:
    commitment = policy.require_item(user, Commitment, commitment_id,
                                     policy.CaseAction.UPDATE_COMMITMENT)
    case = commitment.case
    policy.require_commitment_update(user, commitment)
    if status not in Commitment.Status.values:
        raise ValidationError({"status": [_("Okänd status. Välj en av: %(choices)s.")
                                          % {"choices": _choices(Commitment.Status)}]})
    with _locked_case(user, case, policy.CaseAction.UPDATE_COMMITMENT) as case:
        commitment = Commitment.objects.select_for_update().get(pk=commitment.pk)
        commitment.status = status
        commitment.save(update_fields=["status"])
        _record(user, Action.UPDATE, commitment, case, purpose=f"status {status}")
    return commitment


def follow_up_record(*, user, case_id, held_on: date | None, outcome: str, note: str = "",
                     next_on: date | None = None, propose_closure: bool = False) -> FollowUp:
    """Record the follow-up held, and schedule the next one unless it proposes to
    close the case."""
    case = policy.require_case(user, case_id, policy.CaseAction.EDIT_PLAN)
    errors: dict = {}
    today = timezone.localdate()
    if held_on is None:
        errors["held_on"] = [_("Ange när uppföljningen hölls.")]
    elif held_on > today:
        errors["held_on"] = [_("En uppföljning som hållits kan inte ligga i framtiden.")]
    if outcome not in FollowUp.Outcome.values:
        errors["outcome"] = [_("Välj utfall: %(choices)s.")
                             % {"choices": _choices(FollowUp.Outcome)}]
    note = text_field(note, errors, field="note", label=_("Anteckningen"),
                      limit=PLAN_TEXT_MAX_LENGTH, required=False)
    if next_on is None and not propose_closure:
        errors["next_on"] = [_("Ange datum för nästa uppföljning, eller föreslå att "
                               "ärendet avslutas.")]
    elif next_on is not None:
        if next_on <= today:
            errors["next_on"] = [_("Nästa uppföljning måste ligga efter i dag.")]
        elif next_on > today + LATEST_AHEAD:
            errors["next_on"] = [_("Nästa uppföljning kan ligga högst två år fram.")]
        elif propose_closure:
            errors["next_on"] = [_("Välj antingen nästa uppföljning eller förslag om "
                                   "avslut, inte båda.")]
    fields = item_fields(user, case, category=Category.BASIC, errors=errors)
    _errors(errors)
    with _locked_case(user, case, policy.CaseAction.EDIT_PLAN) as case:
        plan = ActionPlan.objects.filter(case=case, agreed_on__isnull=False).first()
        if plan is None:
            raise ValidationError({"held_on": [_("Uppföljningar börjar när "
                                                 "åtagandeplanen är överenskommen.")]})
        if held_on < plan.agreed_on:
            raise ValidationError({"held_on": [
                _("En uppföljning hålls efter att planen överenskoms (%(day)s).")
                % {"day": plan.agreed_on.isoformat()}]})
        held = FollowUp.objects.select_for_update().filter(case=case,
                                                           held_on__isnull=True).first()
        action = Action.UPDATE
        if held is None:  # held without being scheduled
            held, action = FollowUp(case=case, due_on=held_on, **fields), Action.CREATE
        held.held_on, held.outcome, held.note = held_on, outcome, note
        held.propose_closure = bool(propose_closure)
        held.save()
        _record(user, action, held, case, purpose="follow-up held")
        if next_on is not None:
            upcoming = FollowUp.objects.create(case=case, due_on=next_on, **fields)
            _record(user, Action.CREATE, upcoming, case)
    return held
