from django.conf import settings
from django.db import models
from django.db.models import Q

from core.models import CreatedModel, TimestampedModel


class MemberRole(models.TextChoices):
    OWNER = "owner", "Owner"
    MEMBER = "member", "Member"
    CUSTOM = "custom", "Custom"


class Permission(models.TextChoices):
    """The fixed list a `custom` member's permissions are chosen from."""

    MANAGE_MEMBERS = "manage_members", "Manage members"
    MANAGE_INVITATIONS = "manage_invitations", "Manage invitations"
    MANAGE_BILLING = "manage_billing", "Manage billing"
    VIEW_ALL_USAGE = "view_all_usage", "See all usage"
    MANAGE_API_KEYS = "manage_api_keys", "Manage API keys"


class InvitationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    ACCEPTED = "accepted", "Accepted"
    EXPIRED = "expired", "Expired"
    REVOKED = "revoked", "Revoked"


UNLIMITED = -1


class TenantQuerySet(models.QuerySet):
    def alive(self):
        return self.filter(deleted_at__isnull=True)


class Tenant(TimestampedModel):
    name = models.CharField(max_length=255)
    slug = models.SlugField(max_length=255, unique=True)
    logo_url = models.TextField(blank=True, default="")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="created_tenants")
    is_default = models.BooleanField(default=False)
    deleted_at = models.BigIntegerField(null=True, blank=True)
    # Added (docs/data-model.md): overdraft is per organization, off by default.
    overdraft_enabled = models.BooleanField(default=False)
    overdraft_limit = models.BigIntegerField(default=0)

    objects = TenantQuerySet.as_manager()

    class Meta:
        db_table = "tenants"
        ordering = ["name"]
        constraints = [
            # One personal default organization per user.
            models.UniqueConstraint(
                fields=["owner"],
                condition=Q(is_default=True, deleted_at__isnull=True),
                name="tenants_one_default_per_owner",
            ),
            models.CheckConstraint(condition=Q(overdraft_limit__gte=0), name="tenants_overdraft_limit_gte_0"),
        ]

    def __str__(self):
        return self.name


class TenantSlug(CreatedModel):
    """A slug an organization used before: old links keep resolving to it.

    Added to the spec (docs/data-model.md). A retired slug stays reserved for
    its organization, so an old link can never lead into someone else's.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="previous_slugs")
    slug = models.SlugField(max_length=255, unique=True)

    class Meta:
        db_table = "tenant_slugs"
        ordering = ["-created_at"]

    def __str__(self):
        return self.slug


class TenantMember(TimestampedModel):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=MemberRole.choices, default=MemberRole.MEMBER)
    # Added: the permissions of a `custom` member, values of `Permission`.
    permissions = models.JSONField(default=list, blank=True)

    class Meta:
        db_table = "tenant_members"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "user"], name="tenant_members_tenant_user_uniq"),
            models.CheckConstraint(condition=Q(role__in=MemberRole.values), name="tenant_members_role_valid"),
        ]
        indexes = [models.Index(fields=["user", "tenant"], name="tenant_members_user_idx")]

    def __str__(self):
        # Lists that show members select their user and tenant (the admin's inlines do).
        return f"{self.user.username} in {self.tenant.name} ({self.get_role_display()})"


class TenantInvitation(CreatedModel):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="invitations")
    email = models.CharField(max_length=255)
    role = models.CharField(max_length=20, choices=MemberRole.choices, default=MemberRole.MEMBER)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, db_column="invited_by", related_name="+"
    )
    # SHA-256 of the secret token: a database reader cannot use it.
    token = models.CharField(max_length=255, unique=True)
    status = models.CharField(max_length=20, choices=InvitationStatus.choices, default=InvitationStatus.PENDING)
    credit_limit = models.IntegerField(default=UNLIMITED)
    expires_at = models.BigIntegerField()
    # Added: permissions for a `custom` invitee, copied to the membership.
    permissions = models.JSONField(default=list, blank=True)

    class Meta:
        db_table = "tenant_invitations"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "email"], name="tenant_invitations_tenant_email_uniq"),
            models.CheckConstraint(condition=Q(role__in=MemberRole.values), name="tenant_invitations_role_valid"),
            models.CheckConstraint(
                condition=Q(status__in=InvitationStatus.values), name="tenant_invitations_status_valid"
            ),
            models.CheckConstraint(condition=Q(credit_limit__gte=UNLIMITED), name="tenant_invitations_limit_valid"),
        ]
        indexes = [
            models.Index(fields=["status", "expires_at"], name="tenant_invitations_expiry_idx"),
        ]

    def __str__(self):
        return f"{self.email} → {self.tenant.name} ({self.get_status_display()})"


class TenantMemberCreditLimit(TimestampedModel):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="member_credit_limits")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="credit_limits")
    credit_limit = models.IntegerField(default=UNLIMITED)
    used_credits = models.IntegerField(default=0)

    class Meta:
        db_table = "tenant_member_credit_limits"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "user"], name="tenant_member_credit_limits_uniq"),
            models.CheckConstraint(condition=Q(credit_limit__gte=UNLIMITED), name="member_credit_limit_valid"),
            models.CheckConstraint(condition=Q(used_credits__gte=0), name="member_used_credits_gte_0"),
        ]

    def __str__(self):
        limit = "unlimited" if self.credit_limit == UNLIMITED else self.credit_limit
        return f"{self.used_credits}/{limit}"

    @property
    def is_unlimited(self) -> bool:
        return self.credit_limit == UNLIMITED

    @property
    def remaining(self) -> int | None:
        return None if self.is_unlimited else max(self.credit_limit - self.used_credits, 0)
