"""factory-boy factories for every Keel model."""

import functools
import uuid

import factory
from django.contrib.auth.hashers import make_password
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import EmailType, User, UserEmail, UserEmailPreference, UserProviderCustomer
from billing.models import Invoice, Lifetime, Price, PriceType, Subscription, SubscriptionStatus
from core.time import MS_PER_DAY, now_ms
from credits.models import (
    ApiKey,
    Credit,
    CreditMode,
    CreditOverdraft,
    CreditTransaction,
    IdempotencyKey,
    TransactionType,
)
from organizations.models import (
    MemberRole,
    Tenant,
    TenantInvitation,
    TenantMember,
    TenantMemberCreditLimit,
    TenantSlug,
)

DEFAULT_PASSWORD = "correct horse battery staple"


@functools.cache
def _default_password_hash() -> str:
    # argon2 is deliberately slow: hash the shared test password once, with argon2 whatever
    # hasher a test has put first (tests/security's fast one), so later tests can check it.
    return make_password(DEFAULT_PASSWORD, hasher="argon2")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.LazyFunction(_default_password_hash)

    @factory.post_generation
    def email(self, create, extracted, **kwargs):
        """Every user gets a verified primary email; `email__skip=True` for none,
        `email__verified=False` for an unverified one."""
        if not create or kwargs.get("skip"):
            return
        UserEmailFactory(
            user=self,
            email=extracted or f"{self.username.lower()}@example.com",
            is_primary=True,
            verified=kwargs.get("verified", True),
        )

    @factory.post_generation
    def two_factor(self, create, extracted, **kwargs):
        """Staff (role `owner`) get a confirmed authenticator, as the admin requires, kept on the
        instance as `otp_device`: `client.force_login(user)` then signs in verified with it (django-otp
        reads `user.otp_device` at sign-in). `two_factor=False` for staff without one, `True` for any user."""
        wanted = self.role == "owner" if extracted is None else extracted
        if create and wanted:
            self.otp_device = TOTPDevice.objects.create(user=self, name="Authenticator app", confirmed=True)


class UserEmailFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = UserEmail

    user = factory.SubFactory(UserFactory, email__skip=True)
    email = factory.Sequence(lambda n: f"address{n}@example.com")
    is_primary = False
    verified = True


class UserProviderCustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = UserProviderCustomer

    user = factory.SubFactory(UserFactory)
    provider = "stripe"
    customer_id = factory.Sequence(lambda n: f"cus_test{n:08d}")


class UserEmailPreferenceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = UserEmailPreference

    user = factory.SubFactory(UserFactory)
    email_type = EmailType.MARKETING
    subscribed = True


class TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tenant

    name = factory.Sequence(lambda n: f"Org {n}")
    slug = factory.Sequence(lambda n: f"org-{n}")
    owner = factory.SubFactory(UserFactory)


class TenantSlugFactory(factory.django.DjangoModelFactory):
    """A former slug of an organization."""

    class Meta:
        model = TenantSlug

    tenant = factory.SubFactory(TenantFactory)
    slug = factory.Sequence(lambda n: f"former-org-{n}")


class TenantMemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TenantMember

    tenant = factory.SubFactory(TenantFactory)
    user = factory.SubFactory(UserFactory)
    role = MemberRole.MEMBER


class TenantInvitationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TenantInvitation

    tenant = factory.SubFactory(TenantFactory)
    email = factory.Sequence(lambda n: f"invitee{n}@example.com")
    invited_by = factory.SelfAttribute("tenant.owner")
    token = factory.LazyFunction(lambda: uuid.uuid4().hex)
    expires_at = factory.LazyFunction(lambda: now_ms() + 7 * MS_PER_DAY)


class TenantMemberCreditLimitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TenantMemberCreditLimit

    tenant = factory.SubFactory(TenantFactory)
    user = factory.SubFactory(UserFactory)


class CreditFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Credit

    tenant = factory.SubFactory(TenantFactory)
    user = factory.SelfAttribute("tenant.owner")
    mode = CreditMode.ONE_TIME_CREDITS
    total_credits = 100
    remaining_credits = factory.SelfAttribute("total_credits")
    source_type = "test"
    source_id = factory.LazyFunction(lambda: f"src_{uuid.uuid4().hex}")
    effective_at = factory.LazyFunction(lambda: now_ms() - 1000)


class CreditTransactionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CreditTransaction

    credit = factory.SubFactory(CreditFactory)
    tenant = factory.SelfAttribute("credit.tenant")
    user = factory.SelfAttribute("credit.user")
    credits = -1
    type = TransactionType.DEDUCT


class CreditOverdraftFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CreditOverdraft

    tenant = factory.SubFactory(TenantFactory)
    user = factory.SelfAttribute("tenant.owner")
    credits = 0


class ApiKeyFactory(factory.django.DjangoModelFactory):
    """A key row only (its secret unknown): use `credits.services.api_key_create` for a usable key."""

    class Meta:
        model = ApiKey

    tenant = factory.SubFactory(TenantFactory)
    user = factory.SelfAttribute("tenant.owner")
    name = "factory key"
    prefix = factory.Sequence(lambda n: f"fk{n:06d}")
    hashed_key = factory.LazyFunction(lambda: f"sha512$${uuid.uuid4().hex}")


class IdempotencyKeyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = IdempotencyKey

    tenant = factory.SubFactory(TenantFactory)
    user = factory.SelfAttribute("tenant.owner")
    key = factory.Sequence(lambda n: f"idem-{n}")
    fingerprint = "0" * 64
    result = factory.LazyFunction(lambda: {"consumed": 1, "balance": 0, "overdraft": 0, "transaction_ids": []})


class PriceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Price

    provider_price_id = factory.Sequence(lambda n: f"price_test{n:08d}")
    product_id = factory.Sequence(lambda n: f"prod_test{n:08d}")
    currency = "usd"
    unit_amount = 1900
    type = PriceType.RECURRING
    interval = "month"
    interval_count = 1
    usage_type = "licensed"
    metadata = factory.LazyFunction(lambda: {"plan_id": "pro", "credits": "1000", "kind": "subscription"})


class SubscriptionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Subscription

    tenant = factory.SubFactory(TenantFactory)
    user = factory.SelfAttribute("tenant.owner")
    plan_id = "pro"
    status = SubscriptionStatus.ACTIVE
    amount = 1900
    provider_subscription_id = factory.Sequence(lambda n: f"sub_test{n:08d}")
    provider_customer_id = factory.Sequence(lambda n: f"cus_test{n:08d}")
    provider_price_id = "price_test"
    current_period_start = factory.LazyFunction(now_ms)
    current_period_end = factory.LazyFunction(lambda: now_ms() + 30 * MS_PER_DAY)


class LifetimeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lifetime

    tenant = factory.SubFactory(TenantFactory)
    user = factory.SelfAttribute("tenant.owner")
    plan_id = "lifetime"
    amount = 29900
    provider_checkout_session_id = factory.Sequence(lambda n: f"cs_test{n:08d}")


class InvoiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Invoice

    tenant = factory.SubFactory(TenantFactory)
    user = factory.SelfAttribute("tenant.owner")
    plan_id = "pro"
    amount = 1900
    billing_reason = "subscription_create"
    provider_invoice_id = factory.Sequence(lambda n: f"in_test{n:08d}")
    paid_at = factory.LazyFunction(now_ms)
