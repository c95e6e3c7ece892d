"""`expand[]`: replace ids by the objects they name, following dotted paths through nested
objects and lists (`data.product`, `latest_invoice.payments.data.payment.payment_intent`).

Some fields are never sent unless expanded ("includable" fields such as a checkout
session's `line_items` or a price's `currency_options`); INCLUDABLE computes them.
"""

import copy

from . import discounts, errors
from .objects import list_object


def _session_line_items(store, session: dict) -> dict:
    items = [store.objects[item_id] for item_id in store.checkout_details[session["id"]]["items"]]
    listing = list_object(items[:10], f"/v1/checkout/sessions/{session['id']}/line_items")
    listing["has_more"] = len(items) > 10
    return listing


def _customer_subscriptions(store, customer: dict) -> dict:
    subscriptions = store.all(
        "subscription", lambda sub: sub["customer"] == customer["id"] and sub["status"] != "canceled"
    )
    return list_object(subscriptions, f"/v1/customers/{customer['id']}/subscriptions")


def _currency_options(store, price: dict) -> dict:
    return {
        price["currency"]: {
            "custom_unit_amount": None,
            "tax_behavior": price["tax_behavior"],
            "unit_amount": price["unit_amount"],
            "unit_amount_decimal": price["unit_amount_decimal"],
        }
    }


def _charge_refunds(store, charge: dict) -> dict:
    refunds = store.all("refund", lambda refund: refund["charge"] == charge["id"])
    listing = list_object(refunds[:10], f"/v1/charges/{charge['id']}/refunds")
    listing["has_more"] = len(refunds) > 10
    return listing


def _invoice_payments(store, invoice: dict) -> dict:
    payments = store.all("invoice_payment", lambda payment: payment["invoice"] == invoice["id"])
    return list_object(payments, f"/v1/invoice_payments?invoice={invoice['id']}")


INCLUDABLE = {
    ("charge", "refunds"): _charge_refunds,
    ("checkout.session", "line_items"): _session_line_items,
    ("checkout.session", "total_details.breakdown"): discounts.session_breakdown,
    # The sandbox's coupons apply to every product (no `applies_to` restriction).
    ("coupon", "applies_to"): lambda store, coupon: {"products": []},
    ("customer", "sources"): lambda store, c: list_object([], f"/v1/customers/{c['id']}/sources"),
    ("customer", "subscriptions"): _customer_subscriptions,
    ("customer", "tax_ids"): lambda store, c: list_object([], f"/v1/customers/{c['id']}/tax_ids"),
    ("invoice", "payments"): _invoice_payments,
    ("item", "discounts"): discounts.item_discounts,
    ("item", "taxes"): lambda store, item: [],
    ("price", "currency_options"): _currency_options,
    # Not nullable in the schema: a per-unit price has no tiers.
    ("price", "tiers"): lambda store, price: [],
}


def expand(obj: dict, paths: list[str], store) -> dict:
    """Expand `paths` in `obj` (a copy the caller owns) in place."""
    for path in paths:
        if not isinstance(path, str) or not path:
            raise errors.invalid("Invalid expand: must be a list of strings", "expand")
        _expand(obj, path.split("."), path, store, owner=obj, field_prefix="")
    return obj


def _expand(node, parts: list[str], path: str, store, owner: dict, field_prefix: str) -> None:
    if node is None or not parts:
        return
    if isinstance(node, list):
        for element in node:
            _expand(element, parts, path, store, owner, field_prefix)
        return
    if "object" in node:
        owner, field_prefix = node, ""
    key, rest = parts[0], parts[1:]
    if node.get("object") == "list" and key == "data":
        _expand(node["data"], rest, path, store, owner, field_prefix)
        return

    include = INCLUDABLE.get((owner.get("object"), field_prefix + key))
    if include is not None:
        node[key] = copy.deepcopy(include(store, owner))
    elif key not in node:
        raise _cannot_expand(path)
    else:
        node[key] = _expanded_value(node[key], path, store)

    child = node[key]
    if isinstance(child, dict) and "object" not in child:
        _expand(child, rest, path, store, owner, f"{field_prefix}{key}.")
    else:
        _expand(child, rest, path, store, owner, field_prefix)


def _expanded_value(value, path: str, store):
    if isinstance(value, str):
        target = store.find(value)
        if target is None:
            raise _cannot_expand(path)
        return copy.deepcopy(target)
    if isinstance(value, list):
        return [_expanded_value(element, path, store) if isinstance(element, str) else element for element in value]
    return value


def _cannot_expand(path: str) -> errors.StripeError:
    return errors.invalid(f"This property cannot be expanded ({path}).", "expand")
