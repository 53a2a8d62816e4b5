"""Consent pages: the case's consent status and history, recording a grant,
withdrawing one."""

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
from consent.models import ConsentGrant
from sspf.forms import apply_service_errors, flash_errors
from sspf.models import Organisation


def consent_overview(request, case_id):
    overview = selectors.consent_overview(user=request.user, case_id=case_id)
    organisations = {o.pk: o.name for o in
                     Organisation.objects.filter(municipality_id=overview.case.municipality_id)}
    effective = overview.status.effective
    return render(request, "consent/overview.html", {
        "o": overview, "case": overview.case, "active_ids": overview.active_ids(),
        "documents": overview.documents,
        "effective_orgs": sorted(organisations[i] for i in effective.organisations
                                 if i in organisations) if effective else [],
        "effective_categories": sorted(effective.categories) if effective else [],
        "required_labels": [
            _("den unge") if g.type == "youth" else
            f"{overview.guardians[g.id].first_name} {overview.guardians[g.id].last_name}"
            for g in overview.status.required
        ],
    })


@require_http_methods(["GET", "POST"])
def grant_create(request, case_id):
    # Checked before anything is read, so a refused user leaves only the denial.
    policy.require_case(request.user, case_id, policy.CaseAction.RECORD_CONSENT)
    overview = selectors.consent_overview(user=request.user, case_id=case_id)
    case = overview.case
    givers = [("youth", _("Den unge"))] + [
        (f"guardian:{g.pk}",
         f"{pgettext('en person', 'Vårdnadshavare')}: {g.first_name} {g.last_name}")
        for g in overview.guardians.values()
    ]
    orgs = Organisation.objects.filter(municipality_id=case.municipality_id).order_by("name")
    team_orgs = {str(org_id) for org_id in overview.team_organisations}
    form = GrantForm(request.POST or None, givers=givers,
                     organisations=[(str(o.pk), o.name) for o in orgs],
                     initial={"organisations": sorted(team_orgs), "form": "written"})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        giver_type, _sep, guardian_id = data["giver"].partition(":")
        try:
            services.grant_record(
                user=request.user, case_id=case.pk, giver_type=giver_type,
                guardian_id=guardian_id or None, organisations=data["organisations"],
                categories=data["categories"], purpose=data["purpose"], form=data["form"],
                given_on=data["given_on"], valid_until=data["valid_until"])
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Samtycket är registrerat."))
            return redirect("consent_overview", case_id=case.pk)
    return render(request, "consent/grant_form.html", {"form": form, "case": case})


@require_http_methods(["GET", "POST"])
def grant_withdraw(request, grant_id):
    grant: ConsentGrant = services.require_grant(request.user, grant_id)
    form = WithdrawForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.grant_withdraw(user=request.user, grant_id=grant.pk,
                                    reason=form.cleaned_data["reason"])
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Samtycket är återkallat. Det gäller från och med nu."))
            return redirect("consent_overview", case_id=grant.case_id)
    return render(request, "consent/withdraw_form.html", {"form": form, "grant": grant})


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
        flash_errors(request, exc.message_dict)
    else:
        messages.success(request, _("Blanketten är uppladdad och sparad krypterad."))
    return redirect("consent_overview", case_id=grant.case_id)
