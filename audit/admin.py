"""A read-only listing of access events for administrators, until the auditor
workspace exists. Nothing can be added, changed or deleted here."""

from auditlog.models import LogEntry
from django.contrib import admin

from audit.models import AccessEvent

# django-auditlog's own listing would show administrators the change history of case
# records (which fields changed, on which case) without recording the read; the change
# history belongs in the auditor workspace.
if admin.site.is_registered(LogEntry):
    admin.site.unregister(LogEntry)


@admin.register(AccessEvent)
class AccessEventAdmin(admin.ModelAdmin):
    list_display = [
        "id", "occurred_at", "actor_username", "actor_role", "action", "outcome",
        "object_type", "object_id", "case_id", "flags",
    ]
    list_filter = ["action", "outcome", "actor_role", "flags"]
    search_fields = ["actor_username", "=case_id", "=object_id", "=request_id"]
    date_hierarchy = "occurred_at"
    list_per_page = 100

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
