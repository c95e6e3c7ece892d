"""The audit log in the admin: every organization's rows, read-only (docs/audit.md)."""

from django.contrib import admin

from audit.models import AuditEvent
from core.admin import ReadOnlyAdmin, json_column, link_column, ms_column
from core.time import MS_PER_DAY, now_ms


class CreatedFilter(admin.SimpleListFilter):
    """`created_at` is epoch milliseconds (BIGINT), which date_hierarchy cannot walk."""

    title = "created"
    parameter_name = "created_within"
    WINDOWS = {"1": "Last 24 hours", "7": "Last 7 days", "30": "Last 30 days", "365": "Last year"}

    def lookups(self, request, model_admin):
        return list(self.WINDOWS.items())

    def queryset(self, request, queryset):
        if self.value() in self.WINDOWS:
            return queryset.filter(created_at__gte=now_ms() - int(self.value()) * MS_PER_DAY)
        return queryset


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at_display",
        "action",
        "actor_kind",
        "actor_user_link",
        "impersonator_link",
        "actor_label",
        "tenant_link",
        "target_type",
        "target_label",
        "ip_address",
    )
    list_filter = ("action", "actor_kind", CreatedFilter, "target_type")
    search_fields = ("tenant__slug", "target_id", "target_label", "actor_user__username", "request_id")
    list_select_related = ("tenant", "actor_user", "impersonator")
    show_full_result_count = False
    exclude = ("before", "after")
    readonly_fields = ("created_at_display", "before_pretty", "after_pretty")

    created_at_display = ms_column("created_at", "created")
    tenant_link = link_column("tenant", "organization")
    actor_user_link = link_column("actor_user", "user")
    impersonator_link = link_column("impersonator", "impersonated by")
    before_pretty = json_column("before")
    after_pretty = json_column("after")
