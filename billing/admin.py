from django.contrib import admin

from billing.models import Invoice, Lifetime, Price, Subscription
from core.admin import json_column, link_column, ms_column


class RawDataAdmin(admin.ModelAdmin):
    """Stripe's raw objects: shown indented, never edited by hand."""

    exclude = ("raw_data",)
    list_select_related = ("tenant", "user")
    raw_id_fields = ("tenant", "user")

    raw_data_pretty = json_column("raw_data", "raw data")
    tenant_link = link_column("tenant")
    user_link = link_column("user")


@admin.register(Subscription)
class SubscriptionAdmin(RawDataAdmin):
    list_display = (
        "provider_subscription_id",
        "tenant_link",
        "user_link",
        "plan_id",
        "status",
        "amount",
        "currency",
        "current_period_end_display",
    )
    list_filter = ("status", "provider", "plan_id")
    search_fields = ("provider_subscription_id", "provider_customer_id", "tenant__slug", "user__username")
    readonly_fields = (
        "current_period_start_display",
        "current_period_end_display",
        "canceled_at_display",
        "created_at_display",
        "raw_data_pretty",
    )

    current_period_start_display = ms_column("current_period_start", "period start")
    current_period_end_display = ms_column("current_period_end", "period end")
    canceled_at_display = ms_column("canceled_at", "canceled")
    created_at_display = ms_column("created_at", "created")


@admin.register(Lifetime)
class LifetimeAdmin(RawDataAdmin):
    list_display = (
        "provider_checkout_session_id",
        "tenant_link",
        "user_link",
        "plan_id",
        "amount",
        "currency",
        "created_at_display",
    )
    list_filter = ("provider", "plan_id")
    search_fields = ("provider_checkout_session_id", "provider_payment_intent_id", "tenant__slug")
    readonly_fields = ("created_at_display", "raw_data_pretty")

    created_at_display = ms_column("created_at", "created")


@admin.register(Invoice)
class InvoiceAdmin(RawDataAdmin):
    list_display = (
        "provider_invoice_id",
        "tenant_link",
        "user_link",
        "billing_reason",
        "amount",
        "currency",
        "paid_at_display",
    )
    list_filter = ("billing_reason", "provider", "currency")
    search_fields = ("provider_invoice_id", "provider_customer_id", "tenant__slug")
    readonly_fields = ("paid_at_display", "raw_data_pretty")

    paid_at_display = ms_column("paid_at", "paid")


@admin.register(Price)
class PriceAdmin(admin.ModelAdmin):
    list_display = (
        "provider_price_id",
        "product_id",
        "plan",
        "kind",
        "unit_amount",
        "currency",
        "type",
        "interval",
        "active",
    )
    list_filter = ("active", "type", "interval", "currency")
    search_fields = ("provider_price_id", "product_id")
    exclude = ("raw_data", "metadata")
    readonly_fields = ("metadata_pretty", "raw_data_pretty", "created_at", "updated_at")

    metadata_pretty = json_column("metadata")
    raw_data_pretty = json_column("raw_data", "raw data")

    @admin.display(description="plan")
    def plan(self, obj):
        return obj.metadata.get("plan_id", "")

    @admin.display(description="kind")
    def kind(self, obj):
        return obj.metadata.get("kind", "")
