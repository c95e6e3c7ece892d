"""`/v1` routes for subscriptions, subscription items, invoices and invoice payments."""

from . import errors, flows
from .api_catalog import live_customer
from .api_checkout import check_prices_combine
from .formdata import Params, merge_metadata
from .listing import list_endpoint, paginate


def create_subscription(ctx) -> dict:
    params = ctx.params
    params.reject_unknown("customer", "items", "metadata", "default_payment_method", "payment_behavior")
    customer = live_customer(ctx, params.text("customer", required=True), "customer")
    behavior = params.text(
        "payment_behavior",
        choices=("allow_incomplete", "default_incomplete", "error_if_incomplete"),
        default="allow_incomplete",
    )
    prices = []
    for item in params.array("items", required=True):
        if not isinstance(item, Params):
            raise errors.invalid("Invalid array: items must be an array of hashes", "items")
        item.reject_unknown("price", "quantity", "metadata")
        price = ctx.store.get(item.text("price", required=True), "price", param=item.name("price"), status=400)
        prices.append((price, item.integer("quantity", default=1, minimum=1)))
    check_prices_combine(prices, "subscription")

    payment_method_id = params.text("default_payment_method")
    if payment_method_id:
        payment_method = ctx.store.get(payment_method_id, "payment_method", param="default_payment_method", status=400)
    else:
        default_id = customer["invoice_settings"]["default_payment_method"]
        payment_method = ctx.store.find(default_id, "payment_method") if default_id else None
    if payment_method is None and behavior != "default_incomplete":
        raise errors.invalid(
            "This customer has no attached payment source or default payment method. Please consider adding a "
            "default payment method.",
            code="resource_missing",
        )
    subscription, invoice = flows.start_subscription(
        ctx,
        customer=customer,
        payment_method=payment_method,
        items=prices,
        metadata=params.metadata() or {},
        collect=behavior != "default_incomplete",
    )
    if behavior == "error_if_incomplete" and invoice["status"] != "paid":
        raise errors.card_declined()
    return subscription


def retrieve_subscription(ctx, subscription_id: str) -> dict:
    ctx.params.reject_unknown()
    return ctx.store.get(subscription_id, "subscription")


def update_subscription(ctx, subscription_id: str) -> dict:
    params = ctx.params
    params.reject_unknown(
        "metadata",
        "cancel_at_period_end",
        "default_payment_method",
        "description",
        "cancellation_details",
        "proration_behavior",
    )
    subscription = ctx.store.get(subscription_id, "subscription")
    cancel_at_period_end = params.boolean("cancel_at_period_end")
    details = params.nested("cancellation_details")
    comment = None
    if details is not None:
        details.reject_unknown("comment", "feedback")
        comment = details.text("comment")
    if cancel_at_period_end and not subscription["cancel_at_period_end"]:
        flows.cancel_subscription(ctx, subscription, at_period_end=True, comment=comment)
    elif cancel_at_period_end is False and subscription["cancel_at_period_end"]:
        flows.resume_subscription(ctx, subscription)

    with ctx.store.updating(subscription, "customer.subscription.updated", ctx.request):
        subscription["metadata"] = merge_metadata(subscription["metadata"], params.metadata())
        if "description" in params:
            subscription["description"] = params.text("description")
        if params.text("default_payment_method"):
            payment_method = ctx.store.get(
                params.text("default_payment_method"), "payment_method", param="default_payment_method", status=400
            )
            if payment_method["customer"] != subscription["customer"]:
                raise errors.invalid(
                    "The payment method must be attached to the subscription's customer.", "default_payment_method"
                )
            subscription["default_payment_method"] = payment_method["id"]
    return subscription


def cancel_subscription(ctx, subscription_id: str) -> dict:
    ctx.params.reject_unknown("invoice_now", "prorate", "cancellation_details")
    subscription = ctx.store.get(subscription_id, "subscription")
    details = ctx.params.nested("cancellation_details")
    comment = details.text("comment") if details else None
    return flows.cancel_subscription(ctx, subscription, at_period_end=False, comment=comment)


def list_subscriptions(ctx) -> dict:
    params = ctx.params
    customer = params.text("customer")
    price = params.text("price")
    status = params.text(
        "status",
        choices=(
            "active",
            "all",
            "canceled",
            "ended",
            "incomplete",
            "incomplete_expired",
            "past_due",
            "paused",
            "trialing",
            "unpaid",
        ),
    )

    def wanted(sub: dict) -> bool:
        if customer and sub["customer"] != customer:
            return False
        if price and price not in {item["price"]["id"] for item in sub["items"]["data"]}:
            return False
        if status in (None, "all"):
            # Without `status`, Stripe lists every subscription that has not been canceled.
            return status == "all" or sub["status"] != "canceled"
        if status == "ended":
            return sub["status"] in flows.ENDED_STATUSES
        return sub["status"] == status

    return list_endpoint(
        ctx, "subscription", "/v1/subscriptions", filters=("customer", "price", "status"), where=wanted
    )


def _subscription_items(ctx) -> list[dict]:
    return [item for sub in ctx.store.all("subscription") for item in sub["items"]["data"]]


def retrieve_subscription_item(ctx, item_id: str) -> dict:
    ctx.params.reject_unknown()
    for item in _subscription_items(ctx):
        if item["id"] == item_id:
            return item
    raise errors.no_such("subscription_item", item_id)


def list_subscription_items(ctx) -> dict:
    ctx.params.reject_unknown("subscription", "limit", "starting_after", "ending_before")
    subscription_id = ctx.params.text("subscription", required=True)
    subscription = ctx.store.get(subscription_id, "subscription", param="subscription", status=400)
    return paginate(
        subscription["items"]["data"],
        ctx.params,
        f"/v1/subscription_items?subscription={subscription_id}",
        "subscription_item",
    )


def retrieve_invoice(ctx, invoice_id: str) -> dict:
    ctx.params.reject_unknown()
    return ctx.store.get(invoice_id, "invoice")


def update_invoice(ctx, invoice_id: str) -> dict:
    ctx.params.reject_unknown("metadata", "description", "footer")
    invoice = ctx.store.get(invoice_id, "invoice")
    with ctx.store.updating(invoice, "invoice.updated", ctx.request):
        invoice["metadata"] = merge_metadata(invoice["metadata"], ctx.params.metadata())
        for key in ("description", "footer"):
            if key in ctx.params:
                invoice[key] = ctx.params.text(key)
    return invoice


def pay_invoice(ctx, invoice_id: str) -> dict:
    ctx.params.reject_unknown("payment_method", "off_session")
    invoice = ctx.store.get(invoice_id, "invoice")
    payment_method_id = ctx.params.text("payment_method")
    payment_method = (
        ctx.store.get(payment_method_id, "payment_method", param="payment_method", status=400)
        if payment_method_id
        else None
    )
    if not flows.retry_invoice(ctx, invoice, payment_method):
        raise errors.card_declined()
    return invoice


def list_invoices(ctx) -> dict:
    wanted = {key: ctx.params.text(key) for key in ("customer", "subscription", "status")}

    def matches(invoice: dict) -> bool:
        subscription = invoice["parent"]["subscription_details"]["subscription"]
        return (
            (wanted["customer"] is None or invoice["customer"] == wanted["customer"])
            and (wanted["subscription"] is None or subscription == wanted["subscription"])
            and (wanted["status"] is None or invoice["status"] == wanted["status"])
        )

    return list_endpoint(ctx, "invoice", "/v1/invoices", filters=tuple(wanted), where=matches)


def list_invoice_lines(ctx, invoice_id: str) -> dict:
    invoice = ctx.store.get(invoice_id, "invoice")
    ctx.params.reject_unknown("limit", "starting_after", "ending_before")
    return paginate(invoice["lines"]["data"], ctx.params, f"/v1/invoices/{invoice_id}/lines", "line_item")


def retrieve_invoice_payment(ctx, invoice_payment_id: str) -> dict:
    ctx.params.reject_unknown()
    return ctx.store.get(invoice_payment_id, "invoice_payment")


def list_invoice_payments(ctx) -> dict:
    invoice = ctx.params.text("invoice")
    status = ctx.params.text("status", choices=("canceled", "open", "paid"))
    payment = ctx.params.nested("payment")
    payment_intent = None
    if payment is not None:
        payment.reject_unknown("type", "payment_intent")
        payment.text("type", required=True, choices=("payment_intent",))
        payment_intent = payment.text("payment_intent")
    return list_endpoint(
        ctx,
        "invoice_payment",
        "/v1/invoice_payments",
        filters=("invoice", "status", "payment"),
        where=lambda p: (
            (invoice is None or p["invoice"] == invoice)
            and (status is None or p["status"] == status)
            and (payment_intent is None or p["payment"]["payment_intent"] == payment_intent)
        ),
    )


ROUTES = [
    ("POST", "/v1/subscriptions", create_subscription),
    ("GET", "/v1/subscriptions", list_subscriptions),
    ("GET", "/v1/subscriptions/{subscription_id}", retrieve_subscription),
    ("POST", "/v1/subscriptions/{subscription_id}", update_subscription),
    ("DELETE", "/v1/subscriptions/{subscription_id}", cancel_subscription),
    ("GET", "/v1/subscription_items", list_subscription_items),
    ("GET", "/v1/subscription_items/{item_id}", retrieve_subscription_item),
    ("GET", "/v1/invoices", list_invoices),
    ("GET", "/v1/invoices/{invoice_id}", retrieve_invoice),
    ("POST", "/v1/invoices/{invoice_id}", update_invoice),
    ("GET", "/v1/invoices/{invoice_id}/lines", list_invoice_lines),
    ("POST", "/v1/invoices/{invoice_id}/pay", pay_invoice),
    ("GET", "/v1/invoice_payments", list_invoice_payments),
    ("GET", "/v1/invoice_payments/{invoice_payment_id}", retrieve_invoice_payment),
]
