"""What every case service shares: the locked write, field errors, versions, events."""

from __future__ import annotations

from contextlib import contextmanager

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

import audit
from audit.changes import actor as change_actor
from cases import policy
from cases.models import Case
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


def text_field(value, errors: dict, *, field: str, label: str, limit: int,
               required: bool) -> str:
    """A free-text value stripped and checked: required, and at most ``limit``
    characters; a problem goes into ``errors`` under ``field``."""
    value = (value or "").strip()
    if required and not value:
        errors[field] = [_("%(label)s måste fyllas i.") % {"label": label}]
    elif len(value) > limit:
        errors[field] = [_("%(label)s får vara högst %(max)d tecken (nu %(n)d).")
                         % {"label": label, "max": limit, "n": len(value)}]
    return value


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
