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
]
