"""Coupons, promotion codes and the discounts they give.

Whether a coupon or a promotion code can be redeemed (Stripe's rules and errors), what a
coupon takes off the lines of a Checkout Session or an invoice, when a subscription's
discount stops applying, and the automatic tax a session passes to its subscription and
invoices (always 0: the sandbox has no tax registrations).

flows.py calls in twice: `subscription_started` when Checkout creates a subscription and
`invoice_totals` where a subscription invoice's totals are computed. The /_sandbox control
and the hosted page complete sessions through `complete_checkout`, which counts redemptions.
"""

import copy
from decimal import ROUND_HALF_UP, Decimal

from . import errors, flows
from .objects import add_interval, new_discount

AUTOMATIC_TAX_PROVIDER = "stripe"


# Validity


def coupon_valid(store, coupon: dict) -> bool:
    """Stripe's `valid`: not past `redeem_by` and not redeemed `max_redemptions` times."""
    return (coupon["redeem_by"] is None or store.now() <= coupon["redeem_by"]) and (
        coupon["max_redemptions"] is None or coupon["times_redeemed"] < coupon["max_redemptions"]
    )


def refresh(store) -> None:
    """Bring `coupon.valid` up to the clock, and turn off the promotion codes of coupons that
    are no longer valid or were deleted ("A promotion code is only active if the coupon is
    also valid"). Runs before any coupon or promotion code is read or redeemed; sends no event."""
    for coupon in store.all("coupon"):
        coupon["valid"] = coupon_valid(store, coupon)
    for promotion_code in store.all("promotion_code", lambda p: p["active"]):
        coupon = store.find(promotion_code["promotion"]["coupon"], "coupon")
        if coupon is None or not coupon["valid"]:
            promotion_code["active"] = False


def coupon_expired(coupon_id: str, param: str | None) -> errors.StripeError:
    return errors.StripeError(400, f"Coupon expired: {coupon_id}", code="coupon_expired", param=param)


def redeemable_coupon(store, coupon_id: str, param: str) -> dict:
    coupon = store.get(coupon_id, "coupon", param=param, status=400)
    refresh(store)
    if not coupon["valid"]:
        raise coupon_expired(coupon_id, param)
    return coupon


def _cannot_redeem(reason: str, param: str) -> errors.StripeError:
    return errors.invalid(f"This promotion code cannot be redeemed because {reason}.", param)


def redeemable_promotion_code(
    store, promotion_code: dict, *, customer: str | None, subtotal: int, currency: str, param: str
) -> dict:
    """The coupon of `promotion_code` if it can be redeemed by `customer` on a purchase of
    `subtotal`; else Stripe's refusal."""
    refresh(store)
    coupon = store.find(promotion_code["promotion"]["coupon"], "coupon")
    if not promotion_code["active"] or coupon is None:
        raise _cannot_redeem("it is inactive", param)
    if promotion_code["expires_at"] is not None and store.now() > promotion_code["expires_at"]:
        raise _cannot_redeem("it has expired", param)
    limit = promotion_code["max_redemptions"]
    if limit is not None and promotion_code["times_redeemed"] >= limit:
        raise _cannot_redeem("it has been used the maximum number of times", param)
    if promotion_code["customer"] is not None and promotion_code["customer"] != customer:
        raise _cannot_redeem("it is restricted to another customer", param)
    restrictions = promotion_code["restrictions"]
    if restrictions["first_time_transaction"] and customer is not None and _has_transactions(store, customer):
        raise _cannot_redeem("the associated customer has prior transactions", param)
    minimum = restrictions["minimum_amount"]
    if minimum is not None and (restrictions["minimum_amount_currency"] != currency or subtotal < minimum):
        raise _cannot_redeem("the associated purchase does not meet the minimum amount requirement", param)
    return coupon


def _has_transactions(store, customer_id: str) -> bool:
    return bool(
        store.all("charge", lambda c: c["customer"] == customer_id and c["paid"])
        or store.all("invoice", lambda i: i["customer"] == customer_id and i["status"] == "paid")
    )


def check_currency(coupon: dict, currency: str, param: str) -> None:
    if coupon["amount_off"] is not None and coupon["currency"] != currency:
        raise errors.invalid(
            f"The coupon {coupon['id']} takes an amount off in {coupon['currency']}; this purchase is in {currency}.",
            param,
        )


# Arithmetic


def amounts_off(coupon: dict, line_amounts: list[int]) -> list[int]:
    """What `coupon` takes off each line: `percent_off` of each line, rounded half up to the
    cent; `amount_off` (at most the lines' total) spread over the lines in proportion to
    their amounts, the cents left over going to the lines with the largest remainders."""
    if coupon["percent_off"] is not None:
        percent = Decimal(str(coupon["percent_off"]))
        return [int((amount * percent / 100).quantize(Decimal(1), ROUND_HALF_UP)) for amount in line_amounts]
    total = sum(line_amounts)
    off = min(coupon["amount_off"], total)
    if total == 0:
        return [0] * len(line_amounts)
    shares = [off * amount // total for amount in line_amounts]
    by_remainder = sorted(range(len(line_amounts)), key=lambda i: -(off * line_amounts[i] % total))
    for index in by_remainder[: off - sum(shares)]:
        shares[index] += 1
    return shares


# Checkout Sessions


def checkout_discount(ctx, params, *, currency: str, subtotal: int, customer: dict | None):
    """The (coupon, promotion code or None) that a session's `discounts` asks for, checked,
    or None. Stripe takes `discounts` or `allow_promotion_codes`, not both, and one discount."""
    entries = params.array("discounts")
    if not entries:
        return None
    if params.boolean("allow_promotion_codes"):
        raise errors.StripeError(
            400,
            "You may only specify one of these parameters: allow_promotion_codes, discounts.",
            code="parameters_exclusive",
        )
    if len(entries) > 1:
        raise errors.invalid("Checkout Sessions accept at most one discount.", "discounts")
    [entry] = entries
    if not hasattr(entry, "reject_unknown"):
        raise errors.invalid("Invalid array: discounts must be an array of hashes", "discounts")
    entry.reject_unknown("coupon", "promotion_code")
    coupon_id, promotion_code_id = entry.text("coupon"), entry.text("promotion_code")
    if coupon_id and promotion_code_id:
        raise errors.StripeError(
            400,
            "You may only specify one of these parameters: coupon, promotion_code.",
            code="parameters_exclusive",
            param=entry.name("coupon"),
        )
    if not coupon_id and not promotion_code_id:
        raise errors.invalid("A discount needs a `coupon` or a `promotion_code`.", entry.name("coupon"))
    store = ctx.store
    if coupon_id:
        coupon = redeemable_coupon(store, coupon_id, entry.name("coupon"))
        check_currency(coupon, currency, entry.name("coupon"))
        return coupon, None
    param = entry.name("promotion_code")
    promotion_code = store.get(promotion_code_id, "promotion_code", param=param, status=400)
    coupon = redeemable_promotion_code(
        store,
        promotion_code,
        customer=customer["id"] if customer else None,
        subtotal=subtotal,
        currency=currency,
        param=param,
    )
    check_currency(coupon, currency, param)
    return coupon, promotion_code


def apply_to_session(ctx, session: dict, coupon: dict, promotion_code: dict | None) -> None:
    """Attach a discount to an open session (replacing any other) and recompute its totals
    and its line items'. The discount object is the one the subscription then carries."""
    store = ctx.store
    details = store.checkout_details[session["id"]]
    if details.get("discount"):
        store.remove(details["discount"])
        store.discount_details.pop(details["discount"], None)
    discount = new_discount(
        store,
        coupon=coupon,
        promotion_code=promotion_code["id"] if promotion_code else None,
        start=store.now(),
        # Stripe names the session only on payment-mode discounts.
        checkout_session=session["id"] if session["mode"] == "payment" else None,
        customer=session["customer"],
    )
    store.discount_details[discount["id"]] = {"coupon": copy.deepcopy(coupon), "invoices": 0}
    details["discount"] = discount["id"]
    session["discounts"] = [
        {"coupon": None, "promotion_code": promotion_code["id"]}
        if promotion_code
        else {"coupon": coupon["id"], "promotion_code": None}
    ]
    _session_totals(store, session)


def _session_totals(store, session: dict) -> None:
    items = flows.checkout_items(store, session)
    discount = session_discount(store, session)
    subtotals = [item["amount_subtotal"] for item in items]
    offs = amounts_off(store.discount_details[discount["id"]]["coupon"], subtotals) if discount else [0] * len(items)
    for item, off in zip(items, offs, strict=True):
        item.update(amount_discount=off, amount_total=item["amount_subtotal"] - off + item["amount_tax"])
    session["total_details"]["amount_discount"] = sum(offs)
    session["amount_total"] = session["amount_subtotal"] - sum(offs) + session["total_details"]["amount_tax"]
    if session["payment_intent"]:
        # A declined first attempt created the payment intent; the next one pays the new total.
        store.get(session["payment_intent"], "payment_intent")["amount"] = session["amount_total"]


def session_discount(store, session: dict) -> dict | None:
    discount_id = store.checkout_details[session["id"]].get("discount")
    return store.objects.get(discount_id) if discount_id else None


def session_breakdown(store, session: dict) -> dict:
    """`total_details.breakdown`, served when expanded."""
    discount = session_discount(store, session)
    amount = session["total_details"]["amount_discount"]
    return {"discounts": [{"amount": amount, "discount": copy.deepcopy(discount)}] if discount else [], "taxes": []}


def item_discounts(store, item: dict) -> list[dict]:
    """A checkout line item's `discounts`, served when expanded."""
    for session_id, details in store.checkout_details.items():
        if item["id"] in details["items"]:
            discount = session_discount(store, store.objects[session_id])
            if discount is not None and item["amount_discount"]:
                return [{"amount": item["amount_discount"], "discount": copy.deepcopy(discount)}]
    return []


def find_promotion_code(store, code: str, customer: str | None) -> dict | None:
    """The promotion code a customer typed (case-insensitive): an active one for them, else
    an active one for anyone, else any with that code (so that its refusal can be told)."""
    matching = [p for p in store.all("promotion_code") if p["code"].lower() == code.strip().lower()]
    for wanted in (
        lambda p: p["active"] and p["customer"] == customer and customer is not None,
        lambda p: p["active"] and p["customer"] is None,
        lambda p: True,
    ):
        for promotion_code in matching:
            if wanted(promotion_code):
                return promotion_code
    return None


def apply_promotion_code(ctx, session: dict, code: str, param: str = "promotion_code") -> None:
    """The customer enters `code` on the checkout page."""
    store = ctx.store
    if session["status"] != "open":
        raise errors.invalid(f"This Checkout Session is {session['status']} and can no longer be changed.")
    if not session["allow_promotion_codes"]:
        raise errors.invalid(
            "This Checkout Session does not take promotion codes: it was created without `allow_promotion_codes`.",
            param,
        )
    refresh(store)
    promotion_code = find_promotion_code(store, code, session["customer"])
    if promotion_code is None:
        raise errors.invalid("This code is invalid.", param)
    coupon = redeemable_promotion_code(
        store,
        promotion_code,
        customer=session["customer"],
        subtotal=session["amount_subtotal"],
        currency=session["currency"],
        param=param,
    )
    check_currency(coupon, session["currency"], param)
    apply_to_session(ctx, session, coupon, promotion_code)


def complete_checkout(ctx, session: dict, *, promotion_code: str | None = None, **payment) -> dict:
    """flows.complete_checkout with the session's discount and tax: `promotion_code` (what
    the customer typed) is applied first, the discount is checked again (a coupon may have
    run out meanwhile), and once the session is paid its coupon and promotion code count
    one more redemption."""
    store = ctx.store
    if promotion_code:
        apply_promotion_code(ctx, session, promotion_code)
    discount = session_discount(store, session)
    if discount is not None and session["status"] == "open":
        _check_still_redeemable(store, session, discount)
    if session["automatic_tax"]["enabled"] and session["status"] == "open":
        # The page collected the customer's address: the tax is computed (0, no registrations).
        session["automatic_tax"]["status"] = "complete"
    ctx.checkout_session = session
    try:
        flows.complete_checkout(ctx, session, **payment)
    finally:
        ctx.checkout_session = None
    if discount is not None:
        _redeem(store, session, discount)
    return session


def _check_still_redeemable(store, session: dict, discount: dict) -> None:
    refresh(store)
    if discount["promotion_code"]:
        redeemable_promotion_code(
            store,
            store.get(discount["promotion_code"], "promotion_code"),
            customer=session["customer"],
            subtotal=session["amount_subtotal"],
            currency=session["currency"],
            param="discounts[0][promotion_code]",
        )
    else:
        coupon = store.find(discount["source"]["coupon"], "coupon")
        if coupon is None or not coupon["valid"]:
            raise coupon_expired(discount["source"]["coupon"], "discounts[0][coupon]")


def _redeem(store, session: dict, discount: dict) -> None:
    if discount["customer"] is None:
        discount["customer"] = session["customer"]
    coupon = store.find(discount["source"]["coupon"], "coupon")
    if coupon is not None:
        coupon["times_redeemed"] += 1
    if discount["promotion_code"]:
        store.get(discount["promotion_code"], "promotion_code")["times_redeemed"] += 1
    refresh(store)


# Subscriptions and their invoices (the flows.py hooks)


def subscription_started(ctx, subscription: dict) -> None:
    """Checkout is creating `subscription`: it takes the session's discount and automatic tax."""
    session = ctx.checkout_session
    if session is None:
        return
    if session["automatic_tax"]["enabled"]:
        subscription["automatic_tax"] = {
            "disabled_reason": None,
            "enabled": True,
            "liability": copy.deepcopy(session["automatic_tax"]["liability"]),
        }
    discount = session_discount(ctx.store, session)
    if discount is not None:
        start = subscription["start_date"]
        coupon = ctx.store.discount_details[discount["id"]]["coupon"]
        months = coupon["duration_in_months"] if coupon["duration"] == "repeating" else None
        discount.update(
            checkout_session=None,
            customer=subscription["customer"],
            end=add_interval(start, "month", months) if months else None,
            start=start,
            subscription=subscription["id"],
        )
        subscription["discounts"] = [discount["id"]]


def invoice_totals(ctx, subscription: dict, invoice: dict) -> None:
    """Apply the subscription's discounts to a new invoice whose lines are in place, and set
    its totals and automatic tax. A `once` discount reduces one invoice, a `repeating` one
    the invoices created before its `end`, a `forever` one every invoice; a discount that no
    longer applies is taken off the subscription."""
    store = ctx.store
    lines = invoice["lines"]["data"]
    # Prorations are not discountable, and a credit takes nothing off.
    remaining = [line["amount"] if line["discountable"] and line["amount"] > 0 else 0 for line in lines]
    applied = []
    for discount_id in list(subscription["discounts"]):
        details = store.discount_details.get(discount_id)
        discount = store.objects.get(discount_id)
        if details is None or discount is None:
            continue
        if not _applies(details, discount, invoice):
            subscription["discounts"].remove(discount_id)
            continue
        offs = amounts_off(details["coupon"], remaining)
        remaining = [amount - off for amount, off in zip(remaining, offs, strict=True)]
        for line, off in zip(lines, offs, strict=True):
            line["discount_amounts"].append({"amount": off, "discount": discount_id})
            line["pretax_credit_amounts"].append({"amount": off, "discount": discount_id, "type": "discount"})
        details["invoices"] += 1
        applied.append((discount_id, sum(offs)))

    invoice["discounts"] = [discount_id for discount_id, _ in applied]
    invoice["total_discount_amounts"] = [{"amount": amount, "discount": d} for d, amount in applied]
    invoice["total_pretax_credit_amounts"] = [
        {"amount": amount, "discount": d, "type": "discount"} for d, amount in applied
    ]
    flows.compute_totals(invoice)
    if subscription["automatic_tax"]["enabled"]:
        invoice["automatic_tax"] = {
            "disabled_reason": None,
            "enabled": True,
            "liability": copy.deepcopy(subscription["automatic_tax"]["liability"]),
            "provider": AUTOMATIC_TAX_PROVIDER,
            "status": "complete",
        }


def _applies(details: dict, discount: dict, invoice: dict) -> bool:
    duration = details["coupon"]["duration"]
    if duration == "once":
        return details["invoices"] == 0
    if duration == "repeating":
        return invoice["created"] < discount["end"]
    return True
