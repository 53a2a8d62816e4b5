"""REST API v1 for cases. Thin views: an input serializer checks shape, a service or
selector does the work under the same policy and audit as the pages, an output
serializer shapes the answer."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.paginator import Page
from django.utils import timezone
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.response import Response

from cases import policy, selectors, services
from cases.models import (
    ENTRY_TEXT_MAX_LENGTH,
    PLAN_TEXT_MAX_LENGTH,
    SIGNAL_TEXT_MAX_LENGTH,
    STATUS_REASON_MAX_LENGTH,
    Case,
    CaseMember,
    ClosureReason,
    Commitment,
    Domain,
    Entry,
    FactorKind,
    Guardian,
    Level,
    Signal,
)
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


class ClosureOut(serializers.Serializer):
    reason = serializers.ChoiceField(choices=ClosureReason.choices, source="closure_reason")
    closed_on = serializers.DateField(source="closed_at")


class CaseOut(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=Case.Status.choices)
    area = serializers.CharField()
    opened_at = serializers.DateField()
    version = serializers.IntegerField()
    closure = serializers.SerializerMethodField()
    youth = YouthOut()
    members = MemberOut(many=True, source="active_members")

    @extend_schema_field(ClosureOut(allow_null=True))
    def get_closure(self, case) -> dict | None:
        return None if case.is_open else ClosureOut(case).data


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
    """An item of the case's list: an entry, or a signal taken up (``kind``)."""

    kind = serializers.ChoiceField(choices=["entry", "signal"], default="entry")
    source_org = OrganisationOut()
    author = serializers.CharField(source="author.username")
    statutory_recipient = OrganisationOut(allow_null=True)
    statutory_basis = serializers.SerializerMethodField()
    concerns = serializers.SerializerMethodField()

    class Meta:
        model = Entry
        fields = ["id", "kind", "category", "text", "source_org", "author", "created_at",
                  "statutory_basis", "statutory_recipient", "concerns"]

    def get_statutory_basis(self, entry) -> str:
        return entry.statutory_basis or ""

    @extend_schema_field(serializers.ListField(child=serializers.CharField(), allow_null=True))
    def get_concerns(self, item) -> list[str] | None:
        """The concern codes of a signal; null for an entry."""
        return getattr(item, "concerns", None)


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


def _page_out(name, item):
    return inline_serializer(name, {
        "count": serializers.IntegerField(), "next": serializers.CharField(allow_null=True),
        "previous": serializers.CharField(allow_null=True), "results": item(many=True)})


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
        parameters=[OpenApiParameter("status", str, enum=[*Case.Status.values, "open"],
                                     description="open: every status but closed"),
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
        policy.require_case(request.user, case_id, policy.CaseAction.EXTEND)
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


class CaseItemsView(CaseSubresourceView):
    """A list of one item type of a case: GET a page of those the caller may see, POST
    a new one. A subclass names its selector, service, action and serializers (and
    its schema, with ``extend_schema_view``)."""

    page_of: Callable  # selector(user=, case_id=, page=) -> Page
    add: Callable  # service(user=, case_id=, **values) -> item
    add_action: policy.CaseAction
    body: type[serializers.Serializer]
    item_out: type[serializers.Serializer]

    def get(self, request, case_id):
        page = self.page_of(user=request.user, case_id=case_id,
                            page=request.query_params.get("page", 1))
        return Response(_page_payload(request, page, self.item_out))

    def post(self, request, case_id):
        return self.created(
            request, case_id, action=self.add_action, body=self.body, out=self.item_out,
            write=lambda values: self.add(user=request.user, case_id=case_id, **values))


def _items_schema(name: str, body, out):
    return extend_schema_view(
        get=extend_schema(parameters=[OpenApiParameter("page", int)],
                          responses=_page_out(name, out)),
        post=extend_schema(request=body, responses={201: out}))


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


class CaseLifecycleView(TokenAPIView):
    """A move of the case (status, close, reopen): the policy first, then the body, the
    service, and the case as it now is."""

    case_action = policy.CaseAction.CHANGE_STATUS
    body: type[serializers.Serializer]

    def move(self, user, case_id, values: dict) -> None:
        raise NotImplementedError

    def post(self, request, case_id):
        policy.require_case(request.user, case_id, self.case_action)
        data = self.body(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            self.move(request.user, case_id, dict(data.validated_data))
        except services.CaseReferred as referred:
            return Response({"detail": str(referred.message)}, status=status.HTTP_202_ACCEPTED)
        detail = selectors.case_detail(user=request.user, case_id=case_id)
        return Response(CaseOut(detail.case).data)


class CaseStatusView(CaseLifecycleView):
    class StatusIn(serializers.Serializer):
        status = serializers.CharField(max_length=20)
        reason = serializers.CharField(max_length=STATUS_REASON_MAX_LENGTH, required=False,
                                       allow_blank=True, default="")

    body = StatusIn

    def move(self, user, case_id, values):
        services.case_set_status(user=user, case_id=case_id, **values)

    @extend_schema(request=StatusIn, responses={200: CaseOut})
    def post(self, request, case_id):
        return super().post(request, case_id)


class CaseCloseView(CaseLifecycleView):
    class CloseIn(serializers.Serializer):
        reason = serializers.CharField(max_length=40, allow_blank=True)
        note = serializers.CharField(max_length=STATUS_REASON_MAX_LENGTH, required=False,
                                     allow_blank=True, default="")

    body = CloseIn

    def move(self, user, case_id, values):
        services.case_close(user=user, case_id=case_id, **values)

    @extend_schema(request=CloseIn, responses={200: CaseOut})
    def post(self, request, case_id):
        return super().post(request, case_id)


class CaseReopenView(CaseLifecycleView):
    class ReopenIn(serializers.Serializer):
        reason = serializers.CharField(max_length=STATUS_REASON_MAX_LENGTH, allow_blank=True)

    case_action = policy.CaseAction.REOPEN
    body = ReopenIn

    def move(self, user, case_id, values):
        services.case_reopen(user=user, case_id=case_id, **values)

    @extend_schema(request=ReopenIn, responses={200: CaseOut, 202: OpenApiResponse(
        description="Not reopened: the young person has another open case the caller is "
                    "not on; its lead coordinators were told.")})
    def post(self, request, case_id):
        return super().post(request, case_id)


class TimelineEventOut(serializers.Serializer):
    at = serializers.DateTimeField()
    kind = serializers.ChoiceField(choices=["status", "member_added", "member_removed",
                                            "consent_given", "consent_withdrawn", "item"])
    text = serializers.CharField()
    organisation = serializers.CharField()
    by = serializers.CharField()
    detail = serializers.CharField(help_text="A coordinator's reason for a status change; "
                                             "empty for everyone else.")


class TimelineView(TokenAPIView):
    @extend_schema(responses=TimelineEventOut(many=True))
    def get(self, request, case_id):
        _case, events = selectors.case_timeline(user=request.user, case_id=case_id)
        return Response(TimelineEventOut(events, many=True).data)


# --- signals ---------------------------------------------------------------------------

class SignalCreatedOut(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=Signal.Status.choices)
    concerns = serializers.ListField(child=serializers.CharField())
    created_at = serializers.DateTimeField()


class SignalOut(SignalCreatedOut):
    """A signal as its reporter sees it: what they wrote and its status, never the case
    or what else is known."""

    personnummer = serializers.CharField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    school = serializers.CharField()
    text = serializers.CharField()
    report_of_concern_made = serializers.BooleanField()
    report_of_concern_date = serializers.DateField(allow_null=True)


class SignalTriageOut(SignalOut):
    """A signal as the municipality's coordinators see it."""

    case = serializers.IntegerField(source="case_id", allow_null=True)
    protected_identity = serializers.BooleanField()
    source_org = OrganisationOut()
    author = serializers.CharField(source="author.username")
    triaged_at = serializers.DateTimeField(allow_null=True)


class SignalAnyOut(serializers.BaseSerializer):
    """Each signal as the caller sees it (``signal.whole``, set by the selector): as the
    triage does, or as its reporter does."""

    def to_representation(self, signal):
        return (SignalTriageOut if getattr(signal, "whole", False) else SignalOut)(signal).data


class SignalPageOut(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)
    results = SignalTriageOut(many=True)


class SignalsView(TokenAPIView):
    class SignalIn(serializers.Serializer):
        personnummer = serializers.CharField(max_length=20, required=False, allow_blank=True,
                                             default="")
        first_name = serializers.CharField(max_length=100, required=False, allow_blank=True,
                                           default="")
        last_name = serializers.CharField(max_length=100, required=False, allow_blank=True,
                                          default="")
        school = serializers.CharField(max_length=150, required=False, allow_blank=True,
                                       default="")
        concerns = serializers.ListField(child=serializers.CharField(max_length=40),
                                         allow_empty=True, max_length=20)
        text = serializers.CharField(max_length=SIGNAL_TEXT_MAX_LENGTH, allow_blank=True)
        report_of_concern_made = serializers.BooleanField(required=False, default=False)
        report_of_concern_date = serializers.DateField(required=False, allow_null=True,
                                                       default=None)
        protected_identity = serializers.BooleanField(required=False, default=False)

    @extend_schema(operation_id="v1_signals_list",
                   parameters=[OpenApiParameter("status", str, enum=Signal.Status.values),
                               OpenApiParameter("page", int)],
                   responses=SignalPageOut,
                   description="The caller's own signals; for a coordinator the "
                               "municipality's. A signal taken up into a case the caller "
                               "does not coordinate has only the fields of SignalOut.")
    def get(self, request):
        status_filter = request.query_params.get("status", "")
        page = selectors.signal_page(user=request.user, status=status_filter,
                                     page=request.query_params.get("page", 1))
        return Response(_page_payload(request, page, SignalAnyOut, status=status_filter))

    @extend_schema(request=SignalIn, responses={201: SignalCreatedOut})
    def post(self, request):
        if not policy.may_raise_signal(request.user):
            raise policy.deny(request.user, status=403, object_type="cases.Signal",
                              object_id=None, purpose="create")
        data = self.SignalIn(data=request.data)
        data.is_valid(raise_exception=True)
        signal = services.signal_raise(user=request.user, **data.validated_data)
        return Response(SignalCreatedOut(signal).data, status=status.HTTP_201_CREATED)


class SignalDetailView(TokenAPIView):
    @extend_schema(responses=SignalTriageOut)
    def get(self, request, signal_id):
        signal = selectors.signal_detail(user=request.user, signal_id=signal_id)
        return Response(SignalAnyOut(signal).data)


class SignalTriageView(TokenAPIView):
    class TriageIn(serializers.Serializer):
        action = serializers.ChoiceField(choices=services.TriageAction.ALL)
        case = serializers.IntegerField(required=False, allow_null=True, default=None,
                                        min_value=1)
        reason = serializers.CharField(max_length=STATUS_REASON_MAX_LENGTH, required=False,
                                       allow_blank=True, default="")
        personnummer = serializers.CharField(max_length=20, required=False, allow_blank=True,
                                             default="", help_text="For open_case, when the "
                                             "signal has no identity number.")
        first_name = serializers.CharField(max_length=100, required=False, allow_blank=True,
                                           default="")
        last_name = serializers.CharField(max_length=100, required=False, allow_blank=True,
                                          default="")

    class TriagedOut(serializers.Serializer):
        id = serializers.IntegerField()
        status = serializers.ChoiceField(choices=Signal.Status.choices)
        case = serializers.IntegerField(source="case_id", allow_null=True)

    @extend_schema(request=TriageIn, responses={200: TriagedOut, 202: OpenApiResponse(
        description="No case opened: the young person has an open case the caller is not "
                    "on; its lead coordinators were told. The signal stays new.")})
    def post(self, request, signal_id):
        policy.require_signal(request.user, signal_id, triage=True)
        data = self.TriageIn(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        try:
            signal = services.signal_triage(user=request.user, signal_id=signal_id,
                                            case_id=values.pop("case"), **values)
        except services.CaseReferred as referred:
            return Response({"detail": str(referred.message)}, status=status.HTTP_202_ACCEPTED)
        return Response(self.TriagedOut(signal).data)


# --- kartläggning ------------------------------------------------------------------------

class FactorOut(serializers.Serializer):
    domain = serializers.ChoiceField(choices=Domain.choices)
    kind = serializers.ChoiceField(choices=FactorKind.choices)
    level = serializers.ChoiceField(choices=Level.choices)
    note = serializers.CharField()


class AssessmentOut(serializers.Serializer):
    id = serializers.IntegerField()
    version = serializers.IntegerField(help_text="Its place among the versions the caller "
                                       "may see, oldest first (1, 2, …).")
    made_on = serializers.DateField()
    source_org = OrganisationOut()
    category = serializers.CharField()
    author = serializers.CharField(source="author.username")
    created_at = serializers.DateTimeField()
    factors = FactorOut(many=True, source="factors.all")


class AssessmentsView(CaseItemsView):
    class AssessmentIn(serializers.Serializer):
        made_on = serializers.DateField()
        # Shapes are checked by the service, so each problem names its row.
        factors = serializers.ListField(child=serializers.DictField(), allow_empty=True,
                                        max_length=50)

    page_of = staticmethod(selectors.assessment_page)
    add = staticmethod(services.assessment_add)
    add_action = policy.CaseAction.ADD_ASSESSMENT
    body = AssessmentIn
    item_out = AssessmentOut


_items_schema("AssessmentPage", AssessmentsView.AssessmentIn, AssessmentOut)(AssessmentsView)


class ChangeOut(serializers.Serializer):
    domain = serializers.ChoiceField(choices=Domain.choices)
    kind = serializers.ChoiceField(choices=FactorKind.choices)
    before = serializers.ChoiceField(choices=Level.choices, allow_null=True)
    after = serializers.ChoiceField(choices=Level.choices, allow_null=True)
    what = serializers.ChoiceField(choices=["appeared", "disappeared", "rose", "fell",
                                            "unchanged"])


class AssessmentCompareView(TokenAPIView):
    @extend_schema(parameters=[OpenApiParameter("from", int, required=True),
                               OpenApiParameter("to", int, required=True)],
                   responses=inline_serializer("AssessmentComparison", {
                       "from": AssessmentOut(), "to": AssessmentOut(),
                       "changes": ChangeOut(many=True)}))
    def get(self, request, case_id):
        older, newer, changes = selectors.assessment_compare(
            user=request.user, case_id=case_id, first=request.query_params.get("from"),
            second=request.query_params.get("to"))
        return Response({"from": AssessmentOut(older).data, "to": AssessmentOut(newer).data,
                         "changes": ChangeOut(changes, many=True).data})


# --- action plan, commitments, follow-ups -------------------------------------------------

class PlanOut(serializers.Serializer):
    id = serializers.IntegerField()
    source_org = OrganisationOut()
    category = serializers.CharField()
    created_at = serializers.DateTimeField()
    goals = serializers.CharField()
    agreed_on = serializers.DateField(allow_null=True)


class CommitmentOut(serializers.Serializer):
    id = serializers.IntegerField()
    source_org = OrganisationOut(help_text="The organisation that owns the commitment.")
    category = serializers.CharField()
    created_at = serializers.DateTimeField()
    responsible = serializers.CharField(source="responsible.username")
    description = serializers.CharField()
    due_on = serializers.DateField()
    status = serializers.ChoiceField(choices=Commitment.Status.choices)
    overdue = serializers.SerializerMethodField()

    def get_overdue(self, commitment) -> bool:
        return (commitment.status in Commitment.OPEN_STATUSES
                and commitment.due_on < timezone.localdate())


class FollowUpOut(serializers.Serializer):
    id = serializers.IntegerField()
    source_org = OrganisationOut()
    category = serializers.CharField()
    created_at = serializers.DateTimeField()
    due_on = serializers.DateField()
    held_on = serializers.DateField(allow_null=True)
    outcome = serializers.CharField()
    note = serializers.CharField()
    propose_closure = serializers.BooleanField()


class ActionPlanView(TokenAPIView):
    class PlanIn(serializers.Serializer):
        goals = serializers.CharField(max_length=PLAN_TEXT_MAX_LENGTH, allow_blank=True)

    @extend_schema(responses=inline_serializer("ActionPlanAnswer", {
        "plan": PlanOut(allow_null=True), "commitments": CommitmentOut(many=True),
        "next_follow_up": FollowUpOut(allow_null=True)}))
    def get(self, request, case_id):
        _case, view = selectors.plan_detail(user=request.user, case_id=case_id)
        return Response({
            "plan": PlanOut(view.plan).data if view.plan else None,
            "commitments": CommitmentOut(view.commitments, many=True).data,
            "next_follow_up": FollowUpOut(view.next_follow_up).data
            if view.next_follow_up else None,
        })

    @extend_schema(request=PlanIn, responses={200: PlanOut})
    def put(self, request, case_id):
        policy.require_case(request.user, case_id, policy.CaseAction.EDIT_PLAN)
        data = self.PlanIn(data=request.data)
        data.is_valid(raise_exception=True)
        plan = services.plan_save(user=request.user, case_id=case_id, **data.validated_data)
        return Response(PlanOut(plan).data)


class PlanAgreeView(TokenAPIView):
    @extend_schema(request=None, responses={200: PlanOut})
    def post(self, request, case_id):
        plan = services.plan_agree(user=request.user, case_id=case_id)
        return Response(PlanOut(plan).data)


class CommitmentsView(CaseItemsView):
    class CommitmentIn(serializers.Serializer):
        organisation = serializers.IntegerField(min_value=1, help_text="A team organisation.")
        responsible = serializers.CharField(max_length=150, help_text="A team member's "
                                            "username, of that organisation.")
        description = serializers.CharField(max_length=PLAN_TEXT_MAX_LENGTH,
                                            allow_blank=True)
        due_on = serializers.DateField()

    page_of = staticmethod(selectors.commitment_page)
    add = staticmethod(services.commitment_add)
    add_action = policy.CaseAction.EDIT_PLAN
    body = CommitmentIn
    item_out = CommitmentOut


_items_schema("CommitmentPage", CommitmentsView.CommitmentIn, CommitmentOut)(CommitmentsView)


class CommitmentDetailView(TokenAPIView):
    class CommitmentStatusIn(serializers.Serializer):
        status = serializers.CharField(max_length=20)

    @extend_schema(request=CommitmentStatusIn, responses={200: CommitmentOut})
    def patch(self, request, commitment_id):
        commitment = policy.require_item(request.user, Commitment, commitment_id,
                                         policy.CaseAction.UPDATE_COMMITMENT)
        policy.require_commitment_update(request.user, commitment)
        data = self.CommitmentStatusIn(data=request.data)
        data.is_valid(raise_exception=True)
        commitment = services.commitment_set_status(
            user=request.user, commitment_id=commitment_id, **data.validated_data)
        return Response(CommitmentOut(commitment).data)


class FollowUpsView(CaseItemsView):
    class FollowUpIn(serializers.Serializer):
        held_on = serializers.DateField()
        outcome = serializers.CharField(max_length=20)
        note = serializers.CharField(max_length=PLAN_TEXT_MAX_LENGTH, required=False,
                                     allow_blank=True, default="")
        next_on = serializers.DateField(required=False, allow_null=True, default=None)
        propose_closure = serializers.BooleanField(required=False, default=False)

    page_of = staticmethod(selectors.follow_up_page)
    add = staticmethod(services.follow_up_record)
    add_action = policy.CaseAction.EDIT_PLAN
    body = FollowUpIn
    item_out = FollowUpOut


_items_schema("FollowUpPage", FollowUpsView.FollowUpIn, FollowUpOut)(FollowUpsView)


class DueItemOut(serializers.Serializer):
    type = serializers.ChoiceField(choices=["follow_up", "commitment"])
    id = serializers.IntegerField()
    case = serializers.IntegerField()
    due_on = serializers.DateField()


class DueView(TokenAPIView):
    @extend_schema(responses=inline_serializer("Due", {
        "due_this_week": DueItemOut(many=True), "overdue": DueItemOut(many=True)}))
    def get(self, request):
        result = selectors.due(user=request.user)
        return Response({"due_this_week": DueItemOut(result.due_this_week, many=True).data,
                         "overdue": DueItemOut(result.overdue, many=True).data})


# --- network meetings ---------------------------------------------------------------------

class MeetingOut(serializers.Serializer):
    id = serializers.IntegerField()
    source_org = OrganisationOut()
    category = serializers.CharField()
    created_at = serializers.DateTimeField()
    held_at = serializers.DateTimeField()
    participants = serializers.SerializerMethodField()
    youth_present = serializers.BooleanField()
    guardians_present = serializers.SerializerMethodField()
    minutes = serializers.CharField()
    decisions = serializers.CharField()

    def get_participants(self, meeting) -> list[str]:
        return [p.user.username for p in meeting.participants.all()]

    def get_guardians_present(self, meeting) -> list[int]:
        return [g.pk for g in meeting.guardians_present.all()]


class MeetingsView(CaseItemsView):
    class MeetingIn(serializers.Serializer):
        held_at = serializers.DateTimeField()
        participants = serializers.ListField(child=serializers.CharField(max_length=150),
                                             allow_empty=True, max_length=50)
        youth_present = serializers.BooleanField(required=False, default=False)
        guardians_present = serializers.ListField(child=serializers.IntegerField(min_value=1),
                                                  required=False, default=list, max_length=20)
        minutes = serializers.CharField(max_length=PLAN_TEXT_MAX_LENGTH, allow_blank=True)
        decisions = serializers.CharField(max_length=PLAN_TEXT_MAX_LENGTH, required=False,
                                          allow_blank=True, default="")

    page_of = staticmethod(selectors.meeting_page)
    add = staticmethod(services.meeting_record)
    add_action = policy.CaseAction.RECORD_MEETING
    body = MeetingIn
    item_out = MeetingOut


_items_schema("MeetingPage", MeetingsView.MeetingIn, MeetingOut)(MeetingsView)
