"""Writes of case data. Each service takes the acting user and plain values, asks the
policy, validates, writes and records the event in one transaction. Bad input raises
ValidationError with messages per field before anything is written."""

from __future__ import annotations

from contextlib import contextmanager

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
from cases.models import (
    ENTRY_TEXT_MAX_LENGTH,
    Case,
    CaseMember,
    Category,
    Entry,
    Guardian,
    Youth,
    case_item_models,
)
from cases.selectors import PNR_INDEX
from sspf import notifications
from sspf.crypto import blind_index
from sspf.personnummer import IdentityNumber, InvalidIdentityNumber, parse


class StaleVersion(Exception):
    """The case changed since the caller read it (409)."""

    http_status = 409
    message = gettext_lazy(
        "Ärendet har ändrats av någon annan sedan du öppnade det. Ladda om och försök igen.")


class _RevokedMeanwhile(Exception):
    pass


@contextmanager
def _locked_case(user, case: Case, action: policy.CaseAction):
    """The write's transaction, with the case row locked and the policy asked again
    under the lock: a lead removed or a case closed between the first check and the
    write must not let the write through. The denial is recorded after the rollback,
    so its event is kept."""
    try:
        with change_actor(user), transaction.atomic():
            # The young person is not loaded again: the write needs only its id.
            locked = Case.objects.select_for_update().select_related(
                "municipality").get(pk=case.pk)
            if not policy.may(user, locked, action):
                raise _RevokedMeanwhile
            yield locked
    except _RevokedMeanwhile:
        policy.require_case(user, case.pk, action)  # records the 404 or 403 as it is now
        raise policy.deny(user, status=403, object_type="cases.Case", object_id=case.pk,
                          case_id=case.pk, youth_id=case.youth_id,
                          purpose=action.value) from None


def _errors(errors: dict) -> None:
    if errors:
        raise ValidationError(errors)


def _identity(value: str, errors: dict, field: str = "personnummer") -> IdentityNumber | None:
    try:
        return parse(value)
    except InvalidIdentityNumber as exc:
        errors[field] = [str(exc)]
        return None


def _person_fields(data: dict, errors: dict) -> dict:
    cleaned = {}
    for field, label, limit, required in (
        ("first_name", _("Förnamn"), 100, True),
        ("last_name", _("Efternamn"), 100, True),
        ("address", _("Adress"), 200, False),
        ("phone", _("Telefon"), 40, False),
    ):
        value = (data.get(field) or "").strip()
        if required and not value:
            errors[field] = [_("%(label)s måste fyllas i.") % {"label": label}]
        elif len(value) > limit:
            errors[field] = [
                _("%(label)s får vara högst %(max)d tecken.") % {"label": label, "max": limit}
            ]
        cleaned[field] = value
    return cleaned


def _check_version(case: Case, expected_version) -> None:
    if expected_version is None:
        return
    try:
        expected = int(expected_version)
    except (TypeError, ValueError):
        raise ValidationError({"version": [_("Versionen ska vara ett heltal.")]}) from None
    if expected != case.version:
        raise StaleVersion()


def _bump(case: Case) -> None:
    case.version += 1
    case.save(update_fields=["version"])


def _record(user, action, obj, case: Case, **extra):
    audit.record_about(obj, action=action, actor=user, case_id=case.pk,
                       youth_id=case.youth_id, **extra)


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
            if same_person.filter(status=Case.Status.OPEN).exists():
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
            _record(user, Action.CREATE, youth, case)
            _record(user, Action.CREATE, case, case)
    except ValidationError as exc:
        if exc is not duplicate:
            raise
        existing = same_person.filter(status=Case.Status.OPEN).first()
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
    case = policy.require_case(user, case_id, policy.CaseAction.MANAGE)
    with _locked_case(user, case, policy.CaseAction.MANAGE) as case:
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


def item_fields(user, case: Case, *, category: str, statutory_basis: str = "",
                statutory_recipient: int | None = None, errors: dict) -> dict:
    """The fields every case item has (``CaseItem``), checked for the author ``user``:
    the author's organisation is the source; a statutory basis lets the item reach one
    other organisation of the team, the recipient the basis names; without one the item
    stays with its own organisation unless the consent allows more. Problems go into
    ``errors`` by field name; the values for ``Model.objects.create`` are returned."""
    statutory_basis = (statutory_basis or "").strip()
    recipient = None if statutory_recipient in (None, "") else statutory_recipient
    if statutory_basis and recipient is None:
        errors["statutory_recipient"] = [
            _("Ange vilken organisation i teamet lagstödet gäller (mottagaren).")]
    elif recipient is not None and not statutory_basis:
        errors["statutory_basis"] = [
            _("Ange lagstödet för att lämna uppgiften till en annan organisation.")]
    elif recipient is not None:
        try:
            recipient = int(recipient)
        except (TypeError, ValueError):
            recipient = 0
        if recipient == user.organisation_id or recipient not in case.team_organisation_ids():
            errors["statutory_recipient"] = [
                _("Mottagaren måste vara en annan organisation i ärendets team.")]
    if category not in Category.values:
        errors["category"] = [_("Okänd kategori. Välj en av: %(choices)s.")
                              % {"choices": ", ".join(Category.values)}]
    if len(statutory_basis) > 200:
        errors["statutory_basis"] = [_("Lagstödet får vara högst 200 tecken.")]
    return {"author": user, "source_org": user.organisation, "category": category,
            "statutory_basis": statutory_basis or None, "statutory_recipient_id": recipient}


def entry_add(*, user, case_id, category: str, text: str, statutory_basis: str = "",
              statutory_recipient: int | None = None) -> Entry:
    case = policy.require_case(user, case_id, policy.CaseAction.ADD_ENTRY)
    errors: dict = {}
    fields = item_fields(user, case, category=category, statutory_basis=statutory_basis,
                         statutory_recipient=statutory_recipient, errors=errors)
    text = (text or "").strip()
    if not text:
        errors["text"] = [_("Texten måste fyllas i.")]
    elif len(text) > ENTRY_TEXT_MAX_LENGTH:
        errors["text"] = [_("Texten får vara högst %(max)d tecken (nu %(n)d).")
                          % {"max": ENTRY_TEXT_MAX_LENGTH, "n": len(text)}]
    _errors(errors)
    with _locked_case(user, case, policy.CaseAction.ADD_ENTRY) as case:
        entry = Entry.objects.create(case=case, text=text, **fields)
        _record(user, Action.CREATE, entry, case)
    return entry


def case_update(*, user, case_id, area: str, expected_version) -> Case:
    case = policy.require_case(user, case_id, policy.CaseAction.MANAGE)
    area = (area or "").strip()
    if area and area not in case.municipality.areas:
        raise ValidationError({"area": [_("Okänt område. Välj ett av kommunens områden.")]})
    if expected_version in (None, ""):
        raise ValidationError({"version": [_("Versionen saknas.")]})
    with _locked_case(user, case, policy.CaseAction.MANAGE) as case:
        _check_version(case, expected_version)
        case.area = area
        case.version += 1
        case.save(update_fields=["area", "version"])
        _record(user, Action.UPDATE, case, case)
    return case


def sole_lead_refusal(account) -> str | None:
    """An account that alone leads open cases keeps its role and organisation until
    another coordinator has joined those cases: otherwise nobody could manage them."""
    leads = CaseMember.objects.filter(removed_at__isnull=True,
                                      role_in_case=CaseMember.CaseRole.LEAD)
    alone = Case.objects.filter(
        status=Case.Status.OPEN, pk__in=leads.filter(user=account).values("case_id"),
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
