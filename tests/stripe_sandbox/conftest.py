from types import SimpleNamespace

import pytest
import stripe

from stripe_sandbox import testing

stripe_sandbox_server = testing.stripe_sandbox_server
stripe_sandbox = testing.stripe_sandbox
webhook_receiver = testing.webhook_receiver


@pytest.fixture
def catalog(stripe_sandbox):
    """Keel's kinds of plan: a monthly subscription and a one-time credit pack."""
    pro = stripe.Product.create(name="Pro", metadata={"plan_id": "pro"})
    monthly = stripe.Price.create(
        product=pro.id,
        currency="usd",
        unit_amount=2000,
        recurring={"interval": "month"},
        metadata={"plan_id": "pro", "credits": "1000", "kind": "subscription"},
    )
    pack = stripe.Product.create(name="1,000 credits")
    credits = stripe.Price.create(
        product=pack.id,
        currency="usd",
        unit_amount=900,
        metadata={"plan_id": "pack-1000", "credits": "1000", "kind": "credits"},
    )
    return SimpleNamespace(pro=pro, monthly=monthly, pack=pack, credits=credits)


@pytest.fixture
def customer(stripe_sandbox):
    return stripe.Customer.create(email="ada@example.com", name="Ada Lovelace", metadata={"tenant_id": "t-1"})


@pytest.fixture
def subscription(stripe_sandbox, catalog, customer):
    """An active monthly subscription, bought through Checkout."""
    session = stripe.checkout.Session.create(
        mode="subscription",
        customer=customer.id,
        line_items=[{"price": catalog.monthly.id, "quantity": 1}],
        success_url="https://keel.test/billing/success?session={CHECKOUT_SESSION_ID}",
        subscription_data={"metadata": {"tenant_id": "t-1"}},
    )
    stripe_sandbox.complete_checkout(session.id)
    return stripe.Subscription.retrieve(stripe.checkout.Session.retrieve(session.id).subscription)
