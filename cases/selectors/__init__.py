"""Reads of personal case data, one module per entity. Each selector asks the policy,
reads, and records the read as access events in the same transaction; if the events
cannot be written the transaction fails and nothing is returned."""

from cases.selectors.assessments import (
    assessment_compare,
    assessment_page,
    latest_assessment,
)
from cases.selectors.cases import (
    PAGE_SIZE,
    PNR_INDEX,
    CaseDetail,
    StartSection,
    case_detail,
    case_page,
    case_page_sections,
    case_search,
    coordinator_open_cases,
    entry_page,
    guardian_list,
    personnummer_index,
    register_case_flags,
    register_case_page_section,
    register_start_section,
    start_sections,
    statutory_recipients,
    withhold_contact,
)
from cases.selectors.signals import new_signal_count, signal_detail, signal_page
from cases.selectors.timeline import TimelineEvent, case_timeline, register_timeline_source

__all__ = [
    "PAGE_SIZE",
    "PNR_INDEX",
    "CaseDetail",
    "StartSection",
    "TimelineEvent",
    "assessment_compare",
    "assessment_page",
    "case_detail",
    "case_page",
    "case_page_sections",
    "case_search",
    "case_timeline",
    "coordinator_open_cases",
    "entry_page",
    "guardian_list",
    "latest_assessment",
    "new_signal_count",
    "personnummer_index",
    "register_case_flags",
    "register_case_page_section",
    "register_start_section",
    "register_timeline_source",
    "signal_detail",
    "signal_page",
    "start_sections",
    "statutory_recipients",
    "withhold_contact",
]
