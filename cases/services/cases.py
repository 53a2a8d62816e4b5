"""The case itself: opening it, its team, its guardians and its own fields."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from guardian.shortcuts import assign_perm, remove_perm

import audit
from audit.changes import actor as change_actor
from audit.models import Action, Outcome
from cases import policy
from cases.models import Case, CaseMember, Guardian, Youth, case_item_models
from cases.selectors import PNR_INDEX
from cases.services._base import (
    _bump,
    _check_version,
    _errors,
    _identity,
    _locked_case,
    _person_fields,
    _record,
)
from cases.services.facts import refresh_facts
from sspf import notifications
from sspf.crypto import blind_index


def case_create(*, user, personnummer: str, first_name: str, last_name: str,
                protected_identity: bool = False, address: str = "", phone: str = "",
                area: str = "") -> Case:
    policy.require_create_case(user)
    municipality = user.organisation.municipality
    errors: dict = {}
    number = _identity(personnummer, errors)
    person = _person_fields(
        {"first_name": first_name, "last_name": last_name, "address": address,
         "phone": phone}, errors)
    area = (area or "").strip()
    if area and area not in municipality.areas:
        errors["area"] = [_("Okänt område. Välj ett av kommunens områden.")]
    if number is not None:
        age = number.age_on(timezone.localdate())
        if not municipality.age_min <= age <= municipality.age_max:
            errors["personnummer"] = [
                _("Personen är %(age)d år. Kommunens SSPF-arbete omfattar %(min)d–%(max)d år.")
                % {"age": age, "min": municipality.age_min, "max": municipality.age_max}
            ]
    _errors(errors)

    index = blind_index(number.normalised, purpose=PNR_INDEX)
    duplicate = ValidationError({"personnummer": ["duplicate"]})  # answered below
    same_person = Case.objects.filter(municipality=municipality, youth_index=index)
    try:
        with change_actor(user), transaction.atomic():
            if same_person.exclude(status=Case.Status.CLOSED).exists():
                raise duplicate
            # A new record for every case (see Youth); a protected identity registered
            # in an earlier case is never lifted by a new one.
            protected = bool(protected_identity) or Youth.objects.filter(
                cases__in=same_person, protected_identity=True).exists()
            youth = Youth.objects.create(
                municipality=municipality, personnummer=number.formatted,
                personnummer_index=index, protected_identity=protected, **person)
            try:
                with transaction.atomic():
                    case = Case.objects.create(municipality=municipality, youth=youth,
                                               youth_index=index, area=area, created_by=user)
            except IntegrityError:  # another request opened a case a moment ago
                raise duplicate from None
            _add_member(case, user, added_by=user)
            refresh_facts(case)
            _record(user, Action.CREATE, youth, case)
            _record(user, Action.CREATE, case, case)
    except ValidationError as exc:
        if exc is not duplicate:
            raise
        existing = same_person.exclude(status=Case.Status.CLOSED).first()
        _answer_duplicate(user, existing)
    return case


class CaseReferred(Exception):
    """The young person already has an open case whose team the caller is not on: the
    attempt went to that case's lead coordinators. The caller is told only that."""

    message = gettext_lazy(
        "Ärendet kunde inte öppnas av dig. Förfrågan har lämnats vidare till ansvarig "
        "samordnare, som hör av sig till dig.")


def _answer_duplicate(user, existing: Case | None):
    """Being an SSPF case is itself sensitive. A coordinator on the existing case's team
    is told which case it is (400); anyone else learns nothing about it: the lead
    coordinators are told of the attempt and the caller gets ``CaseReferred``. Both are
    recorded with the case (so a protected identity marks the event)."""
    common = {"actor": user, "outcome": Outcome.DENIED, "object_type": "cases.Case",
              "case_id": existing.pk if existing else None,
              "youth_id": existing.youth_id if existing else None}
    if existing is not None and policy.visible_cases(user).filter(pk=existing.pk).exists():
        audit.record(action=Action.CREATE, **common,
                     purpose="refused: the young person already has an open case")
        raise ValidationError({"personnummer": [
            _("Det finns redan ett öppet ärende för den här personen i kommunen: ärende "
              "#%(case)d.") % {"case": existing.pk}]})
    with transaction.atomic():
        leads = [] if existing is None else list(
            existing.memberships.filter(removed_at__isnull=True,
                                        role_in_case=CaseMember.CaseRole.LEAD)
            .select_related("user"))
        for membership in leads:
            notifications.notify_now(
                user=membership.user,
                key=f"case-referral:{existing.pk}:{user.pk}:{timezone.localdate().isoformat()}",
                text=_("Samordnaren %(username)s försökte öppna ett nytt ärende för den unge i "
                       "ärende #%(case)d. Lägg till hen i teamet om det behövs.")
                % {"username": user.get_username(), "case": existing.pk},
                link=reverse("case_detail", args=[existing.pk]),
                subject=notifications.EMAIL_SUBJECT, body=notifications.EMAIL_BODY)
        audit.record(action=Action.CASE_REFERRED, **common,
                     purpose=f"handed to {len(leads)} lead coordinator(s): the young person "
                             "already has an open case")
    raise CaseReferred()


def _add_member(case: Case, member, *, added_by) -> CaseMember:
    lead = policy.joins_as_lead(member)
    membership = CaseMember.objects.create(
        case=case, user=member, added_by=added_by,
        role_in_case=CaseMember.CaseRole.LEAD if lead else CaseMember.CaseRole.MEMBER,
    )
    assign_perm("cases.view_case", member, case)
    if lead:
        assign_perm("cases.manage_case", member, case)
    return membership


def _team_candidate(case: Case, username: str):
    """An active case-work account of the case's municipality, or a field error. An
    account elsewhere gets the same message as none, so names do not leak across."""
    User = get_user_model()
    username = (username or "").strip()
    candidate = User.objects.filter(
        username=username, is_active=True,
        organisation__municipality_id=case.municipality_id,
    ).first()
    if candidate is None:
        raise ValidationError({"username": [
            _("Det finns ingen användare med det användarnamnet i kommunen.")]})
    if not policy.may_join_team(candidate):
        raise ValidationError({"username": [
            _("Användarens roll kan inte ingå i ett ärendeteam.")]})
    return candidate


def member_add(*, user, case_id, username: str, expected_version=None) -> CaseMember:
    case = policy.require_case(user, case_id, policy.CaseAction.EXTEND)
    candidate = _team_candidate(case, username)
    with _locked_case(user, case, policy.CaseAction.EXTEND) as case:
        _check_version(case, expected_version)
        if case.memberships.filter(user=candidate, removed_at__isnull=True).exists():
            raise ValidationError({"username": [_("Användaren ingår redan i teamet.")]})
        membership = _add_member(case, candidate, added_by=user)
        _bump(case)
        _record(user, Action.CREATE, membership, case)
    return membership


def member_remove(*, user, case_id, username: str, expected_version=None) -> CaseMember:
    case = policy.require_case(user, case_id, policy.CaseAction.EXTEND)
    with _locked_case(user, case, policy.CaseAction.EXTEND) as case:
        _check_version(case, expected_version)
        membership = case.memberships.filter(
            user__username=username, removed_at__isnull=True
        ).select_related("user").first()
        if membership is None:
            raise ValidationError({"username": [_("Användaren ingår inte i teamet.")]})
        leads = case.memberships.filter(removed_at__isnull=True,
                                         role_in_case=CaseMember.CaseRole.LEAD)
        if membership.role_in_case == CaseMember.CaseRole.LEAD and leads.count() == 1:
            raise ValidationError({"username": [
                _("Ärendet måste ha minst en ansvarig samordnare kvar i teamet.")]})
        _end_membership(membership, case, actor=user)
    return membership


def _end_membership(membership: CaseMember, case: Case, *, actor, purpose: str = "") -> None:
    """End a membership of a locked case: the object permissions go with it, so access
    ends with the next request; the case's version moves on and the removal is
    recorded."""
    membership.removed_at = timezone.now()
    membership.removed_by = actor
    membership.save(update_fields=["removed_at", "removed_by"])
    remove_perm("cases.view_case", membership.user, case)
    remove_perm("cases.manage_case", membership.user, case)
    _bump(case)
    _record(actor, Action.DELETE, membership, case, purpose=purpose)


def guardian_add(*, user, case_id, personnummer: str, first_name: str, last_name: str,
                 custodian: bool = True, address: str = "", phone: str = "",
                 protected_identity: bool = False, expected_version=None) -> Guardian:
    case = policy.require_case(user, case_id, policy.CaseAction.EXTEND)
    errors: dict = {}
    number = _identity(personnummer, errors)
    person = _person_fields(
        {"first_name": first_name, "last_name": last_name, "address": address,
         "phone": phone}, errors)
    _errors(errors)
    index = blind_index(number.normalised, purpose=PNR_INDEX)
    if index == case.youth.personnummer_index:
        raise ValidationError({"personnummer": [
            _("Vårdnadshavaren kan inte ha samma personnummer som den unge.")]})
    duplicate = ValidationError({"personnummer": [
        _("Personen finns redan som vårdnadshavare för den unge.")]})
    with _locked_case(user, case, policy.CaseAction.EXTEND) as case:
        _check_version(case, expected_version)
        if Guardian.objects.filter(youth_id=case.youth_id, personnummer_index=index).exists():
            raise duplicate
        try:
            with transaction.atomic():
                guardian = Guardian.objects.create(
                    youth_id=case.youth_id, personnummer=number.formatted,
                    personnummer_index=index, custodian=bool(custodian),
                    protected_identity=bool(protected_identity), **person,
                )
        except IntegrityError:  # added by another request a moment ago
            raise duplicate from None
        _bump(case)
        _record(user, Action.CREATE, guardian, case)
    return guardian


def case_update(*, user, case_id, area: str, expected_version) -> Case:
    case = policy.require_case(user, case_id, policy.CaseAction.EXTEND)
    area = (area or "").strip()
    if area and area not in case.municipality.areas:
        raise ValidationError({"area": [_("Okänt område. Välj ett av kommunens områden.")]})
    if expected_version in (None, ""):
        raise ValidationError({"version": [_("Versionen saknas.")]})
    with _locked_case(user, case, policy.CaseAction.EXTEND) as case:
        _check_version(case, expected_version)
        case.area = area
        case.version += 1
        case.save(update_fields=["area", "version"])
        refresh_facts(case)
        _record(user, Action.UPDATE, case, case)
    return case


def sole_lead_refusal(account) -> str | None:
    """An account that alone leads open cases keeps its role and organisation until
    another coordinator has joined those cases: otherwise nobody could manage them."""
    leads = CaseMember.objects.filter(removed_at__isnull=True,
                                      role_in_case=CaseMember.CaseRole.LEAD)
    alone = Case.objects.filter(
        status__in=Case.OPEN_STATUSES, pk__in=leads.filter(user=account).values("case_id"),
    ).exclude(pk__in=leads.exclude(user=account).values("case_id")).count()
    if not alone:
        return None
    return ngettext(
        "Kontot är ensam ansvarig samordnare i %(n)d öppet ärende. Samordnaren lägger "
        "först till en annan samordnare i ärendet; ändra sedan roll eller organisation.",
        "Kontot är ensam ansvarig samordnare i %(n)d öppna ärenden. Samordnaren lägger "
        "först till en annan samordnare i ärendena; ändra sedan roll eller organisation.",
        alone) % {"n": alone}


def end_team_access(account, actor) -> None:
    """End every team membership of an account whose role or organisation changes:
    the teams chose the person for their old work. Each case records the removal."""
    memberships = CaseMember.objects.filter(user=account, removed_at__isnull=True
                                            ).select_related("user")
    with change_actor(actor), transaction.atomic():
        for membership in memberships:
            case = Case.objects.select_for_update().get(pk=membership.case_id)
            _end_membership(membership, case, actor=actor, purpose="account reassigned")


def organisation_in_cases(organisation) -> str | None:
    """An organisation whose entries are on a case's record stays in that case's
    municipality (its entries, and who may read them, are decided there)."""
    if any(model.objects.filter(Q(source_org=organisation)
                                | Q(statutory_recipient=organisation)).exists()
           for model in case_item_models()):
        return _("Organisationen har anteckningar i kommunens ärenden och kan därför inte byta "
                 "kommun.")
    return None
