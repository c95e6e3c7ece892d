"""Checks that sandbox objects look like Stripe's: the object types Stripe publishes for the
API version the sandbox serves (stripe_sandbox/schema.json, see stripe_sandbox/schema.py).
The `stripe_sandbox` fixture already checks everything the sandbox serves; these helpers
say, in a test, which kind of object a value must be."""

import json

from stripe_sandbox.schema import deviations


def as_json(stripe_object) -> dict:
    """A StripeObject (or a plain dict) as the JSON the sandbox sent."""
    return json.loads(str(stripe_object)) if not isinstance(stripe_object, dict) else stripe_object


def assert_stripe_shape(stripe_object, kind: str) -> dict:
    """Assert `stripe_object` is a `kind` (its `object` value) with the shape of Stripe's
    type for it, with no deviation that stripe_sandbox.schema.ALLOWED does not list;
    returns it as JSON."""
    obj = as_json(stripe_object)
    assert obj.get("object") == kind, f"expected a {kind}, got {obj.get('object')!r}"
    found = [deviation for deviation in deviations(obj) if not deviation.allowed]
    assert not found, f"{kind} deviates from Stripe's schema:\n" + "\n".join(f"  {d}" for d in found)
    return obj


def event_types(events) -> list[str]:
    """Types of `events` (a list of Event objects, newest first as Stripe lists them), oldest first."""
    return [event.type for event in reversed(list(events))]
