"""`/v1` routes for Checkout sessions and billing portal sessions."""

import secrets

from . import discounts, errors, flows
from .api_catalog import live_customer
from .formdata import Params, merge_metadata
from .listing import list_endpoint, paginate
from .objects import DAY, new_checkout_item, new_checkout_session, new_portal_session
from .trials import TRIAL_PARAMS, trial_end, trial_request

CHECKOUT_PARAMS = (
    "mode",
    "line_items",
    "success_url",
    "cancel_url",
    "customer",
    "customer_email",
    "client_reference_id",
    "metadata",
    "subscription_data",
    "payment_intent_data",
    "payment_method_types",
    "allow_promotion_codes",
    "billing_address_collection",
    "locale",
    "customer_creation",
    "customer_update",
    "expires_at",
    "ui_mode",
    "return_url",
    "redirect_on_completion",
    "automatic_tax",
    "discounts",
)
# This API version's values (`hosted`, `embedded` and `custom` were renamed in 2026-03-25.dahlia).
UI_MODES = ("elements", "embedded_page", "form", "hosted_page")


def create_checkout_session(ctx) -> dict:
    params = ctx.params
    params.reject_unknown(*CHECKOUT_PARAMS)
    store = ctx.store
    mode = params.text("mode", required=True, choices=("payment", "subscription"))
    ui_fields = _ui_mode_fields(params)
    if params.text("customer") and params.text("customer_email"):
        raise errors.invalid("You may only specify one of these parameters: customer, customer_email.")
    customer = live_customer(ctx, params.text("customer"), "customer") if params.text("customer") else None
    prices = _checkout_prices(ctx, params, mode)
    automatic_tax = _automatic_tax(params, customer, _customer_update(params, customer))
    now = store.now()
    expires_at = params.integer("expires_at", default=now + DAY)
    if not now + 30 * 60 <= expires_at <= now + DAY:
        raise errors.invalid(
            "The `expires_at` timestamp must be between 30 minutes and 24 hours from now.", "expires_at"
        )

    subscription_data = _sub_params(params, "subscription_data", ("metadata", "description", *TRIAL_PARAMS))
    trial = trial_request(subscription_data)
    if mode == "payment" and len(trial) > 1:
        raise errors.invalid("A trial needs mode=subscription.", "subscription_data")
    if trial.get("end") == "now":
        raise errors.invalid("Invalid timestamp: must be in the future", "subscription_data[trial_end]")
    if "end" in trial and trial["end"] < now + 2 * DAY:
        # Checkout's own rule: a trial_end at least 48 hours ahead.
        raise errors.invalid(
            "The `trial_end` date has to be at least 2 days in the future.", "subscription_data[trial_end]"
        )
    trial_end(trial, now, param="subscription_data[trial_end]")
    payment_intent_data = _sub_params(params, "payment_intent_data", ("metadata", "description"))
    amount = sum(price["unit_amount"] * quantity for price, quantity in prices)
    discount = discounts.checkout_discount(
        ctx, params, currency=prices[0][0]["currency"], subtotal=amount, customer=customer
    )
    session = new_checkout_session(
        store,
        allow_promotion_codes=params.boolean("allow_promotion_codes"),
        automatic_tax=automatic_tax,
        amount_subtotal=amount,
        amount_total=amount,
        billing_address_collection=params.text("billing_address_collection", choices=("auto", "required")),
        cancel_url=params.text("cancel_url"),
        client_reference_id=params.text("client_reference_id"),
        currency=prices[0][0]["currency"],
        customer=customer["id"] if customer else None,
        customer_creation=(
            params.text("customer_creation", choices=("always", "if_required"), default="if_required")
            if mode == "payment" and customer is None
            else None
        ),
        customer_email=params.text("customer_email"),
        expires_at=expires_at,
        invoice=None,
        invoice_creation=_invoice_creation() if mode == "payment" else None,
        locale=params.text("locale"),
        metadata=params.metadata() or {},
        mode=mode,
        payment_intent=None,
        payment_method_collection="always" if mode == "subscription" else None,
        payment_method_types=params.array("payment_method_types") or ["card"],
        payment_status="unpaid",
        status="open",
        subscription=None,
        success_url=params.text("success_url"),
        **ui_fields,
    )
    if session["ui_mode"] == "hosted_page":
        session["url"] = f"{ctx.base_url}/checkout/{session['id']}"
    else:
        # Stripe.js mounts these on the merchant's page with the client secret; the sandbox
        # has no such page, so they are completed with /_sandbox/checkout/sessions/{id}/complete.
        session.update(url=None, client_secret=f"{session['id']}_secret_{secrets.token_urlsafe(18)}")
    items = [
        new_checkout_item(store, price, store.get(price["product"], "product"), quantity) for price, quantity in prices
    ]
    store.checkout_details[session["id"]] = {
        "items": [item["id"] for item in items],
        "subscription_metadata": subscription_data.metadata() or {},
        "trial": trial,
        "payment_intent_metadata": payment_intent_data.metadata() or {},
        "discount": None,
    }
    if discount is not None:
        discounts.apply_to_session(ctx, session, *discount)
    return session


def _customer_update(params: Params, customer: dict | None) -> dict:
    update = params.nested("customer_update")
    if update is None:
        return {}
    if customer is None:
        raise errors.invalid("`customer_update` can only be used with `customer`.", "customer_update")
    update.reject_unknown("address", "name", "shipping")
    return {
        key: update.text(key, choices=("auto", "never"), default="never") for key in ("address", "name", "shipping")
    }


def _automatic_tax(params: Params, customer: dict | None, customer_update: dict) -> dict:
    """`automatic_tax[enabled]` (and `[liability]`). The sandbox has no tax registrations, so
    the tax is always 0; what shows is Stripe's state: `requires_location_inputs` until the
    customer's address is known (Checkout collects it on the page), then `complete`."""
    settings = params.nested("automatic_tax")
    disabled = {"enabled": False, "liability": None, "provider": None, "status": None}
    if settings is None:
        return disabled
    settings.reject_unknown("enabled", "liability")
    enabled = settings.boolean("enabled")
    if enabled is None:
        raise errors.missing_param(settings.name("enabled"))
    liability = settings.nested("liability")
    if liability is not None:
        liability.reject_unknown("type", "account")
        if liability.text("type", required=True, choices=("account", "self")) == "account":
            # Liability on a connected account: the sandbox has no Connect.
            account = liability.text("account", required=True)
            raise errors.no_such("account", account, liability.name("account"), status=400)
        if "account" in liability:
            raise errors.invalid("`account` can only be set when `type` is `account`.", liability.name("account"))
    if not enabled:
        return disabled
    has_address = customer is not None and customer["address"] is not None
    if (
        customer is not None
        and not has_address
        and "auto" not in (customer_update.get("address"), customer_update.get("shipping"))
    ):
        raise errors.invalid(
            "Automatic tax calculation in Checkout requires a valid address on the Customer. Add a valid address "
            "to the Customer or set either `customer_update[address]` to 'auto' or `customer_update[shipping]` to "
            "'auto' to save the address entered in Checkout.",
            "automatic_tax[enabled]",
        )
    return {
        "enabled": True,
        "liability": {"type": "self"},
        "provider": discounts.AUTOMATIC_TAX_PROVIDER,
        "status": "complete" if has_address else "requires_location_inputs",
    }


def _ui_mode_fields(params: Params) -> dict:
    """`ui_mode` (default `hosted_page`) and the URLs each mode takes."""
    ui_mode = params.text("ui_mode", choices=UI_MODES, default="hosted_page")
    if ui_mode == "hosted_page":
        for key in ("return_url", "redirect_on_completion"):
            if key in params:
                raise errors.invalid(f"`{key}` cannot be used when `ui_mode` is `hosted_page`.", key)
        return {"ui_mode": ui_mode}
    if ui_mode in ("embedded_page", "elements"):
        for key in ("success_url", "cancel_url"):
            if key in params:
                raise errors.invalid(f"`{key}` is not allowed when `ui_mode` is `{ui_mode}`.", key)
    fields = {"ui_mode": ui_mode}
    if params.text("return_url") is not None:
        fields["return_url"] = params.text("return_url")  # `return_url?: string`: absent when not given
    if ui_mode == "embedded_page":
        redirect = params.text("redirect_on_completion", choices=("always", "if_required", "never"), default="always")
        if redirect != "never" and "return_url" not in fields:
            raise errors.missing_param("return_url")
        fields["redirect_on_completion"] = redirect
    elif "redirect_on_completion" in params:
        raise errors.invalid(
            "`redirect_on_completion` can only be used when `ui_mode` is `embedded_page`.", "redirect_on_completion"
        )
    return fields


def _sub_params(params: Params, key: str, allowed: tuple[str, ...]) -> Params:
    nested = params.nested(key) or Params({}, key)
    nested.reject_unknown(*allowed)
    return nested


def _invoice_creation() -> dict:
    return {
        "enabled": False,
        "invoice_data": {
            "account_tax_ids": None,
            "custom_fields": None,
            "description": None,
            "footer": None,
            "issuer": None,
            "metadata": {},
            "rendering_options": None,
        },
    }


def _checkout_prices(ctx, params: Params, mode: str) -> list[tuple[dict, int]]:
    items = params.array("line_items", required=True)
    prices = []
    for item in items:
        if not isinstance(item, Params):
            raise errors.invalid("Invalid array: line_items must be an array of hashes", "line_items")
        item.reject_unknown("price", "quantity")
        price = ctx.store.get(item.text("price", required=True), "price", param=item.name("price"), status=400)
        if not price["active"]:
            raise errors.invalid(
                "The price specified is inactive. This field only accepts active prices.", item.name("price")
            )
        quantity = item.integer("quantity", required=True, minimum=1)
        if mode == "payment" and price["type"] == "recurring":
            raise errors.invalid(
                "You specified `payment` mode but passed a recurring price. Either switch to `subscription` mode "
                "or use only one-time prices.",
                "line_items",
            )
        prices.append((price, quantity))
    check_prices_combine(prices, mode)
    return prices


def check_prices_combine(prices: list[tuple[dict, int]], mode: str) -> None:
    if len({price["currency"] for price, _ in prices}) > 1:
        raise errors.invalid("All prices must have the same currency.", "line_items")
    if mode != "subscription":
        return
    intervals = {(price["recurring"] or {}).get("interval") for price, _ in prices} - {None}
    if not intervals:
        raise errors.invalid(
            "You must provide at least one recurring price in `subscription` mode when using prices.", "line_items"
        )
    if any(price["type"] == "one_time" for price, _ in prices):
        raise errors.invalid(
            "The sandbox does not add one-time prices to a subscription's first invoice.", "line_items"
        )
    if len({(price["recurring"]["interval"], price["recurring"]["interval_count"]) for price, _ in prices}) > 1:
        raise errors.invalid("All prices on a subscription must have the same `recurring.interval`.", "line_items")


def retrieve_checkout_session(ctx, session_id: str) -> dict:
    ctx.params.reject_unknown()
    return ctx.store.get(session_id, "checkout.session")


def update_checkout_session(ctx, session_id: str) -> dict:
    ctx.params.reject_unknown("metadata")
    session = ctx.store.get(session_id, "checkout.session")
    session["metadata"] = merge_metadata(session["metadata"], ctx.params.metadata())
    return session


def expire_checkout_session(ctx, session_id: str) -> dict:
    ctx.params.reject_unknown()
    return flows.expire_checkout(ctx, ctx.store.get(session_id, "checkout.session"))


def list_checkout_sessions(ctx) -> dict:
    wanted = {key: ctx.params.text(key) for key in ("customer", "payment_intent", "subscription", "status")}
    return list_endpoint(
        ctx,
        "checkout.session",
        "/v1/checkout/sessions",
        filters=tuple(wanted),
        where=lambda s: all(value is None or s[key] == value for key, value in wanted.items()),
    )


def list_checkout_line_items(ctx, session_id: str) -> dict:
    session = ctx.store.get(session_id, "checkout.session")
    ctx.params.reject_unknown("limit", "starting_after", "ending_before")
    items = flows.checkout_items(ctx.store, session)
    return paginate(items, ctx.params, f"/v1/checkout/sessions/{session_id}/line_items", "item")


def create_portal_session(ctx) -> dict:
    params = ctx.params
    params.reject_unknown("customer", "return_url", "configuration", "locale")
    customer = live_customer(ctx, params.text("customer", required=True), "customer")
    configuration = params.text("configuration")
    if configuration and configuration != ctx.store.portal_configuration_id:
        raise errors.no_such("billing_portal.configuration", configuration, "configuration", status=400)
    return new_portal_session(
        ctx.store,
        customer=customer["id"],
        return_url=params.text("return_url"),
        locale=params.text("locale"),
        base_url=ctx.base_url,
    )


ROUTES = [
    ("POST", "/v1/checkout/sessions", create_checkout_session),
    ("GET", "/v1/checkout/sessions", list_checkout_sessions),
    ("GET", "/v1/checkout/sessions/{session_id}", retrieve_checkout_session),
    ("POST", "/v1/checkout/sessions/{session_id}", update_checkout_session),
    ("POST", "/v1/checkout/sessions/{session_id}/expire", expire_checkout_session),
    ("GET", "/v1/checkout/sessions/{session_id}/line_items", list_checkout_line_items),
    ("POST", "/v1/billing_portal/sessions", create_portal_session),
]
