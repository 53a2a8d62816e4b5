"""Consent as the access policy sees it: the effective consent of a case now, and the
rule that lets entries cross organisation lines by it. Read on every request, so a
withdrawal or an expiry counts from the very next one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cases.models import Case, Guardian
from consent import rules
from consent.models import ConsentGrant


@dataclass(frozen=True)
class CaseConsent:
    # The givers whose grants decide (rules.binding_givers): those the settings require
    # now and those whose withdrawal still stands.
    required: list[rules.Giver]
    grants: list[rules.Grant]
    effective: rules.Scope | None
    now: datetime

    @property
    def gaps(self) -> list[str]:
        return rules.consent_gaps(required=self.required, grants=self.grants, now=self.now)

    def gap_labels(self) -> list[str]:
        return [str(GAP_LABELS[gap]) for gap in self.gaps]

    def current_required(self) -> dict[rules.Giver, rules.Grant]:
        """The latest grant of each giver who must consent now; what is reminded of and
        listed as expiring (a grant nobody needs ending is no news)."""
        latest = rules.latest_grants(self.grants, self.now)
        return {giver: latest[giver] for giver in self.required if giver in latest}


GAP_LABELS = {
    rules.MISSING: _("Samtycke saknas"),
    rules.WITHDRAWN: _("Samtycke har återkallats"),
    rules.EXPIRED: _("Samtycke har gått ut"),
    rules.NO_COMMON_SCOPE: _("Samtyckena har ingen gemensam omfattning – inget delas"),
}


def as_rule_grant(grant: ConsentGrant) -> rules.Grant:
    giver = (rules.Giver.youth() if grant.giver_type == ConsentGrant.GiverType.YOUTH
             else rules.Giver.guardian(grant.guardian_id))
    return rules.Grant(
        id=grant.pk, giver=giver,
        organisations=frozenset(o.pk for o in grant.organisations.all()),
        categories=frozenset(grant.categories),
        given_on=grant.given_on, valid_until=grant.valid_until,
        withdrawn_at=grant.withdrawn_at, recorded_at=grant.recorded_at,
    )


def case_consents(cases: list[Case], *, now: datetime | None = None) -> dict[int, CaseConsent]:
    """The consent situation of several cases in three queries (custodians, grants,
    the grants' organisations), whatever their number. Cases need youth and
    municipality loaded."""
    now = timezone.localtime(now)
    custodians: dict[int, list[int]] = {}
    for guardian_id, youth_id in Guardian.objects.filter(
            youth_id__in={c.youth_id for c in cases}, custodian=True
    ).values_list("pk", "youth_id"):
        custodians.setdefault(youth_id, []).append(guardian_id)
    grants: dict[int, list[rules.Grant]] = {}
    for grant in ConsentGrant.objects.filter(case__in=cases).prefetch_related("organisations"):
        grants.setdefault(grant.case_id, []).append(as_rule_grant(grant))
    result = {}
    for case in cases:
        required = []
        case_grants = grants.get(case.pk, [])
        if case.youth.birth_date is not None:
            required = rules.binding_givers(
                required=rules.required_givers(
                    birth_date=case.youth.birth_date,
                    custodian_ids=custodians.get(case.youth_id, []),
                    own_consent_age=case.municipality.own_consent_age,
                    on=now.date(),
                ),
                grants=case_grants, now=now,
                adult=rules.age_on(case.youth.birth_date, now.date()) >= rules.ADULT_AGE,
            )
        result[case.pk] = CaseConsent(
            required=required, grants=case_grants, now=now,
            effective=rules.effective_consent(required=required, grants=case_grants, now=now),
        )
    return result


def case_consent(case: Case, *, now: datetime | None = None) -> CaseConsent:
    return case_consents([case], now=now)[case.pk]


def items_crossing_by_consent(user, case: Case) -> Q:
    """Case items (any ``CaseItem`` type) from an organisation and of a category that the
    effective consent lets reach the user's organisation."""
    scope = case_consent(case).effective
    if scope is None or user.organisation_id not in scope.organisations:
        return Q(pk__in=[])
    return Q(source_org_id__in=scope.organisations, category__in=scope.categories)


def consent_covers(user, case: Case, category: str, sources: frozenset[int]) -> bool:
    """Whether the effective consent lets the case's information of ``category`` flow
    from one of the ``sources`` organisations to the user's organisation."""
    scope = case_consent(case).effective
    return (scope is not None and user.organisation_id in scope.organisations
            and bool(sources & scope.organisations) and category in scope.categories)


def consent_flags(cases: list[Case]) -> dict[int, list[str]]:
    """For open cases without an effective consent, why: missing, withdrawn, expired,
    or nothing in common; in a fixed number of queries."""
    open_cases = [c for c in cases if c.is_open]
    flags = {}
    for case_id, status in case_consents(open_cases).items():
        if status.effective is None:
            flags[case_id] = status.gap_labels()
    return flags
