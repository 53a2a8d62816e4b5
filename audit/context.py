"""What the current request contributes to an audit event: request id, client
address (from the configured proxy header only), user agent and path.

Held in a context variable set by RequestContextMiddleware, so that services and
selectors can record events without passing the request through every call.

Nothing typed by the client reaches an event as it was typed. The path is rebuilt from
the URL pattern it matched: literal words and numeric ids stay, every other argument
becomes ``PATH_PLACEHOLDER`` (a username, or whatever someone put where an id goes, may
be a name or an identity number). A path that matches no pattern keeps only its
numeric segments and the literal words of the project's URL patterns. The user agent
keeps its text with every non-printable character replaced (PostgreSQL refuses NUL in
text, and control characters forge lines in whatever displays the log)."""

from __future__ import annotations

import functools
import ipaddress
import re
import uuid
from contextvars import ContextVar
from dataclasses import dataclass

from auditlog.middleware import AuditlogMiddleware
from django.conf import settings
from django.urls import URLResolver, get_resolver, get_script_prefix, get_urlconf, resolve
from django.urls.exceptions import Resolver404
from django.urls.resolvers import RoutePattern


@dataclass(frozen=True)
class RequestContext:
    request_id: str = ""
    ip: str | None = None
    user_agent: str = ""
    path: str = ""
    request: object = None

    @property
    def user(self):
        return getattr(self.request, "user", None)


_current: ContextVar[RequestContext | None] = ContextVar("audit_request", default=None)


def current() -> RequestContext:
    return _current.get() or RequestContext()


def client_ip(request) -> str | None:
    header = getattr(settings, "SSPF_CLIENT_IP_HEADER", "")
    if header:
        # The trusted proxy appends the address it saw last.
        value = request.META.get(header, "").split(",")[-1].strip()
    else:
        value = request.META.get("REMOTE_ADDR", "")
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    # A dual-stack listener reports an IPv4 client as ::ffff:a.b.c.d; record the IPv4.
    mapped = getattr(address, "ipv4_mapped", None)
    return str(mapped or address)


MAX_TEXT = 300  # the length of AccessEvent.user_agent and .path
PATH_PLACEHOLDER = "*"
# Ids in our URLs are database keys. A longer run of digits is rather a personal
# identity number (10 or 12 digits, Skatteverket SKV 704) typed into the address.
_MAX_ID_DIGITS = 9
_ID = re.compile(rf"[0-9]{{1,{_MAX_ID_DIGITS}}}")
_ROUTE_ARGUMENT = re.compile(r"<(?:[^<>:]+:)?(?P<name>[^<>]+)>")
_PLAIN_ROUTE = re.compile(r"[\w.\-/]*")  # what is left of a path() route without its arguments


def clean_text(value: str, limit: int = MAX_TEXT) -> str:
    """``value`` cut to ``limit`` characters, each one ``str.isprintable`` refuses
    (control and format characters, NUL among them) replaced by U+FFFD."""
    value = value[:limit]
    if value.isprintable():
        return value
    return "".join(ch if ch.isprintable() else "\ufffd" for ch in value)


def _argument(value) -> str:
    text = str(value)
    return text if _ID.fullmatch(text) else PATH_PLACEHOLDER


@functools.lru_cache(maxsize=8)
def _route_words(urlconf) -> frozenset[str]:
    """Every literal segment of the path() routes in ``urlconf``."""
    words = set()
    pending = list(get_resolver(urlconf).url_patterns)
    while pending:
        pattern = pending.pop()
        if isinstance(pattern, URLResolver):
            pending.extend(pattern.url_patterns)
        if isinstance(pattern.pattern, RoutePattern):  # not a regular expression
            words.update(s for s in str(pattern.pattern).split("/") if s and "<" not in s)
    return frozenset(words)


def audit_path(path_info: str, urlconf=None) -> str:
    """``path_info`` as an event stores it: ids and the words of our own URLs only."""
    try:
        match = resolve(path_info, urlconf)
    except Resolver404:
        match = None
    if match is not None and _PLAIN_ROUTE.fullmatch(_ROUTE_ARGUMENT.sub("", match.route)):
        path = "/" + _ROUTE_ARGUMENT.sub(
            lambda m: _argument(match.kwargs.get(m["name"], "")), match.route)
    else:
        words = _route_words(urlconf or get_urlconf() or settings.ROOT_URLCONF)
        path = "/".join(
            s if not s or s in words or _ID.fullmatch(s) else PATH_PLACEHOLDER
            for s in path_info.split("/")
        )
    return clean_text(get_script_prefix().rstrip("/") + path)


def from_request(request) -> RequestContext:
    return RequestContext(
        # Our own id, never one the client sends: events must not be made to look as if
        # they belonged to another request.
        request_id=uuid.uuid4().hex,
        ip=client_ip(request),
        user_agent=clean_text(request.META.get("HTTP_USER_AGENT", "")),
        path=audit_path(request.path_info, getattr(request, "urlconf", None)),
        request=request,
    )


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        context = from_request(request)
        request.audit_request_id = context.request_id
        token = _current.set(context)
        try:
            response = self.get_response(request)
        finally:
            _current.reset(token)
        response["X-Request-ID"] = context.request_id
        return response


def current_request_id() -> str | None:
    """The request id, used as django-auditlog's correlation id so a change entry and
    the access events of the same request can be matched."""
    return current().request_id or None


class ChangeHistoryMiddleware(AuditlogMiddleware):
    """django-auditlog's middleware, reading the client address the same way as the
    access events (the configured proxy header only). The stock middleware trusts
    the first X-Forwarded-For value, which any client can set."""

    @staticmethod
    def _get_remote_addr(request):
        return client_ip(request)
