"""The prices table follows Stripe: the example catalogue, sync_prices and its problems."""

import io

import pytest
import stripe
from django.core.management import call_command

from billing.catalog import EXAMPLE_CATALOGUE
from billing.models import Price
from billing.plans import Plan, plan_from_metadata
from core.errors import ValidationFailed


@pytest.fixture
def stripe_settings(settings, stripe_sandbox):
    settings.STRIPE_TEST_SECRET_KEY = stripe.api_key
    return settings


def run(command: str) -> str:
    out = io.StringIO()
    call_command(command, stdout=out, stderr=out)
    return out.getvalue()


@pytest.mark.django_db
def test_the_example_catalogue_is_created_once_and_synced_into_prices(stripe_settings):
    first = run("billing_catalog")
    second = run("billing_catalog")
    synced = run("sync_prices")
    again = run("sync_prices")

    count = sum(len(product["prices"]) for product in EXAMPLE_CATALOGUE)
    assert "Created 11 catalogue objects" in first and "none (all there)" in second
    assert f"Synced {count} prices; 0 no longer at Stripe made inactive; 0 with metadata" in synced
    assert synced == again
    assert Price.objects.filter(active=True).count() == count
    monthly = Price.objects.get(raw_data__lookup_key="keel_pro_monthly")
    assert (monthly.product_name, monthly.unit_amount, monthly.interval, monthly.type) == (
        "Pro",
        2900,
        "month",
        "recurring",
    )
    assert plan_from_metadata(monthly.metadata, price_type=monthly.type) == Plan(
        "pro", "subscription", 5000, priority=60
    )
    pack = Price.objects.get(raw_data__lookup_key="keel_credits_1000")
    assert plan_from_metadata(pack.metadata, price_type=pack.type).expires_days == 365


@pytest.mark.django_db
def test_sync_makes_prices_gone_or_archived_at_stripe_inactive_and_reports_bad_metadata(
    stripe_settings, stripe_sandbox
):
    product = stripe.Product.create(name="Odd")
    kept = stripe.Price.create(product=product.id, currency="usd", unit_amount=500, metadata={"plan_id": "x"})
    archived = stripe.Price.create(
        product=product.id,
        currency="usd",
        unit_amount=700,
        metadata={"plan_id": "y", "kind": "credits", "credits": "5"},
    )
    deleted = stripe.Price.create(
        product=product.id,
        currency="usd",
        unit_amount=900,
        metadata={"plan_id": "z", "kind": "credits", "credits": "9"},
    )
    run("sync_prices")
    stripe.Price.modify(archived.id, active=False)
    stripe_sandbox._control("DELETE", f"/prices/{deleted.id}")

    output = run("sync_prices")

    assert dict(Price.objects.values_list("provider_price_id", "active")) == {
        kept.id: True,
        archived.id: False,
        deleted.id: False,
    }
    assert f"{kept.id} is not for sale: Price metadata `kind` must be one of" in output
    assert "1 no longer at Stripe made inactive" in output


@pytest.mark.parametrize(
    ("metadata", "price_type", "field"),
    [
        ({}, "recurring", "plan_id"),
        ({"plan_id": "p", "kind": "gold", "credits": "1"}, "recurring", "kind"),
        ({"plan_id": "p", "kind": "subscription", "credits": "1"}, "one_time", "kind"),
        ({"plan_id": "p", "kind": "credits", "credits": "1"}, "recurring", "kind"),
        ({"plan_id": "p", "kind": "credits"}, "one_time", "credits"),
        ({"plan_id": "p", "kind": "credits", "credits": "-5"}, "one_time", "credits"),
        (
            {"plan_id": "p", "kind": "credits", "credits": "1", "credit_expires_days": "0"},
            "one_time",
            "credit_expires_days",
        ),
        ({"plan_id": "p", "kind": "credits", "credits": "1", "credit_priority": "x"}, "one_time", "credit_priority"),
    ],
)
def test_metadata_that_is_not_a_plan_says_which_field(metadata, price_type, field):
    with pytest.raises(ValidationFailed) as refused:
        plan_from_metadata(metadata, price_type=price_type)
    assert refused.value.field == field
