"""Signals of concern (orosignaler) and their triage.

Raising a signal gives the reporter no access to any case, and the answer to raising
one is the same whether the young person is unknown, known or in an open case: the
reporter afterwards sees only the signal's status. The municipality's coordinators
triage: open a case from the signal, attach it to an open case they lead, or dismiss
it with a reason. A signal taken up is an item of its case (``Signal`` is a
``CaseItem``): from the reporter's organisation, in that organisation's category, so
consent gates it like an entry; with a report of concern under SoL 14 kap. 1 § it
carries that statutory basis, naming the municipality's social services."""

from __future__ import annotations

from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

import audit
from audit.changes import actor as change_actor
from audit.models import Action
from cases import policy
from cases.models import (
    SIGNAL_TEXT_MAX_LENGTH,
    STATUS_REASON_MAX_LENGTH,
    Case,
    Category,
    Concern,
    Signal,
    Youth,
)
from cases.selectors import PNR_INDEX
from cases.services._base import _bump, _errors, _identity, _locked_case, text_field
from cases.services.cases import CaseReferred, _answer_duplicate, case_create
from cases.services.facts import refresh_facts
from sspf.crypto import blind_index
from sspf.models import Organisation

# SoL = socialtjänstlagen (2001:453); 14 kap. 1 § obliges schools, police and others
# to report to social services what may mean a child needs its protection.
REPORT_OF_CONCERN_BASIS = "Orosanmälan enligt 14 kap. 1 § SoL"


class TriageAction:
    OPEN_CASE = "open_case"
    ATTACH = "attach"
    DISMISS = "dismiss"
    ALL = (OPEN_CASE, ATTACH, DISMISS)


def _concerns(values, errors: dict) -> list[str]:
    if isinstance(values, str):
        values = [values]
    codes = []
    for value in values or []:
        code = str(value).strip()
        if code not in Concern.values:
            errors["concerns"] = [_("Okänd kod: %(code)s. Välj bland: %(choices)s.")
                                  % {"code": code[:40], "choices": ", ".join(Concern.values)}]
            return []
        if code not in codes:
            codes.append(code)
    if not codes:
        errors["concerns"] = [_("Välj minst ett område som oron gäller.")]
    return codes


def signal_raise(*, user, concerns, text: str, personnummer: str = "", first_name: str = "",
                 last_name: str = "", school: str = "", report_of_concern_made: bool = False,
                 report_of_concern_date: date | None = None,
                 protected_identity: bool = False) -> Signal:
    """Record a signal about a young person, known or not."""
    if not policy.may_raise_signal(user):
        raise policy.deny(user, status=403, object_type="cases.Signal", object_id=None,
                          purpose="create")
    municipality = user.organisation.municipality
    errors: dict = {}
    personnummer = (personnummer or "").strip()
    number = _identity(personnummer, errors) if personnummer else None
    first_name = text_field(first_name, errors, field="first_name", label=_("Förnamn"),
                            limit=100, required=False)
    last_name = text_field(last_name, errors, field="last_name", label=_("Efternamn"),
                           limit=100, required=False)
    school = text_field(school, errors, field="school", label=_("Skola"), limit=150,
                        required=False)
    if not personnummer and not (first_name and last_name):
        errors["personnummer"] = [_(
            "Ange den unges personnummer, eller förnamn och efternamn när numret inte är "
            "känt.")]
    codes = _concerns(concerns, errors)
    text = text_field(text, errors, field="text", label=_("Beskrivningen"),
                      limit=SIGNAL_TEXT_MAX_LENGTH, required=True)
    made = bool(report_of_concern_made)
    if report_of_concern_date and report_of_concern_date > timezone.localdate():
        errors["report_of_concern_date"] = [_("Datumet för orosanmälan kan inte ligga i "
                                              "framtiden.")]
    elif report_of_concern_date and not made:
        errors["report_of_concern_made"] = [_("Ange att en orosanmälan gjorts, eller lämna "
                                              "datumet tomt.")]
    elif made and not report_of_concern_date:
        errors["report_of_concern_date"] = [_("Ange när orosanmälan gjordes.")]
    _errors(errors)
    index = blind_index(number.normalised, purpose=PNR_INDEX) if number else ""
    with change_actor(user), transaction.atomic():
        # A protected identity already registered is kept, silently: the reporter's
        # answer does not change with what the municipality knows.
        protected = bool(protected_identity) or (bool(index) and Youth.objects.filter(
            municipality=municipality, personnummer_index=index,
            protected_identity=True).exists())
        signal = Signal.objects.create(
            municipality=municipality, author=user, source_org=user.organisation,
            category=Category.of_organisation(user.organisation),
            personnummer=number.formatted if number else "", personnummer_index=index,
            first_name=first_name, last_name=last_name, school=school, concerns=codes,
            text=text, report_of_concern_made=made,
            report_of_concern_date=report_of_concern_date if made else None,
            protected_identity=protected,
        )
        audit.record_about(signal, action=Action.CREATE, actor=user)
    return signal


def signal_triage(*, user, signal_id, action: str, case_id=None, reason: str = "",
                  personnummer: str = "", first_name: str = "",
                  last_name: str = "") -> Signal:
    """Take a new signal up into a new case or an open one, or dismiss it. ``personnummer``
    and the names complete a signal that lacks them when a case is opened from it."""
    signal = policy.require_signal(user, signal_id, triage=True)
    if action not in TriageAction.ALL:
        raise ValidationError({"action": [_("Okänd åtgärd. Välj en av: %(choices)s.")
                                          % {"choices": ", ".join(TriageAction.ALL)}]})
    _still_new(signal)
    if action == TriageAction.DISMISS:
        return _dismiss(user, signal, reason)
    if action == TriageAction.ATTACH:
        return _attach(user, signal, case_id)
    return _open_case(user, signal, personnummer=personnummer, first_name=first_name,
                      last_name=last_name)


def _still_new(signal: Signal) -> None:
    if signal.status != Signal.Status.NEW:
        raise ValidationError({"action": [
            _("Signalen är redan hanterad (%(status)s).")
            % {"status": signal.get_status_display().lower()}]})


def _locked_signal(signal: Signal) -> Signal:
    locked = Signal.objects.select_for_update().get(pk=signal.pk)
    _still_new(locked)
    return locked


def _dismiss(user, signal: Signal, reason: str) -> Signal:
    errors: dict = {}
    reason = text_field(reason, errors, field="reason", label=_("Skälet"),
                        limit=STATUS_REASON_MAX_LENGTH, required=True)
    _errors(errors)
    with change_actor(user), transaction.atomic():
        signal = _locked_signal(signal)
        signal.status = Signal.Status.DISMISSED
        signal.dismissal_reason = reason
        signal.triaged_by, signal.triaged_at = user, timezone.now()
        signal.save(update_fields=["status", "dismissal_reason", "triaged_by", "triaged_at"])
        audit.record_about(signal, action=Action.UPDATE, actor=user,
                           purpose="triage: dismissed")
    return signal


def _case_to_attach(user, case_id) -> Case:
    """The open case the signal goes to: one the coordinator leads in their
    municipality. Another municipality's case, or one not led by them, gets the same
    field error as none (the attempt is recorded as a denial); a closed one its 409."""
    missing = ValidationError({"case": [
        _("Det finns inget öppet ärende med det numret som du är samordnare för.")]})
    if case_id in (None, ""):
        raise ValidationError({"case": [_("Ange vilket ärende signalen ska kopplas till.")]})
    try:
        return policy.require_case(user, case_id, policy.CaseAction.ATTACH_SIGNAL)
    except (policy.NotVisible, policy.Forbidden):
        raise missing from None


def _attach(user, signal: Signal, case_id) -> Signal:
    case = _case_to_attach(user, case_id)
    if signal.personnummer_index and signal.personnummer_index != case.youth_index:
        raise ValidationError({"case": [
            _("Signalens personnummer hör inte till ärendets ungdom.")]})
    with _locked_case(user, case, policy.CaseAction.ATTACH_SIGNAL) as case:
        signal = _take_up(user, _locked_signal(signal), case)
    return signal


def _open_case(user, signal: Signal, *, personnummer: str, first_name: str,
               last_name: str) -> Signal:
    policy.require_create_case(user)
    errors: dict = {}
    number = _identity(signal.personnummer or (personnummer or "").strip(), errors) \
        if signal.personnummer or (personnummer or "").strip() else None
    if number is None and "personnummer" not in errors:
        errors["personnummer"] = [_("Signalen saknar personnummer. Ange den unges "
                                    "personnummer för att öppna ett ärende.")]
    first = signal.first_name or (first_name or "").strip()
    last = signal.last_name or (last_name or "").strip()
    for field, value, label in (("first_name", first, _("förnamn")),
                                ("last_name", last, _("efternamn"))):
        if not value:
            errors[field] = [_("Signalen saknar %(label)s. Ange det för att öppna ett "
                               "ärende.") % {"label": label}]
    _errors(errors)
    # An open case of the same person is answered as opening a case answers it (the
    # caller on its team is told which, anyone else learns nothing and the lead is
    # told), before anything is written; the signal stays new.
    index = blind_index(number.normalised, purpose=PNR_INDEX)
    existing = _open_case_of(signal, index)
    if existing is not None:
        try:
            _answer_duplicate(user, existing)
        except ValidationError as exc:
            raise ValidationError({"action": exc.message_dict["personnummer"] + [
                _("Koppla signalen till det ärendet i stället.")]}) from None
    try:
        with transaction.atomic():
            case = case_create(user=user, personnummer=number.formatted, first_name=first,
                               last_name=last, protected_identity=signal.protected_identity)
            with _locked_case(user, case, policy.CaseAction.ATTACH_SIGNAL) as case:
                signal = _take_up(user, _locked_signal(signal), case)
    except (CaseReferred, ValidationError):
        # A case of the person opened since the check above: what case_create recorded
        # went with the rollback, so the answer is given again, outside it.
        existing = _open_case_of(signal, index)
        if existing is None:
            raise
        _answer_duplicate(user, existing)
    return signal


def _open_case_of(signal: Signal, index: str) -> Case | None:
    return Case.objects.filter(municipality_id=signal.municipality_id, youth_index=index
                               ).exclude(status=Case.Status.CLOSED).first()


def _take_up(user, signal: Signal, case: Case) -> Signal:
    """Make a locked new signal an item of a locked open case."""
    signal.case = case
    signal.status = Signal.Status.TAKEN_UP
    signal.triaged_by, signal.triaged_at = user, timezone.now()
    # A protected identity is only ever added: from the signal to the young person (the
    # reporter knew it) and from the young person to the signal.
    if signal.protected_identity:
        Youth.objects.filter(pk=case.youth_id, protected_identity=False).update(
            protected_identity=True)
    else:
        signal.protected_identity = Youth.objects.filter(
            pk=case.youth_id, protected_identity=True).exists()
    fields = ["case", "status", "triaged_by", "triaged_at", "protected_identity"]
    if signal.report_of_concern_made:
        signal.statutory_basis = (f"{REPORT_OF_CONCERN_BASIS} "
                                  f"({signal.report_of_concern_date:%Y-%m-%d})")
        signal.statutory_recipient = Organisation.objects.filter(
            municipality_id=case.municipality_id, kind=Organisation.Kind.SOCIAL_SERVICES,
        ).order_by("pk").first()
        fields += ["statutory_basis", "statutory_recipient"]
    signal.save(update_fields=fields)
    _bump(case)
    refresh_facts(case)
    audit.record_about(signal, action=Action.UPDATE, actor=user, case_id=case.pk,
                       youth_id=case.youth_id, purpose="triage: taken up")
    return signal
