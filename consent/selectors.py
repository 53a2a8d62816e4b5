"""Reads of consent: a case's grants and its consent status, through the policy and
recorded like every read of personal data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

import audit
from audit.models import Action
from cases import policy
from cases.models import Case, Guardian
from cases.selectors import StartSection
from consent import enforcement, rules
from consent.models import ConsentDocument, ConsentGrant
from sspf.roles import Role


@dataclass
class ConsentOverview:
    case: Case
    grants: list[ConsentGrant]
    status: enforcement.CaseConsent
    guardians: dict[int, Guardian]
    may_record: bool
    documents: set[int]  # ids of the grants that have a signed form
    team_organisations: set[int]  # organisations of the active team, to pre-fill a grant

    def active_ids(self) -> set[int]:
        return {g.id for g in rules.current_grants(self.status.grants, self.status.now).values()}


def consent_overview(*, user, case_id) -> ConsentOverview:
    case = policy.require_case(user, case_id)
    with transaction.atomic():
        grants = list(
            ConsentGrant.objects.filter(case=case)
            .prefetch_related("organisations")
            .select_related("guardian", "recorded_by", "withdrawn_by")
            .order_by("-given_on", "-id")
        )
        overview = ConsentOverview(
            case=case,
            grants=grants,
            status=enforcement.case_consent(case),
            guardians={g.pk: g for g in Guardian.objects.filter(youth_id=case.youth_id)},
            may_record=policy.may(user, case, policy.CaseAction.RECORD_CONSENT),
            documents=set(
                ConsentDocument.objects.filter(grant__case=case).values_list("grant_id", flat=True)
            ),
            team_organisations=set(
                case.memberships.filter(removed_at__isnull=True).values_list(
                    "user__organisation_id", flat=True
                )
            ),
        )
        audit.record_many(
            [
                {
                    "actor": user,
                    "action": Action.VIEW,
                    "object_type": "consent.ConsentGrant",
                    "object_id": g.pk,
                    "case_id": case.pk,
                    "youth_id": case.youth_id,
                }
                for g in grants
            ]
            + [
                {
                    "actor": user,
                    "action": Action.VIEW,
                    "object_type": "cases.Guardian",
                    "object_id": g_id,
                    "case_id": case.pk,
                    "youth_id": case.youth_id,
                }
                for g_id in overview.guardians
            ]
            + [
                {
                    "actor": user,
                    "action": Action.VIEW,
                    "object_type": "consent.Status",
                    "object_id": case.pk,
                    "case_id": case.pk,
                    "youth_id": case.youth_id,
                }
            ]
        )
    return overview


def expiring_for_start_page(user, *, days: int = 30):
    """The coordinator's start page: current grants in the user's open cases that end
    within ``days``. Each grant shown is recorded as read."""
    if user.role != Role.COORDINATOR:
        return None
    today = timezone.localdate()
    horizon = today + timedelta(days=days)
    with transaction.atomic():
        cases = {
            c.pk: c
            for c in policy.visible_cases(user)
            .filter(
                status=Case.Status.OPEN,
                consent_grants__withdrawn_at__isnull=True,
                consent_grants__valid_until__lte=horizon,
                consent_grants__valid_until__gte=today,
            )
            .select_related("youth", "municipality")
            .distinct()
        }
        statuses = enforcement.case_consents(list(cases.values()))
        rows = []
        for case in cases.values():
            status = statuses[case.pk]
            for grant in rules.current_grants(status.grants, status.now).values():
                if grant.valid_until <= horizon:
                    rows.append(
                        {"case": case, "valid_until": grant.valid_until, "grant_id": grant.id}
                    )
        rows.sort(key=lambda r: r["valid_until"])
        audit.record_many(
            [
                {
                    "actor": user,
                    "action": Action.LIST,
                    "object_type": "consent.ConsentGrant",
                    "object_id": r["grant_id"],
                    "case_id": r["case"].pk,
                    "youth_id": r["case"].youth_id,
                }
                for r in rows
            ]
        )
    return StartSection(template="consent/_expiring.html", rows=rows)
