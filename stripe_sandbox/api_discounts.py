"""`/v1` routes for coupons and promotion codes."""

import re
import secrets
import string

from . import errors
from .discounts import coupon_expired, refresh
from .formdata import merge_metadata
from .listing import list_endpoint
from .objects import deleted_object, new_coupon, new_promotion_code

DURATIONS = ("forever", "once", "repeating")
FIVE_YEARS = 5 * 365 * 24 * 60 * 60
PROMOTION_CODE = re.compile(r"[A-Za-z0-9-]{1,500}")


def _currency(text: str, param: str) -> str:
    currency = text.lower()
    if not re.fullmatch(r"[a-z]{3}", currency):
        raise errors.invalid(f"Invalid currency: {text}", param)
    return currency


def create_coupon(ctx) -> dict:
    params = ctx.params
    params.reject_unknown(
        "id",
        "percent_off",
        "amount_off",
        "currency",
        "duration",
        "duration_in_months",
        "max_redemptions",
        "redeem_by",
        "name",
        "metadata",
    )
    store = ctx.store
    percent_off = params.number("percent_off")
    amount_off = params.integer("amount_off", minimum=1)
    if percent_off is not None and amount_off is not None:
        raise errors.StripeError(
            400, "You may only specify one of these parameters: amount_off, percent_off.", code="parameters_exclusive"
        )
    if percent_off is None and amount_off is None:
        raise errors.invalid("You must pass either `percent_off` or `amount_off` (with `currency`).")
    if percent_off is not None:
        if not 0 < percent_off <= 100:
            raise errors.invalid("Invalid percent_off: must be greater than 0 and at most 100", "percent_off")
        if "currency" in params:
            raise errors.invalid("`currency` can only be passed with `amount_off`.", "currency")
        currency = None
    else:
        currency = _currency(params.text("currency", required=True), "currency")

    duration = params.text("duration", choices=DURATIONS, default="once")
    months = params.integer("duration_in_months", minimum=1)
    if duration == "repeating" and months is None:
        raise errors.missing_param("duration_in_months")
    if duration != "repeating" and months is not None:
        raise errors.invalid(
            "`duration_in_months` can only be passed when `duration` is `repeating`.", "duration_in_months"
        )
    redeem_by = params.integer("redeem_by")
    if redeem_by is not None and not store.now() < redeem_by <= store.now() + FIVE_YEARS:
        raise errors.invalid("Invalid redeem_by: must be in the future and at most 5 years from now.", "redeem_by")
    name = params.text("name")
    if name is not None and len(name) > 40:
        raise errors.invalid("Invalid name: must be at most 40 characters", "name")
    coupon_id = params.text("id")
    if coupon_id is not None and store.find(coupon_id) is not None:
        raise errors.invalid("Coupon already exists.", "id", "resource_already_exists")

    coupon = new_coupon(
        store,
        coupon_id=coupon_id,
        amount_off=amount_off,
        currency=currency,
        duration=duration,
        duration_in_months=months,
        max_redemptions=params.integer("max_redemptions", minimum=1),
        metadata=params.metadata() or {},
        name=name,
        percent_off=percent_off,
        redeem_by=redeem_by,
    )
    store.emit("coupon.created", coupon, ctx.request)
    return coupon


def _coupon(ctx, coupon_id: str) -> dict:
    refresh(ctx.store)
    return ctx.store.get(coupon_id, "coupon")


def retrieve_coupon(ctx, coupon_id: str) -> dict:
    ctx.params.reject_unknown()
    return _coupon(ctx, coupon_id)


def update_coupon(ctx, coupon_id: str) -> dict:
    params = ctx.params
    params.reject_unknown("name", "metadata")
    coupon = _coupon(ctx, coupon_id)
    with ctx.store.updating(coupon, "coupon.updated", ctx.request):
        if "name" in params:
            name = params.text("name")
            if name is not None and len(name) > 40:
                raise errors.invalid("Invalid name: must be at most 40 characters", "name")
            coupon["name"] = name
        coupon["metadata"] = merge_metadata(coupon["metadata"], params.metadata())
    return coupon


def delete_coupon(ctx, coupon_id: str) -> dict:
    # Discounts already given keep their terms; new redemptions and its promotion codes stop.
    ctx.params.reject_unknown()
    coupon = _coupon(ctx, coupon_id)
    ctx.store.remove(coupon_id)
    refresh(ctx.store)
    ctx.store.emit("coupon.deleted", coupon, ctx.request)
    return deleted_object(coupon)


def list_coupons(ctx) -> dict:
    refresh(ctx.store)
    return list_endpoint(ctx, "coupon", "/v1/coupons")


def _clashes(store, code: str, customer: str | None, promotion_code_id: str | None = None) -> bool:
    """Stripe: a code is unique, regardless of case, among the active codes of a customer."""
    return any(
        p["code"].lower() == code.lower() and p["customer"] == customer and p["id"] != promotion_code_id
        for p in store.all("promotion_code", lambda p: p["active"])
    )


def _already_active(code: str) -> errors.StripeError:
    return errors.invalid(
        f"An active promotion code with the code {code} already exists.", "code", "resource_already_exists"
    )


def _restrictions(params) -> dict:
    restrictions = params.nested("restrictions")
    if restrictions is None:
        return {"first_time_transaction": False, "minimum_amount": None, "minimum_amount_currency": None}
    restrictions.reject_unknown("first_time_transaction", "minimum_amount", "minimum_amount_currency")
    minimum = restrictions.integer("minimum_amount", minimum=1)
    currency = restrictions.text("minimum_amount_currency")
    if minimum is not None and currency is None:
        raise errors.missing_param(restrictions.name("minimum_amount_currency"))
    if currency is not None and minimum is None:
        raise errors.missing_param(restrictions.name("minimum_amount"))
    return {
        "first_time_transaction": restrictions.boolean("first_time_transaction", default=False),
        "minimum_amount": minimum,
        "minimum_amount_currency": _currency(currency, restrictions.name("minimum_amount_currency"))
        if currency
        else None,
    }


def create_promotion_code(ctx) -> dict:
    params = ctx.params
    params.reject_unknown(
        "promotion", "code", "active", "customer", "expires_at", "max_redemptions", "metadata", "restrictions"
    )
    store = ctx.store
    promotion = params.nested("promotion", required=True)
    promotion.reject_unknown("type", "coupon")
    promotion.text("type", required=True, choices=("coupon",))
    coupon = store.get(promotion.text("coupon", required=True), "coupon", param=promotion.name("coupon"), status=400)
    refresh(store)
    if not coupon["valid"]:
        raise coupon_expired(coupon["id"], promotion.name("coupon"))

    code = params.text("code")
    if code is None:
        code = "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(8))
    elif not PROMOTION_CODE.fullmatch(code):
        raise errors.invalid(
            "Invalid code: only letters, digits and dashes, at most 500 characters.", "code", "parameter_invalid"
        )
    customer = params.text("customer")
    if customer is not None and store.get(customer, "customer", param="customer", status=400).get("deleted"):
        raise errors.no_such("customer", customer, "customer", status=400)
    active = params.boolean("active", default=True)
    if active and _clashes(store, code, customer):
        raise _already_active(code)
    expires_at = params.integer("expires_at")
    if expires_at is not None:
        if expires_at <= store.now():
            raise errors.invalid("Invalid expires_at: must be in the future.", "expires_at")
        if coupon["redeem_by"] is not None and expires_at > coupon["redeem_by"]:
            raise errors.invalid("`expires_at` cannot be after the coupon's `redeem_by`.", "expires_at")
    max_redemptions = params.integer("max_redemptions", minimum=1)
    if (
        max_redemptions is not None
        and coupon["max_redemptions"] is not None
        and max_redemptions > coupon["max_redemptions"]
    ):
        raise errors.invalid(
            "`max_redemptions` cannot be greater than the coupon's `max_redemptions`.", "max_redemptions"
        )

    promotion_code = new_promotion_code(
        store,
        coupon=coupon,
        active=active,
        code=code,
        customer=customer,
        expires_at=expires_at,
        max_redemptions=max_redemptions,
        metadata=params.metadata() or {},
        restrictions=_restrictions(params),
    )
    store.emit("promotion_code.created", promotion_code, ctx.request)
    return promotion_code


def _promotion_code(ctx, promotion_code_id: str) -> dict:
    refresh(ctx.store)
    return ctx.store.get(promotion_code_id, "promotion_code")


def retrieve_promotion_code(ctx, promotion_code_id: str) -> dict:
    ctx.params.reject_unknown()
    return _promotion_code(ctx, promotion_code_id)


def update_promotion_code(ctx, promotion_code_id: str) -> dict:
    params = ctx.params
    params.reject_unknown("active", "metadata")
    store = ctx.store
    promotion_code = _promotion_code(ctx, promotion_code_id)
    active = params.boolean("active")
    if active and not promotion_code["active"]:
        coupon = store.find(promotion_code["promotion"]["coupon"], "coupon")
        if coupon is None or not coupon["valid"]:
            raise errors.invalid(
                "This promotion code cannot be reactivated because its coupon is no longer valid.", "active"
            )
        if _clashes(store, promotion_code["code"], promotion_code["customer"], promotion_code_id):
            raise _already_active(promotion_code["code"])
    with store.updating(promotion_code, "promotion_code.updated", ctx.request):
        if active is not None:
            promotion_code["active"] = active
        promotion_code["metadata"] = merge_metadata(promotion_code["metadata"], params.metadata())
    return promotion_code


def list_promotion_codes(ctx) -> dict:
    params = ctx.params
    refresh(ctx.store)
    code = params.text("code")
    active = params.boolean("active")
    coupon = params.text("coupon")
    customer = params.text("customer")
    return list_endpoint(
        ctx,
        "promotion_code",
        "/v1/promotion_codes",
        filters=("code", "active", "coupon", "customer"),
        where=lambda p: (
            (code is None or p["code"].lower() == code.lower())
            and (active is None or p["active"] == active)
            and (coupon is None or p["promotion"]["coupon"] == coupon)
            and (customer is None or p["customer"] == customer)
        ),
    )


ROUTES = [
    ("POST", "/v1/coupons", create_coupon),
    ("GET", "/v1/coupons", list_coupons),
    ("GET", "/v1/coupons/{coupon_id}", retrieve_coupon),
    ("POST", "/v1/coupons/{coupon_id}", update_coupon),
    ("DELETE", "/v1/coupons/{coupon_id}", delete_coupon),
    ("POST", "/v1/promotion_codes", create_promotion_code),
    ("GET", "/v1/promotion_codes", list_promotion_codes),
    ("GET", "/v1/promotion_codes/{promotion_code_id}", retrieve_promotion_code),
    ("POST", "/v1/promotion_codes/{promotion_code_id}", update_promotion_code),
]
