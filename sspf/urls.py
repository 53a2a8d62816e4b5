from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path, re_path
from django.views.i18n import set_language
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from sspf import api, views
from sspf.middleware import second_factor_not_required

handler500 = "sspf.api.server_error"


def staff_page(view):
    view.login_required = True  # read by Django's LoginRequiredMiddleware
    return view


urlpatterns = [
    path("login/", second_factor_not_required(views.LoginView.as_view()), name="login"),
    path("login/tvasteg/", views.otp_verify, name="otp_verify"),
    path("login/aktivera-tvasteg/", views.otp_enrol, name="otp_enrol"),
    path("logout/", second_factor_not_required(views.LogoutView.as_view()), name="logout"),
    path("admin/login/", views.admin_login_redirect),
    path("admin/", admin.site.urls),
    path("profil/", views.profile, name="profile"),
    path("notiser/lasta/", views.notifications_read, name="notifications_read"),
    path("sprak/", login_not_required(set_language), name="set_language"),
    path("api/v1/", include("cases.api_urls")),
    path("api/v1/", include("consent.api_urls")),
    re_path(r"^api/(?!schema/$|docs/$)", api.not_found, name="api_not_found"),
    path("", include("consent.urls")),
    # Pages for logged-in staff; DRF exempts its views from the login middleware, which
    # is put back in charge (so a refusal is recorded like any other page's).
    path("api/schema/", staff_page(SpectacularAPIView.as_view()), name="api_schema"),
    path("api/docs/", staff_page(SpectacularSwaggerSplitView.as_view(url_name="api_schema")),
         name="api_docs"),
    path("", include("cases.urls")),
]
