"""Recording and withdrawing consent. Grants are never edited: a change is a new
grant, a withdrawal a stamp. Each write asks the policy, validates every field before
anything is written, and records its event in the same transaction."""

from __future__ import annotations

import calendar
import hashlib
from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

import audit
from audit.changes import actor as change_actor
from audit.models import Action
from cases import policy
from cases.models import Guardian
from consent import rules
from consent.models import ConsentDocument, ConsentGrant
from consent.rules import CATEGORIES
from sspf.models import Organisation

PURPOSE_MAX = 1000
# A grant covers two or more of the case's partner organisations: the SSPF partners and
# the coordination, never another unit of the municipality (its auditors, its analysts).
PARTNER_KINDS = (
    Organisation.Kind.SOCIAL_SERVICES,
    Organisation.Kind.SCHOOL,
    Organisation.Kind.LEISURE,
    Organisation.Kind.POLICE,
    Organisation.Kind.COORDINATION,
)


def add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def grant_record(
    *,
    user,
    case_id,
    giver_type: str,
    guardian_id=None,
    organisations,
    categories,
    purpose: str,
    form: str,
    given_on: date | None = None,
    valid_until: date | None = None,
) -> ConsentGrant:
    """A new grant. Only while the case is open (like a new member or guardian); a
    withdrawal stays possible after closure."""
    case = policy.require_case(user, case_id, policy.CaseAction.NEW_CONSENT)
    errors: dict = {}
    today = timezone.localdate()
    guardian = None
    if giver_type == ConsentGrant.GiverType.GUARDIAN:
        guardian = (
            Guardian.objects.filter(pk=guardian_id, youth_id=case.youth_id).first()
            if str(guardian_id or "").isdigit() and int(guardian_id) <= policy.MAX_ID
            else None
        )
        if guardian is None:
            errors["giver"] = [_("Givaren är inte vårdnadshavare för den unge i ärendet.")]
        elif not guardian.custodian:
            # Only custody gives the right to consent for the child (FB 6 kap. 11 §); a
            # parent without custody is registered for contact, not for consent.
            errors["giver"] = [
                _("Föräldern har inte vårdnaden om den unge och kan inte lämna samtycke.")
            ]
        elif (case.youth.birth_date is not None
              and rules.age_on(case.youth.birth_date, today) >= rules.ADULT_AGE):
            # Custody ends at 18 (FB 6 kap. 2 §); from then the young person alone consents.
            errors["giver"] = [
                _("Den unge har fyllt %(age)d år. Då lämnar den unge själv samtycket, inte "
                  "vårdnadshavarna.") % {"age": rules.ADULT_AGE}
            ]
    elif giver_type != ConsentGrant.GiverType.YOUTH:
        errors["giver"] = [_("Givaren ska vara den unge eller en vårdnadshavare.")]

    found = _organisations(case, organisations, errors)

    categories = list(dict.fromkeys(categories or []))
    unknown = [c for c in categories if c not in CATEGORIES]
    if unknown or not categories:
        errors["categories"] = [
            _("Välj en eller flera av kategorierna: %(choices)s.")
            % {"choices": ", ".join(CATEGORIES)}
        ]
    purpose = (purpose or "").strip()
    if not purpose:
        errors["purpose"] = [_("Ange syftet med samtycket.")]
    elif len(purpose) > PURPOSE_MAX:
        errors["purpose"] = [_("Syftet får vara högst %(max)d tecken.") % {"max": PURPOSE_MAX}]
    if form not in ConsentGrant.Form.values:
        errors["form"] = [_("Formen ska vara skriftligt eller muntligt.")]
    months = case.municipality.consent_validity_months
    earliest = add_months(today, -months)  # given earlier, it cannot be in force today
    given_on = given_on or today
    if given_on > today:
        errors["given_on"] = [_("Samtycket kan inte vara lämnat i framtiden.")]
    elif given_on < earliest:
        errors["given_on"] = [
            _("Ett samtycke gäller högst %(months)d månader i kommunen, så ett samtycke "
              "lämnat före %(day)s har redan gått ut.")
            % {"months": months, "day": earliest.isoformat()}
        ]
    elif giver_type == ConsentGrant.GiverType.YOUTH and "giver" not in errors:
        _check_youth_of_age(case, given_on, today, errors)
    # The last valid day is judged against the day given; a refused day gives none.
    if "given_on" not in errors:
        longest = add_months(given_on, months)
        valid_until = valid_until or longest
        if valid_until > longest:
            errors["valid_until"] = [
                _("Ett samtycke gäller högst %(months)d månader i kommunen (till och med "
                  "%(day)s).") % {"months": months, "day": longest.isoformat()}
            ]
        elif valid_until < given_on:
            errors["valid_until"] = [
                _("Slutdatum kan inte ligga före datumet då samtycket lämnades.")]
        elif valid_until < today:
            errors["valid_until"] = [
                _("Giltighetstiden har redan gått ut. Ett samtycke som inte längre gäller kan "
                  "inte registreras.")
            ]
    if errors:
        raise ValidationError(errors)

    with change_actor(user), transaction.atomic():
        grant = ConsentGrant.objects.create(
            case=case,
            giver_type=giver_type,
            guardian=guardian,
            categories=categories,
            purpose=purpose,
            form=form,
            given_on=given_on,
            valid_until=valid_until,
            recorded_by=user,
        )
        # Before the event: the database closes a grant's organisations once its
        # recording is audited (consent/triggers.py).
        grant.organisations.set(found)
        audit.record_about(
            grant,
            action=Action.CONSENT_GIVEN,
            actor=user,
            case_id=case.pk,
            youth_id=case.youth_id,
        )
    return grant


def organisation_in_grants(organisation: Organisation) -> str | None:
    """A grant names its organisations for good: one named in a grant stays in the
    municipality whose young people gave it."""
    if ConsentGrant.objects.filter(organisations=organisation).exists():
        return _("Organisationen ingår i samtycken i kommunens ärenden och kan därför inte "
                 "byta kommun.")
    return None


def partner_organisations(case) -> QuerySet[Organisation]:
    """The organisations a grant in this case may name: the partners of the case's
    municipality."""
    return Organisation.objects.filter(municipality_id=case.municipality_id,
                                       kind__in=PARTNER_KINDS)


def _organisations(case, values, errors: dict) -> list[Organisation]:
    """The partner organisations named by id; an error under "organisations" if one is
    not such an organisation or fewer than two are named."""
    org_ids = set()
    for value in values or []:
        try:
            org_ids.add(int(value))
        except (TypeError, ValueError):
            errors["organisations"] = [_("Organisationerna anges med sina id-nummer.")]
            return []
    # An id no row can have is an unknown organisation; it must not reach a bigint column.
    found = list(Organisation.objects.filter(
        pk__in=[i for i in org_ids if 0 < i <= policy.MAX_ID],
        municipality_id=case.municipality_id))
    if len(found) != len(org_ids):
        errors["organisations"] = [_("Minst en organisation hör inte till ärendets kommun.")]
    elif any(o.kind not in PARTNER_KINDS for o in found):
        errors["organisations"] = [
            _("Ett samtycke kan bara omfatta ärendets samverkansparter (%(kinds)s); minst en "
              "vald organisation är ingen av dem.")
            % {"kinds": ", ".join(str(Organisation.Kind(k).label) for k in PARTNER_KINDS)}
        ]
    elif len(found) < 2:
        errors["organisations"] = [_("Välj minst två organisationer som får dela.")]
    return found


def _check_youth_of_age(case, given_on: date, today: date, errors: dict) -> None:
    """The young person's own consent is asked for from the municipality's own-consent
    age; one given earlier is not that consent, and would otherwise count as the
    required one once they reach the age. Except when the young person's own latest
    grant is withdrawn: that withdrawal binds whatever their age (consent.rules), and only
    a new grant of theirs lifts it."""
    own_age = case.municipality.own_consent_age
    birth_date = case.youth.birth_date
    if _youth_withdrawal_stands(case):
        return
    if birth_date is None:
        errors["giver"] = [
            _("Den unges födelsedatum är okänt, så det går inte att avgöra om hen kan "
              "lämna eget samtycke.")
        ]
    elif rules.age_on(birth_date, today) < own_age:
        errors["giver"] = [
            _("Den unge lämnar eget samtycke först från %(age)d års ålder. Till dess "
              "lämnar vårdnadshavarna samtycket.") % {"age": own_age}
        ]
    elif rules.age_on(birth_date, given_on) < own_age:
        errors["given_on"] = [
            _("Den unge hade inte fyllt %(age)d år det datumet. Den unges eget samtycke "
              "räknas först från den åldern; registrera ett samtycke som lämnats sedan dess.")
            % {"age": own_age}
        ]


def _youth_withdrawal_stands(case) -> bool:
    latest = (ConsentGrant.objects.filter(case=case, giver_type=ConsentGrant.GiverType.YOUTH)
              .order_by("-id").values("withdrawn_at").first())
    return latest is not None and latest["withdrawn_at"] is not None


def require_grant(user, grant_id, action=policy.CaseAction.RECORD_CONSENT) -> ConsentGrant:
    """The grant, if the user may do ``action`` (record consent, by default) on its
    case; else a recorded 404/403 (409 for a write to a closed case). A missing grant and
    one in a case the user does not see answer alike."""
    return policy.require_case_object(user, ConsentGrant, grant_id, action)


def withdrawal_refusal(grant: ConsentGrant, *, now=None) -> str | None:
    """Why this grant cannot be withdrawn, or None. A withdrawal is the giver's: it
    stamps their current grant, the one that decides what they allow now."""
    now = timezone.localtime(now)
    if grant.withdrawn_at is not None:
        return _("Samtycket är redan återkallat.")
    latest_id = (
        ConsentGrant.objects.filter(case_id=grant.case_id, giver_type=grant.giver_type,
                                    guardian_id=grant.guardian_id)
        .order_by("-id").values_list("pk", flat=True).first()
    )
    if latest_id != grant.pk:
        return _("Samtycket har ersatts av ett senare samtycke från samma givare. "
                 "Återkalla givarens senaste samtycke i stället.")
    if grant.valid_until < now.date():
        return _("Samtycket har redan gått ut och gäller inte längre.")
    return None


def grant_withdraw(*, user, grant_id, reason: str) -> ConsentGrant:
    grant = require_grant(user, grant_id)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [_("Ange skälet till återkallelsen.")]})
    if len(reason) > PURPOSE_MAX:
        raise ValidationError(
            {"reason": [_("Skälet får vara högst %(max)d tecken.") % {"max": PURPOSE_MAX}]}
        )
    with change_actor(user), transaction.atomic():
        grant = ConsentGrant.objects.select_for_update().select_related("case").get(pk=grant.pk)
        refusal = withdrawal_refusal(grant)
        if refusal is not None:
            # Named "grant": what is wrong is the grant chosen, not the reason given.
            raise ValidationError({"grant": [refusal]})
        grant.withdrawn_at = timezone.now()
        grant.withdrawn_by = user
        grant.withdrawal_reason = reason
        grant.save(update_fields=["withdrawn_at", "withdrawn_by", "withdrawal_reason"])
        audit.record_about(
            grant,
            action=Action.CONSENT_WITHDRAWN,
            actor=user,
            case_id=grant.case_id,
            youth_id=grant.case.youth_id,
        )
    return grant


DOCUMENT_MAX_BYTES = 10 * 1024 * 1024
DOCUMENT_TOO_LARGE = gettext_lazy("Filen är större än 10 MB.")
# Recognised by their first bytes, not by what the browser claims.
DOCUMENT_SIGNATURES = (
    (b"%PDF-", "application/pdf", "pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
)


def document_kind(data: bytes) -> tuple[str, str] | None:
    for magic, content_type, extension in DOCUMENT_SIGNATURES:
        if data.startswith(magic):
            return content_type, extension
    return None


def document_attach(*, user, grant_id, data: bytes) -> ConsentDocument:
    # A closed case is read-only: its forms are kept, a new one is not taken.
    grant = require_grant(user, grant_id, policy.CaseAction.NEW_CONSENT)
    if not data:
        raise ValidationError({"document": [_("Välj en fil att ladda upp.")]})
    if len(data) > DOCUMENT_MAX_BYTES:
        raise ValidationError({"document": [DOCUMENT_TOO_LARGE]})
    kind = document_kind(data)
    if kind is None:
        raise ValidationError({"document": [_("Filen ska vara en PDF eller en bild (PNG, JPEG).")]})
    with change_actor(user), transaction.atomic():
        if ConsentDocument.objects.filter(grant=grant).exists():
            raise ValidationError(
                {
                    "document": [
                        _(
                            "Samtycket har redan en blankett. "
                            "Registrera ett nytt samtycke vid ändring."
                        )
                    ]
                }
            )
        document = ConsentDocument.objects.create(
            grant=grant,
            content_type=kind[0],
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            data=data,
            uploaded_by=user,
        )
        audit.record_about(
            document,
            action=Action.CREATE,
            actor=user,
            case_id=grant.case_id,
            youth_id=grant.case.youth_id,
        )
    return document


def document_read(*, user, grant_id) -> tuple[ConsentDocument, str]:
    """The document and a file extension, for those who record consent on the case; the
    read is recorded. The signed form shows names and signatures, so the team at large
    does not get it."""
    grant = require_grant(user, grant_id)
    with transaction.atomic():
        document = ConsentDocument.objects.filter(grant=grant).first()
        if document is not None:
            audit.record_about(
                document,
                action=Action.VIEW,
                actor=user,
                case_id=grant.case_id,
                youth_id=grant.case.youth_id,
            )
    if document is None:
        raise policy.deny(
            user,
            status=404,
            object_type="consent.ConsentDocument",
            object_id=grant.pk,
            case_id=grant.case_id,
            purpose="no signed form",
        )
    return document, document_kind(document.data)[1]


def erase_for_cases(case_ids: list[int]) -> None:
    """Gallring's part in consent: the signed forms, the grants' organisations and the
    grants of cases being erased. Called by cases/services/gallring.py after the
    erasure is recorded, which the tables' guards require (consent/triggers.py)."""
    grants = ConsentGrant.objects.filter(case_id__in=case_ids)
    ConsentDocument.objects.filter(grant__in=grants).delete()
    ConsentGrant.organisations.through.objects.filter(consentgrant__in=grants).delete()
    grants.delete()
