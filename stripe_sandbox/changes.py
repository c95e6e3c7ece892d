"""Plan changes: a subscription's items get another price or quantity, with Stripe's
prorations (classic billing mode), and previews of the invoice that would follow.

Prorations are invoice items: a credit for the unused time of the old price and a charge
for the remaining time of the new one, each the full period's amount times the fraction
of the period left (seconds), rounded to the cent. `create_prorations` leaves them pending
for the next invoice, `always_invoice` bills them now on a `subscription_update` invoice,
`none` creates none. A change of billing interval (or `billing_cycle_anchor=now`) starts a
new period now, billed at once, with the old price's unused time credited.
"""

import copy
from dataclasses import dataclass
from datetime import UTC, datetime

from . import errors, flows, lifecycle
from .objects import new_invoice_item, new_subscription_item, plan_from_price
from .payment_objects import card_declines

PRORATION_BEHAVIORS = ("always_invoice", "create_prorations", "none")
PAYMENT_BEHAVIORS = ("allow_incomplete", "default_incomplete", "error_if_incomplete", "pending_if_incomplete")


@dataclass
class ItemChange:
    """One entry of `items[]`: an existing item (`item`) gets `price`/`quantity`, is deleted,
    or (no `item`) a new item is added."""

    item: dict | None
    price: dict | None
    quantity: int | None
    deleted: bool = False


def parse_item_changes(ctx, sub: dict, items: list, param: str = "items") -> list[ItemChange]:
    changes = []
    by_id = {item["id"]: item for item in sub["items"]["data"]}
    for index, entry in enumerate(items):
        if not hasattr(entry, "reject_unknown"):
            raise errors.invalid(f"Invalid array: {param} must be an array of hashes", param)
        entry.reject_unknown("id", "price", "quantity", "deleted", "metadata")
        item_id = entry.text("id")
        if item_id is not None and item_id not in by_id:
            raise errors.invalid(
                f"Subscription item {item_id} does not belong to this subscription.", f"{param}[{index}][id]"
            )
        price_id = entry.text("price")
        price = ctx.store.get(price_id, "price", param=f"{param}[{index}][price]", status=400) if price_id else None
        if price is not None and price["type"] != "recurring":
            raise errors.invalid(
                "The price specified is set to `type=one_time` but this field only accepts prices with "
                "`type=recurring`.",
                f"{param}[{index}][price]",
            )
        if price is not None and price["currency"] != sub["currency"]:
            raise errors.invalid(
                f"The price's currency ({price['currency']}) does not match the subscription's ({sub['currency']}).",
                f"{param}[{index}][price]",
            )
        if item_id is None and price is None:
            raise errors.invalid("A new item needs a price.", f"{param}[{index}][price]", "parameter_missing")
        changes.append(
            ItemChange(
                item=by_id.get(item_id),
                price=price,
                quantity=entry.integer("quantity", minimum=0),
                deleted=entry.boolean("deleted", default=False),
            )
        )
    remaining = (
        len(sub["items"]["data"])
        - sum(change.deleted for change in changes)
        + sum(change.item is None for change in changes)
    )
    if remaining < 1:
        raise errors.invalid("A subscription must keep at least one item.", param)
    return changes


def _interval(price: dict) -> tuple[str, int]:
    return price["recurring"]["interval"], price["recurring"]["interval_count"]


def _day(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, tz=UTC).strftime("%d %b %Y")


def change_items(
    ctx,
    sub: dict,
    changes: list[ItemChange],
    *,
    proration_behavior: str = "create_prorations",
    proration_date: int | None = None,
    billing_cycle_anchor: str = "unchanged",
    payment_behavior: str = "allow_incomplete",
    collect: bool = True,
) -> dict | None:
    """Apply `changes` to `sub`; returns the invoice billed now, if any (finalized and
    charged unless `collect` is False, for a preview)."""
    store = ctx.store
    if sub["status"] in flows.ENDED_STATUSES:
        raise errors.invalid(
            f"A canceled subscription can only update its cancellation_details and metadata. "
            f"This subscription ({sub['id']}) is {sub['status']}."
        )
    if payment_behavior == "pending_if_incomplete":
        raise errors.invalid(
            "The sandbox does not implement payment_behavior=pending_if_incomplete.", "payment_behavior"
        )
    now = store.now()
    start, end = flows.current_period(sub)
    at = min(max(proration_date if proration_date is not None else now, start), end)
    first = sub["items"]["data"][0]["price"]
    new_first = next((c.price for c in changes if c.item is sub["items"]["data"][0] and c.price), first)
    new_cycle = billing_cycle_anchor == "now" or _interval(new_first) != _interval(first)
    in_trial = sub["status"] == "trialing"
    bills_now = proration_behavior == "always_invoice" or (new_cycle and not in_trial)
    if collect and bills_now and payment_behavior == "error_if_incomplete":
        payment_method = flows.subscription_payment_method(store, sub)
        if payment_method is None or card_declines(payment_method):
            raise errors.card_declined()

    prorations = []
    if proration_behavior != "none" and not in_trial:
        fraction = (end - at) / (end - start) if end > start else 0
        for change in changes:
            prorations += _prorate(ctx, sub, change, at, fraction, credit_only=new_cycle)

    with store.updating(sub, "customer.subscription.updated", ctx.request):
        for change in changes:
            _apply(store, sub, change)
        if new_cycle and not in_trial:
            sub["billing_cycle_anchor"] = now
            flows.set_period(sub, lifecycle.next_period(sub, now))
        if bills_now:
            invoice = flows.subscription_invoice(
                ctx,
                sub,
                "subscription_update",
                flows.current_period(sub),
                (now, now),
                now,
                lines=new_cycle,
            )
            sub["latest_invoice"] = invoice["id"]
    for invoice_item in prorations:
        store.emit("invoiceitem.created", invoice_item, ctx.request)
    if not bills_now:
        return None
    if not collect:
        return invoice
    store.emit("invoice.created", invoice, ctx.request)
    flows.finalize_invoice(ctx, invoice)
    lifecycle.collect(ctx, invoice)
    return invoice


def _prorate(ctx, sub: dict, change: ItemChange, at: int, fraction: float, *, credit_only: bool) -> list[dict]:
    store, item = ctx.store, change.item
    customer = store.get(sub["customer"], "customer")
    end = flows.current_period(sub)[1]
    made = []
    if item is not None:
        new_price = change.price or item["price"]
        new_quantity = item["quantity"] if change.quantity is None else change.quantity
        if not change.deleted and new_price["id"] == item["price"]["id"] and new_quantity == item["quantity"]:
            return []
        old_price, old_quantity = item["price"], item["quantity"]
        product = store.get(old_price["product"], "product")
        credit = new_invoice_item(
            store,
            customer=customer,
            amount=-round(old_price["unit_amount"] * old_quantity * fraction),
            currency=sub["currency"],
            description=f"Unused time on {old_quantity} × {product['name']} after {_day(at)}",
            period=(at, end),
            price=old_price,
            quantity=old_quantity,
            subscription=sub["id"],
            subscription_item=item["id"],
            proration=True,
        )
        _note_credited_lines(store, sub, item, credit)
        made.append(credit)
        if change.deleted or credit_only:
            return made
    else:
        new_price, new_quantity = change.price, 1 if change.quantity is None else change.quantity
        if credit_only:
            return made
    product = store.get(new_price["product"], "product")
    made.append(
        new_invoice_item(
            store,
            customer=customer,
            amount=round(new_price["unit_amount"] * new_quantity * fraction),
            currency=sub["currency"],
            description=f"Remaining time on {new_quantity} × {product['name']} after {_day(at)}",
            period=(at, end),
            price=new_price,
            quantity=new_quantity,
            subscription=sub["id"],
            subscription_item=item["id"] if item else None,
            proration=True,
        )
    )
    return made


def _note_credited_lines(store, sub: dict, item: dict, credit: dict) -> None:
    """A credit names the lines of the last invoice that billed the item it credits."""
    invoice = store.find(sub["latest_invoice"], "invoice") if sub["latest_invoice"] else None
    if invoice is None:
        return
    lines = [
        line["id"]
        for line in invoice["lines"]["data"]
        if (line["parent"] or {}).get("subscription_item_details")
        and line["parent"]["subscription_item_details"]["subscription_item"] == item["id"]
        and not line["parent"]["subscription_item_details"]["proration"]
    ]
    if lines:
        store.credited_items[credit["id"]] = {"invoice": invoice["id"], "invoice_line_items": lines}
        credit["proration_details"]["credited_items"] = {
            "invoice_line_item_details": {"invoice": invoice["id"], "invoice_line_items": lines},
            "type": "invoice_line_items",
        }


def _apply(store, sub: dict, change: ItemChange) -> None:
    items = sub["items"]["data"]
    if change.item is None:
        items.append(
            new_subscription_item(
                store,
                price=change.price,
                quantity=1 if change.quantity is None else change.quantity,
                subscription=sub["id"],
                period=flows.current_period(sub),
            )
        )
        return
    item = next(i for i in items if i["id"] == change.item["id"])
    if change.deleted:
        items.remove(item)
        return
    if change.price is not None:
        item.update(price=copy.deepcopy(change.price), plan=plan_from_price(change.price))
    if change.quantity is not None:
        item["quantity"] = change.quantity


def preview_invoice(ctx, sub: dict, *, changes_params=None, for_event: bool = False) -> dict:
    """The invoice `sub` would get next, after the changes in `changes_params` (a
    `subscription_details` hash) if any: worked out by doing it on a throwaway copy."""
    store = ctx.store
    with store.dry_run():
        sub = store.get(sub["id"], "subscription")
        invoice = None
        if changes_params is not None:
            invoice = apply_update_params(ctx, sub, changes_params, collect_now=True, preview=True)
        if invoice is None:
            if sub["status"] in flows.ENDED_STATUSES or (
                sub["cancel_at"] is not None and sub["cancel_at"] <= _next_boundary(sub)
            ):
                raise errors.StripeError(
                    404, f"No upcoming invoices for customer: {sub['customer']}", code="invoice_upcoming_none"
                )
            with store.at(_next_boundary(sub)):
                if sub["status"] == "trialing":
                    lifecycle.end_trial(ctx, sub)
                else:
                    lifecycle.renew(ctx, sub)
            invoice = store.get(sub["latest_invoice"], "invoice")
        customer = store.get(sub["customer"], "customer")
        owed = invoice["total"] + customer["balance"]
        invoice.update(starting_balance=customer["balance"], amount_due=max(owed, 0), amount_remaining=max(owed, 0))
        preview = copy.deepcopy(invoice)
    preview["id"] = "upcoming_in_" + preview["id"].removeprefix("in_")
    for line in preview["lines"]["data"]:
        line["id"] = "il_tmp_" + line["id"].removeprefix("il_")
        line["invoice"] = preview["id"]
    preview["lines"]["url"] = f"/v1/invoices/{preview['id']}/lines"
    preview.update(hosted_invoice_url=None, invoice_pdf=None, number=None, status="draft")
    if for_event:
        # Stripe's invoice.upcoming: "The received Invoice object will not have an invoice ID."
        del preview["id"]
    return preview


def _next_boundary(sub: dict) -> int:
    return sub["trial_end"] if sub["status"] == "trialing" else flows.current_period(sub)[1]


def apply_update_params(ctx, sub: dict, params, *, collect_now: bool = True, preview: bool = False) -> dict | None:
    """The plan-change part of a subscription update (or of a preview's
    `subscription_details`): items, proration_behavior, proration_date,
    billing_cycle_anchor, payment_behavior, trial_end=now."""
    items = params.array("items")
    proration_behavior = params.text("proration_behavior", choices=PRORATION_BEHAVIORS, default="create_prorations")
    proration_date = params.integer("proration_date")
    anchor = params.text("billing_cycle_anchor", choices=("now", "unchanged"), default="unchanged")
    payment_behavior = params.text("payment_behavior", choices=PAYMENT_BEHAVIORS, default="allow_incomplete")
    invoice = None
    if items or anchor == "now":
        changes = parse_item_changes(ctx, sub, items or [])
        invoice = change_items(
            ctx,
            sub,
            changes,
            proration_behavior=proration_behavior,
            proration_date=proration_date,
            billing_cycle_anchor=anchor,
            payment_behavior=payment_behavior,
            collect=collect_now and not preview,
        )
    return invoice
