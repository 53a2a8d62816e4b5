"""Consent pages: the case's consent status and history, recording a grant,
withdrawing one, the signed form. Bad input re-renders the page with its errors and
status 400, nothing stored."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.http import require_http_methods

from cases import policy
from consent import selectors, services
from consent.forms import GrantForm, WithdrawForm
from sspf.forms import apply_service_errors
from sspf.middleware import answers_oversized_body

BAD_REQUEST = 400
PAYLOAD_TOO_LARGE = 413


def _overview_page(request, case_id, *, status=200, upload_grant=None, upload_errors=()):
    overview = selectors.consent_overview(user=request.user, case_id=case_id)
    return render(request, "consent/overview.html", {
        "o": overview, "case": overview.case,
        "upload_grant": upload_grant, "upload_errors": list(upload_errors),
    }, status=status)


def consent_overview(request, case_id):
    return _overview_page(request, case_id)


@require_http_methods(["GET", "POST"])
def grant_create(request, case_id):
    # Checked before anything is read, so a refused user leaves only the denial.
    policy.require_case(request.user, case_id, policy.CaseAction.NEW_CONSENT)
    overview = selectors.consent_overview(user=request.user, case_id=case_id)
    case = overview.case
    # Only custody gives the right to consent; a parent without it is no choice here.
    givers = [("youth", _("Den unge"))] + [
        (f"guardian:{g.pk}",
         f"{pgettext('en person', 'Vårdnadshavare')}: {g.first_name} {g.last_name}")
        for g in overview.guardians.values() if g.custodian
    ]
    # Only the partners can be named, and the team's organisations are ticked to begin with.
    orgs = services.partner_organisations(case).order_by("name")
    team_orgs = {str(org_id) for org_id in overview.team_organisations}
    form = GrantForm(request.POST or None, givers=givers,
                     organisations=[(str(o.pk), o.name) for o in orgs],
                     initial={"organisations": sorted(team_orgs), "form": "written"})
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            giver_type, _sep, guardian_id = data["giver"].partition(":")
            try:
                services.grant_record(
                    user=request.user, case_id=case.pk, giver_type=giver_type,
                    guardian_id=guardian_id or None, organisations=data["organisations"],
                    categories=data["categories"], purpose=data["purpose"],
                    form=data["form"], given_on=data["given_on"],
                    valid_until=data["valid_until"])
            except ValidationError as exc:
                apply_service_errors(form, exc)
            else:
                messages.success(request, _("Samtycket är registrerat."))
                return redirect("consent_overview", case_id=case.pk)
        return render(request, "consent/grant_form.html", {"form": form, "case": case},
                      status=BAD_REQUEST)
    return render(request, "consent/grant_form.html", {"form": form, "case": case})


@require_http_methods(["GET", "POST"])
def grant_withdraw(request, grant_id):
    page = selectors.withdrawal_page(user=request.user, grant_id=grant_id)
    form = WithdrawForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.grant_withdraw(user=request.user, grant_id=page.grant_id,
                                        reason=form.cleaned_data["reason"])
            except ValidationError as exc:
                apply_service_errors(form, exc)
            else:
                messages.success(request,
                                 _("Samtycket är återkallat. Det gäller från och med nu."))
                return redirect("consent_overview", case_id=page.case_id)
        status = BAD_REQUEST
    return render(request, "consent/withdraw_form.html", {"form": form, "page": page},
                  status=status)


def _document_too_large(request, grant_id):
    """A body over the upload limit, unread: the consent page with the upload's error,
    as for a file that was read and found too large."""
    grant = services.require_grant(request.user, grant_id)
    return _overview_page(request, grant.case_id, status=PAYLOAD_TOO_LARGE,
                          upload_grant=grant.pk, upload_errors=[services.DOCUMENT_TOO_LARGE])


@answers_oversized_body(_document_too_large)
@require_http_methods(["GET", "POST"])
def grant_document(request, grant_id):
    """GET downloads the signed form; POST uploads it (once)."""
    if request.method == "GET":
        document, extension = services.document_read(user=request.user, grant_id=grant_id)
        response = HttpResponse(document.data, content_type=document.content_type)
        response["Content-Disposition"] = (
            f'attachment; filename="samtycke-{document.grant_id}.{extension}"')
        return response
    grant = services.require_grant(request.user, grant_id)
    upload = request.FILES.get("document")
    try:
        services.document_attach(user=request.user, grant_id=grant.pk,
                                 data=upload.read() if upload else b"")
    except ValidationError as exc:
        return _overview_page(request, grant.case_id, status=BAD_REQUEST, upload_grant=grant.pk,
                              upload_errors=[m for ms in exc.message_dict.values() for m in ms])
    messages.success(request, _("Blanketten är uppladdad och sparad krypterad."))
    return redirect("consent_overview", case_id=grant.case_id)
