from django.conf import settings
from django.db import models
from django.db.models import BigIntegerField, ExpressionWrapper, F, Q

from core.db import INT_MAX
from core.models import CreatedModel, TimestampedModel
from core.time import MS_PER_DAY

# The ledger's `credits` column is INTEGER: no grant, consumption or ledger row exceeds it.
MAX_CREDITS = INT_MAX


class CreditMode(models.TextChoices):
    FREE = "free", "Free plan"
    SUBSCRIPTION = "subscription", "Subscription"
    ONE_TIME_CREDITS = "one_time:credits", "Credit pack"
    # Added to the spec's list (docs/data-model.md): lifetime deals and staff grants.
    ONE_TIME_LIFETIME = "one_time:lifetime", "Lifetime deal"
    GRANT = "grant", "Staff grant"


class TransactionType(models.TextChoices):
    """Ledger row types; amounts are signed (additions +, deductions -)."""

    ADD_PURCHASE = "add:purchase", "Purchase"
    ADD_SUBSCRIPTION = "add:subscription", "Subscription credits"
    ADD_FREE = "add:free", "Free credits"
    ADD_GRANT = "add:grant", "Staff grant"
    DEDUCT = "deduct", "Consumption"
    DEDUCT_OVERDRAFT = "deduct:overdraft", "Consumption on overdraft"
    # Repayment of an overdraft out of a new grant: the grant side (negative)
    # and the overdraft side (positive) are two rows of one transaction.
    DEDUCT_REPAY = "deduct:repay", "Overdraft repaid from grant"
    ADD_REPAY = "add:repay", "Overdraft settled"
    EXPIRE = "expire", "Expired"
    REVERSE = "reverse", "Reversed (refund)"


# What "credits used" counts (the dashboard's chart): consumptions, covered by grants or on
# overdraft. Repaying an overdraft out of a new grant (`deduct:repay`) moves credits that were
# counted when they were used.
CONSUMPTION_TYPES = (TransactionType.DEDUCT, TransactionType.DEDUCT_OVERDRAFT)


def utc_day(field: str = "created_at") -> ExpressionWrapper:
    """The UTC day of an epoch-ms column, as a day number (`ms // MS_PER_DAY`, integer division of
    a BIGINT, whatever the session's time zone). `credit_tx_usage_idx` indexes this expression: a
    query must use it as it is here for PostgreSQL to match the index."""
    return ExpressionWrapper(F(field) / MS_PER_DAY, output_field=BigIntegerField())


# Sources that are payments (billing's invoices and checkout sessions): one grant per
# source whoever the user, where other grants are one per (user, source).
PAYMENT_SOURCE_TYPES = ("invoice", "checkout_session")


class Credit(CreatedModel):
    """A grant of credits to an organization (the wallet)."""

    provider = models.CharField(max_length=50, default="stripe")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="credit_grants")
    tenant = models.ForeignKey("organizations.Tenant", on_delete=models.PROTECT, related_name="credits")
    plan_id = models.CharField(max_length=255, blank=True, default="")
    mode = models.CharField(max_length=100, choices=CreditMode.choices)
    total_credits = models.BigIntegerField()
    remaining_credits = models.BigIntegerField()
    amount = models.IntegerField(default=0)
    currency = models.CharField(max_length=10, default="usd")
    priority = models.IntegerField(default=50)
    source_type = models.CharField(max_length=100, blank=True, default="")
    source_id = models.CharField(max_length=255)
    provider_price_id = models.CharField(max_length=255, blank=True, default="")
    provider_customer_id = models.CharField(max_length=255, blank=True, default="")
    expires_at = models.BigIntegerField(null=True, blank=True)
    effective_at = models.BigIntegerField()
    raw_data = models.JSONField(default=dict, blank=True)

    class Meta:
        db_table = "credits"
        constraints = [
            # Idempotency of grants: the same source granted twice is one grant.
            models.UniqueConstraint(fields=["user", "source_id"], name="credits_user_source_uniq"),
            # A payment grants once per business object (docs/billing.md), whatever the user.
            models.UniqueConstraint(
                fields=["source_type", "source_id"],
                condition=Q(source_type__in=PAYMENT_SOURCE_TYPES),
                name="credits_payment_source_uniq",
            ),
            models.CheckConstraint(
                condition=Q(remaining_credits__gte=0) & Q(remaining_credits__lte=F("total_credits")),
                name="credits_remaining_within_total",
            ),
            models.CheckConstraint(condition=Q(mode__in=CreditMode.values), name="credits_mode_valid"),
        ]
        indexes = [
            # The consumption scan (keel_credits_usable_v2): one tenant's grants that still hold credits.
            models.Index(
                "tenant",
                F("priority").desc(),
                "expires_at",
                "effective_at",
                "created_at",
                "id",
                condition=Q(remaining_credits__gt=0),
                name="credits_consumption_idx",
            ),
            # expire_credits: expired grants that still hold credits.
            models.Index(fields=["expires_at"], condition=Q(remaining_credits__gt=0), name="credits_expiry_idx"),
            models.Index(fields=["source_id"], name="credits_source_idx"),
        ]

    def __str__(self):
        return f"{self.mode} {self.remaining_credits}/{self.total_credits}"


class CreditTransaction(CreatedModel):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="credit_transactions")
    tenant = models.ForeignKey("organizations.Tenant", on_delete=models.PROTECT, related_name="credit_transactions")
    credit = models.ForeignKey(Credit, on_delete=models.PROTECT, null=True, blank=True, related_name="transactions")
    credits = models.IntegerField()
    type = models.CharField(max_length=50, choices=TransactionType.choices)
    description = models.TextField(blank=True, default="")

    class Meta:
        db_table = "credit_transactions"
        constraints = [
            models.CheckConstraint(condition=Q(type__in=TransactionType.values), name="credit_transactions_type_valid"),
        ]
        indexes = [
            models.Index("tenant", F("created_at").desc(), name="credit_tx_tenant_created_idx"),
            models.Index("tenant", "user", F("created_at").desc(), name="credit_tx_tenant_user_idx"),
            # The dashboard's chart: credits used per UTC day and member over a window of days, as
            # an index-only scan already in GROUP BY order (no sort, no hash), consumptions only.
            # `created_at` is included because PostgreSQL plans an index-only scan on an expression
            # index only when the expression's columns are in the index too.
            models.Index(
                F("tenant"),
                utc_day(),
                F("user"),
                include=["credits", "created_at"],
                condition=Q(type__in=CONSUMPTION_TYPES),
                name="credit_tx_usage_idx",
            ),
        ]

    def __str__(self):
        return f"{self.type} {self.credits:+d}"


class CreditOverdraft(TimestampedModel):
    """What an organization owes: one row per organization, `credits` >= 0."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    tenant = models.OneToOneField("organizations.Tenant", on_delete=models.PROTECT, related_name="overdraft")
    credits = models.BigIntegerField(default=0)

    class Meta:
        db_table = "credit_overdrafts"
        constraints = [
            models.CheckConstraint(condition=Q(credits__gte=0), name="credit_overdrafts_credits_gte_0"),
        ]

    def __str__(self):
        return f"owes {self.credits}"


class ApiKey(CreatedModel):
    """An organization-scoped API key: it acts as `user` inside `tenant` only.

    Added to the spec (docs/data-model.md). Only a SHA-512 hash of the key is
    stored (keys are 190+ random bits, so a fast hash is safe and keeps every
    request cheap); `prefix` finds the row and is shown to people.
    """

    tenant = models.ForeignKey("organizations.Tenant", on_delete=models.PROTECT, related_name="api_keys")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    hashed_key = models.CharField(max_length=150)
    last_used_at = models.BigIntegerField(null=True, blank=True)
    revoked_at = models.BigIntegerField(null=True, blank=True)

    class Meta:
        db_table = "api_keys"
        verbose_name = "API key"
        ordering = ["-created_at"]
        indexes = [models.Index("tenant", F("created_at").desc(), name="api_keys_tenant_created_idx")]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class IdempotencyKey(CreatedModel):
    """The outcome of one idempotent consumption, kept so a retry replays it.

    Added to the spec (docs/data-model.md). The unique (tenant, key) decides
    between concurrent duplicates inside the consume transaction.
    """

    tenant = models.ForeignKey("organizations.Tenant", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    # SHA-256 of (user, amount, description): the same key with another request is a conflict.
    fingerprint = models.CharField(max_length=64)
    # What the consumption produced, filled in the same transaction as the claim.
    result = models.JSONField(null=True, blank=True)

    class Meta:
        db_table = "credit_idempotency_keys"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "key"], name="credit_idempotency_tenant_key_uniq"),
        ]
        indexes = [models.Index(fields=["created_at"], name="credit_idempotency_created_idx")]

    def __str__(self):
        return self.key
