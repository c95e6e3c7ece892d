"""Coupons, promotion codes and the discounts they give: whether a coupon or a promotion
code can be redeemed (Stripe's rules and errors)."""

from . import errors

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
