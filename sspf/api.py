"""The REST API's common ground and its two non-case endpoints (``me``,
``organisations``). Every API view authenticates with a personal token only: a
browser session, which might not have passed the second factor, never reaches the
API. Every answer under ``/api/`` is JSON, errors included: an unknown path is a JSON
404, and an unexpected error a JSON 500 that says nothing about what failed (it is
logged as Django logs a page's)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.signals import got_request_exception
from django.http import JsonResponse
from django.utils.log import log_response
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import defaults
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import NotAuthenticated, ParseError, Throttled, ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.context import audit_path
from audit.models import Action
from sspf import refusals
from sspf.models import Organisation
from sspf.tokens import TokenAuthentication


class TokenAPIView(APIView):
    authentication_classes = [TokenAuthentication]
    permission_classes = [IsAuthenticated]

    @classmethod
    def as_view(cls, **initkwargs):
        # The token is the login; the session login page does not apply here.
        return login_not_required(super().as_view(**initkwargs))

    def handle_exception(self, exc):
        # No token at all; a bad one is counted where it fails. Recorded without an
        # actor: a browser session that comes along does not open the API.
        if isinstance(exc, NotAuthenticated) and refusals.refused(action=Action.DENIED,
                                                                  purpose="no API token"):
            exc = Throttled(detail=refusals.TOO_MANY)
        if isinstance(exc, DjangoValidationError):
            exc = ValidationError(detail=self.field_errors(exc))
        elif isinstance(exc, ParseError):
            # Same shape as every other 400; the parser's own text is English and may
            # quote the body back.
            exc = ValidationError(detail={"non_field_errors": [
                _("Innehållet är inte giltig JSON.")]})
        elif getattr(exc, "http_status", None) == 409:
            # A domain conflict such as a stale version; its message is for the client.
            return Response({"detail": str(exc.message)}, status=409)
        return super().handle_exception(exc)

    def field_errors(self, exc: DjangoValidationError) -> dict:
        if hasattr(exc, "error_dict"):
            return exc.message_dict
        return {"non_field_errors": exc.messages}


def _is_api(request) -> bool:
    return request.path_info.startswith("/api/")


SERVER_ERROR = gettext_lazy(
    "Tekniskt fel. Ingenting visades eller sparades. Försök igen om en stund.")


def _json_server_error() -> JsonResponse:
    return JsonResponse({"detail": str(SERVER_ERROR)}, status=500)


@extend_schema(exclude=True)
class NotFoundView(TokenAPIView):
    """Any path under /api/ that no endpoint answers: 404 for a valid token, and without
    one the same 401 (a refusal, counted) as every endpoint."""

    def _not_found(self, request, *args, **kwargs):
        return Response({"detail": _("Hittades inte.")}, status=404)

    get = post = put = patch = delete = head = options = _not_found


not_found = NotFoundView.as_view()


def server_error(request, *args, **kwargs):
    """handler500: JSON under /api/, the page elsewhere."""
    if _is_api(request):
        return _json_server_error()
    return defaults.server_error(request, *args, **kwargs)


class JsonErrorsMiddleware:
    """An exception an API view did not handle answers JSON, in development too (where
    Django would show its HTML debug page)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not _is_api(request):
            return None
        got_request_exception.send(sender=type(self), request=request)
        response = _json_server_error()
        log_response("Internal Server Error: %s", audit_path(request.path_info),
                     response=response, request=request, exception=exception)
        return response


class OrganisationOut(serializers.ModelSerializer):
    class Meta:
        model = Organisation
        fields = ["id", "name", "kind"]


class MeView(TokenAPIView):
    @extend_schema(responses=inline_serializer("Me", {
        "username": serializers.CharField(),
        "role": serializers.CharField(),
        "organisation": OrganisationOut(allow_null=True),
        "municipality": serializers.CharField(allow_null=True),
    }))
    def get(self, request):
        user = request.user
        org = user.organisation
        return Response({
            "username": user.username,
            "role": user.role,
            "organisation": OrganisationOut(org).data if org else None,
            "municipality": org.municipality.name if org else None,
        })


class OrganisationsView(TokenAPIView):
    @extend_schema(responses=OrganisationOut(many=True))
    def get(self, request):
        org = request.user.organisation
        if org is None:
            return Response([])
        rows = Organisation.objects.filter(municipality_id=org.municipality_id).order_by("name")
        return Response(OrganisationOut(rows, many=True).data)


# --- OpenAPI: the error answers every operation can give ----------------------------------

_ERRORS = {
    "400": ("Invalid input: every field with a problem names its messages.", "FieldErrors"),
    "401": ("No valid token.", "Detail"),
    "403": ("The case is visible, but this action is not allowed.", "Detail"),
    "404": ("No such object, or not visible to the caller (the two are not told apart).",
            "Detail"),
    "409": ("The case was changed by someone else (read it again: its version), or it is "
            "closed and so read-only.", "Detail"),
    "413": ("The request body is too large.", "Detail"),
}


def add_error_responses(result, generator, request, public):
    """drf-spectacular post-processing hook: document the error answers the views give
    (views/handle_exception above and sspf.middleware) on every operation of API v1."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("Detail", {"type": "object", "required": ["detail"],
                                  "properties": {"detail": {"type": "string"}}})
    schemas.setdefault("FieldErrors", {
        "type": "object",
        "additionalProperties": {"type": "array", "items": {"type": "string"}},
        "example": {"personnummer": ["Kontrollsiffran stämmer inte."]},
    })
    for path, operations in result.get("paths", {}).items():
        if not path.startswith("/api/v1/"):
            continue
        for method, operation in operations.items():
            codes = ["401"]
            writes = method in ("post", "patch", "put", "delete")
            if writes:
                codes += ["403"] + (["400", "413"] if method != "delete" else [])
            if "{" in path:
                codes.append("404")
            # A write to a case can meet a closed case (or a stale version).
            if writes and ("/cases/{case_id}/" in path or path.endswith("/triage/")):
                codes.append("409")
            responses = operation.setdefault("responses", {})
            for code in codes:
                description, schema = _ERRORS[code]
                responses.setdefault(code, {
                    "description": description,
                    "content": {"application/json": {
                        "schema": {"$ref": f"#/components/schemas/{schema}"}}},
                })
    return result
