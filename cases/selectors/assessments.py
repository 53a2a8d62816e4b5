"""Reads of the kartläggning: the versions the user may see (newest first), the latest
of them for the case page, and the comparison of any two."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.paginator import Page, Paginator
from django.db import transaction
from django.db.models import Prefetch, QuerySet
from django.utils.translation import gettext as _

import audit
from cases import policy
from cases.models import Assessment, Case, Domain, Factor, FactorKind, Level

PAGE_SIZE = 25


def _visible(user, case: Case, crosses=None) -> QuerySet[Assessment]:
    return policy.visible_items(user, case, Assessment, crosses=crosses).select_related(
        "source_org", "author").prefetch_related(
        Prefetch("factors", queryset=Factor.objects.order_by("domain", "kind")))


def _number(user, case: Case, assessments, crosses=None) -> None:
    """``assessment.version``: its place among the versions the user may see, oldest
    first, so a reader is not told of versions kept from them by gaps in the numbers."""
    order = {pk: n for n, pk in enumerate(_visible(user, case, crosses).order_by(
        "number").values_list("pk", flat=True), start=1)}
    for assessment in assessments:
        assessment.version = order[assessment.pk]


def _record(user, case: Case, assessments) -> None:
    audit.record_shown(assessments, actor=user, case_id=case.pk, youth_id=case.youth_id)


def assessment_page(*, user, case_id, page: int | str = 1, per_page: int = PAGE_SIZE) -> Page:
    case = policy.require_case(user, case_id)
    with transaction.atomic():
        result = Paginator(_visible(user, case).order_by("-number"), per_page).get_page(page)
        result.object_list = list(result.object_list)
        _number(user, case, result.object_list)
        result.case = case  # asked of the policy above; the page needs it
        _record(user, case, result.object_list)
    return result


def latest_assessment(user, case: Case, crosses=None) -> Assessment | None:
    """The newest version the user may see, for the case page (recorded by the caller
    with the rest of the page)."""
    latest = _visible(user, case, crosses).order_by("-number").first()
    if latest is not None:
        _number(user, case, [latest], crosses)
    return latest


@dataclass
class Change:
    domain: str
    kind: str
    before: str | None  # level, None when absent
    after: str | None

    @property
    def what(self) -> str:
        if self.before is None:
            return "appeared"
        if self.after is None:
            return "disappeared"
        rank = {level: i for i, level in enumerate(Level.values)}
        if rank[self.after] > rank[self.before]:
            return "rose"
        if rank[self.after] < rank[self.before]:
            return "fell"
        return "unchanged"

    @property
    def before_label(self) -> str:
        return str(Level(self.before).label).lower() if self.before else ""

    @property
    def after_label(self) -> str:
        return str(Level(self.after).label).lower() if self.after else ""

    @property
    def label(self) -> str:
        return f"{Domain(self.domain).label}: {FactorKind(self.kind).label.lower()}"


def compare(older: Assessment, newer: Assessment) -> list[Change]:
    """Every (domain, kind) rated in either version, with its level in each."""
    before = {(f.domain, f.kind): f.level for f in older.factors.all()}
    after = {(f.domain, f.kind): f.level for f in newer.factors.all()}
    order = {d: i for i, d in enumerate(Domain.values)}
    keys = sorted(before.keys() | after.keys(), key=lambda k: (order[k[0]], k[1]))
    return [Change(d, k, before.get((d, k)), after.get((d, k))) for d, k in keys]


def assessment_compare(*, user, case_id, first, second) -> tuple[Assessment, Assessment,
                                                                  list[Change]]:
    """Two versions the user may see (by ``version``, their place among those the user
    sees), older first, and what changed between them. A version the user may not see
    answers as one that does not exist."""
    case = policy.require_case(user, case_id)
    wanted = []
    for field, value in (("from", first), ("to", second)):
        try:
            wanted.append((field, int(value)))
        except (TypeError, ValueError):
            raise ValidationError({field: [_("Ange versionens nummer.")]}) from None
    with transaction.atomic():
        ids = list(_visible(user, case).order_by("number").values_list("pk", flat=True))
        for field, n in wanted:
            if not 1 <= n <= len(ids):
                raise ValidationError({field: [
                    _("Det finns ingen version %(n)d som du kan se.") % {"n": n}
                    if abs(n) < 10**9 else _("Ange versionens nummer.")]})
        found = {a.pk: a for a in _visible(user, case).filter(
            pk__in=[ids[n - 1] for _field, n in wanted])}
        older, newer = sorted(found.values(), key=lambda a: a.number) if len(found) == 2 \
            else [*found.values(), *found.values()]
        _number(user, case, [older, newer])
        _record(user, case, [older, newer] if older.pk != newer.pk else [older])
    return older, newer, compare(older, newer)
