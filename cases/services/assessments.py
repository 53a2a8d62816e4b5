"""Kartläggning: versions of the assessment of risk and protective factors. Each
version is a case item of the organisation that made it, in that organisation's
category, so consent gates it like an entry; a new version is numbered after the
case's last and never changes an earlier one."""

from __future__ import annotations

from datetime import date

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
        domain, kind, level = (str(value.get(k) or "").strip()
                               for k in ("domain", "kind", "level"))
        for code, choices, label in ((domain, Domain, _("livsområde")),
                                     (kind, FactorKind, _("typ")), (level, Level, _("nivå"))):
            if code not in choices.values:
                problems.append(_("Rad %(n)d: okänd %(what)s %(code)s. Välj bland: "
                                  "%(choices)s.") % {"n": n, "what": label, "code": code[:30]
                                                     or "–", "choices": ", ".join(choices.values)})
        if (domain, kind) in seen:
            problems.append(_("Rad %(n)d: %(domain)s har redan en %(kind)s i versionen.")
                            % {"n": n, "domain": domain, "kind": kind})
        seen.add((domain, kind))
        note_errors: dict = {}
        note = text_field(value.get("note"), note_errors, field="note", label=_("Kommentaren"),
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
    rows = _factors(factors, errors)
    _errors(errors)
    with _locked_case(user, case, policy.CaseAction.ADD_ASSESSMENT) as case:
        last = Assessment.objects.filter(case=case).aggregate(n=Max("number"))["n"] or 0
        assessment = Assessment.objects.create(case=case, number=last + 1, made_on=made_on,
                                               **fields)
        for row in rows:
            Factor.objects.create(assessment=assessment, **row)
        _record(user, Action.CREATE, assessment, case)
    return assessment
