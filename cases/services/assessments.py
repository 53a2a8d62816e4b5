"""Kartläggning: versions of the assessment of risk and protective factors. Each
version is a case item of the organisation that made it, in that organisation's
category, so consent gates it like an entry; a new version is numbered after the
case's last and never changes an earlier one."""

from __future__ import annotations

from datetime import date, timedelta

from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.models import Action
from cases import policy
from cases.models import (
    FACTOR_NOTE_MAX_LENGTH,
    Assessment,
    Category,
    Domain,
    Factor,
    FactorKind,
    Level,
)
from cases.services._base import _errors, _locked_case, _record, text_field
from cases.services.entries import item_fields

MAX_FACTORS = len(Domain) * len(FactorKind)
# A kartläggning may have been made shortly before the case was opened (from the
# signal); a date long before that is a typing error.
EARLIEST_BEFORE_OPENING = timedelta(days=90)


def _factors(values, errors: dict) -> list[dict]:
    """The factor rows, checked; a problem names its row (1-based) in ``factors``."""
    if not isinstance(values, list | tuple) or not values:
        errors["factors"] = [_("Ange minst en faktor.")]
        return []
    if len(values) > MAX_FACTORS:
        errors["factors"] = [_("Högst %(n)d faktorer: en risk- och en skyddsfaktor per "
                               "område.") % {"n": MAX_FACTORS}]
        return []
    rows, seen, problems = [], set(), []
    for n, value in enumerate(values, start=1):
        value = value if isinstance(value, dict) else {}
        codes = {k: value.get(k) for k in ("domain", "kind", "level")}
        for key, choices, label in (("domain", Domain, _("Livsområdet")),
                                    ("kind", FactorKind, _("Typen")),
                                    ("level", Level, _("Nivån"))):
            if codes[key] not in choices.values:
                problems.append(_("Rad %(n)d: %(what)s saknas eller är okänt. Välj bland: "
                                  "%(choices)s.") % {
                    "n": n, "what": label,
                    "choices": ", ".join(f"{c} ({label_})" for c, label_ in choices.choices)})
        domain, kind, level = codes["domain"], codes["kind"], codes["level"]
        if domain in Domain.values and kind in FactorKind.values:
            if (domain, kind) in seen:
                problems.append(_("Rad %(n)d: %(domain)s har redan en %(kind)s i versionen.")
                                % {"n": n, "domain": Domain(domain).label,
                                   "kind": str(FactorKind(kind).label).lower()})
            seen.add((domain, kind))
        note = value.get("note") or ""
        if not isinstance(note, str):
            problems.append(_("Rad %(n)d: kommentaren ska vara text.") % {"n": n})
            note = ""
        note_errors: dict = {}
        note = text_field(note, note_errors, field="note", label=_("Kommentaren"),
                          limit=FACTOR_NOTE_MAX_LENGTH, required=False)
        problems += [_("Rad %(n)d: %(problem)s") % {"n": n, "problem": p}
                     for p in note_errors.get("note", [])]
        rows.append({"domain": domain, "kind": kind, "level": level, "note": note})
    if problems:
        errors["factors"] = problems
    return rows


def assessment_add(*, user, case_id, made_on: date | None, factors) -> Assessment:
    case = policy.require_case(user, case_id, policy.CaseAction.ADD_ASSESSMENT)
    errors: dict = {}
    fields = item_fields(user, case, category=Category.of_organisation(user.organisation),
                         errors=errors)
    if made_on is None:
        errors["made_on"] = [_("Ange datum för kartläggningen.")]
    elif made_on > timezone.localdate():
        errors["made_on"] = [_("Datumet kan inte ligga i framtiden.")]
    elif made_on < case.opened_at - EARLIEST_BEFORE_OPENING:
        errors["made_on"] = [_("Datumet ligger långt före ärendet öppnades (%(day)s). "
                               "Kontrollera det.") % {"day": case.opened_at.isoformat()}]
    rows = _factors(factors, errors)
    _errors(errors)
    with _locked_case(user, case, policy.CaseAction.ADD_ASSESSMENT) as case:
        last = Assessment.objects.filter(case=case).aggregate(n=Max("number"))["n"] or 0
        assessment = Assessment.objects.create(case=case, number=last + 1, made_on=made_on,
                                               **fields)
        for row in rows:
            Factor.objects.create(assessment=assessment, **row)
        _record(user, Action.CREATE, assessment, case)
        # Its place among the versions the author sees (the newest of them).
        assessment.version = policy.visible_items(user, case, Assessment).count()
    return assessment
