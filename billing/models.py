from django.conf import settings
from django.db import models
from django.db.models import Q

from core.fields import UTCTimestampField
from core.models import CreatedModel, TimestampedModel, UUIDModel


class SubscriptionStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    PENDING = "pending", "Pending"
    CANCELED = "canceled", "Canceled"
    PAST_DUE = "past_due", "Past due"


class BillingReason(models.TextChoices):
    # The spec names the first three; Stripe sends the rest too, and an invoice
    # Keel cannot store would be an invoice lost.
    SUBSCRIPTION_CREATE = "subscription_create", "Subscription created"
    SUBSCRIPTION_CYCLE = "subscription_cycle", "Renewal"
    MANUAL = "manual", "Manual"
    SUBSCRIPTION_UPDATE = "subscription_update", "Subscription changed"
    SUBSCRIPTION = "subscription", "Subscription"
    SUBSCRIPTION_THRESHOLD = "subscription_threshold", "Threshold"
    UPCOMING = "upcoming", "Upcoming"
    QUOTE_ACCEPT = "quote_accept", "Quote accepted"
    AUTOMATIC_PENDING_INVOICE_ITEM_INVOICE = "automatic_pending_invoice_item_invoice", "Pending items"


class PriceType(models.TextChoices):
    RECURRING = "recurring", "Recurring"
    ONE_TIME = "one_time", "One time"


class Subscription(TimestampedModel):
    provider = models.CharField(max_length=50, default="stripe")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="subscriptions")
    tenant = models.ForeignKey("organizations.Tenant", on_delete=models.PROTECT, related_name="subscriptions")
    plan_id = models.CharField(max_length=255, blank=True, default="")
    status = models.CharField(max_length=20, choices=SubscriptionStatus.choices, default=SubscriptionStatus.PENDING)
    amount = models.IntegerField(default=0)
    currency = models.CharField(max_length=10, default="usd")
    provider_subscription_id = models.CharField(max_length=255, unique=True)
    provider_customer_id = models.CharField(max_length=255, blank=True, default="")
    provider_price_id = models.CharField(max_length=255, blank=True, default="")
    current_period_start = models.BigIntegerField(null=True, blank=True)
    current_period_end = models.BigIntegerField(null=True, blank=True)
    canceled_at = models.BigIntegerField(null=True, blank=True)
    raw_data = models.JSONField(default=dict, blank=True)

    class Meta:
        db_table = "subscriptions"
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=SubscriptionStatus.values), name="subscriptions_status_valid"
            ),
        ]
        indexes = [models.Index(fields=["tenant", "status"], name="subs_tenant_status_idx")]

    def __str__(self):
        return f"{self.plan_id or self.provider_price_id} ({self.status})"


class Lifetime(CreatedModel):
    provider = models.CharField(max_length=50, default="stripe")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="lifetime_deals")
    tenant = models.ForeignKey("organizations.Tenant", on_delete=models.PROTECT, related_name="lifetime_deals")
    plan_id = models.CharField(max_length=255, blank=True, default="")
    amount = models.IntegerField(default=0)
    currency = models.CharField(max_length=10, default="usd")
    provider_price_id = models.CharField(max_length=255, blank=True, default="")
    provider_customer_id = models.CharField(max_length=255, blank=True, default="")
    provider_payment_intent_id = models.CharField(max_length=255, blank=True, default="")
    provider_checkout_session_id = models.CharField(max_length=255, unique=True)
    raw_data = models.JSONField(default=dict, blank=True)
    # Set when the payment was refunded in full: the deal has ended (not in the spec's table).
    refunded_at = models.BigIntegerField(null=True, blank=True)

    class Meta:
        db_table = "lifetime"
        verbose_name = "lifetime deal"
        indexes = [models.Index(fields=["tenant"], name="lifetime_tenant_idx")]

    def __str__(self):
        return f"lifetime {self.plan_id}"


class Invoice(UUIDModel):
    provider = models.CharField(max_length=50, default="stripe")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="invoices")
    tenant = models.ForeignKey("organizations.Tenant", on_delete=models.PROTECT, related_name="invoices")
    plan_id = models.CharField(max_length=255, blank=True, default="")
    amount = models.IntegerField(default=0)
    currency = models.CharField(max_length=10, default="usd")
    billing_reason = models.CharField(max_length=50, choices=BillingReason.choices, blank=True, default="")
    provider_invoice_id = models.CharField(max_length=255, unique=True)
    provider_price_id = models.CharField(max_length=255, blank=True, default="")
    provider_customer_id = models.CharField(max_length=255, blank=True, default="")
    invoice_pdf = models.TextField(blank=True, default="")
    receipt_pdf = models.TextField(blank=True, default="")
    hosted_invoice_url = models.TextField(blank=True, default="")
    raw_data = models.JSONField(default=dict, blank=True)
    paid_at = models.BigIntegerField(null=True, blank=True)

    class Meta:
        db_table = "invoices"
        constraints = [
            models.CheckConstraint(
                condition=Q(billing_reason__in=[*BillingReason.values, ""]), name="invoices_billing_reason_valid"
            ),
        ]
        indexes = [models.Index(fields=["tenant", "paid_at"], name="invoices_tenant_paid_idx")]

    def __str__(self):
        return self.provider_invoice_id


class Price(UUIDModel):
    provider = models.CharField(max_length=50, default="stripe")
    provider_price_id = models.CharField(max_length=255)
    product_id = models.CharField(max_length=255, blank=True, default="")
    # The product's name and description, for pricing pages (not in the spec's table).
    product_name = models.CharField(max_length=255, blank=True, default="")
    product_description = models.TextField(blank=True, default="")
    active = models.BooleanField(default=True)
    currency = models.CharField(max_length=3)
    unit_amount = models.IntegerField(null=True, blank=True)
    billing_scheme = models.CharField(max_length=50, blank=True, default="per_unit")
    type = models.CharField(max_length=50, choices=PriceType.choices)
    interval = models.CharField(max_length=20, blank=True, default="")
    interval_count = models.IntegerField(null=True, blank=True)
    trial_period_days = models.IntegerField(null=True, blank=True)
    usage_type = models.CharField(max_length=50, blank=True, default="")
    metadata = models.JSONField(default=dict, blank=True)
    raw_data = models.JSONField(default=dict, blank=True)
    created_at = UTCTimestampField(auto_now_add=True)
    updated_at = UTCTimestampField(auto_now=True)

    class Meta:
        db_table = "prices"
        ordering = ["unit_amount"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "provider_price_id"], name="prices_provider_price_uniq"),
            models.CheckConstraint(condition=Q(type__in=PriceType.values), name="prices_type_valid"),
        ]
        indexes = [models.Index(fields=["active", "type"], name="prices_active_type_idx")]

    def __str__(self):
        return f"{self.metadata.get('plan_id') or self.provider_price_id} {self.unit_amount} {self.currency}"


class RefundReversal(CreatedModel):
    """The credits one Stripe refund took back: one row per refund, whoever delivers it."""

    provider_refund_id = models.CharField(max_length=255, unique=True)
    credit = models.ForeignKey("credits.Credit", on_delete=models.PROTECT, related_name="refund_reversals")
    credits = models.BigIntegerField()
    amount = models.IntegerField()

    class Meta:
        db_table = "billing_refund_reversals"

    def __str__(self):
        return f"{self.provider_refund_id}: -{self.credits}"


class EventProblem(CreatedModel):
    """A Stripe event Keel recorded but did not apply, and why (shown in the admin)."""

    event_id = models.CharField(max_length=255)
    event_type = models.CharField(max_length=100)
    problem = models.TextField()

    class Meta:
        db_table = "billing_event_problems"
        constraints = [models.UniqueConstraint(fields=["event_id"], name="billing_event_problems_event_uniq")]

    def __str__(self):
        return f"{self.event_type} {self.event_id}: {self.problem}"
