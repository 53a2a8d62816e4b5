"""REST API v1 for cases. Thin views: an input serializer checks shape, a service or
selector does the work under the same policy and audit as the pages, an output
serializer shapes the answer."""

from __future__ import annotations

from urllib.parse import urlencode

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.paginator import Page
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from cases import policy, selectors, services
from cases.models import ENTRY_TEXT_MAX_LENGTH, Case, CaseMember, Entry, Guardian
from sspf.api import OrganisationOut, TokenAPIView

PERSON_FIELDS = {"personnummer", "first_name", "last_name", "address", "phone",
                 "protected_identity"}


class YouthOut(serializers.Serializer):
    id = serializers.IntegerField()
    personnummer = serializers.CharField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    birth_date = serializers.DateField(allow_null=True)
    protected_identity = serializers.BooleanField()


class MemberOut(serializers.Serializer):
    username = serializers.CharField(source="user.username")
    organisation = serializers.CharField(source="user.organisation.name")
    role = serializers.CharField(source="user.role")
    role_in_case = serializers.ChoiceField(choices=CaseMember.CaseRole.choices,
                                           help_text="lead: leads the case; member: on the team")


class CaseOut(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    area = serializers.CharField()
    opened_at = serializers.DateField()
    version = serializers.IntegerField()
    youth = YouthOut()
    members = MemberOut(many=True, source="active_members")


class CasePageOut(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)
    results = CaseOut(many=True)


class GuardianOut(serializers.ModelSerializer):
    personnummer = serializers.CharField(
        allow_null=True, help_text="null where the caller does not see the household's "
        "contact details (only the case's coordinators, or with consent covering the "
        "caller's organisation and the basic category)")

    class Meta:
        model = Guardian
        fields = ["id", "personnummer", "first_name", "last_name", "custodian",
                  "protected_identity"]


class EntryOut(serializers.ModelSerializer):
    source_org = OrganisationOut()
    author = serializers.CharField(source="author.username")
    statutory_recipient = OrganisationOut(allow_null=True)
    statutory_basis = serializers.SerializerMethodField()

    class Meta:
        model = Entry
        fields = ["id", "category", "text", "source_org", "author", "created_at",
                  "statutory_basis", "statutory_recipient"]

    def get_statutory_basis(self, entry) -> str:
        return entry.statutory_basis or ""


class EntryPageOut(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)
    results = EntryOut(many=True)


def _page_payload(request, page: Page, serializer, **query) -> dict:
    """A page of a list as the API answers it: count, links to the next and previous
    pages (keeping the other query parameters given), results."""
    def link(number):
        params = {"page": number, **{k: v for k, v in query.items() if v}}
        return request.build_absolute_uri(request.path + "?" + urlencode(params))

    return {
        "count": page.paginator.count,
        "next": link(page.next_page_number()) if page.has_next() else None,
        "previous": link(page.previous_page_number()) if page.has_previous() else None,
        "results": serializer(page.object_list, many=True).data,
    }


class YouthIn(serializers.Serializer):
    personnummer = serializers.CharField(max_length=20)
    first_name = serializers.CharField(max_length=100)
    last_name = serializers.CharField(max_length=100)
    address = serializers.CharField(max_length=200, required=False, allow_blank=True)
    phone = serializers.CharField(max_length=40, required=False, allow_blank=True)
    protected_identity = serializers.BooleanField(required=False, default=False)


class CasesView(TokenAPIView):
    class CreateIn(serializers.Serializer):
        youth = YouthIn()
        area = serializers.CharField(max_length=100, required=False, allow_blank=True,
                                     default="")

    def field_errors(self, exc: DjangoValidationError) -> dict:
        errors = super().field_errors(exc)
        youth = {k: v for k, v in errors.items() if k in PERSON_FIELDS}
        rest = {k: v for k, v in errors.items() if k not in PERSON_FIELDS}
        return {**rest, **({"youth": youth} if youth else {})}

    @extend_schema(
        operation_id="v1_cases_list",
        parameters=[OpenApiParameter("status", str, enum=Case.Status.values),
                    OpenApiParameter("page", int)],
        responses=CasePageOut,
    )
    def get(self, request):
        status_filter = request.query_params.get("status", "")
        page = selectors.case_page(user=request.user, status=status_filter,
                                   page=request.query_params.get("page", 1))
        return Response(_page_payload(request, page, CaseOut, status=status_filter))

    @extend_schema(request=CreateIn, responses={
        201: CaseOut,
        202: OpenApiResponse(description="Not created by the caller; handed to the lead "
                             "coordinator of an existing case the caller is not on."),
    })
    def post(self, request):
        policy.require_create_case(request.user)  # 403 before any word about the input
        data = self.CreateIn(data=request.data)
        data.is_valid(raise_exception=True)
        youth = data.validated_data["youth"]
        try:
            case = services.case_create(user=request.user, area=data.validated_data["area"],
                                        **youth)
        except services.CaseReferred as referred:
            return Response({"detail": str(referred.message)}, status=status.HTTP_202_ACCEPTED)
        detail = selectors.case_detail(user=request.user, case_id=case.pk)
        return Response(CaseOut(detail.case).data, status=status.HTTP_201_CREATED)


class CaseSearchView(TokenAPIView):
    class SearchIn(serializers.Serializer):
        personnummer = serializers.CharField(max_length=20)

    @extend_schema(request=SearchIn, responses=CasePageOut)
    def post(self, request):
        data = self.SearchIn(data=request.data)
        data.is_valid(raise_exception=True)
        rows = selectors.case_search(user=request.user, **data.validated_data)
        return Response({"count": len(rows), "next": None, "previous": None,
                         "results": CaseOut(rows, many=True).data})


class CaseDetailView(TokenAPIView):
    class UpdateIn(serializers.Serializer):
        area = serializers.CharField(max_length=100, allow_blank=True)
        version = serializers.IntegerField()

    @extend_schema(responses=CaseOut)
    def get(self, request, case_id):
        detail = selectors.case_detail(user=request.user, case_id=case_id)
        return Response(CaseOut(detail.case).data)

    @extend_schema(request=UpdateIn, responses={200: CaseOut})
    def patch(self, request, case_id):
        policy.require_case(request.user, case_id, policy.CaseAction.MANAGE)
        data = self.UpdateIn(data=request.data)
        data.is_valid(raise_exception=True)
        services.case_update(user=request.user, case_id=case_id,
                             area=data.validated_data["area"],
                             expected_version=data.validated_data["version"])
        detail = selectors.case_detail(user=request.user, case_id=case_id)
        return Response(CaseOut(detail.case).data)


class CaseSubresourceView(TokenAPIView):
    """The base of the views under ``/api/v1/cases/{id}/``: a write first asks the
    policy for the action on the case (a recorded 404 or 403 before the body is even
    read), then validates the body, calls the service and answers 201 with the result."""

    def created(self, request, case_id, *, action: policy.CaseAction, body, write, out,
                **out_kwargs) -> Response:
        policy.require_case(request.user, case_id, action)
        data = body(data=request.data)
        data.is_valid(raise_exception=True)
        result = write(dict(data.validated_data))
        return Response(out(result, **out_kwargs).data, status=status.HTTP_201_CREATED)


class MembersView(CaseSubresourceView):
    class MemberIn(serializers.Serializer):
        username = serializers.CharField(max_length=150)
        version = serializers.IntegerField(required=False)

    @extend_schema(request=MemberIn, responses={201: MemberOut})
    def post(self, request, case_id):
        return self.created(
            request, case_id, action=policy.CaseAction.EXTEND, body=self.MemberIn,
            out=MemberOut, write=lambda values: services.member_add(
                user=request.user, case_id=case_id, username=values["username"],
                expected_version=values.get("version")))


class MemberDetailView(TokenAPIView):
    @extend_schema(parameters=[OpenApiParameter("version", int)], responses={204: None})
    def delete(self, request, case_id, username):
        services.member_remove(user=request.user, case_id=case_id, username=username,
                               expected_version=request.query_params.get("version"))
        return Response(status=status.HTTP_204_NO_CONTENT)


class GuardiansView(CaseSubresourceView):
    class GuardianIn(serializers.Serializer):
        personnummer = serializers.CharField(max_length=20)
        first_name = serializers.CharField(max_length=100)
        last_name = serializers.CharField(max_length=100)
        custodian = serializers.BooleanField()
        address = serializers.CharField(max_length=200, required=False, allow_blank=True)
        phone = serializers.CharField(max_length=40, required=False, allow_blank=True)
        protected_identity = serializers.BooleanField(required=False, default=False)
        version = serializers.IntegerField(required=False)

    @extend_schema(responses=GuardianOut(many=True))
    def get(self, request, case_id):
        guardians = selectors.guardian_list(user=request.user, case_id=case_id)
        return Response(GuardianOut(guardians, many=True).data)

    @extend_schema(request=GuardianIn, responses={201: GuardianOut})
    def post(self, request, case_id):
        return self.created(
            request, case_id, action=policy.CaseAction.EXTEND, body=self.GuardianIn,
            out=GuardianOut, write=lambda values: services.guardian_add(
                user=request.user, case_id=case_id,
                expected_version=values.pop("version", None), **values))


class EntriesView(CaseSubresourceView):
    class EntryIn(serializers.Serializer):
        category = serializers.ChoiceField(choices=Entry.Category.values)
        text = serializers.CharField(max_length=ENTRY_TEXT_MAX_LENGTH)
        statutory_basis = serializers.CharField(max_length=200, required=False,
                                                allow_blank=True, default="")
        statutory_recipient = serializers.IntegerField(
            required=False, allow_null=True, default=None, min_value=1,
            help_text="Id of the team organisation the statutory basis lets the entry "
                      "reach; required with a statutory basis.")

    @extend_schema(parameters=[OpenApiParameter("page", int)], responses=EntryPageOut)
    def get(self, request, case_id):
        page = selectors.entry_page(user=request.user, case_id=case_id,
                                    page=request.query_params.get("page", 1))
        return Response(_page_payload(request, page, EntryOut))

    @extend_schema(request=EntryIn, responses={201: EntryOut})
    def post(self, request, case_id):
        return self.created(
            request, case_id, action=policy.CaseAction.ADD_ENTRY, body=self.EntryIn,
            out=EntryOut, write=lambda values: services.entry_add(
                user=request.user, case_id=case_id, **values))


