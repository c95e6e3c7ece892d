"""The audit log: one row per change that matters to an organization (docs/audit.md).

Rows are written by the services, in the transaction of the change they record, and never
changed or deleted: a trigger (migration 0001) refuses UPDATE and DELETE on the table.
The references carry no foreign-key constraint: the log outlives the organizations, users
and keys it names (an organization deleted, an account anonymised), and a row never blocks
their deletion. Who acted is an id plus a label; people are shown through their current
(possibly anonymised) account, so the log keeps no email of its own.
"""

from django.conf import settings
from django.db import models
from django.db.models import F

from core.models import CreatedModel


class ActorKind(models.TextChoices):
    USER = "user", "User"
    STAFF = "staff", "Staff"
    API_KEY = "api_key", "API key"
    STRIPE = "stripe", "Stripe"
    SYSTEM = "system", "System"


class AuditEvent(CreatedModel):
    tenant = models.ForeignKey(
        "organizations.Tenant",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
    )
    action = models.CharField(max_length=64)
    actor_kind = models.CharField(max_length=16, choices=ActorKind.choices)
    # The person acting (for an API key, the member it acts as); for staff impersonating a
    # user, the user, with the staff member in `impersonator`.
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
    )
    impersonator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
    )
    # An API key's prefix and name, "Stripe", a command's name: never an email.
    actor_label = models.CharField(max_length=200, blank=True, default="")
    target_type = models.CharField(max_length=40, blank=True, default="")
    # Stripe ids (a checkout session's is 66 characters and more) as well as UUIDs.
    target_id = models.CharField(max_length=255, blank=True, default="")
    target_label = models.CharField(max_length=200, blank=True, default="")
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        db_table = "audit_events"
        ordering = ["-created_at"]
        indexes = [
            models.Index("tenant", F("created_at").desc(), name="audit_events_tenant_idx"),
            models.Index(F("created_at").desc(), name="audit_events_created_idx"),
            models.Index("actor_user", F("created_at").desc(), name="audit_events_actor_idx"),
        ]

    def __str__(self):
        return f"{self.action} by {self.actor_kind}"
