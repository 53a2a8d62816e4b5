from django.urls import path

from cases import views

urlpatterns = [
    path("", views.home, name="home"),
    path("arenden/", views.case_list, name="case_list"),
    path("arenden/nytt/", views.case_create, name="case_create"),
    path("arenden/<int:case_id>/", views.case_detail, name="case_detail"),
    path("arenden/<int:case_id>/andra/", views.case_edit, name="case_edit"),
    path("arenden/<int:case_id>/team/", views.member_add, name="member_add"),
    path("arenden/<int:case_id>/team/<str:username>/ta-bort/", views.member_remove,
         name="member_remove"),
    path("arenden/<int:case_id>/vardnadshavare/ny/", views.guardian_add, name="guardian_add"),
    path("arenden/<int:case_id>/anteckningar/ny/", views.entry_add, name="entry_add"),
    path("arenden/<int:case_id>/kartlaggning/", views.assessment_list, name="assessment_list"),
    path("arenden/<int:case_id>/kartlaggning/ny/", views.assessment_add,
         name="assessment_add"),
    path("arenden/<int:case_id>/kartlaggning/jamfor/", views.assessment_compare,
         name="assessment_compare"),
    path("arenden/<int:case_id>/tidslinje/", views.case_timeline, name="case_timeline"),
    path("arenden/<int:case_id>/status/", views.case_status, name="case_status"),
    path("arenden/<int:case_id>/avsluta/", views.case_close, name="case_close"),
    path("arenden/<int:case_id>/oppna-igen/", views.case_reopen, name="case_reopen"),
    path("signaler/", views.signal_list, name="signal_list"),
    path("signaler/ny/", views.signal_create, name="signal_create"),
    path("signaler/<int:signal_id>/", views.signal_detail, name="signal_detail"),
    path("signaler/<int:signal_id>/hantera/", views.signal_triage, name="signal_triage"),
]
