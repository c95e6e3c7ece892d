"""Billing in the admin: Keel's billing rows and dj-stripe's mirror of Stripe, all read-only.

Stripe is the source of truth: these rows are written from its webhooks and syncs, so an edit
here would only make the copy disagree with Stripe (and with the credits granted from it).
"""

import djstripe.admin  # noqa: F401  (registers dj-stripe's admins, adjusted below)
from django.contrib import admin
from djstripe import models as djstripe_models

from billing.models import EventProblem, Invoice, Lifetime, Price, RefundReversal, Subscription
from billing.services import invoice_paid, subscription_sync
from billing.services.refunds import invoice_refund, lifetime_refund
from core.admin import ReadOnlyAdmin, ReadOnlyMixin, apply_each, confirm_action, json_column, link_column, ms_column


class RawDataAdmin(ReadOnlyAdmin):
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

    actions = ["resync"]
    object_actions = ("resync",)

    @admin.action(description="Resync from Stripe")
    def resync(self, request, queryset):
        apply_each(
            self,
            request,
            queryset,
            lambda row: subscription_sync(row.provider_subscription_id),
            done="Resynced {count} subscriptions from Stripe.",
        )


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

    actions = ["refund"]
    object_actions = ("refund",)

    @confirm_action(
        description="Refund in full",
        intro="The payment is refunded at Stripe; the deal ends and what is left of its credits is taken back.",
    )
    def refund(self, request, queryset):
        apply_each(
            self,
            request,
            queryset,
            lambda row: lifetime_refund(lifetime=row, staff=request.user),
            done="Refunded {count} lifetime deals.",
        )


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

    actions = ["resync", "refund"]
    object_actions = ("resync", "refund")

    @admin.action(description="Resync from Stripe (and grant what its payment buys)")
    def resync(self, request, queryset):
        apply_each(
            self,
            request,
            queryset,
            lambda row: invoice_paid(row.provider_invoice_id),
            done="Resynced {count} invoices from Stripe.",
        )

    @confirm_action(
        description="Refund in full",
        intro="What is left of the payment is refunded at Stripe; the same share of its credits is taken back.",
    )
    def refund(self, request, queryset):
        apply_each(
            self,
            request,
            queryset,
            lambda row: invoice_refund(invoice=row, staff=request.user),
            done="Refunded {count} invoices.",
        )


@admin.register(Price)
class PriceAdmin(ReadOnlyAdmin):
    """Synced from Stripe's prices and products (their metadata says what a plan grants)."""

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


# --- dj-stripe ---------------------------------------------------------------------------------
#
# dj-stripe's admins edit and delete its local copies (which Stripe then contradicts), and offer
# actions through one URL, `<model>/action/<action_name>/<model_name>/`, that runs any method
# of its view by name (`_cancel` a subscription in Stripe, from any model's page). Keel keeps
# the models staff look at, read-only, without those actions or that URL (syncing from Stripe
# belongs to Keel's billing commands; `manage.py djstripe_sync_models` from a shell meanwhile),
# and unregisters the rest.

# Stripe features Keel does not use: Connect and payouts, legacy sources, shipping and tax,
# files, mandates and setup intents (Checkout handles them), entitlements (Keel's plans are
# price metadata), dj-stripe's own idempotency keys.
DJSTRIPE_UNUSED = (
    djstripe_models.AccountV2,
    djstripe_models.ActiveEntitlement,
    djstripe_models.ApplicationFee,
    djstripe_models.ApplicationFeeRefund,
    djstripe_models.BankAccount,
    djstripe_models.Card,
    djstripe_models.Feature,
    djstripe_models.File,
    djstripe_models.FileLink,
    djstripe_models.IdempotencyKey,
    djstripe_models.Mandate,
    djstripe_models.Payout,
    djstripe_models.ProductFeature,
    djstripe_models.SetupIntent,
    djstripe_models.ShippingRate,
    djstripe_models.TaxCode,
    djstripe_models.TaxRate,
    djstripe_models.Transfer,
    djstripe_models.TransferReversal,
)

# What staff look at: the Stripe side of customers, checkout, subscriptions, invoices,
# payments, refunds, disputes, the catalogue, and webhook intake.
DJSTRIPE_SHOWN = (
    djstripe_models.Account,
    djstripe_models.APIKey,
    djstripe_models.BalanceTransaction,
    djstripe_models.Charge,
    djstripe_models.Coupon,
    djstripe_models.Customer,
    djstripe_models.Discount,
    djstripe_models.Dispute,
    djstripe_models.Event,
    djstripe_models.Invoice,
    djstripe_models.LineItem,
    djstripe_models.PaymentIntent,
    djstripe_models.PaymentMethod,
    djstripe_models.Price,
    djstripe_models.Product,
    djstripe_models.PromotionCode,
    djstripe_models.Refund,
    djstripe_models.Session,
    djstripe_models.Subscription,
    djstripe_models.SubscriptionSchedule,
    djstripe_models.WebhookEndpoint,
    djstripe_models.WebhookEventTrigger,
)


class StripeReadOnlyMixin(ReadOnlyMixin):
    def get_actions(self, request):
        return {}

    def get_urls(self):
        return [url for url in super().get_urls() if getattr(url, "name", None) != "djstripe_custom_action"]


class WebhookEndpointWrites(StripeReadOnlyMixin):
    # Whitelisted writes: dj-stripe's add and change forms create and update the endpoint in
    # Stripe first and store Stripe's answer (the signing secret comes only with the creation),
    # so the copy cannot drift; it is how the `/stripe/webhook/<uuid>/` endpoint is set up.
    # Delete stays off: it would stop every webhook at once; disable the endpoint instead.
    def has_add_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser


def _read_only_inline(inline):
    return type(inline.__name__, (ReadOnlyMixin, inline), {"can_delete": False})


def _djstripe_readonly(model) -> None:
    base = type(admin.site.get_model_admin(model))
    mixin = WebhookEndpointWrites if model is djstripe_models.WebhookEndpoint else StripeReadOnlyMixin
    attrs = {"inlines": tuple(_read_only_inline(inline) for inline in base.inlines)}
    admin.site.unregister(model)
    admin.site.register(model, type(base.__name__, (mixin, base), attrs))


for _model in DJSTRIPE_UNUSED:
    admin.site.unregister(_model)
for _model in DJSTRIPE_SHOWN:
    _djstripe_readonly(_model)


@admin.register(RefundReversal)
class RefundReversalAdmin(ReadOnlyAdmin):
    """What each Stripe refund took back, one row per refund."""

    list_display = ("provider_refund_id", "credit_link", "credits", "amount", "created_at_display")
    search_fields = ("provider_refund_id", "credit__source_id")
    list_select_related = ("credit",)
    raw_id_fields = ("credit",)

    credit_link = link_column("credit")
    created_at_display = ms_column("created_at", "created")


@admin.register(EventProblem)
class EventProblemAdmin(ReadOnlyAdmin):
    """Stripe events recorded but not applied (unknown organization, other API version, ...)."""

    list_display = ("event_id", "event_type", "problem", "created_at_display")
    list_filter = ("event_type",)
    search_fields = ("event_id", "problem")

    created_at_display = ms_column("created_at", "created")
