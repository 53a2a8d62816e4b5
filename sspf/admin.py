"""Administration of the collaboration core. Administrators manage municipalities,
organisations and accounts here; no case content is ever registered in the admin.
Accounts cannot be deleted, only deactivated.

Every account change goes through sspf.services, which records it as an access event
(by field name, never a value): setting a password and resetting the second factor
are how an administrator could log in as someone else, so they are logged where the
log review sees them. Second-factor devices have no admin of their own (one could add
a device with a known secret to any account); the reset action removes them, and the
owner enrols anew. Role groups are fixed by migration and not edited here: their
permissions are part of the access policy.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserChangeForm
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django_otp.plugins.otp_totp.models import TOTPDevice

from sspf import services
from sspf.models import Municipality, Organisation, User

for _model in (TOTPDevice, Group):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)


@admin.register(Municipality)
class MunicipalityAdmin(admin.ModelAdmin):
    list_display = ["name", "age_min", "age_max", "own_consent_age", "follow_up_interval_weeks"]

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "municipality"]
    list_filter = ["municipality", "kind"]

    def has_delete_permission(self, request, obj=None):
        return False


class AccountChangeForm(UserChangeForm):
    def clean(self):
        cleaned = super().clean()
        account = self.instance
        if account.pk and {"role", "organisation"} & set(self.changed_data):
            refusal = services.reassignment_refusal(User.objects.get(pk=account.pk))
            if refusal:
                raise forms.ValidationError({"organisation": refusal})
        return cleaned


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = AccountChangeForm
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
        with transaction.atomic():
            response = super().user_change_password(request, id, form_url)
            if request.method == "POST" and response.status_code == 302:
                services.staff_password_set_record(
                    actor=request.user, account=self.get_object(request, unquote(id)))
        return response

    @admin.action(description=_("Återställ tvåstegsverifiering (ny registrering vid nästa "
                                "inloggning)"))
    def reset_second_factor(self, request, queryset):
        accounts = list(queryset.exclude(pk=request.user.pk))
        for account in accounts:
            services.staff_otp_reset(actor=request.user, account=account)
        self.message_user(request, ngettext(
            "Tvåstegsverifieringen återställdes för %(n)d konto.",
            "Tvåstegsverifieringen återställdes för %(n)d konton.", len(accounts),
        ) % {"n": len(accounts)}, messages.SUCCESS)
