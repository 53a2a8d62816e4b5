"""The anonymous facts of a case (``CaseFacts``), written by the services that change
what they hold: opening, the area, signals taken up, closure and reopening. Inside the
write's transaction, so the facts never disagree with the case."""

from __future__ import annotations

from datetime import date

from cases.models import AgeBand, Case, CaseFacts, Signal
from sspf.personnummer import age_on


def _month(day: date | None) -> date | None:
    return day.replace(day=1) if day else None


def refresh_facts(case: Case) -> CaseFacts:
    """Write the case's facts from the case as it is now; create the row the first
    time. Reads the young person's identity number only for the age band and sex."""
    facts = CaseFacts.objects.filter(pk=case.facts_id).first() if case.facts_id else None
    if facts is None:
        facts = CaseFacts(municipality_id=case.municipality_id, opened_month=case.opened_at)
    youth = case.youth
    born = youth.birth_date
    signals = list(Signal.objects.filter(case=case).values_list("concerns", "source_org__kind"))
    facts.municipality_id = case.municipality_id
    facts.area = case.area
    facts.opened_month = _month(case.opened_at)
    facts.closed_month = _month(case.closed_at)
    facts.closure_reason = case.closure_reason
    facts.age_band = AgeBand.of(age_on(born, case.opened_at)) if born else ""
    facts.gender = youth.gender or ""
    facts.concerns = sorted({code for concerns, _kind in signals for code in concerns})
    facts.signal_source_kinds = sorted({kind for _concerns, kind in signals})
    facts.save()
    if case.facts_id != facts.pk:
        case.facts = facts
        Case.objects.filter(pk=case.pk).update(facts=facts)
    return facts


def cases_without_facts() -> list[int]:
    """Cases opened before the facts existed; the daily gallring task fills them in."""
    return list(Case.objects.filter(facts__isnull=True).values_list("pk", flat=True))
