from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower

from core.models import CreatedModel, TimestampedModel


class SystemRole(models.TextChoices):
    OWNER = "owner", "Owner (site operator)"
    MEMBER = "member", "Member"


class UserStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    DISABLED = "disabled", "Disabled"


class SignupVia(models.TextChoices):
    EMAIL_PASSWORD = "email:password", "Email and password"
    GOOGLE = "google", "Google"


class EmailType(models.TextChoices):
    MARKETING = "marketing", "Marketing"
    PRODUCT_UPDATES = "product_updates", "Product updates"
    PAYMENT_RECEIPTS = "payment_receipts", "Payment receipts"


def normalize_email(email: str) -> str:
    """Keel stores addresses lowercased so that uniqueness is case-insensitive."""
    return (email or "").strip().lower()


class UserQuerySet(models.QuerySet):
    def alive(self):
        return self.filter(deleted_at__isnull=True)

    def can_authenticate(self):
        return self.alive().filter(status=UserStatus.ACTIVE)


class UserManager(BaseUserManager.from_queryset(UserQuerySet)):
    """Reads only: users are created by `accounts.services` (sign-up, Google, `user_operator_create`
    behind `createsuperuser`), never by `create_user`, which Keel's manager does not have."""

    use_in_migrations = True

    def get_by_natural_key(self, username):
        return self.get(username__iexact=username)


class User(AbstractBaseUser, TimestampedModel):
    """The `users` table. `role = owner` is a site operator (admin, superuser).

    Django's `last_login` is the only column added to the spec (see
    docs/data-model.md); `is_active`, `is_staff`, `is_superuser` are derived
    from `status`, `deleted_at` and `role` so that there is one source of truth.
    """

    avatar_url = models.TextField(blank=True, default="")
    first_name = models.CharField(max_length=255, blank=True, default="")
    last_name = models.CharField(max_length=255, blank=True, default="")
    username = models.CharField(max_length=255)
    password = models.TextField()
    role = models.CharField(max_length=20, choices=SystemRole.choices, default=SystemRole.MEMBER)
    status = models.CharField(max_length=20, choices=UserStatus.choices, default=UserStatus.ACTIVE)
    deleted_at = models.BigIntegerField(null=True, blank=True)

    objects = UserManager()

    USERNAME_FIELD = "username"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        db_table = "users"
        ordering = ["username"]
        constraints = [
            models.UniqueConstraint(Lower("username"), name="users_username_ci_uniq"),
            models.CheckConstraint(condition=Q(role__in=SystemRole.values), name="users_role_valid"),
            models.CheckConstraint(condition=Q(status__in=UserStatus.values), name="users_status_valid"),
        ]

    def __str__(self):
        return self.username

    @property
    def is_active(self) -> bool:
        return self.status == UserStatus.ACTIVE and self.deleted_at is None

    @property
    def is_staff(self) -> bool:
        return self.is_active and self.role == SystemRole.OWNER

    @property
    def is_superuser(self) -> bool:
        return self.is_staff

    def has_perm(self, perm, obj=None) -> bool:
        return self.is_superuser

    def has_perms(self, perm_list, obj=None) -> bool:
        return self.is_superuser

    def has_module_perms(self, app_label) -> bool:
        return self.is_superuser

    @property
    def email(self) -> str:
        """The primary address (dj-stripe's subscriber model needs `email`)."""
        # Uses prefetch_related("emails") when the caller did it (admin lists).
        emails = getattr(self, "_prefetched_objects_cache", {}).get("emails")
        if emails is None:
            emails = self.emails.filter(is_primary=True)
        primary = next((e for e in emails if e.is_primary), None)
        return primary.email if primary else ""

    def get_full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or self.username

    def get_short_name(self) -> str:
        return self.first_name or self.username


class UserEmail(TimestampedModel):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="emails")
    email = models.TextField()
    is_primary = models.BooleanField(default=False)
    verified = models.BooleanField(default=False)
    via = models.CharField(max_length=80, choices=SignupVia.choices, default=SignupVia.EMAIL_PASSWORD)

    class Meta:
        db_table = "user_emails"
        ordering = ["-is_primary", "email"]
        constraints = [
            models.UniqueConstraint(fields=["user", "email"], name="user_emails_user_email_uniq"),
            # "(user_id, is_primary)" in the spec: one primary email per user.
            models.UniqueConstraint(
                fields=["user"], condition=Q(is_primary=True), name="user_emails_one_primary_per_user"
            ),
            # An address is verified by one account only.
            models.UniqueConstraint(fields=["email"], condition=Q(verified=True), name="user_emails_verified_uniq"),
            models.CheckConstraint(condition=Q(email=Lower("email")), name="user_emails_email_lowercase"),
            models.CheckConstraint(condition=Q(via__in=SignupVia.values), name="user_emails_via_valid"),
        ]
        indexes = [models.Index(fields=["email"], name="user_emails_email_idx")]

    def __str__(self):
        return self.email


class UserProviderCustomer(CreatedModel):
    """One payment-provider customer per (user, provider)."""

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="provider_customers")
    user_email = models.ForeignKey(UserEmail, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    provider = models.CharField(max_length=50, default="stripe")
    customer_id = models.CharField(max_length=255)

    class Meta:
        db_table = "user_provider_customers"
        constraints = [
            models.UniqueConstraint(fields=["user", "provider"], name="user_provider_customers_user_provider_uniq"),
            models.UniqueConstraint(fields=["provider", "customer_id"], name="user_provider_customers_customer_uniq"),
        ]

    def __str__(self):
        return f"{self.provider}:{self.customer_id}"


class UserEmailPreference(TimestampedModel):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="email_preferences")
    email_type = models.CharField(max_length=50, choices=EmailType.choices)
    subscribed = models.BooleanField(default=True)

    class Meta:
        db_table = "user_email_preferences"
        constraints = [
            models.UniqueConstraint(fields=["user", "email_type"], name="user_email_preferences_user_type_uniq"),
            models.CheckConstraint(
                condition=Q(email_type__in=EmailType.values), name="user_email_preferences_type_valid"
            ),
        ]

    def __str__(self):
        return f"{self.email_type}={'on' if self.subscribed else 'off'}"
