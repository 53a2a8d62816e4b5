"""Pages for case work. Views only translate between HTTP and the services and
selectors; they never query personal models themselves."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from cases import policy, selectors, services
from cases.forms import (
    AssessmentForm,
    CaseCreateForm,
    CaseEditForm,
    CloseForm,
    CommitmentForm,
    CommitmentStatusForm,
    EntryForm,
    FollowUpForm,
    GuardianForm,
    MeetingForm,
    MemberForm,
    PlanForm,
    ReopenForm,
    SearchForm,
    SignalFilterForm,
    SignalForm,
    StatusFilterForm,
    StatusForm,
    TriageForm,
    VersionForm,
)
from cases.models import Commitment, Signal
from sspf import notifications
from sspf.forms import apply_service_errors, flash_errors
from sspf.roles import Role


def _form_status(request) -> int:
    """A form page shown again after a POST shows refused input: 400."""
    return 400 if request.method == "POST" else 200


def _stale(request, case_id):
    messages.error(request, services.StaleVersion.message)
    return redirect("case_detail", case_id=case_id)


def home(request):
    user = request.user
    context = {"cases": [], "works_on_cases": policy.works_on_cases(user)}
    if context["works_on_cases"]:
        context["cases"] = selectors.coordinator_open_cases(user=user)
        context["may_create"] = policy.may_create_case(user)
        context["sections"] = selectors.start_sections(user)
        context["new_signals"] = selectors.new_signal_count(user)
        context["due"] = selectors.due(user=user)
        context["due_groups"] = [(_("Försenat"), context["due"].overdue),
                                 (_("Den här veckan"), context["due"].due_this_week)]
    context["notifications"] = notifications.unread(user)
    context["is_auditor"] = user.role == Role.AUDITOR
    context["is_analyst"] = user.role == Role.LAGESBILD_ANALYST
    context["is_admin"] = user.role == Role.ADMINISTRATOR
    return render(request, "cases/home.html", context)


@require_http_methods(["GET", "POST"])
def case_list(request):
    filter_form = StatusFilterForm(request.GET or None)
    status = filter_form.cleaned_data["status"] if filter_form.is_valid() else ""
    search_form = SearchForm(request.POST or None)
    hits = None
    if request.method == "POST" and search_form.is_valid():
        try:
            hits = selectors.case_search(
                user=request.user, personnummer=search_form.cleaned_data["personnummer"]
            )
        except ValidationError as exc:
            apply_service_errors(search_form, exc)
    page = None
    if hits is None:
        page = selectors.case_page(user=request.user, status=status,
                                   page=request.GET.get("page", 1))
    return render(request, "cases/case_list.html", {
        "filter_form": filter_form, "search_form": search_form, "hits": hits, "page": page,
        "status": status, "may_create": policy.may_create_case(request.user),
    }, status=400 if request.method == "POST" and hits is None else 200)


@require_http_methods(["GET", "POST"])
def case_create(request):
    policy.require_create_case(request.user)
    areas = request.user.organisation.municipality.areas
    form = CaseCreateForm(request.POST or None, areas=areas)
    if request.method == "POST" and form.is_valid():
        try:
            case = services.case_create(user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            apply_service_errors(form, exc)
        except services.CaseReferred as referred:
            messages.info(request, referred.message)
            return redirect("home")
        else:
            messages.success(request, _("Ärendet är skapat."))
            return redirect("case_detail", case_id=case.pk)
    return render(request, "cases/case_form.html", {"form": form}, status=_form_status(request))


def case_detail(request, case_id):
    detail = selectors.case_detail(user=request.user, case_id=case_id,
                                   entry_page=request.GET.get("page", 1))
    return render(request, "cases/case_detail.html", {
        "d": detail, "case": detail.case, "today": timezone.localdate(),
        "commitment_statuses": Commitment.Status.choices,
        "open_commitment": Commitment.OPEN_STATUSES,
        "status_form": StatusForm(),
        "member_form": MemberForm(initial={"version": detail.case.version}),
        "version_form": VersionForm(initial={"version": detail.case.version}),
        **selectors.case_page_sections(user=request.user, case_id=detail.case.pk),
    })


@require_http_methods(["GET", "POST"])
def case_edit(request, case_id):
    case = policy.require_case(request.user, case_id, policy.CaseAction.EXTEND)
    form = CaseEditForm(request.POST or None, areas=case.municipality.areas,
                        initial={"area": case.area, "version": case.version})
    if request.method == "POST" and form.is_valid():
        try:
            services.case_update(user=request.user, case_id=case.pk,
                                 area=form.cleaned_data["area"],
                                 expected_version=form.cleaned_data["version"])
        except services.StaleVersion:
            return _stale(request, case.pk)
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Ärendet är uppdaterat."))
            return redirect("case_detail", case_id=case.pk)
    return render(request, "cases/case_edit.html", {"form": form, "case": case},
                  status=_form_status(request))


@require_POST
def member_add(request, case_id):
    case = policy.require_case(request.user, case_id, policy.CaseAction.EXTEND)
    form = MemberForm(request.POST)
    if form.is_valid():
        try:
            services.member_add(user=request.user, case_id=case.pk,
                                username=form.cleaned_data["username"],
                                expected_version=form.cleaned_data["version"])
        except services.StaleVersion:
            return _stale(request, case.pk)
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("%(username)s har lagts till i teamet.")
                             % {"username": form.cleaned_data["username"]})
            return redirect("case_detail", case_id=case.pk)
    flash_errors(request, form.errors)
    return redirect("case_detail", case_id=case.pk)


@require_POST
def member_remove(request, case_id, username):
    case = policy.require_case(request.user, case_id, policy.CaseAction.EXTEND)
    form = VersionForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Formuläret var ofullständigt. Försök igen."))
        return redirect("case_detail", case_id=case.pk)
    try:
        services.member_remove(user=request.user, case_id=case.pk, username=username,
                               expected_version=form.cleaned_data["version"])
    except services.StaleVersion:
        return _stale(request, case.pk)
    except ValidationError as exc:
        flash_errors(request, exc.message_dict)
    else:
        messages.success(request, _("%(username)s har tagits bort ur teamet.")
                         % {"username": username})
    return redirect("case_detail", case_id=case.pk)


@require_http_methods(["GET", "POST"])
def guardian_add(request, case_id):
    case = policy.require_case(request.user, case_id, policy.CaseAction.EXTEND)
    form = GuardianForm(request.POST or None, initial={"version": case.version})
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        version = data.pop("version")
        try:
            services.guardian_add(user=request.user, case_id=case.pk,
                                  expected_version=version, **data)
        except services.StaleVersion:
            return _stale(request, case.pk)
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Vårdnadshavaren är tillagd."))
            return redirect("case_detail", case_id=case.pk)
    return render(request, "cases/guardian_form.html", {"form": form, "case": case},
                  status=_form_status(request))


@require_http_methods(["GET", "POST"])
def entry_add(request, case_id):
    case = policy.require_case(request.user, case_id, policy.CaseAction.ADD_ENTRY)
    recipients = [(org.pk, org.name)
                  for org in selectors.statutory_recipients(user=request.user, case=case)]
    form = EntryForm(request.POST or None, recipients=recipients)
    if request.method == "POST" and form.is_valid():
        try:
            services.entry_add(user=request.user, case_id=case.pk, **form.cleaned_data)
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Anteckningen är sparad."))
            return redirect(reverse("case_detail", args=[case.pk]) + "#anteckningar")
    return render(request, "cases/entry_form.html", {
        "form": form, "case": case, "organisation": request.user.organisation,
    }, status=_form_status(request))




# --- lifecycle --------------------------------------------------------------------------

def case_timeline(request, case_id):
    case, events = selectors.case_timeline(user=request.user, case_id=case_id)
    return render(request, "cases/case_timeline.html", {"case": case, "timeline": events})


@require_POST
def case_status(request, case_id):
    case = policy.require_case(request.user, case_id, policy.CaseAction.CHANGE_STATUS)
    form = StatusForm(request.POST)
    if form.is_valid():
        try:
            services.case_set_status(user=request.user, case_id=case.pk, **form.cleaned_data)
        except ValidationError as exc:
            flash_errors(request, exc.message_dict)
        else:
            messages.success(request, _("Ärendets status är ändrad."))
    else:
        flash_errors(request, form.errors)
    return redirect("case_detail", case_id=case.pk)


def _part_form(request, case, form, *, title: str, button: str, anchor: str):
    """A form for one part of a case (plan, commitment, meeting), shown again with its
    errors after a refused POST."""
    return render(request, "cases/case_part_form.html", {
        "form": form, "case": case, "title": title, "button": button, "anchor": anchor,
    }, status=_form_status(request))


def _case_form(request, case_id, *, action, form_class, service, template, done,
               extra=None):
    case = policy.require_case(request.user, case_id, action)
    form = form_class(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            service(user=request.user, case_id=case.pk, **form.cleaned_data)
        except ValidationError as exc:
            apply_service_errors(form, exc)
        except services.CaseReferred as referred:
            messages.info(request, referred.message)
            return redirect("case_detail", case_id=case.pk)
        else:
            messages.success(request, done)
            return redirect("case_detail", case_id=case.pk)
    return render(request, template, {"form": form, "case": case, **(extra or {})},
                  status=_form_status(request))


@require_http_methods(["GET", "POST"])
def case_close(request, case_id):
    return _case_form(request, case_id, action=policy.CaseAction.CHANGE_STATUS,
                      form_class=CloseForm, service=services.case_close,
                      template="cases/case_close.html", done=_("Ärendet är avslutat."))


@require_http_methods(["GET", "POST"])
def case_reopen(request, case_id):
    return _case_form(request, case_id, action=policy.CaseAction.REOPEN,
                      form_class=ReopenForm, service=services.case_reopen,
                      template="cases/case_reopen.html", done=_("Ärendet är öppnat igen."))


# --- signals ----------------------------------------------------------------------------

def signal_list(request):
    filter_form = SignalFilterForm(request.GET or None)
    status = filter_form.cleaned_data["status"] if filter_form.is_valid() else ""
    page = selectors.signal_page(user=request.user, status=status,
                                 page=request.GET.get("page", 1))
    return render(request, "cases/signal_list.html", {
        "page": page, "filter_form": filter_form, "status": status,
        "triage": policy.may_triage(request.user),
        "may_raise": policy.may_raise_signal(request.user),
    })


@require_http_methods(["GET", "POST"])
def signal_create(request):
    if not policy.may_raise_signal(request.user):
        raise policy.deny(request.user, status=403, object_type="cases.Signal",
                          object_id=None, purpose="create")
    form = SignalForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.signal_raise(user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Orosignalen är skickad till SSPF-samordningen. Du "
                                        "ser dess status under Mina orosignaler."))
            return redirect("signal_list")
    return render(request, "cases/signal_form.html", {"form": form},
                  status=_form_status(request))


def signal_detail(request, signal_id):
    signal = selectors.signal_detail(user=request.user, signal_id=signal_id)
    triage = policy.may_triage(request.user)
    return render(request, "cases/signal_detail.html", {
        "signal": signal, "triage": triage,
        "form": TriageForm() if triage and signal.status == Signal.Status.NEW else None,
    })


@require_http_methods(["GET", "POST"])
def signal_triage(request, signal_id):
    signal = policy.require_signal(request.user, signal_id, triage=True)
    form = TriageForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        try:
            signal = services.signal_triage(user=request.user, signal_id=signal.pk,
                                            case_id=data.pop("case"), **data)
        except ValidationError as exc:
            apply_service_errors(form, exc)
        except services.CaseReferred as referred:
            messages.info(request, referred.message)
            return redirect("signal_list")
        else:
            messages.success(request, _("Signalen är hanterad."))
            if signal.case_id:
                return redirect("case_detail", case_id=signal.case_id)
            return redirect(reverse("signal_list") + "?status=new")
    if request.method == "GET":
        return redirect("signal_detail", signal_id=signal.pk)
    signal = selectors.signal_detail(user=request.user, signal_id=signal.pk)
    return render(request, "cases/signal_detail.html",
                  {"signal": signal, "triage": True, "form": form}, status=400)


# --- kartläggning ------------------------------------------------------------------------

def assessment_list(request, case_id):
    page = selectors.assessment_page(user=request.user, case_id=case_id,
                                     page=request.GET.get("page", 1))
    case = page.case
    return render(request, "cases/assessment_list.html", {
        "case": case, "page": page,
        "may_add": policy.may(request.user, case, policy.CaseAction.ADD_ASSESSMENT),
    })


def assessment_compare(request, case_id):
    try:
        older, newer, changes = selectors.assessment_compare(
            user=request.user, case_id=case_id, first=request.GET.get("from"),
            second=request.GET.get("to"))
    except ValidationError as exc:
        flash_errors(request, exc.message_dict)
        return redirect("assessment_list", case_id=case_id)
    return render(request, "cases/assessment_compare.html", {
        "case": older.case, "older": older, "newer": newer,
        "changes": [c for c in changes if c.what != "unchanged"],
        "unchanged": [c for c in changes if c.what == "unchanged"],
    })


@require_http_methods(["GET", "POST"])
def assessment_add(request, case_id):
    case = policy.require_case(request.user, case_id, policy.CaseAction.ADD_ASSESSMENT)
    form = AssessmentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.assessment_add(user=request.user, case_id=case.pk,
                                    made_on=form.cleaned_data["made_on"],
                                    factors=form.factors())
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Kartläggningen är sparad som en ny version."))
            return redirect("assessment_list", case_id=case.pk)
    return render(request, "cases/assessment_form.html", {
        "form": form, "case": case, "organisation": request.user.organisation,
    }, status=_form_status(request))


# --- action plan, commitments, follow-ups -------------------------------------------------

def _team(case) -> list:
    """The case's current members (accounts with their organisation), by username;
    account names are not personal case data."""
    return [m.user for m in case.memberships.filter(removed_at__isnull=True)
            .select_related("user__organisation").order_by("user__username")]


def _member_choices(members) -> list[tuple[str, str]]:
    return [(u.username, f"{u.username} ({u.organisation.name})") for u in members]


@require_http_methods(["GET", "POST"])
def plan_edit(request, case_id):
    case = policy.require_case(request.user, case_id, policy.CaseAction.EDIT_PLAN)
    plan = selectors.plan_goals(user=request.user, case=case)
    form = PlanForm(request.POST or None, initial={"goals": plan.goals if plan else ""})
    if request.method == "POST" and form.is_valid():
        try:
            services.plan_save(user=request.user, case_id=case.pk, **form.cleaned_data)
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Planens mål är sparade."))
            return redirect(reverse("case_detail", args=[case.pk]) + "#plan")
    return _part_form(request, case, form, title=_("Åtagandeplanens mål"),
                      button=_("Spara"), anchor="plan")


@require_POST
def plan_agree(request, case_id):
    case = policy.require_case(request.user, case_id, policy.CaseAction.EDIT_PLAN)
    try:
        services.plan_agree(user=request.user, case_id=case.pk)
    except ValidationError as exc:
        flash_errors(request, exc.message_dict)
    else:
        messages.success(request, _("Planen är överenskommen. Första uppföljningen är "
                                    "inplanerad."))
    return redirect(reverse("case_detail", args=[case.pk]) + "#plan")


@require_http_methods(["GET", "POST"])
def commitment_add(request, case_id):
    case = policy.require_case(request.user, case_id, policy.CaseAction.EDIT_PLAN)
    members = _team(case)
    organisations = sorted({(m.organisation_id, m.organisation.name) for m in members},
                           key=lambda o: o[1])
    form = CommitmentForm(request.POST or None, organisations=organisations,
                          members=_member_choices(members))
    if request.method == "POST" and form.is_valid():
        try:
            services.commitment_add(user=request.user, case_id=case.pk, **form.cleaned_data)
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Åtagandet är tillagt."))
            return redirect(reverse("case_detail", args=[case.pk]) + "#plan")
    return _part_form(request, case, form, title=_("Nytt åtagande"),
                      button=_("Lägg till"), anchor="plan")


@require_POST
def commitment_status(request, commitment_id):
    commitment = policy.require_item(request.user, Commitment, commitment_id,
                                     policy.CaseAction.UPDATE_COMMITMENT)
    form = CommitmentStatusForm(request.POST)
    if form.is_valid():
        try:
            services.commitment_set_status(user=request.user, commitment_id=commitment.pk,
                                           status=form.cleaned_data["status"])
        except ValidationError as exc:
            flash_errors(request, exc.message_dict)
        else:
            messages.success(request, _("Åtagandets status är ändrad."))
    else:
        flash_errors(request, form.errors)
    return redirect(reverse("case_detail", args=[commitment.case_id]) + "#plan")


@require_http_methods(["GET", "POST"])
def follow_up_add(request, case_id):
    return _case_form(request, case_id, action=policy.CaseAction.EDIT_PLAN,
                      form_class=FollowUpForm, service=services.follow_up_record,
                      template="cases/case_part_form.html",
                      done=_("Uppföljningen är registrerad."),
                      extra={"title": _("Registrera uppföljning"), "button": _("Spara"),
                             "anchor": "plan"})


@require_http_methods(["GET", "POST"])
def meeting_add(request, case_id):
    case = policy.require_case(request.user, case_id, policy.CaseAction.RECORD_MEETING)
    guardians = selectors.guardian_list(user=request.user, case_id=case.pk)
    form = MeetingForm(request.POST or None, members=_member_choices(_team(case)), guardians=[
        (g.pk, f"{g.first_name} {g.last_name}") for g in guardians])
    if request.method == "POST" and form.is_valid():
        try:
            services.meeting_record(user=request.user, case_id=case.pk, **form.cleaned_data)
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Mötet är registrerat."))
            return redirect(reverse("case_detail", args=[case.pk]) + "#moten")
    return _part_form(request, case, form, title=_("Nytt nätverksmöte"),
                      button=_("Spara mötet"), anchor="moten")
