"""Session and response rules that hold for every page.

- A session lives at most ``SSPF_SESSION_ABSOLUTE_LIFETIME`` after login, however
  active it is (the 30-minute idle timeout is the session cookie age).
- An account that has given its password but not its TOTP code reaches only the
  second-factor pages and logout.
- Every dynamic response says ``Cache-Control: no-store`` so no browser or proxy keeps
  a copy of a page with personal data.
- A request without a login for any page but the start page is recorded as denied
  (with address, user agent and path; past the first of a minute from one address,
  counted, see sspf.refusals) before it is sent to the login page.
- Request headers that django-axes stores (user agent, Accept) reach nothing with a
  control character in them: PostgreSQL refuses NUL in text, so such a header would
  turn a wrong password into a 500 with no failure counted.
"""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.middleware import LoginRequiredMiddleware
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import Resolver404, resolve, reverse
from django.utils import timezone, translation
from django.utils.cache import patch_cache_control
from django.utils.deprecation import MiddlewareMixin
from django.utils.translation import gettext as _

from audit.context import clean_text
from audit.models import Action
from sspf import refusals

SESSION_STARTED_KEY = "sspf_session_started"
STORED_HEADERS = ("HTTP_USER_AGENT", "HTTP_ACCEPT")


class HeaderCleaningMiddleware:
    """First in the chain, so every later reader sees the cleaned value."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        for header in STORED_HEADERS:
            if header in request.META:
                value = request.META[header]
                request.META[header] = clean_text(value, limit=len(value))
        return self.get_response(request)


class AuditedLoginRequiredMiddleware(LoginRequiredMiddleware):
    def handle_no_permission(self, request, view_func):
        if request.path != "/":  # the start page is where everyone begins; not an attempt
            refusals.refused(action=Action.DENIED, purpose="not logged in")
        return super().handle_no_permission(request, view_func)


def second_factor_not_required(view):
    """Mark a view reachable after the password and before the TOTP code."""
    view.second_factor_not_required = True
    return view


class SessionLifetimeMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_authenticated:
            started = request.session.get(SESSION_STARTED_KEY)
            now = timezone.now()
            if started is None:
                request.session[SESSION_STARTED_KEY] = now.isoformat()
            elif now - datetime.fromisoformat(started) > settings.SSPF_SESSION_ABSOLUTE_LIFETIME:
                logout(request)
                messages.info(request, _("Din session har gått ut. Logga in igen."))
                return redirect(settings.LOGIN_URL)
        return self.get_response(request)


class SecondFactorRequiredMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        user = request.user
        if not user.is_authenticated or user.is_verified():
            return None
        if getattr(view_func, "second_factor_not_required", False):
            return None
        from django_otp.plugins.otp_totp.models import TOTPDevice

        step = "otp_verify" if TOTPDevice.objects.filter(user=user, confirmed=True).exists() \
            else "otp_enrol"
        target = reverse(step)
        if request.method == "GET" and request.path != "/":  # back to the page asked for
            target += "?" + urlencode({"next": request.get_full_path()})
        return redirect(target)


class NoStoreMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        patch_cache_control(response, no_store=True, private=True)
        return response


def answers_oversized_body(responder):
    """Mark a page view that answers a body over its size limit with a page of its own:
    ``responder(request, *args, **kwargs)`` instead of the plain 413. The body is never
    read, so neither is its CSRF token: the responder must write nothing, only show."""

    def mark(view):
        view.oversized_body_responder = responder
        return view

    return mark


class RequestSizeLimitMiddleware:
    """Refuse a request body over ``SSPF_MAX_REQUEST_BYTES`` with 413 before it is read.
    (Uploads that need more get their own limit where they are accepted.)

    A page view marked with ``answers_oversized_body`` explains the refusal on its own
    page instead, so a person who chose too large a file is told so where they chose it.
    That answer needs the logged-in user, which only exists once the later middleware
    has run; the request is passed on unread and answered in ``process_view``, which
    runs before any other middleware's (the CSRF check is the first to read a body).
    Only a fully logged-in user (password and second factor) gets the page; anyone
    else gets the plain 413."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        limit = settings.SSPF_MAX_REQUEST_BYTES
        for pattern, larger in settings.SSPF_LARGE_REQUEST_PATHS:
            if re.match(pattern, request.path):
                limit = larger
        if length > limit:
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": _too_large(limit)}, status=413)
            if _oversized_body_responder(request) is None:
                return _plain_too_large(limit)
            request.sspf_oversized_body_limit = limit
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        limit = getattr(request, "sspf_oversized_body_limit", None)
        if limit is None:
            return None
        responder = getattr(view_func, "oversized_body_responder", None)
        is_verified = getattr(request.user, "is_verified", None)
        if responder is None or is_verified is None or not is_verified():
            return _plain_too_large(limit)
        return responder(request, *view_args, **view_kwargs)


def _oversized_body_responder(request):
    try:
        match = resolve(request.path_info)
    except Resolver404:
        return None
    return getattr(match.func, "oversized_body_responder", None)


def _too_large(limit: int) -> str:
    return _("Förfrågan är för stor (högst %(kb)d kB).") % {"kb": limit // 1024}


def _plain_too_large(limit: int) -> HttpResponse:
    return HttpResponse(_too_large(limit), status=413, content_type="text/plain; charset=utf-8")


class SwedishFirstLocaleMiddleware(MiddlewareMixin):
    """Swedish unless the user chose another language with the switch in the page
    header (stored in the language cookie). The browser's Accept-Language is not
    followed: staff of a Swedish municipality get Swedish whatever their browser says."""

    def process_request(self, request):
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
        codes = {code for code, _name in settings.LANGUAGES}
        language = chosen if chosen in codes else settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = language

    def process_response(self, request, response):
        response.headers.setdefault("Content-Language", translation.get_language())
        return response


class ConflictPageMiddleware:
    """A domain conflict a page did not handle (an exception with ``http_status`` 409
    and a ``message``, such as a write to a closed case) answers a page that says what
    stopped it, with status 409. The API answers its own JSON (sspf/api.py)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if getattr(exception, "http_status", None) != 409 or request.path_info.startswith(
                "/api/"):
            return None
        from django.shortcuts import render

        return render(request, "409.html", {"message": exception.message}, status=409)
