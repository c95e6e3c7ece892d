"""Products, prices and customers: Stripe's shapes, their lifecycle and their events."""

import pytest
import stripe

from tests.stripe_sandbox.assertions import as_json, assert_stripe_shape, event_types


def test_products_and_prices_carry_keels_plan_metadata(stripe_sandbox, catalog):
    product = assert_stripe_shape(stripe.Product.retrieve(catalog.pro.id), "product")
    monthly = assert_stripe_shape(stripe.Price.retrieve(catalog.monthly.id), "price")
    credits = assert_stripe_shape(stripe.Price.retrieve(catalog.credits.id), "price")

    assert product["id"].startswith("prod_")
    assert (product["name"], product["active"], product["livemode"]) == ("Pro", True, False)
    assert monthly["id"].startswith("price_")
    assert monthly["product"] == product["id"]
    assert (monthly["type"], monthly["unit_amount"], monthly["unit_amount_decimal"]) == ("recurring", 2000, "2000")
    assert monthly["recurring"] == {
        "interval": "month",
        "interval_count": 1,
        "meter": None,
        "trial_period_days": None,
        "usage_type": "licensed",
    }
    assert monthly["metadata"] == {"plan_id": "pro", "credits": "1000", "kind": "subscription"}
    assert (credits["type"], credits["recurring"]) == ("one_time", None)
    assert credits["metadata"]["kind"] == "credits"


def test_catalogue_changes_emit_created_and_updated_events_with_previous_attributes(stripe_sandbox, catalog):
    stripe.Price.modify(catalog.monthly.id, active=False, metadata={"credits": "1200"})
    stripe.Product.modify(catalog.pro.id, name="Pro (2026)")

    events = stripe.Event.list(limit=100).data
    price_updated, product_updated = events[1], events[0]

    assert event_types(events) == [
        "product.created",
        "price.created",
        "product.created",
        "price.created",
        "price.updated",
        "product.updated",
    ]
    assert price_updated.data.object.id == catalog.monthly.id
    assert price_updated.data.object.active is False
    assert as_json(price_updated.data.previous_attributes) == {"active": True, "metadata": {"credits": "1000"}}
    assert product_updated.data.previous_attributes.name == "Pro"
    created = assert_stripe_shape(events[-1], "event")
    snapshot = assert_stripe_shape(created["data"]["object"], "product")
    assert (snapshot["id"], snapshot["name"]) == (catalog.pro.id, "Pro")
    assert "previous_attributes" not in created["data"]
    assert created["request"]["id"].startswith("req_")
    assert created["api_version"] == "2026-05-27.dahlia"


def test_a_product_with_prices_cannot_be_deleted_until_its_prices_are(stripe_sandbox, catalog):
    with pytest.raises(stripe.InvalidRequestError):
        stripe.Product.delete(catalog.pack.id)

    stripe.Price.modify(catalog.credits.id, active=False)
    stripe_sandbox._control("DELETE", f"/prices/{catalog.credits.id}")
    deleted = stripe.Product.delete(catalog.pack.id)

    assert as_json(deleted) == {"id": catalog.pack.id, "object": "product", "deleted": True}
    assert event_types(stripe.Event.list(limit=3).data) == ["price.updated", "price.deleted", "product.deleted"]
    with pytest.raises(stripe.InvalidRequestError) as missing:
        stripe.Product.retrieve(catalog.pack.id)
    assert missing.value.http_status == 404


def test_a_lookup_key_belongs_to_one_price_unless_transferred(stripe_sandbox, catalog):
    stripe.Price.modify(catalog.monthly.id, lookup_key="pro_monthly")

    with pytest.raises(stripe.InvalidRequestError) as taken:
        stripe.Price.create(product=catalog.pro.id, currency="usd", unit_amount=2500, lookup_key="pro_monthly")
    moved = stripe.Price.create(
        product=catalog.pro.id,
        currency="usd",
        unit_amount=2500,
        recurring={"interval": "month"},
        lookup_key="pro_monthly",
        transfer_lookup_key=True,
    )

    assert taken.value.param == "lookup_key"
    assert [p.id for p in stripe.Price.list(lookup_keys=["pro_monthly"]).data] == [moved.id]
    assert stripe.Price.retrieve(catalog.monthly.id).lookup_key is None


def test_customers_are_created_updated_and_deleted_with_events(stripe_sandbox, customer):
    fetched = assert_stripe_shape(stripe.Customer.retrieve(customer.id), "customer")
    stripe.Customer.modify(customer.id, name="Ada King")
    deleted = stripe.Customer.delete(customer.id)

    assert fetched["id"].startswith("cus_") and len(fetched["id"]) == 18
    assert (fetched["email"], fetched["name"], fetched["metadata"]) == (
        "ada@example.com",
        "Ada Lovelace",
        {"tenant_id": "t-1"},
    )
    assert fetched["invoice_settings"]["default_payment_method"] is None
    assert fetched["delinquent"] is False
    events = stripe.Event.list().data
    assert event_types(events) == ["customer.created", "customer.updated", "customer.deleted"]
    assert as_json(events[1].data.previous_attributes) == {"name": "Ada Lovelace"}
    assert events[0].data.object.email == "ada@example.com"
    assert as_json(deleted) == {"id": customer.id, "object": "customer", "deleted": True}
    # Stripe still answers for a deleted customer, with the deletion stub.
    assert stripe.Customer.retrieve(customer.id).deleted is True
    assert stripe.Customer.list().data == []


def test_a_test_card_can_be_attached_and_made_the_default(stripe_sandbox, customer):
    card = stripe.PaymentMethod.attach("pm_card_visa", customer=customer.id)
    updated = stripe.Customer.modify(customer.id, invoice_settings={"default_payment_method": card.id})

    method = assert_stripe_shape(stripe.PaymentMethod.retrieve(card.id), "payment_method")
    assert method["id"].startswith("pm_") and method["customer"] == customer.id
    assert (method["type"], method["card"]["brand"], method["card"]["last4"]) == ("card", "visa", "4242")
    assert updated.invoice_settings.default_payment_method == card.id
    assert [pm.id for pm in stripe.Customer.list_payment_methods(customer.id).data] == [card.id]
    assert event_types(stripe.Event.list(limit=2).data) == ["payment_method.attached", "customer.updated"]
