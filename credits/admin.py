from django.contrib import admin

from core.admin import json_column, link_column, ms_column
from credits.models import Credit, CreditOverdraft, CreditTransaction


@admin.register(Credit)
class CreditAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "tenant_link",
        "mode",
        "remaining_credits",
        "total_credits",
        "priority",
        "effective_at_display",
        "expires_at_display",
        "source_id",
    )
    list_filter = ("mode", "provider", "priority")
    search_fields = ("tenant__slug", "user__username", "source_id", "plan_id", "provider_customer_id")
    list_select_related = ("tenant", "user")
    raw_id_fields = ("tenant", "user")
    exclude = ("raw_data",)
    readonly_fields = ("created_at_display", "effective_at_display", "expires_at_display", "raw_data_pretty")

    tenant_link = link_column("tenant")
    effective_at_display = ms_column("effective_at", "effective")
    expires_at_display = ms_column("expires_at", "expires")
    created_at_display = ms_column("created_at", "created")
    raw_data_pretty = json_column("raw_data", "raw data")


@admin.register(CreditTransaction)
class CreditTransactionAdmin(admin.ModelAdmin):
    list_display = ("created_at_display", "tenant_link", "user_link", "type", "credits", "credit_link", "description")
    list_filter = ("type",)
    search_fields = ("tenant__slug", "user__username", "description")
    list_select_related = ("tenant", "user", "credit")
    raw_id_fields = ("tenant", "user", "credit")
    readonly_fields = ("created_at_display",)

    tenant_link = link_column("tenant")
    user_link = link_column("user")
    credit_link = link_column("credit", "grant")
    created_at_display = ms_column("created_at", "at")

    # The ledger is append-only: rows are written by services, never edited.
    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False


@admin.register(CreditOverdraft)
class CreditOverdraftAdmin(admin.ModelAdmin):
    list_display = ("tenant_link", "credits", "user_link", "updated_at_display")
    search_fields = ("tenant__slug",)
    list_select_related = ("tenant", "user")
    raw_id_fields = ("tenant", "user")

    tenant_link = link_column("tenant")
    user_link = link_column("user")
    updated_at_display = ms_column("updated_at", "updated")
