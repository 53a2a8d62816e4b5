"""The REST API's common ground and its two non-case endpoints (``me``,
``organisations``). Every API view authenticates with a personal token only: a
browser session, which might not have passed the second factor, never reaches the
API."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import NotAuthenticated, ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

import audit
from audit.models import Action, Outcome
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
        if isinstance(exc, NotAuthenticated):  # no token at all; a bad one is recorded
            audit.record(action=Action.DENIED, outcome=Outcome.DENIED,  # where it fails
                         purpose="no API token")
        if isinstance(exc, DjangoValidationError):
            exc = ValidationError(detail=self.field_errors(exc))
        elif getattr(exc, "http_status", None) == 409:
            # A domain conflict such as a stale version; its message is for the client.
            return Response({"detail": str(exc.message)}, status=409)
        return super().handle_exception(exc)

    def field_errors(self, exc: DjangoValidationError) -> dict:
        if hasattr(exc, "error_dict"):
            return exc.message_dict
        return {"non_field_errors": exc.messages}


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
