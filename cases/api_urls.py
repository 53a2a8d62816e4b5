from django.urls import path

from cases import api
from sspf.api import MeView, OrganisationsView

urlpatterns = [
    path("me/", MeView.as_view(), name="api_me"),
    path("organisations/", OrganisationsView.as_view(), name="api_organisations"),
    path("cases/", api.CasesView.as_view(), name="api_cases"),
    path("cases/search/", api.CaseSearchView.as_view(), name="api_case_search"),
    path("cases/<int:case_id>/", api.CaseDetailView.as_view(), name="api_case"),
    path("cases/<int:case_id>/members/", api.MembersView.as_view(), name="api_members"),
    path("cases/<int:case_id>/members/<str:username>/", api.MemberDetailView.as_view(),
         name="api_member"),
    path("cases/<int:case_id>/guardians/", api.GuardiansView.as_view(), name="api_guardians"),
    path("cases/<int:case_id>/entries/", api.EntriesView.as_view(), name="api_entries"),
    path("cases/<int:case_id>/status/", api.CaseStatusView.as_view(), name="api_case_status"),
    path("cases/<int:case_id>/close/", api.CaseCloseView.as_view(), name="api_case_close"),
    path("cases/<int:case_id>/reopen/", api.CaseReopenView.as_view(), name="api_case_reopen"),
    path("cases/<int:case_id>/assessments/", api.AssessmentsView.as_view(),
         name="api_assessments"),
    path("cases/<int:case_id>/assessments/compare/", api.AssessmentCompareView.as_view(),
         name="api_assessment_compare"),
    path("cases/<int:case_id>/meetings/", api.MeetingsView.as_view(), name="api_meetings"),
    path("cases/<int:case_id>/plan/", api.ActionPlanView.as_view(), name="api_plan"),
    path("cases/<int:case_id>/plan/agree/", api.PlanAgreeView.as_view(), name="api_plan_agree"),
    path("cases/<int:case_id>/commitments/", api.CommitmentsView.as_view(),
         name="api_commitments"),
    path("commitments/<int:commitment_id>/", api.CommitmentDetailView.as_view(),
         name="api_commitment"),
    path("cases/<int:case_id>/follow-ups/", api.FollowUpsView.as_view(), name="api_follow_ups"),
    path("follow-ups/due/", api.DueView.as_view(), name="api_follow_ups_due"),
    path("cases/<int:case_id>/timeline/", api.TimelineView.as_view(), name="api_case_timeline"),
    path("signals/", api.SignalsView.as_view(), name="api_signals"),
    path("signals/<int:signal_id>/", api.SignalDetailView.as_view(), name="api_signal"),
    path("signals/<int:signal_id>/triage/", api.SignalTriageView.as_view(),
         name="api_signal_triage"),
]
