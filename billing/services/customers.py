"""One Stripe customer per (user, provider), in `user_provider_customers`."""

from django.db import IntegrityError, transaction

from accounts.models import UserEmail, UserProviderCustomer
from billing.stripe_api import client

PROVIDER = "stripe"


def customer_for(*, user) -> UserProviderCustomer:
    """The user's Stripe customer, created at Stripe the first time.

    The creation carries an idempotency key made of the user's id, so two requests racing
    to create it get the same customer from Stripe, and the unique (user, provider) keeps
    one row."""
    row = UserProviderCustomer.objects.filter(user=user, provider=PROVIDER).first()
    if row is not None:
        return row
    primary = UserEmail.objects.filter(user=user, is_primary=True).first()
    customer = client().v1.customers.create(
        params={
            "email": primary.email if primary else None,
            "name": user.get_full_name(),
            "metadata": {"keel_user_id": str(user.pk)},
        },
        options={"idempotency_key": f"keel-customer-{user.pk}"},
    )
    try:
        with transaction.atomic():
            return UserProviderCustomer.objects.create(
                user=user, user_email=primary, provider=PROVIDER, customer_id=customer.id
            )
    except IntegrityError:
        return UserProviderCustomer.objects.get(user=user, provider=PROVIDER)


def user_for_customer(customer_id: str):
    row = UserProviderCustomer.objects.filter(provider=PROVIDER, customer_id=customer_id).select_related("user")
    row = row.first()
    return row.user if row else None


def customer_replace(*, user) -> UserProviderCustomer:
    """A new Stripe customer for `user`, when the one Keel knows no longer exists there."""
    UserProviderCustomer.objects.filter(user=user, provider=PROVIDER).delete()
    primary = UserEmail.objects.filter(user=user, is_primary=True).first()
    customer = client().v1.customers.create(
        params={
            "email": primary.email if primary else None,
            "name": user.get_full_name(),
            "metadata": {"keel_user_id": str(user.pk)},
        }
    )
    return UserProviderCustomer.objects.create(
        user=user, user_email=primary, provider=PROVIDER, customer_id=customer.id
    )
