"""What the current request contributes to an audit event: request id, client
address (from the configured proxy header only), user agent and path.

Held in a context variable set by RequestContextMiddleware, so that services and
selectors can record events without passing the request through every call."""

from __future__ import annotations

import ipaddress
import uuid
from contextvars import ContextVar
from dataclasses import dataclass

from auditlog.middleware import AuditlogMiddleware
from django.conf import settings


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


def from_request(request) -> RequestContext:
    return RequestContext(
        # Our own id, never one the client sends: events must not be made to look as if
        # they belonged to another request.
        request_id=uuid.uuid4().hex,
        ip=client_ip(request),
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:300],
        path=request.path[:300],
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
