"""Subscriptions on a test clock, through the `stripe` library: renewals and their draft
window, plan changes with prorations, previews, schedules, trials and dunning. Each flow's
events are checked against the sequence docs/stripe-sandbox.md gives for it."""

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
import stripe

DAY = 86400
# 2027-01-01 00:00 UTC: a month of 31 days, so periods and fractions are easy to check.
T0 = int(datetime(2027, 1, 1, tzinfo=UTC).timestamp())
FEB_1 = int(datetime(2027, 2, 1, tzinfo=UTC).timestamp())
MAR_1 = int(datetime(2027, 3, 1, tzinfo=UTC).timestamp())
HOUR = 3600


def events_after(event_id: str | None) -> list:
    """Events created after `event_id` (all when None), oldest first."""
    events = stripe.Event.list(limit=100, ending_before=event_id) if event_id else stripe.Event.list(limit=100)
    return list(reversed(events.data))


def last_event_id() -> str:
    return stripe.Event.list(limit=1).data[0].id


def types(events, *, without_clock: bool = True) -> list[str]:
    return [e.type for e in events if not (without_clock and e.type.startswith("test_helpers."))]


def period(subscription) -> tuple[int, int]:
    item = subscription["items"]["data"][0]
    return item["current_period_start"], item["current_period_end"]


@pytest.fixture
def plans(stripe_sandbox):
    product = stripe.Product.create(name="Keel")
    basic = stripe.Price.create(product=product.id, currency="usd", unit_amount=1000, recurring={"interval": "month"})
    pro = stripe.Price.create(product=product.id, currency="usd", unit_amount=3100, recurring={"interval": "month"})
    yearly = stripe.Price.create(product=product.id, currency="usd", unit_amount=30000, recurring={"interval": "year"})
    return SimpleNamespace(product=product, basic=basic, pro=pro, yearly=yearly)


@pytest.fixture
def clock(stripe_sandbox):
    return stripe.test_helpers.TestClock.create(frozen_time=T0, name="lifecycle")


def advance(clock, to: int):
    advanced = stripe.test_helpers.TestClock.advance(clock.id, frozen_time=to)
    assert (advanced.status, advanced.frozen_time) == ("ready", to)
    return advanced


@pytest.fixture
def customer(clock):
    return stripe.Customer.create(
        email="grace@example.com",
        test_clock=clock.id,
        payment_method="pm_card_visa",
        invoice_settings={"default_payment_method": "pm_card_visa"},
    )


def subscribe(customer, price, **params):
    return stripe.Subscription.create(customer=customer.id, items=[{"price": price.id}], **params)


def test_a_clock_customer_lives_at_the_clocks_time(stripe_sandbox, plans, clock, customer):
    subscription = subscribe(customer, plans.basic)

    assert (subscription.test_clock, subscription.status, subscription.start_date) == (clock.id, "active", T0)
    assert period(subscription) == (T0, FEB_1)
    invoice = stripe.Invoice.retrieve(subscription.latest_invoice)
    assert (invoice.created, invoice.test_clock, invoice.status) == (T0, clock.id, "paid")
    assert stripe.test_helpers.TestClock.retrieve(clock.id).frozen_time == T0
    with pytest.raises(stripe.InvalidRequestError) as backwards:
        stripe.test_helpers.TestClock.advance(clock.id, frozen_time=T0 - 1)
    assert backwards.value.param == "frozen_time"


def test_a_renewal_is_a_draft_for_an_hour_and_takes_a_line_added_in_that_window(stripe_sandbox, plans, clock, customer):
    subscription = subscribe(customer, plans.basic)
    before = last_event_id()

    advance(clock, FEB_1 - 7 * DAY)
    [upcoming] = events_after(before)[1:-1]
    advance(clock, FEB_1)
    draft = stripe.Invoice.retrieve(stripe.Subscription.retrieve(subscription.id).latest_invoice)
    added = stripe.InvoiceItem.create(
        customer=customer.id, invoice=draft.id, amount=450, currency="usd", description="Overage"
    )
    still_draft = stripe.Invoice.retrieve(draft.id)
    advance(clock, FEB_1 + HOUR)
    paid = stripe.Invoice.retrieve(draft.id)

    assert upcoming.type == "invoice.upcoming"
    assert "id" not in upcoming.data.object  # Stripe's upcoming invoice has no id
    assert (upcoming.data.object.amount_due, upcoming.data.object.billing_reason) == (1000, "subscription_cycle")
    assert (draft.status, draft.billing_reason, draft.created, draft.automatically_finalizes_at) == (
        "draft",
        "subscription_cycle",
        FEB_1,
        FEB_1 + HOUR,
    )
    assert draft.lines.data[0].period.start == FEB_1 and draft.lines.data[0].period.end == MAR_1
    assert (added.invoice, added.amount) == (draft.id, 450)
    assert (still_draft.status, still_draft.total, len(still_draft.lines.data)) == ("draft", 1450, 2)
    assert (paid.status, paid.amount_paid, paid.status_transitions.finalized_at) == ("paid", 1450, FEB_1 + HOUR)
    assert [line.amount for line in paid.lines.data] == [1000, 450]
    assert paid.lines.data[1].parent.type == "invoice_item_details"
    assert paid.lines.data[1].parent.invoice_item_details.invoice_item == added.id
    assert types(events_after(before), without_clock=False) == [
        "test_helpers.test_clock.advancing",
        "invoice.upcoming",
        "test_helpers.test_clock.ready",
        "test_helpers.test_clock.advancing",
        "customer.subscription.updated",
        "invoice.created",
        "test_helpers.test_clock.ready",
        "invoiceitem.created",
        "invoice.updated",
        "test_helpers.test_clock.advancing",
        "invoice.finalized",
        "payment_intent.created",
        "charge.succeeded",
        "payment_intent.succeeded",
        "invoice_payment.paid",
        "invoice.paid",
        "invoice.payment_succeeded",
        "test_helpers.test_clock.ready",
    ]


def test_finalizing_a_draft_early_charges_it_at_once(stripe_sandbox, plans, clock, customer):
    subscription = subscribe(customer, plans.basic)
    advance(clock, FEB_1)
    draft_id = stripe.Subscription.retrieve(subscription.id).latest_invoice

    finalized = stripe.Invoice.finalize_invoice(draft_id)

    assert (finalized.status, finalized.amount_paid) == ("paid", 1000)
    with pytest.raises(stripe.InvalidRequestError):
        stripe.InvoiceItem.create(customer=customer.id, invoice=draft_id, amount=1, currency="usd")


def test_an_upgrade_bills_the_prorated_difference_at_once(stripe_sandbox, plans, clock, customer):
    subscription = subscribe(customer, plans.basic)
    at = T0 + 10 * DAY  # 21 of January's 31 days are left
    advance(clock, at)
    before = last_event_id()

    upgraded = stripe.Subscription.modify(
        subscription.id,
        items=[{"id": subscription["items"].data[0].id, "price": plans.pro.id}],
        proration_behavior="always_invoice",
    )

    invoice = stripe.Invoice.retrieve(upgraded.latest_invoice)
    assert upgraded["items"].data[0].id == subscription["items"].data[0].id
    assert (upgraded["items"].data[0].price.id, upgraded.status, period(upgraded)) == (
        plans.pro.id,
        "active",
        (T0, FEB_1),
    )
    assert (invoice.billing_reason, invoice.status) == ("subscription_update", "paid")
    credit, charge = invoice.lines.data
    assert (credit.amount, charge.amount) == (-round(1000 * 21 / 31), round(3100 * 21 / 31))
    assert credit.description == "Unused time on 1 × Keel after 11 Jan 2027"
    assert charge.description == "Remaining time on 1 × Keel after 11 Jan 2027"
    assert credit.parent.subscription_item_details.proration is True
    assert (
        credit.parent.subscription_item_details.proration_details.credited_items.invoice == subscription.latest_invoice
    )
    assert (credit.period.start, credit.period.end) == (at, FEB_1)
    assert invoice.amount_paid == 2100 - 677
    assert types(events_after(before)) == [
        "customer.subscription.updated",
        "invoiceitem.created",
        "invoiceitem.created",
        "invoice.created",
        "invoice.finalized",
        "payment_intent.created",
        "charge.succeeded",
        "payment_intent.succeeded",
        "invoice_payment.paid",
        "invoice.paid",
        "invoice.payment_succeeded",
    ]
    # The next renewal bills the new price only.
    advance(clock, FEB_1 + HOUR)
    renewal = stripe.Invoice.retrieve(stripe.Subscription.retrieve(subscription.id).latest_invoice)
    assert [line.amount for line in renewal.lines.data] == [3100]


def test_prorations_wait_for_the_renewal_and_the_preview_shows_that_invoice(stripe_sandbox, plans, clock, customer):
    subscription = subscribe(customer, plans.pro)
    advance(clock, T0 + 10 * DAY)
    item = subscription["items"].data[0]

    stripe.Subscription.modify(subscription.id, items=[{"id": item.id, "price": plans.basic.id}])
    pending = stripe.InvoiceItem.list(customer=customer.id, pending=True).data
    before = last_event_id()
    preview = stripe.Invoice.create_preview(customer=customer.id, subscription=subscription.id)

    assert stripe.Event.list(limit=1).data[0].id == before  # a preview changes nothing
    assert sorted(ii.amount for ii in pending) == [-2100, 677]
    assert preview.id.startswith("upcoming_in_")
    assert (preview.billing_reason, preview.created) == ("subscription_cycle", FEB_1)
    assert [line.amount for line in preview.lines.data] == [1000, -2100, 677]
    assert preview.total == 1000 - 2100 + 677
    assert preview.amount_due == 0  # the credit exceeds the renewal

    advance(clock, FEB_1 + HOUR)
    renewal = stripe.Invoice.retrieve(stripe.Subscription.retrieve(subscription.id).latest_invoice)
    assert [line.amount for line in renewal.lines.data] == [line.amount for line in preview.lines.data]
    assert (renewal.total, renewal.amount_due, renewal.status, renewal.ending_balance) == (-423, 0, "paid", -423)
    assert stripe.Customer.retrieve(customer.id).balance == -423
    assert stripe.InvoiceItem.list(customer=customer.id, pending=True).data == []
    # The credit pays the next renewal in part.
    advance(clock, MAR_1 + HOUR)
    march = stripe.Invoice.retrieve(stripe.Subscription.retrieve(subscription.id).latest_invoice)
    assert (march.starting_balance, march.amount_due, march.amount_paid) == (-423, 577, 577)
    assert stripe.Customer.retrieve(customer.id).balance == 0


def test_a_preview_of_a_plan_change_shows_what_it_would_bill_and_stores_nothing(stripe_sandbox, plans, clock, customer):
    subscription = subscribe(customer, plans.basic)
    advance(clock, T0 + 10 * DAY)
    before = last_event_id()

    preview = stripe.Invoice.create_preview(
        subscription=subscription.id,
        subscription_details={
            "items": [{"id": subscription["items"].data[0].id, "price": plans.pro.id}],
            "proration_behavior": "always_invoice",
        },
    )

    assert [line.amount for line in preview.lines.data] == [-677, 2100]
    assert (preview.billing_reason, preview.amount_due) == ("subscription_update", 1423)
    assert all(line.id.startswith("il_tmp_") for line in preview.lines.data)
    assert stripe.Event.list(limit=1).data[0].id == before
    unchanged = stripe.Subscription.retrieve(subscription.id)
    assert unchanged["items"].data[0].price.id == plans.basic.id
    assert len(stripe.Invoice.list(subscription=subscription.id).data) == 1
    assert stripe.InvoiceItem.list(customer=customer.id).data == []


def test_changing_to_a_yearly_price_starts_a_new_period_now(stripe_sandbox, plans, clock, customer):
    subscription = subscribe(customer, plans.basic)
    at = T0 + 10 * DAY
    advance(clock, at)

    yearly = stripe.Subscription.modify(
        subscription.id, items=[{"id": subscription["items"].data[0].id, "price": plans.yearly.id}]
    )

    invoice = stripe.Invoice.retrieve(yearly.latest_invoice)
    assert period(yearly)[0] == at and yearly.billing_cycle_anchor == at
    assert int(datetime.fromtimestamp(period(yearly)[1], tz=UTC).year) == 2028
    assert [line.amount for line in invoice.lines.data] == [30000, -677]
    assert (invoice.billing_reason, invoice.amount_paid) == ("subscription_update", 30000 - 677)


def test_a_downgrade_scheduled_for_the_periods_end(stripe_sandbox, plans, clock, customer):
    subscription = subscribe(customer, plans.pro)
    advance(clock, T0 + 10 * DAY)
    before = last_event_id()

    schedule = stripe.SubscriptionSchedule.create(from_subscription=subscription.id)
    schedule = stripe.SubscriptionSchedule.modify(
        schedule.id,
        phases=[
            {"items": [{"price": plans.pro.id}], "start_date": T0, "end_date": FEB_1},
            {"items": [{"price": plans.basic.id}]},
        ],
    )
    unchanged = stripe.Subscription.retrieve(subscription.id)
    advance(clock, FEB_1 + HOUR)
    downgraded = stripe.Subscription.retrieve(subscription.id)
    renewal = stripe.Invoice.retrieve(downgraded.latest_invoice)
    during = stripe.SubscriptionSchedule.retrieve(schedule.id)
    advance(clock, MAR_1 + HOUR)
    released = stripe.SubscriptionSchedule.retrieve(schedule.id)

    assert (unchanged.schedule, unchanged["items"].data[0].price.id) == (schedule.id, plans.pro.id)
    assert [(p.start_date, p.end_date) for p in schedule.phases] == [(T0, FEB_1), (FEB_1, MAR_1)]
    assert downgraded["items"].data[0].price.id == plans.basic.id
    assert [line.amount for line in renewal.lines.data] == [1000]
    assert renewal.status == "paid"
    assert stripe.InvoiceItem.list(customer=customer.id).data == []  # no prorations
    assert (during.status, during.current_phase.start_date) == ("active", FEB_1)
    assert (released.status, released.released_subscription, released.subscription) == (
        "released",
        subscription.id,
        None,
    )
    assert stripe.Subscription.retrieve(subscription.id).schedule is None
    assert types(events_after(before))[:8] == [
        "subscription_schedule.created",
        "customer.subscription.updated",
        "subscription_schedule.updated",
        "invoice.upcoming",
        "subscription_schedule.updated",
        "customer.subscription.updated",
        "invoice.created",
        "invoice.finalized",
    ]


def test_a_trial_bought_through_checkout_converts_to_paid(stripe_sandbox, plans, clock, customer):
    session = stripe.checkout.Session.create(
        mode="subscription",
        customer=customer.id,
        line_items=[{"price": plans.basic.id, "quantity": 1}],
        subscription_data={"trial_period_days": 14},
        success_url="https://keel.test/done",
    )
    stripe_sandbox.complete_checkout(session.id)
    completed = stripe.checkout.Session.retrieve(session.id)
    trialing = stripe.Subscription.retrieve(completed.subscription)
    first = stripe.Invoice.retrieve(trialing.latest_invoice)
    trial_end = T0 + 14 * DAY
    intents_in_trial = stripe.PaymentIntent.list(customer=customer.id).data
    before = last_event_id()

    advance(clock, trial_end - 3 * DAY)
    will_end = types(events_after(before))
    advance(clock, trial_end + HOUR)
    converted = stripe.Subscription.retrieve(trialing.id)
    paid = stripe.Invoice.retrieve(converted.latest_invoice)

    assert (completed.payment_status, completed.status) == ("no_payment_required", "complete")
    assert (trialing.status, trialing.trial_start, trialing.trial_end, period(trialing)) == (
        "trialing",
        T0,
        trial_end,
        (T0, trial_end),
    )
    assert (first.amount_due, first.status, first.lines.data[0].description) == (0, "paid", "Trial period for Keel")
    assert intents_in_trial == []
    assert will_end == ["customer.subscription.trial_will_end"]
    assert (converted.status, period(converted)[0]) == ("active", trial_end)
    assert (paid.billing_reason, paid.amount_paid, paid.created) == ("subscription_cycle", 1000, trial_end)
    assert types(events_after(before))[1:] == [
        "customer.subscription.updated",
        "invoice.created",
        "invoice.finalized",
        "payment_intent.created",
        "charge.succeeded",
        "payment_intent.succeeded",
        "invoice_payment.paid",
        "invoice.paid",
        "invoice.payment_succeeded",
    ]


def test_a_trial_canceled_before_it_ends_bills_nothing(stripe_sandbox, plans, clock, customer):
    trialing = subscribe(customer, plans.basic, trial_period_days=7)
    scheduled = subscribe(customer, plans.pro, trial_end=T0 + 5 * DAY)

    canceled = stripe.Subscription.cancel(trialing.id)
    ending = stripe.Subscription.modify(scheduled.id, cancel_at_period_end=True)
    advance(clock, T0 + 10 * DAY)

    assert (canceled.status, canceled.ended_at) == ("canceled", T0)
    assert (ending.cancel_at, stripe.Subscription.retrieve(scheduled.id).status) == (T0 + 5 * DAY, "canceled")
    assert {i.amount_due for i in stripe.Invoice.list(customer=customer.id).data} == {0}
    assert stripe.Charge.list(customer=customer.id).data == []


def test_a_trial_without_a_payment_method_ends_as_its_settings_say(stripe_sandbox, plans, clock):
    customer = stripe.Customer.create(email="nocard@example.com", test_clock=clock.id)
    canceled = subscribe(
        customer,
        plans.basic,
        trial_period_days=7,
        trial_settings={"end_behavior": {"missing_payment_method": "cancel"}},
    )
    paused = subscribe(
        customer, plans.basic, trial_period_days=7, trial_settings={"end_behavior": {"missing_payment_method": "pause"}}
    )

    advance(clock, T0 + 8 * DAY)

    assert stripe.Subscription.retrieve(canceled.id).status == "canceled"
    assert stripe.Subscription.retrieve(paused.id).status == "paused"


def test_ending_a_trial_now_bills_at_once(stripe_sandbox, plans, clock, customer):
    trialing = subscribe(customer, plans.basic, trial_period_days=30)
    advance(clock, T0 + 2 * DAY)

    ended = stripe.Subscription.modify(trialing.id, trial_end="now")

    invoice = stripe.Invoice.retrieve(ended.latest_invoice)
    assert (ended.status, ended.trial_end, period(ended)[0]) == ("active", T0 + 2 * DAY, T0 + 2 * DAY)
    assert (invoice.status, invoice.amount_paid) == ("paid", 1000)


def decline_renewal(stripe_sandbox, plans, clock, customer):
    subscription = subscribe(customer, plans.basic)
    stripe_sandbox.set_card_declines(customer.id)
    advance(clock, FEB_1 + HOUR)
    return subscription, stripe.Subscription.retrieve(subscription.id).latest_invoice


def test_a_failed_renewal_is_retried_on_schedule_and_recovers_when_the_card_is_fixed(
    stripe_sandbox, plans, clock, customer
):
    subscription, invoice_id = decline_renewal(stripe_sandbox, plans, clock, customer)
    failed = stripe.Invoice.retrieve(invoice_id)
    before = last_event_id()

    advance(clock, FEB_1 + HOUR + 3 * DAY)
    retried = stripe.Invoice.retrieve(invoice_id)
    retry_events = [e for e in events_after(before) if not e.type.startswith("test_helpers.")]
    stripe_sandbox.set_card_declines(customer.id, declines=False)
    before_fix = last_event_id()
    advance(clock, FEB_1 + HOUR + 8 * DAY)

    assert stripe.Subscription.retrieve(subscription.id).status == "active"
    assert (failed.status, failed.attempt_count, failed.next_payment_attempt) == ("open", 1, FEB_1 + HOUR + 3 * DAY)
    assert (retried.attempt_count, retried.next_payment_attempt) == (2, FEB_1 + HOUR + 8 * DAY)
    assert types(retry_events) == [
        "charge.failed",
        "payment_intent.payment_failed",
        "invoice.payment_failed",
        "invoice.updated",
    ]
    assert retry_events[-1].data.previous_attributes.attempt_count == 1
    assert types(events_after(before_fix))[-5:] == [
        "invoice_payment.paid",
        "invoice.paid",
        "invoice.payment_succeeded",
        "customer.updated",
        "customer.subscription.updated",
    ]
    recovered = stripe.Invoice.retrieve(invoice_id)
    assert (recovered.status, recovered.attempt_count, recovered.next_payment_attempt) == ("paid", 3, None)
    assert stripe.Customer.retrieve(customer.id).delinquent is False


def test_after_the_last_retry_the_subscription_is_canceled_and_no_invoices_pile_up(
    stripe_sandbox, plans, clock, customer
):
    subscription, invoice_id = decline_renewal(stripe_sandbox, plans, clock, customer)
    last_retry = FEB_1 + HOUR + (3 + 5 + 7) * DAY

    advance(clock, last_retry - 1)
    assert stripe.Subscription.retrieve(subscription.id).status == "past_due"
    before = last_event_id()
    advance(clock, last_retry)
    advance(clock, last_retry + 70 * DAY)

    ended = stripe.Subscription.retrieve(subscription.id)
    invoice = stripe.Invoice.retrieve(invoice_id)
    assert (ended.status, ended.ended_at, ended.cancellation_details.reason) == (
        "canceled",
        last_retry,
        "payment_failed",
    )
    assert (invoice.status, invoice.attempt_count, invoice.next_payment_attempt) == ("open", 4, None)
    assert len(stripe.Invoice.list(subscription=subscription.id).data) == 2
    assert types(events_after(before)) == [
        "charge.failed",
        "payment_intent.payment_failed",
        "invoice.payment_failed",
        "invoice.updated",
        "customer.subscription.deleted",
    ]


def test_after_the_last_retry_the_subscription_can_end_unpaid_with_the_invoice_uncollectible(
    stripe_sandbox, plans, clock, customer
):
    stripe_sandbox.billing_settings(
        retry_days=[2], subscription_after_retries="unpaid", invoice_after_retries="uncollectible"
    )
    subscription, invoice_id = decline_renewal(stripe_sandbox, plans, clock, customer)

    advance(clock, FEB_1 + HOUR + 2 * DAY)
    unpaid = stripe.Subscription.retrieve(subscription.id)
    invoice = stripe.Invoice.retrieve(invoice_id)
    advance(clock, MAR_1 + 2 * HOUR)
    march = stripe.Invoice.retrieve(stripe.Subscription.retrieve(subscription.id).latest_invoice)
    stripe_sandbox.set_card_declines(customer.id, declines=False)
    recovered = stripe.Invoice.pay(invoice_id)

    assert unpaid.status == "unpaid"
    assert (invoice.status, invoice.attempt_count) == ("uncollectible", 2)
    assert (march.status, march.auto_advance) == ("draft", False)  # unpaid: drafts nobody charges
    assert recovered.status == "paid"
    assert stripe.Subscription.retrieve(subscription.id).status == "active"


def test_an_incomplete_subscription_expires_after_23_hours(stripe_sandbox, plans, clock):
    customer = stripe.Customer.create(
        test_clock=clock.id,
        payment_method="pm_card_chargeCustomerFail",
        invoice_settings={"default_payment_method": "pm_card_chargeCustomerFail"},
    )
    incomplete = subscribe(customer, plans.basic, payment_behavior="allow_incomplete")

    advance(clock, T0 + 23 * HOUR)

    expired = stripe.Subscription.retrieve(incomplete.id)
    assert incomplete.status == "incomplete"
    assert expired.status == "incomplete_expired"
    assert stripe.Invoice.retrieve(incomplete.latest_invoice).status == "void"


def test_billing_settings_are_validated(stripe_sandbox):
    from stripe_sandbox import SandboxControlError

    with pytest.raises(SandboxControlError) as bad:
        stripe_sandbox.billing_settings(retry_days=[0])
    assert bad.value.status == 400
    assert stripe_sandbox.billing_settings()["retry_days"] == [3, 5, 7]


def test_canceling_a_past_due_subscription_stops_the_retries(stripe_sandbox, plans, clock, customer):
    subscription, invoice_id = decline_renewal(stripe_sandbox, plans, clock, customer)

    stripe.Subscription.cancel(subscription.id)
    stripe_sandbox.set_card_declines(customer.id, declines=False)
    advance(clock, FEB_1 + 30 * DAY)

    invoice = stripe.Invoice.retrieve(invoice_id)
    assert (invoice.status, invoice.attempt_count, invoice.next_payment_attempt, invoice.auto_advance) == (
        "open",
        1,
        None,
        False,
    )
    assert stripe.Event.list(type="invoice.updated", limit=1).data[0].data.object.id == invoice_id
