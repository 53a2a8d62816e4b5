"""Administration of the collaboration core. Administrators manage municipalities,
organisations and accounts here; no case content is ever registered in the admin.
Accounts cannot be deleted, only deactivated.

Every change goes through sspf.services, which records it as an access event:
accounts by field name, never a value; municipalities and organisations field by field,
old → new (their settings decide access and are not personal data). Setting a password
and resetting the second factor are how an administrator could log in as someone else:
they are only requested here and carried out when another administrator approves the
request (the list "Återställningar av inloggning"), and nobody is made an administrator
here.
Second-factor devices have no admin of their own (one could add a device with a known
secret to any account); a reset removes them, and the owner enrols anew. Role groups
are fixed by migration and not edited here: their permissions are part of the access
policy.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import (
    AdminPasswordChangeForm,
    AdminUserCreationForm,
    UserChangeForm,
)
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.admin import ReadOnlyAdmin
from sspf import services
from sspf.models import CredentialReset, Municipality, Organisation, User
from sspf.roles import Role

for _model in (TOTPDevice, Group):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)


def _first_message(exc: ValidationError) -> str:
    return next(iter(exc.messages), "")


@admin.register(Municipality)
class MunicipalityAdmin(admin.ModelAdmin):
    list_display = ["name", "age_min", "age_max", "own_consent_age", "follow_up_interval_weeks"]

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        services.municipality_save(actor=request.user, municipality=obj)


class OrganisationForm(forms.ModelForm):
    def clean(self):
        cleaned = super().clean()
        if self.instance.pk and "municipality" in self.changed_data:
            refusal = services.organisation_move_refusal(
                Organisation.objects.get(pk=self.instance.pk))
            if refusal:
                raise forms.ValidationError({"municipality": refusal})
        return cleaned


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    form = OrganisationForm
    list_display = ["name", "kind", "municipality"]
    list_filter = ["municipality", "kind"]

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        services.organisation_save(actor=request.user, organisation=obj)


def _refuse_administrator_role(form, before) -> None:
    refusal = services.administrator_role_refusal(before=before,
                                                  role=form.cleaned_data.get("role"))
    if refusal:
        form.add_error("role", refusal)


class AccountChangeForm(UserChangeForm):
    def clean(self):
        cleaned = super().clean()
        account = self.instance
        if account.pk and {"role", "organisation"} & set(self.changed_data):
            before = User.objects.get(pk=account.pk)
            _refuse_administrator_role(self, before)
            refusal = services.reassignment_refusal(before)
            if refusal:
                raise forms.ValidationError({"organisation": refusal})
        return cleaned


class AccountCreationForm(AdminUserCreationForm):
    def clean(self):
        cleaned = super().clean()
        _refuse_administrator_role(self, None)
        return cleaned


class PasswordRequestForm(AdminPasswordChangeForm):
    """Django's form, for validation only: a password is set only by an approved
    ``CredentialReset``, never by saving this form."""

    def save(self, commit=True):
        raise RuntimeError("a password is set only through an approved CredentialReset")


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = AccountChangeForm
    add_form = AccountCreationForm
    change_password_form = PasswordRequestForm
    list_display = ["username", "role", "organisation", "is_active", "last_login"]
    list_filter = ["role", "organisation__municipality", "is_active"]
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        (_("Personuppgifter"), {"fields": ("first_name", "last_name", "email")}),
        (_("Uppdrag"), {"fields": ("organisation", "role", "is_active")}),
        (_("Datum"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"fields": ("username", "organisation", "role", "password1", "password2")}),
    )
    readonly_fields = ["last_login", "date_joined"]
    actions = ["reset_second_factor"]
    # Django's page with a note when the change waits for a second administrator.
    change_user_password_template = "admin/sspf/user/change_password.html"  # noqa: S105

    def get_readonly_fields(self, request, obj=None):
        # Nobody gives themselves a role or an organisation, so an administrator cannot
        # turn their own account into one that reads cases.
        if obj is not None and obj.pk == request.user.pk:
            return [*self.readonly_fields, "role", "organisation", "is_active"]
        return self.readonly_fields

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        services.staff_account_admin_save(actor=request.user, account=obj,
                                          changed=list(form.changed_data), created=not change)

    def user_change_password(self, request, id, form_url=""):
        """Django's page, but a valid form becomes a request for a second administrator's
        approval; nothing is set here."""
        account = self.get_object(request, unquote(id))
        if account is not None and request.method == "POST" \
                and self.has_change_permission(request, account):
            form = self.change_password_form(account, request.POST)
            usable = form.is_valid() and form.cleaned_data["set_usable_password"]
            if form.is_valid() and (usable or "unset-password" in request.POST):
                self._request_reset(request, account, CredentialReset.Kind.PASSWORD,
                                    form.cleaned_data["password1"] if usable else None)
                return redirect("admin:sspf_user_change", account.pk)
        # Shows the form (with its errors); with the same data it is not valid here either.
        return super().user_change_password(request, id, form_url)

    def _request_reset(self, request, account, kind, password=None) -> bool:
        try:
            services.credential_reset_request(actor=request.user, account=account, kind=kind,
                                              password=password)
        except ValidationError as exc:
            self.message_user(request, _first_message(exc), messages.ERROR)
            return False
        self.message_user(request, _(
            "Begäran om återställning för %(username)s är registrerad. Den genomförs när en "
            "annan administratör har godkänt den under Återställningar av inloggning."
        ) % {"username": account.username}, messages.INFO)
        return True

    @admin.action(description=_("Begär återställning av tvåstegsverifiering (ny registrering "
                                "vid nästa inloggning, när en annan administratör godkänt)"))
    def reset_second_factor(self, request, queryset):
        for account in queryset.exclude(pk=request.user.pk):
            self._request_reset(request, account, CredentialReset.Kind.SECOND_FACTOR)


@admin.register(CredentialReset)
class CredentialResetAdmin(ReadOnlyAdmin):
    """Requests to reset an account's password or second factor. Approving one carries
    it out; only an administrator other than the one who asked can decide."""

    list_display = ["id", "account", "kind", "requested_by", "requested_at", "state",
                    "decided_by", "decided_at"]
    list_filter = ["status", "kind"]
    actions = ["approve", "reject"]
    fields = ["account", "kind", "requested_by", "requested_at", "status", "decided_by",
              "decided_at"]

    @admin.display(description=_("status"))
    def state(self, reset):
        if reset.status == CredentialReset.Status.PENDING and services.reset_expired(reset):
            return _("Har gått ut")
        return reset.get_status_display()

    def get_readonly_fields(self, request, obj=None):
        return self.fields  # the requested password's hash is not among them

    def has_decide_permission(self, request):
        return request.user.is_active and request.user.role == Role.ADMINISTRATOR

    def _decide(self, request, queryset, decide, done_message):
        done = 0
        for reset in queryset:
            try:
                decide(actor=request.user, reset_id=reset.pk)
            except ValidationError as exc:
                self.message_user(request, f"#{reset.pk}: {_first_message(exc)}",
                                  messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(request, done_message % {"n": done}, messages.SUCCESS)

    @admin.action(description=_("Godkänn och genomför valda återställningar"),
                  permissions=["decide"])
    def approve(self, request, queryset):
        self._decide(request, queryset, services.credential_reset_approve,
                     _("%(n)d återställning(ar) godkända och genomförda."))

    @admin.action(description=_("Avslå valda återställningar"), permissions=["decide"])
    def reject(self, request, queryset):
        self._decide(request, queryset, services.credential_reset_reject,
                     _("%(n)d återställning(ar) avslagna."))
