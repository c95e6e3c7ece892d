"""What happens when money moves: checkout completion, subscription invoices and their
payment, renewals, cancellations and refunds, each emitting the events Stripe emits, in
Stripe's order.

Every function takes `ctx` (store, request, base_url) and runs under the store lock.
"""

from . import discounts, errors
from .objects import (
    DAY,
    add_interval,
    new_customer,
    new_invoice,
    new_invoice_item_line,
    new_invoice_line,
    new_invoice_payment,
    new_subscription,
    new_subscription_item,
)
from .payment_objects import (
    TEST_PAYMENT_METHODS,
    card_declines,
    card_number_declines,
    new_balance_transaction,
    new_charge,
    new_payment_intent,
    new_payment_method,
    new_refund,
)
from .trials import trial_end

ENDED_STATUSES = ("canceled", "incomplete_expired")


def invoice_subscription_id(invoice: dict) -> str | None:
    details = (invoice.get("parent") or {}).get("subscription_details")
    return details["subscription"] if details else None


def current_period(sub: dict) -> tuple[int, int]:
    item = sub["items"]["data"][0]
    return item["current_period_start"], item["current_period_end"]


def set_period(sub: dict, period: tuple[int, int]) -> None:
    for item in sub["items"]["data"]:
        item["current_period_start"], item["current_period_end"] = period


def customer_time(store, customer: dict | str | None) -> int | None:
    """The frozen time of the test clock `customer` belongs to (None: the wall clock)."""
    if isinstance(customer, str):
        customer = store.find(customer, "customer")
    clock_id = customer and customer.get("test_clock")
    clock = store.find(clock_id, "test_helpers.test_clock") if clock_id else None
    return clock["frozen_time"] if clock else None


def create_customer(ctx, **fields) -> dict:
    customer = new_customer(ctx.store, **fields)
    ctx.store.emit("customer.created", customer, ctx.request)
    return customer


def attach_card(ctx, customer: dict | None, card_number: str) -> dict:
    payment_method = new_payment_method(
        ctx.store,
        card_number=card_number,
        customer=customer["id"] if customer else None,
        email=customer["email"] if customer else None,
        name=customer["name"] if customer else None,
    )
    if customer:
        ctx.store.emit("payment_method.attached", payment_method, ctx.request)
    return payment_method


def attach_payment_method(ctx, payment_method_id: str, customer: dict, param: str) -> dict:
    """Attach an existing payment method to `customer`, or turn one of Stripe's test-mode ids
    (`pm_card_visa`, `pm_card_chargeCustomerFail`, ...) into a new attached card."""
    if payment_method_id in TEST_PAYMENT_METHODS:
        return attach_card(ctx, customer, TEST_PAYMENT_METHODS[payment_method_id])
    payment_method = ctx.store.get(payment_method_id, "payment_method", param=param)
    if payment_method["customer"] not in (None, customer["id"]):
        raise errors.invalid("The payment method you provided has already been attached to another customer.", param)
    if payment_method["customer"] is None:
        payment_method["customer"] = customer["id"]
        ctx.store.emit("payment_method.attached", payment_method, ctx.request)
    return payment_method


def charge_payment_intent(ctx, payment_intent: dict, payment_method: dict) -> dict:
    """One attempt to pay `payment_intent` with `payment_method`; returns the charge."""
    store = ctx.store
    succeeded = not card_declines(payment_method)
    payment_intent["payment_method"] = payment_method["id"]
    charge = new_charge(
        store, payment_intent=payment_intent, payment_method=payment_method, succeeded=succeeded, base_url=ctx.base_url
    )
    if succeeded:
        transaction = new_balance_transaction(
            store,
            source=charge,
            amount=charge["amount"],
            kind="charge",
            created=charge["created"],
            description=charge["description"],
        )
        charge["balance_transaction"] = transaction["id"]
    store.emit("charge.succeeded" if succeeded else "charge.failed", charge, ctx.request)

    payment_intent["latest_charge"] = charge["id"]
    if succeeded:
        payment_intent.update(status="succeeded", amount_received=charge["amount"], last_payment_error=None)
        store.emit("payment_intent.succeeded", payment_intent, ctx.request)
    else:
        payment_intent.update(
            status="requires_payment_method",
            last_payment_error={
                "charge": charge["id"],
                "code": "card_declined",
                "decline_code": "generic_decline",
                "doc_url": "https://stripe.com/docs/error-codes/card-declined",
                "message": "Your card was declined.",
                "payment_method": dict(payment_method),
                "type": "card_error",
            },
        )
        store.emit("payment_intent.payment_failed", payment_intent, ctx.request)
    return charge


def complete_checkout(ctx, session: dict, *, card_number: str, email: str | None, name: str | None) -> dict:
    """The customer pays on the hosted page. A declined card raises the 402 card error and
    leaves the session open, as Checkout does."""
    store = ctx.store
    if session["status"] != "open":
        raise errors.invalid(f"This Checkout Session is {session['status']} and can no longer be paid.")
    email = email or session["customer_email"]

    if session["mode"] == "payment":
        payment_intent = _checkout_payment_intent(ctx, session, email, name)
        payment_method = attach_card(ctx, None, card_number)
        charge = charge_payment_intent(ctx, payment_intent, payment_method)
        if not charge["paid"]:
            raise errors.card_declined(charge=charge["id"], payment_intent=dict(payment_intent))
        customer = store.get(payment_intent["customer"], "customer")
    else:
        if card_number_declines(card_number):
            # Checkout confirms the card before it creates the subscription: nothing is kept.
            raise errors.card_declined()
        customer = _checkout_customer(ctx, session, email, name)
        payment_method = attach_card(ctx, customer, card_number)
        details = store.checkout_details[session["id"]]
        trial = details["trial"]
        subscription, invoice = start_subscription(
            ctx,
            customer=customer,
            payment_method=payment_method,
            items=[(item["price"], item["quantity"]) for item in checkout_items(store, session)],
            metadata=dict(details["subscription_metadata"]),
            trial_end=trial_end(trial, store.now(), param="subscription_data[trial_end]"),
            missing_payment_method=trial["missing_payment_method"],
        )
        session.update(subscription=subscription["id"], invoice=invoice["id"])

    session.update(
        status="complete",
        payment_status=_checkout_payment_status(store, session),
        customer=customer["id"],
        customer_details={
            "address": None,
            "business_name": None,
            "email": customer["email"],
            "individual_name": None,
            "name": customer["name"],
            "phone": customer["phone"],
            "tax_exempt": "none",
            "tax_ids": [],
        },
        collected_information={"business_name": None, "individual_name": None, "shipping_details": None},
        url=None,
    )
    store.emit("checkout.session.completed", session, ctx.request)
    return session


def _checkout_payment_status(store, session: dict) -> str:
    """`paid`, or `no_payment_required` when nothing was charged (a trial)."""
    if session["mode"] == "subscription" and not store.get(session["invoice"], "invoice")["amount_paid"]:
        return "no_payment_required"
    return "paid"


def checkout_items(store, session: dict) -> list[dict]:
    return [store.objects[item_id] for item_id in store.checkout_details[session["id"]]["items"]]


def _checkout_customer(ctx, session: dict, email: str | None, name: str | None) -> dict:
    if session["customer"]:
        return ctx.store.get(session["customer"], "customer")
    return create_customer(ctx, email=email, name=name)


def _checkout_payment_intent(ctx, session: dict, email: str | None, name: str | None) -> dict:
    """Checkout creates the PaymentIntent at the first attempt and reuses it after a decline."""
    if session["payment_intent"]:
        return ctx.store.get(session["payment_intent"], "payment_intent")
    customer = _checkout_customer(ctx, session, email, name)
    payment_intent = new_payment_intent(
        ctx.store,
        amount=session["amount_total"],
        currency=session["currency"],
        customer=customer["id"],
        description=None,
        metadata=dict(ctx.store.checkout_details[session["id"]]["payment_intent_metadata"]),
    )
    session["payment_intent"] = payment_intent["id"]
    ctx.store.emit("payment_intent.created", payment_intent, ctx.request)
    return payment_intent


def expire_checkout(ctx, session: dict) -> dict:
    if session["status"] != "open":
        raise errors.invalid(
            f'Only Checkout Sessions with a status in ["open"] can be expired. '
            f"This Checkout Session has a status of {session['status']}."
        )
    session.update(status="expired", url=None)
    ctx.store.emit("checkout.session.expired", session, ctx.request)
    return session


def start_subscription(
    ctx,
    *,
    customer: dict,
    payment_method: dict | None,
    items: list[tuple[dict, int]],
    metadata: dict,
    collect: bool = True,
    trial_end: int | None = None,
    missing_payment_method: str = "create_invoice",
) -> tuple[dict, dict]:
    """A new subscription and its first invoice, charged at once unless `collect` is False.
    It is `incomplete` until that invoice is paid, then `active` (a
    customer.subscription.updated event). With `trial_end` it is `trialing` until then and
    its first invoice is a paid one of 0 for the trial."""
    store = ctx.store
    now = store.now()
    first_price = items[0][0]
    if trial_end is not None:
        period = (now, trial_end)
    else:
        recurring = first_price["recurring"]
        period = (now, add_interval(now, recurring["interval"], recurring["interval_count"]))
    subscription = new_subscription(
        store,
        billing_cycle_anchor=now,
        collection_method="charge_automatically",
        currency=first_price["currency"],
        customer=customer["id"],
        default_payment_method=payment_method["id"] if payment_method else None,
        metadata=metadata,
        start_date=now,
        status="incomplete" if trial_end is None else "trialing",
        test_clock=customer["test_clock"],
        trial_start=now if trial_end is not None else None,
        trial_end=trial_end,
        trial_settings={"end_behavior": {"missing_payment_method": missing_payment_method}},
    )
    subscription["items"]["data"] = [
        new_subscription_item(store, price=price, quantity=quantity, subscription=subscription["id"], period=period)
        for price, quantity in items
    ]
    discounts.subscription_started(ctx, subscription)
    # A customer takes the currency of their first subscription, without an event.
    customer["currency"] = customer["currency"] or subscription["currency"]
    invoice = subscription_invoice(
        ctx, subscription, "subscription_create", period, (now, now), now, trial=trial_end is not None
    )
    subscription["latest_invoice"] = invoice["id"]
    store.emit("customer.subscription.created", subscription, ctx.request)
    store.emit("invoice.created", invoice, ctx.request)
    finalize_invoice(ctx, invoice)
    if trial_end is not None:
        pay_invoice(ctx, invoice, payment_method)  # nothing to charge: paid at once
    elif collect and pay_invoice(ctx, invoice, payment_method):
        with store.updating(subscription, "customer.subscription.updated", ctx.request):
            subscription["status"] = "active"
    return subscription, invoice


def subscription_invoice(
    ctx,
    subscription: dict,
    billing_reason: str,
    period: tuple[int, int],
    invoice_period: tuple[int, int],
    created: int,
    *,
    trial: bool = False,
    lines: bool = True,
) -> dict:
    """A draft invoice of `subscription`: a line per item for `period` (0 in a trial, none
    when `lines` is False) and every pending invoice item of the subscription."""
    store = ctx.store
    customer = store.get(subscription["customer"], "customer")
    invoice = new_invoice(
        store,
        customer=customer,
        subscription=subscription,
        billing_reason=billing_reason,
        created=created,
        currency=subscription["currency"],
        # Stripe quirk: a renewal invoice's period_start/period_end cover the period that
        # just ended; the period being paid for is on the lines.
        period_start=invoice_period[0],
        period_end=invoice_period[1],
        test_clock=subscription["test_clock"],
    )
    if lines:
        invoice["lines"]["data"] = [
            new_invoice_line(
                store,
                invoice=invoice,
                item=item,
                product=store.get(item["price"]["product"], "product"),
                subscription=subscription,
                period=period,
                trial=trial,
            )
            for item in subscription["items"]["data"]
        ]
    # Pending invoice items join: the subscription's (prorations, items added for it) and
    # the customer's that name no subscription.
    for invoice_item in store.all(
        "invoiceitem",
        lambda ii: (
            ii["invoice"] is None
            and ii["customer"] == subscription["customer"]
            and invoice_item_subscription(ii) in (None, subscription["id"])
        ),
    )[::-1]:
        add_invoice_item_line(store, invoice, invoice_item)
    compute_totals(invoice)
    discounts.invoice_totals(ctx, subscription, invoice)
    return invoice


def invoice_item_subscription(invoice_item: dict) -> str | None:
    details = (invoice_item.get("parent") or {}).get("subscription_details")
    return details["subscription"] if details else None


def add_invoice_item_line(store, invoice: dict, invoice_item: dict) -> dict:
    """`invoice_item` joins the draft `invoice` as a line."""
    invoice_item["invoice"] = invoice["id"]
    line = new_invoice_item_line(store, invoice=invoice, invoice_item=invoice_item)
    invoice["lines"]["data"].append(line)
    return line


def compute_totals(invoice: dict) -> None:
    """Subtotal of the lines, less their discounts; a negative total is due as 0 (the rest
    becomes the customer's credit when the invoice is finalized)."""
    lines = invoice["lines"]["data"]
    subtotal = sum(line["amount"] for line in lines)
    total = subtotal - sum(off["amount"] for line in lines for off in line["discount_amounts"] or [])
    due = max(total, 0)
    invoice.update(
        amount_due=due,
        amount_remaining=due - invoice["amount_paid"],
        subtotal=subtotal,
        subtotal_excluding_tax=subtotal,
        total=total,
        total_excluding_tax=total,
    )


def finalize_invoice(ctx, invoice: dict) -> None:
    store = ctx.store
    customer = store.get(invoice["customer"], "customer")
    number = f"{customer['invoice_prefix']}-{customer['next_invoice_sequence']:04d}"
    customer["next_invoice_sequence"] += 1
    # The customer's balance (negative: credit, e.g. from a downgrade's proration) is
    # applied to the invoice; a negative total becomes credit.
    starting_balance = customer["balance"]
    owed = invoice["total"] + starting_balance
    with store.updating(customer, "customer.updated", ctx.request):
        customer["balance"] = min(owed, 0)
    amount_due = max(owed, 0)
    now = store.now()
    invoice.update(
        status="open",
        number=number,
        effective_at=now,
        amount_due=amount_due,
        amount_remaining=amount_due,
        ending_balance=min(owed, 0),
        starting_balance=starting_balance,
        automatically_finalizes_at=None,
        hosted_invoice_url=f"{ctx.base_url}/invoices/{invoice['id']}",
        invoice_pdf=f"{ctx.base_url}/invoices/{invoice['id']}/pdf",
    )
    invoice["status_transitions"]["finalized_at"] = now
    store.emit("invoice.finalized", invoice, ctx.request)


def pay_invoice(ctx, invoice: dict, payment_method: dict | None) -> bool:
    """Attempt to collect an open invoice; returns whether it is now paid."""
    store = ctx.store
    if invoice["amount_remaining"] == 0:
        _invoice_paid(ctx, invoice, paid_at=store.now())
        return True
    before = {key: invoice[key] for key in ("attempted", "attempt_count", "next_payment_attempt")}
    invoice.update(attempted=True, attempt_count=invoice["attempt_count"] + 1)
    if payment_method is None:
        return _invoice_payment_failed(ctx, invoice, before)

    invoice_payment = next(iter(store.all("invoice_payment", lambda p: p["invoice"] == invoice["id"])), None)
    if invoice_payment is None:
        payment_intent = new_payment_intent(
            store,
            amount=invoice["amount_remaining"],
            currency=invoice["currency"],
            customer=invoice["customer"],
            description="Subscription creation"
            if invoice["billing_reason"] == "subscription_create"
            else "Subscription update",
            metadata={},
        )
        payment_intent["created"] = store.now()
        store.emit("payment_intent.created", payment_intent, ctx.request)
        invoice_payment = new_invoice_payment(store, invoice=invoice, payment_intent=payment_intent)
    else:
        payment_intent = store.get(invoice_payment["payment"]["payment_intent"], "payment_intent")

    charge = charge_payment_intent(ctx, payment_intent, payment_method)
    if not charge["paid"]:
        return _invoice_payment_failed(ctx, invoice, before)

    invoice_payment.update(amount_paid=charge["amount"], status="paid")
    invoice_payment["status_transitions"]["paid_at"] = charge["created"]
    store.emit("invoice_payment.paid", invoice_payment, ctx.request)
    _invoice_paid(ctx, invoice, paid_at=charge["created"])
    return True


def _invoice_paid(ctx, invoice: dict, *, paid_at: int) -> None:
    invoice.update(
        status="paid",
        amount_paid=invoice["amount_due"],
        amount_remaining=0,
        attempted=True,
        next_payment_attempt=None,
        auto_advance=False,
    )
    invoice["status_transitions"]["paid_at"] = paid_at
    ctx.store.emit("invoice.paid", invoice, ctx.request)
    ctx.store.emit("invoice.payment_succeeded", invoice, ctx.request)
    _update_delinquency(ctx, ctx.store.get(invoice["customer"], "customer"))


def _invoice_payment_failed(ctx, invoice: dict, before: dict) -> bool:
    """The attempt failed: the next one follows the account's retry schedule (days after
    this attempt); the first invoice of a new subscription and the last retry have none."""
    store = ctx.store
    retry_days = store.settings.retry_days
    retries_done = invoice["attempt_count"] - 1
    if (
        invoice["billing_reason"] == "subscription_create"
        or retries_done >= len(retry_days)
        or not invoice["auto_advance"]
    ):
        invoice["next_payment_attempt"] = None
    else:
        invoice["next_payment_attempt"] = store.now() + retry_days[retries_done] * DAY
    store.emit("invoice.payment_failed", invoice, ctx.request)
    previous = {key: value for key, value in before.items() if invoice[key] != value}
    store.emit("invoice.updated", invoice, ctx.request, previous)
    _update_delinquency(ctx, store.get(invoice["customer"], "customer"))
    return False


def mark_uncollectible(ctx, invoice: dict) -> None:
    invoice.update(status="uncollectible", next_payment_attempt=None, auto_advance=False)
    invoice["status_transitions"]["marked_uncollectible_at"] = ctx.store.now()
    ctx.store.emit("invoice.marked_uncollectible", invoice, ctx.request)


def void_invoice(ctx, invoice: dict) -> None:
    invoice.update(status="void", next_payment_attempt=None, auto_advance=False, amount_remaining=0)
    invoice["status_transitions"]["voided_at"] = ctx.store.now()
    ctx.store.emit("invoice.voided", invoice, ctx.request)


def _update_delinquency(ctx, customer: dict) -> None:
    unpaid = ctx.store.all(
        "invoice",
        lambda i: i["customer"] == customer["id"] and i["status"] in ("open", "uncollectible") and i["attempted"],
    )
    with ctx.store.updating(customer, "customer.updated", ctx.request):
        customer["delinquent"] = bool(unpaid)


def subscription_payment_method(store, subscription: dict) -> dict | None:
    customer = store.get(subscription["customer"], "customer")
    payment_method_id = subscription["default_payment_method"] or customer["invoice_settings"]["default_payment_method"]
    return store.find(payment_method_id, "payment_method") if payment_method_id else None


def retry_invoice(ctx, invoice: dict, payment_method: dict | None) -> bool:
    """`POST /v1/invoices/{id}/pay`: pays an open (or uncollectible) invoice; a paid invoice
    brings a past_due, unpaid or incomplete subscription back to `active`."""
    if invoice["status"] not in ("open", "uncollectible"):
        raise errors.invalid(f"Invoice is already {invoice['status']}.", code="invoice_not_open")
    subscription = ctx.store.get(invoice_subscription_id(invoice), "subscription")
    paid = pay_invoice(ctx, invoice, payment_method or subscription_payment_method(ctx.store, subscription))
    if paid and subscription["status"] in ("past_due", "unpaid", "incomplete"):
        with ctx.store.updating(subscription, "customer.subscription.updated", ctx.request):
            subscription["status"] = "active"
    return paid


def advance_subscription(ctx, subscription: dict) -> dict | None:
    """`/_sandbox/subscriptions/{id}/advance`, for a subscription on no test clock: its own
    time moves to the end of its current period (or trial) and through the hour its renewal
    invoice stays a draft, doing what a clock would on the way (docs/stripe-sandbox.md).
    Returns the renewal invoice, if there is one."""
    from .lifecycle import DRAFT_WINDOW, run_until

    if subscription["status"] in ENDED_STATUSES:
        raise errors.invalid(f"This subscription is {subscription['status']} and cannot be advanced.")
    if subscription["test_clock"]:
        raise errors.invalid(
            f"This subscription belongs to test clock {subscription['test_clock']}: advance the clock instead."
        )
    boundary = current_period(subscription)[1]
    run_until(ctx, boundary + DRAFT_WINDOW, lambda: [subscription])
    latest = ctx.store.find(subscription["latest_invoice"], "invoice")
    return latest if latest and latest["created"] == boundary else None


def cancel_subscription(ctx, subscription: dict, *, at_period_end: bool, comment: str | None = None) -> dict:
    if subscription["status"] in ENDED_STATUSES:
        raise errors.invalid(
            f"A canceled subscription can only update its cancellation_details and metadata. "
            f"This subscription ({subscription['id']}) is {subscription['status']}."
        )
    now = ctx.store.now()
    details = {"comment": comment, "feedback": None, "reason": "cancellation_requested"}
    if not at_period_end:
        subscription.update(canceled_at=now, cancellation_details=details)
        end_subscription(ctx, subscription, ended_at=now)
        return subscription
    # A trialing subscription set to cancel ends when its trial does.
    period_end = subscription["trial_end"] if subscription["status"] == "trialing" else current_period(subscription)[1]
    with ctx.store.updating(subscription, "customer.subscription.updated", ctx.request):
        subscription.update(
            cancel_at_period_end=True,
            cancel_at=period_end,
            canceled_at=now,
            cancellation_details=details,
        )
    return subscription


def resume_subscription(ctx, subscription: dict) -> None:
    """`cancel_at_period_end=false` before the period ends undoes a scheduled cancellation."""
    with ctx.store.updating(subscription, "customer.subscription.updated", ctx.request):
        subscription.update(
            cancel_at_period_end=False,
            cancel_at=None,
            canceled_at=None,
            cancellation_details={"comment": None, "feedback": None, "reason": None},
        )


def end_subscription(ctx, subscription: dict, *, ended_at: int) -> None:
    """The subscription ends. As in Stripe, automatic collection of the customer's finalized
    invoices stops ("to prevent unexpected payment attempts after the customer has canceled")."""
    store = ctx.store
    subscription.update(status="canceled", ended_at=ended_at, canceled_at=subscription["canceled_at"] or ended_at)
    store.emit("customer.subscription.deleted", subscription, ctx.request)
    for invoice in store.all("invoice", lambda i: i["customer"] == subscription["customer"]):
        if invoice["status"] == "open" and (invoice["auto_advance"] or invoice["next_payment_attempt"]):
            with store.updating(invoice, "invoice.updated", ctx.request):
                invoice.update(auto_advance=False, next_payment_attempt=None)


def refund_charge(ctx, charge: dict, *, amount: int | None, reason: str | None, metadata: dict) -> dict:
    store = ctx.store
    if not charge["paid"]:
        raise errors.invalid(f"Charge {charge['id']} has not been paid and cannot be refunded.", "charge")
    remaining = charge["amount"] - charge["amount_refunded"]
    if remaining == 0:
        raise errors.invalid(f"Charge {charge['id']} has already been refunded.", "charge", "charge_already_refunded")
    amount = remaining if amount is None else amount
    if amount > remaining:
        currency = charge["currency"]
        raise errors.invalid(
            f"Refund amount ({amount / 100:.2f} {currency}) is greater than unrefunded amount on charge "
            f"({remaining / 100:.2f} {currency})",
            "amount",
        )
    refund = new_refund(store, charge=charge, amount=amount, reason=reason, metadata=metadata)
    transaction = new_balance_transaction(
        store,
        source=refund,
        amount=-amount,
        kind="refund",
        created=refund["created"],
        description=f"REFUND FOR CHARGE ({charge['description'] or charge['id']})",
    )
    refund["balance_transaction"] = transaction["id"]
    with store.updating(charge, "charge.refunded", ctx.request):
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount"]
    store.emit("refund.created", refund, ctx.request)
    return refund
