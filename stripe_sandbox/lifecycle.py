"""What time does to subscriptions: trials that end, periods that renew, renewal invoices
that wait an hour as drafts before they are finalized and charged, failed payments retried
on the account's schedule and, after the last retry, the subscription ended as the
account's Billing settings say.

Time moves only when a test clock is advanced (`POST /v1/test_helpers/test_clocks/{id}/advance`)
or, for a subscription on no clock, through `POST /_sandbox/subscriptions/{id}/advance`.
Either runs `run_until`, which performs every due action in time order, each at its own
moment (`store.at`), so invoices, charges and periods carry the clock's times.
"""

from collections.abc import Callable

from . import flows, schedules
from .objects import DAY, add_interval

# Stripe finalizes a renewal invoice an hour after its invoice.created webhooks succeed;
# the sandbox waits the hour from creation. Meanwhile lines can be added to the draft.
DRAFT_WINDOW = 60 * 60
TRIAL_WILL_END_BEFORE = 3 * DAY
# An incomplete subscription whose first invoice is not paid expires after 23 hours.
INCOMPLETE_EXPIRES_AFTER = 23 * 60 * 60
RENEWING_STATUSES = ("active", "past_due", "unpaid")
# Guards against a clock that would loop forever on a bug.
MAX_ACTIONS = 10_000

Action = tuple[int, int, Callable[[], None]]


def run_until(ctx, until: int, subscriptions: Callable[[], list[dict]]) -> None:
    """Perform, oldest first, every action due at or before `until` on the subscriptions
    `subscriptions()` returns (asked again after each action, as actions create objects)."""
    for _ in range(MAX_ACTIONS):
        due = [action for sub in subscriptions() for action in _actions(ctx, sub) if action[0] <= until]
        if not due:
            return
        moment, _, perform = min(due, key=lambda action: action[:2])
        with ctx.store.at(moment):
            perform()
    raise RuntimeError("the sandbox clock did not settle")


def _actions(ctx, sub: dict) -> list[Action]:
    """The next things that will happen to `sub` and its invoices: (time, order, action)."""
    store, actions = ctx.store, []
    status = sub["status"]
    for invoice in store.all("invoice", lambda i: flows.invoice_subscription_id(i) == sub["id"]):
        if invoice["status"] == "draft" and invoice["auto_advance"] and invoice["automatically_finalizes_at"]:
            actions.append((invoice["automatically_finalizes_at"], 1, lambda i=invoice: _finalize_and_charge(ctx, i)))
        elif invoice["status"] == "open" and invoice["auto_advance"] and invoice["next_payment_attempt"]:
            actions.append((invoice["next_payment_attempt"], 2, lambda i=invoice: retry_payment(ctx, i)))

    if status == "incomplete":
        actions.append((sub["start_date"] + INCOMPLETE_EXPIRES_AFTER, 3, lambda: _expire_incomplete(ctx, sub)))
    elif status == "trialing":
        notice_at = max(sub["trial_end"] - TRIAL_WILL_END_BEFORE, sub["trial_start"])
        if ("trial_will_end", sub["id"], sub["trial_end"]) not in store.notices_sent:
            actions.append((notice_at, 0, lambda: _trial_will_end(ctx, sub)))
        if sub["cancel_at"] is not None and sub["cancel_at"] <= sub["trial_end"]:
            actions.append((sub["cancel_at"], 3, lambda: flows.end_subscription(ctx, sub, ended_at=sub["cancel_at"])))
        else:
            actions.append((sub["trial_end"], 3, lambda: end_trial(ctx, sub)))
    elif status in RENEWING_STATUSES:
        period_start, period_end = flows.current_period(sub)
        renews = sub["cancel_at"] is None or sub["cancel_at"] > period_end
        upcoming_at = period_end - store.settings.upcoming_renewal_days * DAY
        if renews and upcoming_at > period_start and ("upcoming", sub["id"], period_end) not in store.notices_sent:
            actions.append((upcoming_at, 0, lambda: _invoice_upcoming(ctx, sub, period_end)))
        if sub["cancel_at"] is not None and sub["cancel_at"] <= period_end:
            actions.append((sub["cancel_at"], 3, lambda: flows.end_subscription(ctx, sub, ended_at=sub["cancel_at"])))
        else:
            actions.append((period_end, 3, lambda: renew(ctx, sub)))
    return actions


def _trial_will_end(ctx, sub: dict) -> None:
    ctx.store.notices_sent.add(("trial_will_end", sub["id"], sub["trial_end"]))
    ctx.store.emit("customer.subscription.trial_will_end", sub, ctx.request)


def _invoice_upcoming(ctx, sub: dict, period_end: int) -> None:
    from .changes import preview_invoice  # changes builds on flows and lifecycle

    ctx.store.notices_sent.add(("upcoming", sub["id"], period_end))
    ctx.store.emit("invoice.upcoming", preview_invoice(ctx, sub, for_event=True), ctx.request)


def next_period(sub: dict, start: int) -> tuple[int, int]:
    recurring = sub["items"]["data"][0]["price"]["recurring"]
    return start, add_interval(start, recurring["interval"], recurring["interval_count"])


def renew(ctx, sub: dict) -> dict | None:
    """The period ends: a new one starts (with the items of a schedule's next phase) and
    its invoice is created as a draft."""
    store = ctx.store
    old_period = flows.current_period(sub)
    if schedules.schedule_ends(ctx, sub, old_period[1]):
        return None
    with store.updating(sub, "customer.subscription.updated", ctx.request):
        schedules.enter_phase(ctx, sub, old_period[1])
        new_period = next_period(sub, old_period[1])
        flows.set_period(sub, new_period)
        invoice = flows.subscription_invoice(ctx, sub, "subscription_cycle", new_period, old_period, old_period[1])
        sub["latest_invoice"] = invoice["id"]
    # An unpaid subscription keeps creating invoices, as drafts nobody finalizes.
    if sub["status"] == "unpaid":
        invoice.update(auto_advance=False, automatically_finalizes_at=None)
    store.emit("invoice.created", invoice, ctx.request)
    return invoice


def end_trial(ctx, sub: dict) -> None:
    """The trial ends at `trial_end`: the first paid period starts and its invoice is a draft
    for an hour, or, without a payment method, the subscription is canceled or paused if its
    trial_settings say so."""
    store = ctx.store
    missing = sub["trial_settings"]["end_behavior"]["missing_payment_method"]
    if flows.subscription_payment_method(store, sub) is None and missing in ("cancel", "pause"):
        if missing == "cancel":
            sub["cancellation_details"] = {"comment": None, "feedback": None, "reason": "cancellation_requested"}
            sub["canceled_at"] = store.now()
            flows.end_subscription(ctx, sub, ended_at=store.now())
        else:
            with store.updating(sub, "customer.subscription.updated", ctx.request):
                sub["status"] = "paused"
            store.emit("customer.subscription.paused", sub, ctx.request)
        return
    start = sub["trial_end"]
    new_period = next_period(sub, start)
    old_period = flows.current_period(sub)
    invoice = flows.subscription_invoice(ctx, sub, "subscription_cycle", new_period, old_period, start)
    with store.updating(sub, "customer.subscription.updated", ctx.request):
        flows.set_period(sub, new_period)
        sub.update(status="active", latest_invoice=invoice["id"])
    store.emit("invoice.created", invoice, ctx.request)


def _finalize_and_charge(ctx, invoice: dict) -> None:
    flows.finalize_invoice(ctx, invoice)
    collect(ctx, invoice)


def collect(ctx, invoice: dict) -> bool:
    """The first automatic attempt to collect a finalized subscription invoice; the
    subscription follows the outcome (active, or past_due)."""
    store = ctx.store
    sub = store.get(flows.invoice_subscription_id(invoice), "subscription")
    paid = flows.pay_invoice(ctx, invoice, flows.subscription_payment_method(store, sub))
    if paid and sub["status"] in ("past_due", "unpaid", "incomplete"):
        with store.updating(sub, "customer.subscription.updated", ctx.request):
            sub["status"] = "active"
    elif not paid and sub["status"] == "active":
        with store.updating(sub, "customer.subscription.updated", ctx.request):
            sub["status"] = "past_due"
    if not paid and invoice["next_payment_attempt"] is None:
        _retries_exhausted(ctx, invoice, sub)
    return paid


def retry_payment(ctx, invoice: dict) -> None:
    """A scheduled retry of an open invoice, with the subscription's payment method as it is now."""
    collect(ctx, invoice)


def _retries_exhausted(ctx, invoice: dict, sub: dict) -> None:
    store, settings = ctx.store, ctx.store.settings
    if invoice["billing_reason"] == "subscription_create":
        return  # an incomplete subscription expires instead
    invoice["auto_advance"] = False
    if settings.invoice_after_retries == "uncollectible":
        flows.mark_uncollectible(ctx, invoice)
    if sub["status"] in flows.ENDED_STATUSES:
        return
    if settings.subscription_after_retries == "canceled":
        sub.update(
            canceled_at=store.now(),
            cancellation_details={"comment": None, "feedback": None, "reason": "payment_failed"},
        )
        flows.end_subscription(ctx, sub, ended_at=store.now())
    elif settings.subscription_after_retries == "unpaid":
        with store.updating(sub, "customer.subscription.updated", ctx.request):
            sub["status"] = "unpaid"


def _expire_incomplete(ctx, sub: dict) -> None:
    store = ctx.store
    for invoice in store.all("invoice", lambda i: flows.invoice_subscription_id(i) == sub["id"]):
        if invoice["status"] == "open":
            flows.void_invoice(ctx, invoice)
    with store.updating(sub, "customer.subscription.updated", ctx.request):
        sub.update(status="incomplete_expired", ended_at=store.now())
