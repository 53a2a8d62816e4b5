"""Writes of case data, one module per entity. Each service takes the acting user and
plain values, asks the policy, validates, writes and records the event in one
transaction. Bad input raises ValidationError with messages per field before anything
is written; a write the policy refuses because the case is closed raises
``policy.CaseClosed`` (409) before the input is read."""

from cases.services._base import StaleVersion
from cases.services.assessments import assessment_add
from cases.services.cases import (
    CaseReferred,
    case_create,
    case_update,
    end_team_access,
    guardian_add,
    member_add,
    member_remove,
    organisation_in_cases,
    sole_lead_refusal,
)
from cases.services.entries import entry_add, item_fields
from cases.services.lifecycle import case_close, case_reopen, case_set_status
from cases.services.meetings import meeting_record
from cases.services.plans import (
    commitment_add,
    commitment_set_status,
    follow_up_record,
    plan_agree,
    plan_save,
)
from cases.services.signals import TriageAction, signal_raise, signal_triage

__all__ = [
    "CaseReferred",
    "StaleVersion",
    "TriageAction",
    "assessment_add",
    "case_close",
    "case_create",
    "case_reopen",
    "case_set_status",
    "case_update",
    "commitment_add",
    "commitment_set_status",
    "end_team_access",
    "entry_add",
    "follow_up_record",
    "guardian_add",
    "item_fields",
    "meeting_record",
    "member_add",
    "member_remove",
    "organisation_in_cases",
    "plan_agree",
    "plan_save",
    "signal_raise",
    "signal_triage",
    "sole_lead_refusal",
]
