"""Entries, and the fields every case item shares."""

from __future__ import annotations

from django.utils.translation import gettext as _

from audit.models import Action
from cases import policy
from cases.models import ENTRY_TEXT_MAX_LENGTH, Case, Category, Entry
from cases.services._base import _errors, _locked_case, _record


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
