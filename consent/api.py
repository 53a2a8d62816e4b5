"""REST API v1 for consent: a case's grants, recording, withdrawal, status."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from cases import policy
from cases.api import CaseSubresourceView
from consent import selectors, services
from consent.models import ConsentGrant
from consent.rules import CATEGORIES
from sspf.api import TokenAPIView

# Ids the database can hold; a larger number is refused here, before it reaches a query.
ID_FIELD = {"min_value": 1, "max_value": policy.MAX_ID}


class GiverField(serializers.Serializer):
    type = serializers.ChoiceField(choices=ConsentGrant.GiverType.values)
    id = serializers.IntegerField(required=False, allow_null=True, **ID_FIELD)


class GrantOut(serializers.Serializer):
    id = serializers.IntegerField()
    giver = serializers.SerializerMethodField()
    organisations = serializers.SerializerMethodField()
    categories = serializers.ListField(child=serializers.CharField())
    purpose = serializers.CharField()
    form = serializers.CharField()
    given_on = serializers.DateField()
    valid_until = serializers.DateField()
    withdrawn_at = serializers.DateTimeField(allow_null=True)
    active = serializers.SerializerMethodField()

    def get_giver(self, grant) -> dict:
        return {"type": grant.giver_type, "id": grant.guardian_id}

    def get_organisations(self, grant) -> list[int]:
        return sorted(o.pk for o in grant.organisations.all())

    def get_active(self, grant) -> bool:
        return grant.pk in self.context.get("active_ids", set())


def _overview_grants(user, case_id):
    overview = selectors.consent_overview(user=user, case_id=case_id)
    return overview, {"active_ids": overview.active_ids()}


class ConsentsView(CaseSubresourceView):
    class GrantIn(serializers.Serializer):
        giver = GiverField()
        organisations = serializers.ListField(child=serializers.IntegerField(**ID_FIELD),
                                              min_length=2)
        categories = serializers.ListField(child=serializers.ChoiceField(choices=CATEGORIES),
                                           min_length=1)
        purpose = serializers.CharField(max_length=services.PURPOSE_MAX)
        form = serializers.ChoiceField(choices=ConsentGrant.Form.values)
        given_on = serializers.DateField(required=False)
        valid_until = serializers.DateField(required=False)

    @extend_schema(responses=GrantOut(many=True))
    def get(self, request, case_id):
        overview, context = _overview_grants(request.user, case_id)
        return Response(GrantOut(overview.grants, many=True, context=context).data)

    @extend_schema(request=GrantIn, responses={201: GrantOut})
    def post(self, request, case_id):
        def write(values):
            giver = values.pop("giver")
            return services.grant_record(user=request.user, case_id=case_id,
                                         giver_type=giver["type"], guardian_id=giver.get("id"),
                                         **values)

        def out(grant):
            _overview, context = _overview_grants(request.user, case_id)
            return GrantOut(grant, context=context)

        return self.created(request, case_id, action=policy.CaseAction.NEW_CONSENT,
                            body=self.GrantIn, write=write, out=out)


class WithdrawView(TokenAPIView):
    class WithdrawIn(serializers.Serializer):
        reason = serializers.CharField(max_length=services.PURPOSE_MAX)

    @extend_schema(request=WithdrawIn, responses=GrantOut)
    def post(self, request, grant_id):
        services.require_grant(request.user, grant_id)
        data = self.WithdrawIn(data=request.data)
        data.is_valid(raise_exception=True)
        grant = services.grant_withdraw(user=request.user, grant_id=grant_id,
                                        reason=data.validated_data["reason"])
        return Response(GrantOut(grant, context={"active_ids": set()}).data)


class ConsentStatusView(TokenAPIView):
    @extend_schema(responses=inline_serializer("ConsentStatus", {
        "required_givers": GiverField(many=True),
        "effective": inline_serializer("EffectiveConsent", {
            "organisations": serializers.ListField(child=serializers.IntegerField()),
            "categories": serializers.ListField(child=serializers.CharField()),
        }, allow_null=True),
    }))
    def get(self, request, case_id):
        overview = selectors.consent_overview(user=request.user, case_id=case_id)
        effective = overview.status.effective
        return Response({
            "required_givers": [{"type": g.type, "id": g.id} for g in overview.status.required],
            "effective": None if effective is None else {
                "organisations": sorted(effective.organisations),
                "categories": [c for c in CATEGORIES if c in effective.categories],
            },
        })
