"""A read-only listing of access events for administrators, until the auditor
workspace replaces it. Nothing can be added, changed or deleted here, and every listing,
search and opened event is itself an access event (the log says who read the log)."""

from auditlog.models import LogEntry
from django.contrib import admin
from django.db import transaction

from audit.events import record
from audit.models import AccessEvent, Action

# django-auditlog's own listing would show administrators the change history of case
# records (which fields changed, on which case) without recording the read; the change
# history belongs in the auditor workspace.
if admin.site.is_registered(LogEntry):
    admin.site.unregister(LogEntry)

# Filters whose values are codes, kept in the event; the search text is not (it may be a
# name or an identity number typed in), only that there was one, and of another filter
# only the field's name.
CODE_FILTERS = ("action", "outcome", "actor_role", "flags")


def _filters(request) -> str:
    shown = []
    for name, value in sorted(request.GET.items()):
        field = name.split("__", 1)[0]
        if field in CODE_FILTERS:
            shown.append(f"{name}={value[:40]}")
        elif name == "q" and value:
            shown.append("search")
        elif field == "occurred_at":
            shown.append(f"{name}={value[:20]}")
        elif name not in _LISTING_PARAMETERS and not name.startswith("_"):
            # Any other field filtered through the address (a case, a person, an
            # address): which field, never the value asked for.
            shown.append(f"filter on {field[:40]}")
    return ", ".join(shown)


# The listing's own parameters: the page, the ordering, the search box.
_LISTING_PARAMETERS = {"p", "o", "q", "all", "e"}


class ReadOnlyAdmin(admin.ModelAdmin):
    """A listing whose rows nobody adds, changes or deletes in the admin."""

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AccessEvent)
class AccessEventAdmin(ReadOnlyAdmin):
    list_display = [
        "id", "occurred_at", "actor_username", "actor_role", "action", "outcome",
        "object_type", "object_id", "case_id", "flags",
    ]
    list_filter = ["action", "outcome", "actor_role", "flags"]
    search_fields = ["actor_username", "=case_id", "=object_id", "=request_id"]
    date_hierarchy = "occurred_at"
    list_per_page = 100

    def changelist_view(self, request, extra_context=None):
        with transaction.atomic():
            response = super().changelist_view(request, extra_context)
            changelist = getattr(response, "context_data", {}).get("cl")
            if changelist is not None:  # a redirect (a bad filter) shows no events
                response.render()
                shown = len(changelist.result_list)
                filters = _filters(request)
                record(action=Action.LIST, actor=request.user, object_type="audit.AccessEvent",
                       purpose=f"admin listing, {shown} event(s) shown"
                       + (f"; {filters}" if filters else ""))
        return response

    def history_view(self, request, object_id, extra_context=None):
        with transaction.atomic():
            response = super().history_view(request, object_id, extra_context)
            if response.status_code == 200:
                response.render()
                record(action=Action.VIEW, actor=request.user, object_type="audit.AccessEvent",
                       object_id=object_id, purpose="admin history page")
        return response

    def change_view(self, request, object_id, form_url="", extra_context=None):
        with transaction.atomic():
            response = super().change_view(request, object_id, form_url, extra_context)
            original = getattr(response, "context_data", {}).get("original")
            if original is not None:
                response.render()
                record(action=Action.VIEW, actor=request.user, object_type="audit.AccessEvent",
                       object_id=original.pk)
        return response
