"""Login with password and TOTP, enrolment of the second factor, the start page."""

from __future__ import annotations

import base64
import io

import qrcode
import qrcode.image.svg
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.db import transaction
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

import audit
from audit.models import Action, Outcome
from sspf import notifications, services, tokens
from sspf.crypto import blind_index
from sspf.forms import LoginForm, TokenForm
from sspf.middleware import second_factor_not_required

ENROL_SESSION_KEY = "sspf_enrol_device"


class LoginView(auth_views.LoginView):
    form_class = LoginForm
    template_name = "registration/login.html"
    redirect_authenticated_user = False


class LogoutView(auth_views.LogoutView):
    pass


def _qr_data_uri(text: str) -> str:
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    buffer = io.BytesIO()
    image.save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


def _b32_secret(device: TOTPDevice) -> str:
    secret = base64.b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def _next_page(request) -> str:
    """The page the person asked for before the second factor, if it is on this site."""
    target = request.GET.get("next", "")
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                       require_https=request.is_secure()):
        return target
    return "home"


@transaction.atomic
def _record_login(user) -> None:
    """The completed login's event; the first one after an administrator's reset of the
    password or second factor is marked for the log review."""
    audit.record(action=Action.LOGIN, actor=user, flags=services.login_completed(user))


@second_factor_not_required
@require_http_methods(["GET", "POST"])
def otp_enrol(request):
    if request.user.is_verified():
        return redirect("home")
    if services.confirmed_totp_device(request.user):
        return redirect("otp_verify")

    device = None
    if request.method == "POST":
        device = TOTPDevice.objects.filter(
            pk=request.session.get(ENROL_SESSION_KEY), user=request.user, confirmed=False
        ).first()
    if device is None:
        device = services.totp_device_for_enrolment(request.user)
        request.session[ENROL_SESSION_KEY] = device.pk
        form = TokenForm()
    else:
        form = TokenForm(request.POST)
        if form.is_valid():
            if device.verify_token(form.cleaned_data["code"]):
                with transaction.atomic():  # the device counts only with its events
                    device.confirmed = True
                    device.save(update_fields=["confirmed"])
                    audit.record(action=Action.OTP_ENROLLED, object_type="otp_totp.TOTPDevice",
                                 object_id=device.pk)
                    _record_login(request.user)
                request.session.pop(ENROL_SESSION_KEY, None)
                otp_login(request, device)
                messages.success(request, _("Tvåstegsverifieringen är aktiverad."))
                return redirect(_next_page(request))
            audit.record(action=Action.OTP_FAILED, outcome=Outcome.DENIED, purpose="enrolment")
            form.add_error(
                "code",
                _("Koden stämmer inte. Kontrollera klockan i telefonen och försök igen."),
            )
    return render(
        request,
        "registration/otp_enrol.html",
        {"form": form, "qr": _qr_data_uri(device.config_url), "secret": _b32_secret(device)},
    )


@second_factor_not_required
@require_http_methods(["GET", "POST"])
def otp_verify(request):
    if request.user.is_verified():
        return redirect("home")
    device = services.confirmed_totp_device(request.user)
    if device is None:
        return redirect("otp_enrol")
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        allowed, _details = device.verify_is_allowed()
        if not allowed:
            audit.record(action=Action.OTP_FAILED, outcome=Outcome.DENIED, purpose="throttled")
            form.add_error(
                "code", _("För många felaktiga koder. Vänta en stund och försök igen.")
            )
        elif device.verify_token(form.cleaned_data["code"]):
            _record_login(request.user)
            otp_login(request, device)
            return redirect(_next_page(request))
        else:
            audit.record(action=Action.OTP_FAILED, outcome=Outcome.DENIED)
            form.add_error("code", _("Fel engångskod. Försök igen."))
    return render(request, "registration/otp_verify.html", {"form": form})


def lockout_username(request, credentials=None) -> str:
    """What django-axes counts failures under and stores: an existing account's
    username, or for anything else typed (people type passwords and identity numbers
    into the username field) a keyed digest of it, so a guessed name is still locked out
    but the typed text is never kept."""
    typed = (credentials or {}).get("username")
    if typed is None:
        typed = request.POST.get("username", "") if request is not None else ""
    typed = (typed or "").strip()
    User = get_user_model()
    if typed and User.objects.filter(**{User.USERNAME_FIELD: typed}).exists():
        return typed
    return "okänt-" + blind_index(typed, purpose="lockout-username")[:16]


@login_not_required
def admin_login_redirect(request):
    return redirect("login")


@require_http_methods(["GET", "POST"])
def profile(request):
    """The user's own page: role, organisation and personal API tokens. Reached only
    after password and TOTP, so a token is never issued on the password alone."""
    new_key = None
    if request.method == "POST":
        if "revoke" in request.POST:
            try:
                token_id = int(request.POST["revoke"])
            except ValueError:
                token_id = 0
            if tokens.revoke_token(user=request.user, token_id=token_id):
                messages.success(request, _("API-nyckeln är återkallad."))
            else:
                messages.error(request, _("Nyckeln finns inte eller är redan återkallad."))
            return redirect("profile")
        name = request.POST.get("name", "").strip()[:100]
        _token, new_key = tokens.issue_token(user=request.user, name=name)
    return render(request, "profile.html", {
        "tokens": tokens.active_tokens(request.user), "new_key": new_key,
    })


@require_http_methods(["POST"])
def notifications_read(request):
    notifications.mark_all_read(request.user)
    return redirect("home")
