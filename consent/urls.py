from django.urls import path

from consent import views

urlpatterns = [
    path("arenden/<int:case_id>/samtycken/", views.consent_overview, name="consent_overview"),
    path("arenden/<int:case_id>/samtycken/nytt/", views.grant_create, name="consent_create"),
    path("samtycken/<int:grant_id>/aterkalla/", views.grant_withdraw, name="consent_withdraw"),
    path("samtycken/<int:grant_id>/blankett/", views.grant_document, name="consent_document"),
]
