from django.urls import path

from consent import api

urlpatterns = [
    path("cases/<int:case_id>/consents/", api.ConsentsView.as_view(), name="api_consents"),
    path("cases/<int:case_id>/consent-status/", api.ConsentStatusView.as_view(),
         name="api_consent_status"),
    path("consents/<int:grant_id>/withdraw/", api.WithdrawView.as_view(),
         name="api_consent_withdraw"),
]
