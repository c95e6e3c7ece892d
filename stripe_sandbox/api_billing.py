"""`/v1` routes for subscriptions, subscription items, invoices and invoice payments."""

from . import changes, errors, flows, lifecycle
from .api_catalog import live_customer
from .api_checkout import check_prices_combine
from .formdata import Params, merge_metadata
from .listing import list_endpoint, paginate
from .objects import deleted_object, new_invoice_item
from .trials import TRIAL_PARAMS, trial_end, trial_request

PLAN_CHANGE_PARAMS = ("items", "proration_behavior", "proration_date", "billing_cycle_anchor", "payment_behavior")


def _at_customer_time(ctx, customer_id: str):
    """Requests about a test clock's customer happen at the clock's frozen time."""
    return ctx.store.at(flows.customer_time(ctx.store, customer_id))


def create_subscription(ctx) -> dict:
    params = ctx.params
    params.reject_unknown(
        "customer",
        "items",
        "metadata",
        "default_payment_method",
        "payment_behavior",
        "proration_behavior",
        *TRIAL_PARAMS,
    )
    customer = live_customer(ctx, params.text("customer", required=True), "customer")
    with _at_customer_time(ctx, customer["id"]):
        return _create_subscription(ctx, params, customer)


def _create_subscription(ctx, params: Params, customer: dict) -> dict:
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
    trial = trial_request(params)
    ends = trial_end(trial, ctx.store.now(), param="trial_end")
    if payment_method is None and behavior != "default_incomplete" and ends is None:
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
        trial_end=ends,
        missing_payment_method=trial["missing_payment_method"],
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
        "trial_end",
        *PLAN_CHANGE_PARAMS,
    )
    subscription = ctx.store.get(subscription_id, "subscription")
    with _at_customer_time(ctx, subscription["customer"]):
        return _update_subscription(ctx, params, subscription)


def _update_subscription(ctx, params: Params, subscription: dict) -> dict:
    changes.apply_update_params(ctx, subscription, params)
    if "trial_end" in params:
        _change_trial_end(ctx, subscription, params.text("trial_end"))
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


def _change_trial_end(ctx, subscription: dict, value: str) -> None:
    """`trial_end=now` ends the trial at once (its invoice is billed now); a timestamp moves it."""
    store = ctx.store
    if subscription["status"] != "trialing":
        raise errors.invalid("This subscription is not in a trial.", "trial_end")
    if value == "now":
        with store.updating(subscription, "customer.subscription.updated", ctx.request):
            subscription["trial_end"] = store.now()
        store.emit("customer.subscription.trial_will_end", subscription, ctx.request)
        lifecycle.end_trial(ctx, subscription)
        invoice = store.get(subscription["latest_invoice"], "invoice")
        if invoice["status"] == "draft":
            flows.finalize_invoice(ctx, invoice)
            lifecycle.collect(ctx, invoice)
        return
    ends = trial_end({"end": int(value) if value.isdigit() else value}, store.now(), param="trial_end")
    with store.updating(subscription, "customer.subscription.updated", ctx.request):
        subscription["trial_end"] = ends
        flows.set_period(subscription, (flows.current_period(subscription)[0], ends))


def cancel_subscription(ctx, subscription_id: str) -> dict:
    ctx.params.reject_unknown("invoice_now", "prorate", "cancellation_details")
    subscription = ctx.store.get(subscription_id, "subscription")
    details = ctx.params.nested("cancellation_details")
    comment = details.text("comment") if details else None
    with _at_customer_time(ctx, subscription["customer"]):
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


def _find_subscription_item(ctx, item_id: str) -> dict:
    for item in _subscription_items(ctx):
        if item["id"] == item_id:
            return item
    raise errors.no_such("subscription_item", item_id)


def retrieve_subscription_item(ctx, item_id: str) -> dict:
    ctx.params.reject_unknown()
    return _find_subscription_item(ctx, item_id)


def update_subscription_item(ctx, item_id: str) -> dict:
    """A plan change of one item, as `POST /v1/subscriptions/{id}` with `items[0][id]` does."""
    params = ctx.params
    params.reject_unknown("price", "quantity", "metadata", *PLAN_CHANGE_PARAMS[1:])
    item = _find_subscription_item(ctx, item_id)
    subscription = ctx.store.get(item["subscription"], "subscription")
    entry = {"id": item_id}
    for key in ("price", "quantity"):
        if key in params:
            entry[key] = params.raw(key)
    update = {key: params.raw(key) for key in PLAN_CHANGE_PARAMS[1:] if key in params}
    with _at_customer_time(ctx, subscription["customer"]):
        changes.apply_update_params(ctx, subscription, Params({"items": [entry], **update}))
        item = next(i for i in subscription["items"]["data"] if i["id"] == item_id)
        if params.metadata() is not None:
            with ctx.store.updating(subscription, "customer.subscription.updated", ctx.request):
                item["metadata"] = merge_metadata(item["metadata"], params.metadata())
    return item


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


def finalize_invoice(ctx, invoice_id: str) -> dict:
    """Finalize a draft during its window; with auto_advance (the default) it is then
    charged at once, as the automatic finalization would."""
    ctx.params.reject_unknown("auto_advance")
    invoice = ctx.store.get(invoice_id, "invoice")
    if invoice["status"] != "draft":
        raise errors.invalid("This invoice is already finalized, you can't re-finalize a non-draft invoice.")
    with _at_customer_time(ctx, invoice["customer"]):
        if "auto_advance" in ctx.params:
            invoice["auto_advance"] = ctx.params.boolean("auto_advance")
        flows.finalize_invoice(ctx, invoice)
        if invoice["auto_advance"] and flows.invoice_subscription_id(invoice):
            lifecycle.collect(ctx, invoice)
    return invoice


def void_invoice(ctx, invoice_id: str) -> dict:
    ctx.params.reject_unknown()
    invoice = ctx.store.get(invoice_id, "invoice")
    if invoice["status"] not in ("open", "uncollectible"):
        raise errors.invalid(
            f"You can only pass in open or uncollectible invoices. This invoice is {invoice['status']}."
        )
    with _at_customer_time(ctx, invoice["customer"]):
        flows.void_invoice(ctx, invoice)
    return invoice


def mark_uncollectible(ctx, invoice_id: str) -> dict:
    ctx.params.reject_unknown()
    invoice = ctx.store.get(invoice_id, "invoice")
    if invoice["status"] != "open":
        raise errors.invalid(f"You can only mark open invoices as uncollectible. This invoice is {invoice['status']}.")
    with _at_customer_time(ctx, invoice["customer"]):
        flows.mark_uncollectible(ctx, invoice)
    return invoice


def create_preview(ctx) -> dict:
    """`POST /v1/invoices/create_preview`: the subscription's next invoice, or the one a
    plan change in `subscription_details` would bill (nothing is stored)."""
    params = ctx.params
    params.reject_unknown("customer", "subscription", "subscription_details")
    subscription_id = params.text("subscription")
    if subscription_id is None:
        raise errors.invalid(
            "The sandbox previews subscription invoices only: pass subscription.", "subscription", "parameter_missing"
        )
    subscription = ctx.store.get(subscription_id, "subscription", param="subscription", status=400)
    customer = params.text("customer")
    if customer is not None and customer != subscription["customer"]:
        raise errors.invalid(f"The subscription does not belong to customer {customer}.", "customer")
    details = params.nested("subscription_details")
    if details is not None:
        details.reject_unknown(*PLAN_CHANGE_PARAMS)
    with _at_customer_time(ctx, subscription["customer"]):
        return changes.preview_invoice(ctx, subscription, changes_params=details)


def add_invoice_lines(ctx, invoice_id: str) -> dict:
    """`POST /v1/invoices/{id}/add_lines` on a draft: each line an invoice item (amount or price)."""
    params = ctx.params
    params.reject_unknown("lines", "invoice_metadata")
    invoice = ctx.store.get(invoice_id, "invoice")
    _require_draft(invoice, "lines")
    with _at_customer_time(ctx, invoice["customer"]):
        for index, line in enumerate(params.array("lines", required=True)):
            line.reject_unknown("amount", "description", "pricing", "quantity", "metadata", "period", "invoice_item")
            item_id = line.text("invoice_item")
            if item_id:
                invoice_item = ctx.store.get(item_id, "invoiceitem", param=f"lines[{index}][invoice_item]", status=400)
            else:
                invoice_item = _new_invoice_item(ctx, line, invoice["customer"], invoice["currency"], f"lines[{index}]")
                ctx.store.emit("invoiceitem.created", invoice_item, ctx.request)
            with ctx.store.updating(invoice, "invoice.updated", ctx.request):
                flows.add_invoice_item_line(ctx.store, invoice, invoice_item)
                flows.compute_totals(invoice)
    return invoice


def _require_draft(invoice: dict, param: str) -> None:
    if invoice["status"] != "draft":
        raise errors.invalid(
            f"You can only add invoice items to draft invoices. This invoice is {invoice['status']}.", param
        )


def _new_invoice_item(ctx, params: Params, customer_id: str, currency: str | None, prefix: str = "") -> dict:
    """An invoice item from `amount` (+ `currency`) or `pricing[price]` (+ `quantity`)."""
    store = ctx.store
    name = (lambda key: f"{prefix}[{key}]") if prefix else (lambda key: key)
    customer = live_customer(ctx, customer_id, "customer")
    pricing = params.nested("pricing")
    quantity = params.integer("quantity", default=1, minimum=1)
    price = None
    if pricing is not None:
        pricing.reject_unknown("price")
        price = store.get(pricing.text("price", required=True), "price", param=name("pricing[price]"), status=400)
        amount = price["unit_amount"] * quantity
        currency = price["currency"]
    else:
        amount = params.integer("amount")
        if amount is None:
            raise errors.invalid(
                "Missing required param: amount or pricing[price].", name("amount"), "parameter_missing"
            )
        currency = params.text("currency") or currency
        if currency is None:
            raise errors.missing_param(name("currency"))
    now = store.now()
    period = params.nested("period")
    start, end = (now, now)
    if period is not None:
        period.reject_unknown("start", "end")
        start, end = period.integer("start", required=True), period.integer("end", required=True)
    return new_invoice_item(
        store,
        customer=customer,
        amount=amount,
        currency=currency,
        description=params.text("description") or (store.get(price["product"], "product")["name"] if price else None),
        period=(start, end),
        price=price,
        quantity=quantity,
        metadata=params.metadata() or {},
    )


def create_invoice_item(ctx) -> dict:
    """A pending invoice item for the customer's next invoice (of `subscription`, if given),
    or, with `invoice`, a new line on that draft."""
    params = ctx.params
    params.reject_unknown(
        "customer",
        "amount",
        "currency",
        "description",
        "pricing",
        "quantity",
        "metadata",
        "period",
        "invoice",
        "subscription",
    )
    store = ctx.store
    customer_id = params.text("customer", required=True)
    invoice = None
    if params.text("invoice"):
        invoice = store.get(params.text("invoice"), "invoice", param="invoice", status=400)
        _require_draft(invoice, "invoice")
        if invoice["customer"] != customer_id:
            raise errors.invalid("The invoice belongs to another customer.", "invoice")
    subscription = None
    if params.text("subscription"):
        subscription = store.get(params.text("subscription"), "subscription", param="subscription", status=400)
        if subscription["customer"] != customer_id:
            raise errors.invalid("The subscription belongs to another customer.", "subscription")
    with _at_customer_time(ctx, customer_id):
        invoice_item = _new_invoice_item(ctx, params, customer_id, invoice["currency"] if invoice else None)
        if subscription is not None:
            invoice_item["parent"] = {
                "subscription_details": {"subscription": subscription["id"]},
                "type": "subscription_details",
            }
        store.emit("invoiceitem.created", invoice_item, ctx.request)
        if invoice is not None:
            with store.updating(invoice, "invoice.updated", ctx.request):
                flows.add_invoice_item_line(store, invoice, invoice_item)
                flows.compute_totals(invoice)
    return invoice_item


def retrieve_invoice_item(ctx, item_id: str) -> dict:
    ctx.params.reject_unknown()
    return ctx.store.get(item_id, "invoiceitem")


def update_invoice_item(ctx, item_id: str) -> dict:
    params = ctx.params
    params.reject_unknown("description", "metadata")
    invoice_item = ctx.store.get(item_id, "invoiceitem")
    with ctx.store.updating(invoice_item, "invoiceitem.updated", ctx.request):
        if "description" in params:
            invoice_item["description"] = params.text("description")
        invoice_item["metadata"] = merge_metadata(invoice_item["metadata"], params.metadata())
    return invoice_item


def delete_invoice_item(ctx, item_id: str) -> dict:
    """A pending item, or one on a draft invoice (its line goes too)."""
    ctx.params.reject_unknown()
    store = ctx.store
    invoice_item = store.get(item_id, "invoiceitem")
    invoice = store.find(invoice_item["invoice"], "invoice") if invoice_item["invoice"] else None
    if invoice is not None:
        _require_draft(invoice, "id")
        with store.updating(invoice, "invoice.updated", ctx.request):
            invoice["lines"]["data"] = [
                line for line in invoice["lines"]["data"] if _line_invoice_item(line) != item_id
            ]
            flows.compute_totals(invoice)
    store.objects[item_id] = deleted_object(invoice_item)
    store.emit("invoiceitem.deleted", invoice_item, ctx.request)
    return store.objects[item_id]


def _line_invoice_item(line: dict) -> str | None:
    parent = line["parent"] or {}
    details = parent.get("invoice_item_details") or parent.get("subscription_item_details") or {}
    return details.get("invoice_item")


def list_invoice_items(ctx) -> dict:
    customer, invoice = ctx.params.text("customer"), ctx.params.text("invoice")
    pending = ctx.params.boolean("pending")
    return list_endpoint(
        ctx,
        "invoiceitem",
        "/v1/invoiceitems",
        filters=("customer", "invoice", "pending"),
        where=lambda ii: (
            (customer is None or ii["customer"] == customer)
            and (invoice is None or ii["invoice"] == invoice)
            and (pending is None or (ii["invoice"] is None) == pending)
        ),
    )


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
    ("POST", "/v1/subscription_items/{item_id}", update_subscription_item),
    ("POST", "/v1/invoices/create_preview", create_preview),
    ("GET", "/v1/invoices", list_invoices),
    ("GET", "/v1/invoices/{invoice_id}", retrieve_invoice),
    ("POST", "/v1/invoices/{invoice_id}", update_invoice),
    ("GET", "/v1/invoices/{invoice_id}/lines", list_invoice_lines),
    ("POST", "/v1/invoices/{invoice_id}/pay", pay_invoice),
    ("POST", "/v1/invoices/{invoice_id}/finalize", finalize_invoice),
    ("POST", "/v1/invoices/{invoice_id}/void", void_invoice),
    ("POST", "/v1/invoices/{invoice_id}/mark_uncollectible", mark_uncollectible),
    ("POST", "/v1/invoices/{invoice_id}/add_lines", add_invoice_lines),
    ("POST", "/v1/invoiceitems", create_invoice_item),
    ("GET", "/v1/invoiceitems", list_invoice_items),
    ("GET", "/v1/invoiceitems/{item_id}", retrieve_invoice_item),
    ("POST", "/v1/invoiceitems/{item_id}", update_invoice_item),
    ("DELETE", "/v1/invoiceitems/{item_id}", delete_invoice_item),
    ("GET", "/v1/invoice_payments", list_invoice_payments),
    ("GET", "/v1/invoice_payments/{invoice_payment_id}", retrieve_invoice_payment),
]
