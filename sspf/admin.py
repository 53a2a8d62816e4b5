"""Administration of the collaboration core. Administrators manage municipalities,
organisations and accounts here; no case content is ever registered in the admin.
Accounts cannot be deleted, only deactivated."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _

from sspf.models import Municipality, Organisation, User
from sspf.services import staff_account_save


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


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
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

    def get_readonly_fields(self, request, obj=None):
        # Nobody gives themselves a role or an organisation, so an administrator cannot
        # turn their own account into one that reads cases.
        if obj is not None and obj.pk == request.user.pk:
            return [*self.readonly_fields, "role", "organisation", "is_active"]
        return self.readonly_fields

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        # Keep the role group in step with the role field.
        staff_account_save(
            username=obj.username,
            role=obj.role,
            organisation=obj.organisation,
            is_superuser=obj.is_superuser,
        )
