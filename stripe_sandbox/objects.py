"""Constructors for the objects the sandbox serves. Each starts from Stripe's template for
its resource (shapes.py), fills in what the request decided, and is added to the store."""

import calendar
import copy
import secrets
import string
import time
from datetime import UTC, datetime

from .shapes import template

DAY = 24 * 60 * 60


def create_object(store, kind: str, prefix: str, **fields) -> dict:
    obj = template(kind)
    obj["id"] = store.new_id(prefix)
    if "created" in obj:
        obj["created"] = store.now()
    obj.update(fields)
    return store.add(obj)


def list_object(data: list, url: str) -> dict:
    return {"object": "list", "data": data, "has_more": False, "url": url}


def deleted_object(obj: dict) -> dict:
    return {"id": obj["id"], "object": obj["object"], "deleted": True}


def money(cents: int, currency: str) -> str:
    if currency == "usd":
        return f"${cents / 100:,.2f}"
    return f"{cents / 100:,.2f} {currency.upper()}"


def add_interval(timestamp: int, interval: str, count: int) -> int:
    """`timestamp` moved `count` intervals ahead; months keep the day, clamped to the month's end."""
    moment = datetime.fromtimestamp(timestamp, tz=UTC)
    if interval in ("day", "week"):
        return timestamp + count * DAY * (7 if interval == "week" else 1)
    months = count * (12 if interval == "year" else 1)
    year, month = divmod(moment.month - 1 + months, 12)
    year += moment.year
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return int(moment.replace(year=year, month=month + 1, day=day).timestamp())


def new_account(store) -> dict:
    account = template("account")
    account.update(
        id=store.account_id,
        created=store.now(),
        email="sandbox@keel.localhost",
        external_accounts=list_object([], f"/v1/accounts/{store.account_id}/external_accounts"),
    )
    account["business_profile"]["name"] = "Keel Sandbox"
    account["settings"]["dashboard"]["display_name"] = "Keel Sandbox"
    return store.add(account)


def new_customer(store, **fields) -> dict:
    return create_object(
        store,
        "customer",
        "cus",
        invoice_prefix=secrets.token_hex(4).upper(),
        invoice_settings={
            "custom_fields": None,
            "default_payment_method": None,
            "footer": None,
            "rendering_options": None,
        },
        **fields,
    )


def new_product(store, **fields) -> dict:
    product = create_object(store, "product", "prod", **fields)
    product["updated"] = product["created"]
    return product


def new_price(store, *, unit_amount: int, recurring: dict | None, **fields) -> dict:
    if recurring is not None:
        recurring = {"meter": None, "trial_period_days": None, "usage_type": "licensed", **recurring}
    return create_object(
        store,
        "price",
        "price",
        unit_amount=unit_amount,
        unit_amount_decimal=str(unit_amount),
        recurring=recurring,
        type="recurring" if recurring else "one_time",
        **fields,
    )


def plan_from_price(price: dict) -> dict:
    """The legacy `plan` Stripe still embeds beside the price in subscription items."""
    plan = template("plan")
    recurring = price["recurring"]
    plan.update(
        {key: price[key] for key in ("id", "active", "billing_scheme", "created", "currency", "metadata", "nickname")},
        amount=price["unit_amount"],
        amount_decimal=price["unit_amount_decimal"],
        interval=recurring["interval"],
        interval_count=recurring["interval_count"],
        product=price["product"],
        tiers_mode=None,
        trial_period_days=recurring["trial_period_days"],
        usage_type=recurring["usage_type"],
    )
    return plan


def new_checkout_item(store, price: dict, product: dict, quantity: int) -> dict:
    amount = price["unit_amount"] * quantity
    return create_object(
        store,
        "item",
        "li",
        amount_discount=0,
        amount_subtotal=amount,
        amount_tax=0,
        amount_total=amount,
        currency=price["currency"],
        description=product["name"],
        metadata={},
        price=copy.deepcopy(price),
        quantity=quantity,
    )


def new_checkout_session(store, **fields) -> dict:
    return create_object(store, "checkout.session", "cs_test", **fields)


def new_subscription_item(store, *, price: dict, quantity: int, subscription: str, period: tuple[int, int]) -> dict:
    item = template("subscription_item")
    item.update(
        id=store.new_id("si"),
        created=store.now(),
        current_period_start=period[0],
        current_period_end=period[1],
        plan=plan_from_price(price),
        price=copy.deepcopy(price),
        quantity=quantity,
        subscription=subscription,
    )
    return item


def new_subscription(store, **fields) -> dict:
    subscription = create_object(store, "subscription", "sub", **fields)
    subscription["items"] = list_object([], f"/v1/subscription_items?subscription={subscription['id']}")
    return subscription


def new_invoice(store, *, customer: dict, subscription: dict, billing_reason: str, created: int, **fields) -> dict:
    invoice = create_object(
        store,
        "invoice",
        "in",
        amount_paid=0,
        attempt_count=0,
        attempted=False,
        auto_advance=True,
        automatically_finalizes_at=created + 60 * 60,
        billing_reason=billing_reason,
        collection_method="charge_automatically",
        created=created,
        customer=customer["id"],
        customer_email=customer["email"],
        customer_name=customer["name"],
        customer_phone=customer["phone"],
        customer_tax_exempt="none",
        customer_tax_ids=[],
        ending_balance=None,
        hosted_invoice_url=None,
        invoice_pdf=None,
        effective_at=None,
        number=None,
        parent={
            "quote_details": None,
            "subscription_details": {"metadata": dict(subscription["metadata"]), "subscription": subscription["id"]},
            "type": "subscription_details",
        },
        status="draft",
        status_transitions={"finalized_at": None, "marked_uncollectible_at": None, "paid_at": None, "voided_at": None},
        total_discount_amounts=[],
        **fields,
    )
    invoice["lines"] = list_object([], f"/v1/invoices/{invoice['id']}/lines")
    return invoice


def new_invoice_line(
    store, *, invoice: dict, item: dict, product: dict, subscription: dict, period: tuple[int, int], trial: bool = False
) -> dict:
    price, quantity = item["price"], item["quantity"]
    amount = 0 if trial else price["unit_amount"] * quantity
    if trial:
        description = f"Trial period for {product['name']}"
    else:
        description = (
            f"{quantity} × {product['name']} (at {money(price['unit_amount'], price['currency'])}"
            f" / {price['recurring']['interval']})"
        )
    return _invoice_line(
        store,
        invoice=invoice,
        amount=amount,
        currency=price["currency"],
        description=description,
        metadata=dict(subscription["metadata"]),
        parent={
            "invoice_item_details": None,
            "subscription_item_details": {
                "invoice_item": None,
                "proration": False,
                "proration_details": {"credited_items": None},
                "subscription": subscription["id"],
                "subscription_item": item["id"],
            },
            "type": "subscription_item_details",
        },
        period=period,
        price=price,
        quantity=quantity,
        subscription=subscription["id"],
    )


def new_invoice_item_line(store, *, invoice: dict, invoice_item: dict) -> dict:
    """The line an invoice item becomes on `invoice`. A proration keeps naming the
    subscription item it prorates."""
    details = invoice_item["parent"]["subscription_details"] if invoice_item["parent"] else None
    proration_details = {"credited_items": store.credited_items.get(invoice_item["id"])}
    if details and details.get("subscription_item"):
        parent = {
            "invoice_item_details": None,
            "subscription_item_details": {
                "invoice_item": invoice_item["id"],
                "proration": invoice_item["proration"],
                "proration_details": proration_details,
                "subscription": details["subscription"],
                "subscription_item": details["subscription_item"],
            },
            "type": "subscription_item_details",
        }
    else:
        parent = {
            "invoice_item_details": {
                "invoice_item": invoice_item["id"],
                "proration": invoice_item["proration"],
                "proration_details": proration_details,
                "subscription": details["subscription"] if details else None,
            },
            "subscription_item_details": None,
            "type": "invoice_item_details",
        }
    pricing = invoice_item["pricing"] or {}
    price_id = (pricing.get("price_details") or {}).get("price")
    return _invoice_line(
        store,
        invoice=invoice,
        amount=invoice_item["amount"],
        currency=invoice_item["currency"],
        description=invoice_item["description"],
        metadata=dict(invoice_item["metadata"] or {}),
        parent=parent,
        period=(invoice_item["period"]["start"], invoice_item["period"]["end"]),
        price=store.find(price_id, "price") if price_id else None,
        quantity=invoice_item["quantity"],
        subscription=details["subscription"] if details else None,
        unit_amount_decimal=pricing.get("unit_amount_decimal"),
        discountable=invoice_item["discountable"],
    )


def _invoice_line(
    store,
    *,
    invoice: dict,
    amount: int,
    currency: str,
    description: str | None,
    metadata: dict,
    parent: dict,
    period: tuple[int, int],
    price: dict | None,
    quantity: int,
    subscription: str | None,
    unit_amount_decimal: str | None = None,
    discountable: bool = True,
) -> dict:
    line = template("line_item")
    line.update(
        id=store.new_id("il"),
        amount=amount,
        currency=currency,
        description=description,
        discount_amounts=[],
        discountable=discountable,
        discounts=[],
        invoice=invoice["id"],
        metadata=metadata,
        parent=parent,
        period={"start": period[0], "end": period[1]},
        pricing={
            "price_details": {"price": price["id"], "product": price["product"]},
            "type": "price_details",
            "unit_amount_decimal": price["unit_amount_decimal"],
        }
        if price
        else {"type": "price_details", "unit_amount_decimal": unit_amount_decimal},
        quantity=quantity,
        quantity_decimal=str(quantity),
        subscription=subscription,
        subtotal=amount,
    )
    return line


def new_invoice_item(
    store,
    *,
    customer: dict,
    amount: int,
    currency: str,
    description: str | None,
    period: tuple[int, int],
    price: dict | None = None,
    quantity: int = 1,
    subscription: str | None = None,
    subscription_item: str | None = None,
    proration: bool = False,
    metadata: dict | None = None,
) -> dict:
    details = None
    if subscription:
        details = {"subscription": subscription}
        if subscription_item:
            details["subscription_item"] = subscription_item
    unit = price["unit_amount_decimal"] if price else str(amount // quantity if quantity else amount)
    return create_object(
        store,
        "invoiceitem",
        "ii",
        amount=amount,
        currency=currency,
        customer=customer["id"],
        customer_account=None,
        date=store.now(),
        description=description,
        discountable=not proration,
        discounts=[],
        invoice=None,
        metadata=metadata or {},
        parent={"subscription_details": details, "type": "subscription_details"} if details else None,
        period={"start": period[0], "end": period[1]},
        pricing={
            "price_details": {"price": price["id"], "product": price["product"]},
            "type": "price_details",
            "unit_amount_decimal": unit,
        }
        if price
        else {"type": "price_details", "unit_amount_decimal": unit},
        proration=proration,
        net_amount=amount,
        proration_details={"credited_items": None, "discount_amounts": []},
        quantity=quantity,
        quantity_decimal=str(quantity),
        tax_rates=[],
        test_clock=customer["test_clock"],
    )


def new_test_clock(store, *, frozen_time: int, name: str | None) -> dict:
    return create_object(
        store,
        "test_helpers.test_clock",
        "clock",
        deletes_after=int(time.time()) + 30 * DAY,
        frozen_time=frozen_time,
        name=name,
        status="ready",
        status_details={},
    )


def new_invoice_payment(store, *, invoice: dict, payment_intent: dict) -> dict:
    return create_object(
        store,
        "invoice_payment",
        "inpay",
        amount_paid=None,
        amount_requested=payment_intent["amount"],
        created=payment_intent["created"],
        currency=payment_intent["currency"],
        invoice=invoice["id"],
        is_default=True,
        payment={"type": "payment_intent", "payment_intent": payment_intent["id"]},
        status="open",
        status_transitions={"canceled_at": None, "paid_at": None},
    )


def new_portal_session(store, *, customer: str, return_url: str | None, locale: str | None, base_url: str) -> dict:
    session = create_object(
        store,
        "billing_portal.session",
        "bps",
        configuration=store.portal_configuration_id,
        customer=customer,
        locale=locale,
        return_url=return_url,
    )
    session["url"] = f"{base_url}/billing_portal/{session['id']}"
    return session


def new_coupon(store, *, coupon_id: str | None, **fields) -> dict:
    """A coupon; its id is the one the request chose, or 8 random letters and digits as Stripe makes."""
    while coupon_id is None:
        candidate = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(8))
        coupon_id = None if candidate in store.objects else candidate
    coupon = template("coupon")
    coupon.update(id=coupon_id, created=store.now(), times_redeemed=0, valid=True, **fields)
    return store.add(coupon)


def new_promotion_code(store, *, coupon: dict, **fields) -> dict:
    return create_object(
        store,
        "promotion_code",
        "promo",
        customer_account=None,
        promotion={"coupon": coupon["id"], "type": "coupon"},
        times_redeemed=0,
        **fields,
    )


def new_discount(
    store,
    *,
    coupon: dict,
    promotion_code: str | None,
    start: int,
    checkout_session: str | None = None,
    customer: str | None = None,
) -> dict:
    """The application of `coupon` (through `promotion_code`, if any) to a session or subscription."""
    months = coupon["duration_in_months"] if coupon["duration"] == "repeating" else None
    return create_object(
        store,
        "discount",
        "di",
        checkout_session=checkout_session,
        customer=customer,
        customer_account=None,
        end=add_interval(start, "month", months) if months else None,
        invoice=None,
        invoice_item=None,
        promotion_code=promotion_code,
        source={"coupon": coupon["id"], "type": "coupon"},
        start=start,
        subscription=None,
        subscription_item=None,
    )


def new_webhook_endpoint(store, **fields) -> dict:
    return create_object(store, "webhook_endpoint", "we", application=None, status="enabled", **fields)


def new_event(store, event_type: str, obj: dict, request: dict, previous: dict | None, pending: int) -> dict:
    data = {"object": copy.deepcopy(obj)}
    if previous is not None:
        data["previous_attributes"] = previous
    event = template("event")
    event.update(
        id=store.new_id("evt"),
        api_version=store.api_version,
        # Events carry the wall-clock time, also when a test clock's actions cause them.
        created=int(time.time()),
        data=data,
        pending_webhooks=pending,
        request=dict(request),
        type=event_type,
    )
    return event
