"""Every URL of the project, the API and the admin included: each response to a
logged-in user says ``Cache-Control: no-store`` and carries a Content Security Policy
without ``unsafe-inline``; and a session that has given the password but not the TOTP
code reaches nothing beyond the login and second-factor pages, changes nothing and
sees no personal data.

The URL patterns and the requests that fill them come from the authorization matrix
(tests/test_authorization_matrix.py), which fails when a pattern lacks its row; the
admin's patterns are walked here, with arguments taken from existing objects.
"""

from __future__ import annotations

import json
import re

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.urls import Resolver404, URLResolver, resolve

from tests.conftest import log_in_verified, personal_strings
from tests.test_authorization_matrix import (
    API,
    EXTRA,
    MATRIX,
    _commitment,
    _narrow_grant,
    _routes,
    _signal,
)

pytestmark = pytest.mark.django_db

SECOND_FACTOR_PAGES = {"/login/", "/login/tvasteg/", "/login/aktivera-tvasteg/"}
MISSING = "/finns-inte/"  # no pattern matches: the 404 page gets the same headers


def project_requests(demo):
    """(kind, method, path, body) for every non-admin pattern and the matrix's further
    methods, filled for Elsa's case and a consent grant of it."""
    elsa = demo.cases["Elsa"]
    grant = _narrow_grant(demo, elsa)
    signal, commitment = _signal(demo), _commitment(demo)
    rows = [MATRIX[route][:4] for route in sorted(_routes())] + [row[:4] for row in EXTRA]
    return [(kind, method, template.format(case=elsa.pk, grant=grant.pk, signal=signal.pk,
                                           commitment=commitment.pk), body)
            for kind, method, template, body in rows]


def _route_path(route: str, values) -> str:
    """``route`` with each ``<converter:name>`` replaced by ``values(name)``."""
    return re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(values(m.group(1))), route)


def admin_paths(demo) -> list[str]:
    """One path for every URL pattern of the admin site."""
    user = demo["koordinator"]
    user_type = ContentType.objects.get_for_model(user)
    top = {"content_type_id": user_type.pk, "object_id": user.pk}
    app_labels = sorted({model._meta.app_label for model in admin.site._registry})
    paths = []
    for pattern in admin.site.get_urls():
        if isinstance(pattern, URLResolver):  # one registered model
            app_label, model_name = str(pattern.pattern).strip("/").split("/")
            model = apps.get_model(app_label, model_name)
            pk = model._base_manager.order_by("pk").values_list("pk", flat=True).first()
            prefix = f"/admin/{pattern.pattern}"
            # every argument of a model's admin URL names one of its objects
            paths += [prefix + _route_path(str(inner.pattern), lambda _name, pk=pk: pk or 1)
                      for inner in pattern.url_patterns]
        elif pattern.name == "app_list":
            paths += [f"/admin/{label}/" for label in app_labels]
        elif pattern.name is None:  # the catch-all behind every other admin URL
            paths.append("/admin/finns-inte/")
        else:
            paths.append("/admin/" + _route_path(str(pattern.pattern), top.__getitem__))
    return paths


def header_problems(response, label) -> list[str]:
    problems = []
    if "no-store" not in response.get("Cache-Control", ""):
        problems.append(f"{label}: Cache-Control {response.get('Cache-Control')!r}")
    policy = response.get("Content-Security-Policy", "")
    if not policy or "unsafe-inline" in policy or "unsafe-eval" in policy:
        problems.append(f"{label}: Content-Security-Policy {policy!r}")
    elif not re.search(r"(^|;)\s*default-src 'self'", policy):
        problems.append(f"{label}: Content-Security-Policy without default-src 'self'")
    return problems


@pytest.mark.parametrize("username", ["koordinator", "rektor2"])
def test_every_response_to_a_verified_user_is_no_store_with_a_strict_policy(
        username, demo, client, api_client):
    """The lead coordinator of Elsa's case gets its pages; rektor2, on no team, gets
    the 403 and 404 answers. The admin's pages go to the administrator."""
    user = demo[username]
    api = api_client(user)
    log_in_verified(client, user)
    problems, seen = [], 0
    for kind, method, path, body in [*project_requests(demo), (API, "get", "/api/v1/x/", None),
                                     ("page", "get", MISSING, None)]:
        if kind == API:
            response = getattr(api, method)(
                path, data=json.dumps(body) if body is not None else None,
                content_type="application/json")
        else:
            response = client.get(path) if method == "get" else client.post(path, body or {})
            if path == "/logout/":
                log_in_verified(client, user)
        problems += header_problems(response, f"{username} {method.upper()} {path}")
        seen += 1

    client.logout()
    log_in_verified(client, demo["admin"])
    for path in admin_paths(demo):
        if path == "/admin/logout/":
            continue  # GET is refused (405) before any header question; POST logs out
        response = client.get(path)
        problems += header_problems(response, f"admin GET {path} ({response.status_code})")
        seen += 1
    assert problems == []
    assert seen > len(MATRIX) + len(EXTRA)


def test_the_login_page_to_an_anonymous_visitor_is_no_store_with_a_strict_policy(client):
    assert header_problems(client.get("/login/"), "GET /login/") == []
    assert header_problems(client.get("/"), "GET / (redirect)") == []


def _matches_a_pattern(path: str) -> bool:
    try:
        resolve(path)
    except Resolver404:
        return False
    return True


def _state():
    """Counts of every case, consent and account row, and the fields a POST would
    change, to show that nothing was written."""
    from cases.models import Case
    from sspf.models import Notification

    counts = {model._meta.label: model._base_manager.count()
              for label in ("cases", "consent", "sspf", "otp_totp", "guardian")
              for model in apps.get_app_config(label).get_models()}
    cases = list(Case.objects.order_by("pk").values_list("pk", "status", "area", "version"))
    notes = list(Notification.objects.order_by("pk").values_list("pk", "read_at"))
    return counts, cases, notes


def test_a_session_without_the_second_factor_reaches_only_the_login_pages(demo, client):
    """Password given, TOTP not: every URL, read or write, answers with a way to the
    second-factor step (or, on the login pages themselves, that step), shows no
    personal data and writes nothing."""
    secrets = [s for case in demo.cases.values() for s in personal_strings(case) if s]
    requests = [(path, body) for _kind, _method, path, body in project_requests(demo)]
    requests += [(path, None) for path in admin_paths(demo)]
    requests += [(MISSING, None), ("/api/v1/x/", None)]
    before = _state()
    problems = []
    for path, body in dict.fromkeys((p, json.dumps(b)) for p, b in requests):
        for method in ("get", "post"):
            for username in ("koordinator", "admin"):
                client.logout()
                client.force_login(demo[username])  # the password alone
                data = json.loads(body) or {}
                response = client.get(path) if method == "get" else client.post(path, data)
                label = f"{username} {method.upper()} {path} -> {response.status_code}"
                target = response.get("Location", "").split("?")[0]
                if not _matches_a_pattern(path):
                    allowed = response.status_code == 404  # no view runs
                elif path in SECOND_FACTOR_PAGES or path == "/logout/":
                    allowed = response.status_code in (200, 302, 405) and (
                        response.status_code != 302 or target in SECOND_FACTOR_PAGES)
                else:
                    allowed = response.status_code == 302 and target in SECOND_FACTOR_PAGES
                if not allowed:
                    problems.append(f"{label} {target}")
                text = response.content.decode(errors="replace") + response.get("Location", "")
                leaked = [s for s in secrets if s in text]
                if leaked:
                    problems.append(f"{label} shows {leaked}")
    assert problems == []
    assert _state() == before
