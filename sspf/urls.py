from django.contrib import admin
from django.urls import path

from sspf import views
from sspf.middleware import second_factor_not_required

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("login/tvasteg/", views.otp_verify, name="otp_verify"),
    path("login/aktivera-tvasteg/", views.otp_enrol, name="otp_enrol"),
    path("logout/", second_factor_not_required(views.LogoutView.as_view()), name="logout"),
    path("admin/login/", views.admin_login_redirect),
    path("admin/", admin.site.urls),
]
