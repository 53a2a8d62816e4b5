"""Reads of consent: a case's grants and its consent status, through the policy and
recorded like every read of personal data."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

import audit
from audit.models import Action
from cases import policy
from cases.models import Case, Guardian
from consent import enforcement, rules
from consent.models import ConsentGrant


@dataclass
class ConsentOverview:
    case: Case
    grants: list[ConsentGrant]
    status: enforcement.CaseConsent
    guardians: dict[int, Guardian]
    may_record: bool

    def active_ids(self) -> set[int]:
        return {g.id for g in rules.current_grants(self.status.grants, self.status.now).values()}


def consent_overview(*, user, case_id) -> ConsentOverview:
    case = policy.require_case(user, case_id)
    with transaction.atomic():
        grants = list(ConsentGrant.objects.filter(case=case)
                      .prefetch_related("organisations")
                      .select_related("guardian", "recorded_by", "withdrawn_by")
                      .order_by("-given_on", "-id"))
        overview = ConsentOverview(
            case=case, grants=grants, status=enforcement.case_consent(case),
            guardians={g.pk: g for g in Guardian.objects.filter(youth_id=case.youth_id)},
            may_record=policy.may(user, case, policy.CaseAction.RECORD_CONSENT),
        )
        audit.record_many(
            [{"action": Action.VIEW, "object_type": "consent.ConsentGrant", "object_id": g.pk,
              "case_id": case.pk, "youth_id": case.youth_id} for g in grants]
            + [{"action": Action.VIEW, "object_type": "consent.Status", "object_id": case.pk,
                "case_id": case.pk, "youth_id": case.youth_id}]
        )
    return overview
