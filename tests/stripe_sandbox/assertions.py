"""Checks that sandbox objects look like Stripe's: every key of Stripe's example object
(fixtures3.json, copied into stripe_sandbox/shapes.json), with the same JSON types, null
only where the official `stripe` library declares the field optional, and no key that
neither the example nor the library knows."""

import json
import typing

import stripe

from stripe_sandbox.shapes import fixture

STRIPE_CLASSES = {
    "account": stripe.Account,
    "balance_transaction": stripe.BalanceTransaction,
    "billing_portal.session": stripe.billing_portal.Session,
    "charge": stripe.Charge,
    "checkout.session": stripe.checkout.Session,
    "coupon": stripe.Coupon,
    "customer": stripe.Customer,
    "discount": stripe.Discount,
    "event": stripe.Event,
    "invoice": stripe.Invoice,
    "invoice_payment": stripe.InvoicePayment,
    "item": stripe.LineItem,
    "line_item": stripe.InvoiceLineItem,
    "payment_intent": stripe.PaymentIntent,
    "payment_method": stripe.PaymentMethod,
    "plan": stripe.Plan,
    "price": stripe.Price,
    "product": stripe.Product,
    "promotion_code": stripe.PromotionCode,
    "refund": stripe.Refund,
    "subscription": stripe.Subscription,
    "subscription_item": stripe.SubscriptionItem,
    "webhook_endpoint": stripe.WebhookEndpoint,
}


def as_json(stripe_object) -> dict:
    """A StripeObject (or a plain dict) as the JSON the sandbox sent."""
    return json.loads(str(stripe_object)) if not isinstance(stripe_object, dict) else stripe_object


def _annotations(kind: str) -> dict:
    merged = {}
    for cls in reversed(STRIPE_CLASSES[kind].__mro__):
        merged.update(getattr(cls, "__annotations__", {}))
    return {name: hint for name, hint in merged.items() if not name.startswith("_") and name != "OBJECT_NAME"}


def _nullable(hint) -> bool:
    return typing.get_origin(hint) is typing.Union and type(None) in typing.get_args(hint)


def _json_type(value) -> str:
    for python_type, name in ((bool, "boolean"), (int, "number"), (float, "number"), (str, "string")):
        if isinstance(value, python_type):
            return name
    return "array" if isinstance(value, list) else "object"


def assert_stripe_shape(stripe_object, kind: str) -> dict:
    """Assert `stripe_object` has the shape of Stripe's `kind`; returns it as JSON."""
    obj = as_json(stripe_object)
    example, hints = fixture(kind), _annotations(kind)
    assert obj["object"] == example["object"]
    missing = sorted(example.keys() - obj.keys())
    assert not missing, f"{kind} lacks {missing}"
    for key, example_value in example.items():
        value = obj[key]
        if value is None:
            assert example_value is None or _nullable(hints.get(key)), f"{kind}.{key} is null, never so in Stripe"
        elif example_value is not None:
            assert _json_type(value) == _json_type(example_value), (
                f"{kind}.{key} is {_json_type(value)}, Stripe sends {_json_type(example_value)}"
            )
    invented = sorted(obj.keys() - example.keys() - hints.keys())
    assert not invented, f"{kind} has keys Stripe does not send: {invented}"
    return obj


def event_types(events) -> list[str]:
    """Types of `events` (a list of Event objects, newest first as Stripe lists them), oldest first."""
    return [event.type for event in reversed(list(events))]
