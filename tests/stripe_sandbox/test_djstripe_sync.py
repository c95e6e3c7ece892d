"""dj-stripe 2.11 syncs every object the sandbox serves and accepts its signed webhooks."""

import json
import uuid
from types import SimpleNamespace

import pytest
import stripe
from django.core.management import call_command
from djstripe import models as djstripe
from djstripe.settings import djstripe_settings

from stripe_sandbox import API_VERSION
from stripe_sandbox.testing import TEST_API_KEY


@pytest.fixture
def djstripe_keys(settings, stripe_sandbox):
    """dj-stripe takes its key and API version from settings (it sends STRIPE_API_VERSION,
    else `stripe.api_version`, with each request); the `stripe` module already points at
    the sandbox."""
    settings.STRIPE_LIVE_MODE = False
    settings.STRIPE_TEST_SECRET_KEY = TEST_API_KEY
    settings.STRIPE_API_VERSION = API_VERSION


@pytest.fixture
def billing_history(stripe_sandbox, subscription):
    """A paid first invoice, a refunded part of it, a declined renewal and a paid credit pack."""
    first_charge = stripe.Charge.list(customer=subscription.customer).data[0]
    refund = stripe.Refund.create(charge=first_charge.id, amount=700)
    stripe_sandbox.set_card_declines(subscription.customer)
    stripe_sandbox.advance_subscription(subscription.id)
    return {"subscription": stripe.Subscription.retrieve(subscription.id), "charge": first_charge, "refund": refund}


def test_dj_stripe_sends_the_version_the_sandbox_serves(djstripe_keys):
    customer = stripe.Customer.create(email="versioned@example.com")
    retrieved = djstripe.Customer(id=customer.id).api_retrieve()

    assert djstripe_settings.STRIPE_API_VERSION == API_VERSION
    assert retrieved.last_response.headers["Stripe-Version"] == API_VERSION


def dj_stripe_retrieve(model, object_id: str):
    """What dj-stripe's webhook handlers do: retrieve with the model's `expand_fields`."""
    return model(id=object_id).api_retrieve()


@pytest.mark.django_db
def test_the_sync_models_command_syncs_every_kind_of_sandbox_object(djstripe_keys, billing_history):
    subscription = billing_history["subscription"]

    call_command(
        "djstripe_sync_models",
        *("Account", "Customer", "PaymentMethod", "Product", "Price", "Session", "Subscription"),
        *("SubscriptionItem", "Invoice", "LineItem", "PaymentIntent", "Charge", "Refund", "BalanceTransaction"),
        "WebhookEndpoint",
        fail_on_error=True,
    )
    # Events are synced from their JSON, as webhooks deliver them: dj-stripe 2.11
    # reads `event.request` with isinstance(..., dict), which a stripe 15
    # StripeObject is not, so `djstripe_sync_models Event` stores the whole
    # request object as `request_id` (varchar(50) on PostgreSQL), for real Stripe too.
    for event in stripe.Event.list().auto_paging_iter():
        djstripe.Event.sync_from_stripe_data(json.loads(str(event)))

    account = djstripe.Account.objects.get()
    assert account.id == stripe.Account.retrieve().id
    customer = djstripe.Customer.objects.get(id=subscription.customer)
    assert customer.email == "ada@example.com"
    assert customer.djstripe_owner_account == account
    assert {p.name for p in djstripe.Product.objects.all()} == {"Pro", "1,000 credits"}
    monthly = djstripe.Price.objects.get(id=subscription["items"]["data"][0]["price"]["id"])
    assert (monthly.product.name, monthly.unit_amount, monthly.recurring["interval"]) == ("Pro", 2000, "month")
    synced_subscription = djstripe.Subscription.objects.get(id=subscription.id)
    assert (synced_subscription.customer, synced_subscription.status) == (customer, "past_due")
    assert synced_subscription.items.get().price == monthly
    session = djstripe.Session.objects.get()
    assert (session.customer, session.subscription) == (customer, synced_subscription)
    invoices = djstripe.Invoice.objects.filter(customer=customer)
    assert sorted(i.billing_reason for i in invoices) == ["subscription_create", "subscription_cycle"]
    # dj-stripe links a line to its subscription item through the pre-2025 `subscription_item`
    # field; current API versions carry it in `parent.subscription_item_details` only.
    line = djstripe.LineItem.objects.get(stripe_data__invoice=subscription.latest_invoice)
    assert line.subscription == synced_subscription
    charges = djstripe.Charge.objects.filter(customer=customer)
    assert sorted(c.status for c in charges) == ["failed", "succeeded"]
    refund = djstripe.Refund.objects.get(id=billing_history["refund"].id)
    assert (refund.charge.id, refund.amount) == (billing_history["charge"].id, 700)
    assert djstripe.PaymentIntent.objects.filter(customer=customer).count() == 2
    assert djstripe.PaymentMethod.objects.filter(customer=customer).count() == 2
    assert djstripe.BalanceTransaction.objects.filter(type="refund").get().amount == -700
    assert djstripe.Event.objects.count() == len(list(stripe.Event.list().auto_paging_iter()))


@pytest.mark.django_db
def test_each_model_syncs_from_what_dj_stripe_retrieves(djstripe_keys, billing_history):
    subscription = billing_history["subscription"]
    invoice = stripe.Invoice.retrieve(subscription.latest_invoice)
    payment = stripe.InvoicePayment.list(invoice=invoice.id).data[0]
    session = stripe.checkout.Session.list().data[0]

    synced = {
        model: model.sync_from_stripe_data(dj_stripe_retrieve(model, object_id))
        for model, object_id in [
            (djstripe.Customer, subscription.customer),
            (djstripe.Product, subscription["items"]["data"][0]["price"]["product"]),
            (djstripe.Price, subscription["items"]["data"][0]["price"]["id"]),
            (djstripe.Session, session.id),
            (djstripe.Subscription, subscription.id),
            (djstripe.Invoice, invoice.id),
            (djstripe.PaymentIntent, payment.payment.payment_intent),
            (djstripe.Charge, billing_history["charge"].id),
            (djstripe.Refund, billing_history["refund"].id),
            (djstripe.Event, stripe.Event.list(limit=1).data[0].id),
        ]
    }
    synced[djstripe.Account] = djstripe.Account.sync_from_stripe_data(stripe.Account.retrieve())

    assert synced[djstripe.Account].id == stripe.Account.retrieve().id
    assert synced[djstripe.Customer].email == "ada@example.com"
    assert synced[djstripe.Price].product == synced[djstripe.Product]
    assert synced[djstripe.Session].stripe_data["line_items"]["data"][0]["price"]["id"] == synced[djstripe.Price].id
    assert synced[djstripe.Subscription].status == "past_due"
    assert synced[djstripe.Invoice].status == "open"
    assert djstripe.LineItem.objects.get(id=invoice.lines.data[0].id).subscription == synced[djstripe.Subscription]
    assert synced[djstripe.PaymentIntent].stripe_data["status"] == "requires_payment_method"
    assert synced[djstripe.Charge].refunds.get() == synced[djstripe.Refund]
    assert synced[djstripe.Charge].balance_transaction.amount == 2000
    assert synced[djstripe.Event].type == "customer.subscription.updated"
    assert all(obj.djstripe_owner_account == synced[djstripe.Account] for obj in synced.values() if obj is not None)


def dj_stripe_endpoint(url_base: str) -> tuple[djstripe.WebhookEndpoint, str]:
    """An endpoint created in the sandbox and synced into dj-stripe, as the dj-stripe admin
    does: the uuid in the URL travels in the metadata, the secret in the create response."""
    endpoint_uuid = uuid.uuid4()
    created = stripe.WebhookEndpoint.create(
        url=f"{url_base}/stripe/webhook/{endpoint_uuid}/",
        enabled_events=["*"],
        metadata={"djstripe_uuid": str(endpoint_uuid)},
    )
    endpoint = djstripe.WebhookEndpoint.sync_from_stripe_data(created)
    assert (endpoint.djstripe_uuid, endpoint.secret) == (endpoint_uuid, created.secret)
    return endpoint, created.secret


@pytest.mark.django_db
def test_dj_stripes_webhook_view_accepts_the_sandboxs_signature(djstripe_keys, client, webhook_receiver):
    # The sandbox sends the endpoint's events to the receiver; the test replays them to Django.
    endpoint, _ = dj_stripe_endpoint(webhook_receiver.url)
    customer = stripe.Customer.create(email="hook@example.com")
    [delivery] = webhook_receiver.wait_for(1)
    url = f"/stripe/webhook/{endpoint.djstripe_uuid}/"

    accepted = client.post(
        url, delivery.body, content_type="application/json", HTTP_STRIPE_SIGNATURE=delivery.headers["Stripe-Signature"]
    )
    forged = client.post(
        url,
        delivery.body.replace("hook@", "evil@"),
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=delivery.headers["Stripe-Signature"],
    )

    assert accepted.status_code == 200
    assert forged.status_code == 400
    trigger = djstripe.WebhookEventTrigger.objects.get(valid=True)
    assert (trigger.processed, trigger.event.type) == (True, "customer.created")
    assert djstripe.Customer.objects.get(id=customer.id).email == "hook@example.com"
    assert djstripe.WebhookEventTrigger.objects.filter(valid=False).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_checkout_delivered_to_a_live_site_is_processed_by_dj_stripe(
    djstripe_keys, stripe_sandbox, live_server, catalog, customer
):
    dj_stripe_endpoint(live_server.url)
    session = stripe.checkout.Session.create(
        mode="subscription", customer=customer.id, line_items=[{"price": catalog.monthly.id, "quantity": 1}]
    )

    stripe_sandbox.complete_checkout(session.id)
    stripe_sandbox.wait_for_deliveries(timeout=20)

    deliveries = stripe_sandbox.deliveries()
    assert len(deliveries) == 12
    assert {d["state"] for d in deliveries} == {"succeeded"}
    assert djstripe.WebhookEventTrigger.objects.filter(valid=True, processed=True).count() == 12
    subscription = djstripe.Subscription.objects.get(customer__id=customer.id)
    assert subscription.status == "active"
    assert djstripe.Session.objects.get(id=session.id).stripe_data["status"] == "complete"
    assert djstripe.Invoice.objects.get(customer__id=customer.id).stripe_data["status"] == "paid"


@pytest.mark.django_db(transaction=True)
def test_dj_stripe_processes_every_event_of_the_subscription_lifecycle(djstripe_keys, stripe_sandbox, live_server):
    """Plan changes, a schedule, a trial, a line added to a draft and dunning, on a test
    clock, delivered to dj-stripe's webhook view: every event is processed and every object
    the flows produce is stored."""
    from tests.stripe_sandbox import test_lifecycle as flows

    dj_stripe_endpoint(live_server.url)
    plans = SimpleNamespace(
        **{
            name: stripe.Price.create(
                product=stripe.Product.create(name=f"Keel {name}").id,
                currency="usd",
                unit_amount=amount,
                recurring={"interval": "month"},
            )
            for name, amount in (("basic", 1000), ("pro", 3100))
        }
    )
    clock = stripe.test_helpers.TestClock.create(frozen_time=flows.T0)
    customer = stripe.Customer.create(
        email="lin@example.com",
        test_clock=clock.id,
        payment_method="pm_card_visa",
        invoice_settings={"default_payment_method": "pm_card_visa"},
    )
    upgraded = flows.subscribe(customer, plans.basic)
    downgraded = flows.subscribe(customer, plans.pro)
    trialing = flows.subscribe(customer, plans.basic, trial_period_days=40)
    flows.advance(clock, flows.T0 + 10 * flows.DAY)
    stripe.Subscription.modify(
        upgraded.id,
        items=[{"id": upgraded["items"].data[0].id, "price": plans.pro.id}],
        proration_behavior="always_invoice",
    )
    schedule = stripe.SubscriptionSchedule.create(from_subscription=downgraded.id)
    stripe.SubscriptionSchedule.modify(
        schedule.id,
        phases=[
            {"items": [{"price": plans.pro.id}], "start_date": flows.T0, "end_date": flows.FEB_1},
            {"items": [{"price": plans.basic.id}]},
        ],
    )
    flows.advance(clock, flows.FEB_1)
    draft = stripe.Invoice.retrieve(stripe.Subscription.retrieve(upgraded.id).latest_invoice)
    overage = stripe.InvoiceItem.create(customer=customer.id, invoice=draft.id, amount=450, currency="usd")
    stripe_sandbox.set_card_declines(customer.id)
    flows.advance(clock, flows.FEB_1 + flows.HOUR + 3 * flows.DAY)
    stripe_sandbox.wait_for_deliveries(timeout=60)

    deliveries = stripe_sandbox.deliveries()
    events = list(stripe.Event.list(limit=100).auto_paging_iter())
    assert {d["state"] for d in deliveries} == {"succeeded"}
    assert len(deliveries) == len(events)
    assert djstripe.WebhookEventTrigger.objects.filter(valid=True, processed=True).count() == len(events)
    statuses = dict(djstripe.Subscription.objects.values_list("id", "stripe_data__status"))
    assert statuses == {upgraded.id: "past_due", downgraded.id: "past_due", trialing.id: "trialing"}
    assert set(djstripe.Invoice.objects.values_list("id", flat=True)) == {
        i.id for i in stripe.Invoice.list(customer=customer.id, limit=100).data
    }
    assert djstripe.Invoice.objects.get(id=draft.id).stripe_data["status"] == "open"
    assert set(djstripe.InvoiceItem.objects.values_list("id", flat=True)) == {
        ii.id for ii in stripe.InvoiceItem.list(customer=customer.id, limit=100).data
    }
    assert djstripe.InvoiceItem.objects.get(id=overage.id).invoice_id == draft.id
    synced_schedule = djstripe.SubscriptionSchedule.objects.get(id=schedule.id)
    assert (synced_schedule.status, len(synced_schedule.phases)) == ("active", 2)
    assert djstripe.Subscription.objects.get(id=downgraded.id).items.get().price.id == plans.basic.id
    # Its sync command lists them too.
    djstripe.InvoiceItem.objects.all().delete()
    djstripe.SubscriptionSchedule.objects.all().delete()
    call_command("djstripe_sync_models", "InvoiceItem", "SubscriptionSchedule", fail_on_error=True)
    assert djstripe.InvoiceItem.objects.count() == len(stripe.InvoiceItem.list(limit=100).data)
    assert djstripe.SubscriptionSchedule.objects.get().status == "active"


@pytest.fixture
def discounted_history(stripe_sandbox, catalog, customer):
    """A 25%-off-forever promotion code typed at Checkout, then a renewal, and a $5-off
    coupon on a credit pack."""
    coupon = stripe.Coupon.create(percent_off=25, duration="forever", name="Quarter off")
    spring = stripe.PromotionCode.create(promotion={"type": "coupon", "coupon": coupon.id}, code="SPRING")
    session = stripe.checkout.Session.create(
        mode="subscription",
        customer=customer.id,
        allow_promotion_codes=True,
        line_items=[{"price": catalog.monthly.id, "quantity": 1}],
    )
    stripe_sandbox.complete_checkout(session.id, promotion_code="SPRING")
    subscription_id = stripe.checkout.Session.retrieve(session.id).subscription
    stripe_sandbox.advance_subscription(subscription_id)
    five_off = stripe.Coupon.create(id="FIVE-OFF", amount_off=500, currency="usd")
    pack = stripe.checkout.Session.create(
        mode="payment",
        customer=customer.id,
        line_items=[{"price": catalog.credits.id, "quantity": 2}],
        discounts=[{"coupon": five_off.id}],
    )
    stripe_sandbox.complete_checkout(pack.id)
    return {
        "coupon": coupon,
        "promotion_code": spring,
        "session": session,
        "subscription": stripe.Subscription.retrieve(subscription_id),
        "pack": pack,
    }


@pytest.mark.django_db
def test_dj_stripe_syncs_coupons_promotion_codes_and_discounted_sessions_and_invoices(
    djstripe_keys, discounted_history
):
    subscription = discounted_history["subscription"]
    [discount_id] = subscription.discounts

    call_command(
        "djstripe_sync_models",
        *("Account", "Customer", "Product", "Price", "Coupon", "PromotionCode", "Session", "Subscription", "Invoice"),
        fail_on_error=True,
    )
    synced_invoice = djstripe.Invoice.sync_from_stripe_data(
        dj_stripe_retrieve(djstripe.Invoice, subscription.latest_invoice)
    )

    coupons = {c.id: c for c in djstripe.Coupon.objects.all()}
    assert set(coupons) == {discounted_history["coupon"].id, "FIVE-OFF"}
    quarter = coupons[discounted_history["coupon"].id]
    assert (str(quarter), quarter.human_readable, quarter.times_redeemed) == ("Quarter off", "25.0% off forever", 1)
    assert (coupons["FIVE-OFF"].amount_off, coupons["FIVE-OFF"].currency, coupons["FIVE-OFF"].times_redeemed) == (
        500,
        "usd",
        1,
    )
    promotion_code = djstripe.PromotionCode.objects.get()
    assert (promotion_code.id, promotion_code.code) == (discounted_history["promotion_code"].id, "SPRING")
    assert (promotion_code.active, promotion_code.times_redeemed) == (True, 1)
    session = djstripe.Session.objects.get(id=discounted_history["session"].id)
    assert session.stripe_data["discounts"] == [{"coupon": None, "promotion_code": promotion_code.id}]
    assert (session.stripe_data["amount_total"], session.stripe_data["total_details"]["amount_discount"]) == (
        1500,
        500,
    )
    pack = djstripe.Session.objects.get(id=discounted_history["pack"].id)
    assert (pack.stripe_data["amount_total"], pack.payment_intent.stripe_data["amount"]) == (1300, 1300)
    assert djstripe.Subscription.objects.get(id=subscription.id).stripe_data["discounts"] == [discount_id]
    invoices = djstripe.Invoice.objects.filter(stripe_data__parent__subscription_details__subscription=subscription.id)
    assert sorted((i.billing_reason, i.amount_due, i.stripe_data["amount_paid"]) for i in invoices) == [
        ("subscription_create", 1500, 1500),
        ("subscription_cycle", 1500, 1500),
    ]
    assert synced_invoice.stripe_data["total_discount_amounts"] == [{"amount": 500, "discount": discount_id}]
    # dj-stripe retrieves invoices with `discounts` expanded and stores each Discount.
    discount = djstripe.Discount.objects.get(id=discount_id)
    assert (discount.subscription.id, discount.customer.id) == (subscription.id, subscription.customer)
    assert discount.promotion_code == promotion_code.id
    assert discount.stripe_data["source"] == {"coupon": quarter.id, "type": "coupon"}
    line = djstripe.LineItem.objects.get(stripe_data__invoice=synced_invoice.id)
    assert (line.amount, line.discount_amounts) == (2000, [{"amount": 500, "discount": discount_id}])


@pytest.mark.django_db(transaction=True)
def test_coupon_and_promotion_code_webhooks_are_processed_by_dj_stripe(
    djstripe_keys, stripe_sandbox, live_server, catalog, customer
):
    dj_stripe_endpoint(live_server.url)
    coupon = stripe.Coupon.create(percent_off=10, duration="once", name="Welcome")
    stripe.Coupon.modify(coupon.id, metadata={"campaign": "welcome"})
    welcome = stripe.PromotionCode.create(promotion={"type": "coupon", "coupon": coupon.id}, code="WELCOME")
    session = stripe.checkout.Session.create(
        mode="subscription",
        customer=customer.id,
        line_items=[{"price": catalog.monthly.id, "quantity": 1}],
        discounts=[{"promotion_code": welcome.id}],
    )
    stripe_sandbox.complete_checkout(session.id)
    # dj-stripe retrieves the object an event names when it processes the event, so these
    # last two updates bring the redemption counts.
    stripe.Coupon.modify(coupon.id, name="Welcome back")
    stripe.PromotionCode.modify(welcome.id, active=False)
    doomed = stripe.Coupon.create(amount_off=100, currency="usd")
    stripe.Coupon.delete(doomed.id)

    stripe_sandbox.wait_for_deliveries(timeout=20)

    deliveries = stripe_sandbox.deliveries()
    assert {d["state"] for d in deliveries} == {"succeeded"}
    triggers = djstripe.WebhookEventTrigger.objects.filter(valid=True, processed=True)
    # coupon.created, coupon.updated, promotion_code.created, the checkout's 12 events,
    # coupon.updated, promotion_code.updated, coupon.created, coupon.deleted
    assert triggers.count() == len(deliveries) == 19
    synced = djstripe.Coupon.objects.get(id=coupon.id)
    assert (synced.name, synced.stripe_data["metadata"], synced.times_redeemed) == (
        "Welcome back",
        {"campaign": "welcome"},
        1,
    )
    assert not djstripe.Coupon.objects.filter(id=doomed.id).exists()
    promotion_code = djstripe.PromotionCode.objects.get(id=welcome.id)
    assert (promotion_code.active, promotion_code.times_redeemed) == (False, 1)
    invoice = djstripe.Invoice.objects.get(customer__id=customer.id)
    # Retrieved with `discounts` expanded, so dj-stripe holds the Discount itself too.
    [discount] = invoice.stripe_data["discounts"]
    assert (invoice.stripe_data["amount_paid"], discount["id"]) == (
        1800,
        stripe.Invoice.retrieve(invoice.id).discounts[0],
    )
    assert djstripe.Discount.objects.get(id=discount["id"]).promotion_code == welcome.id
    assert djstripe.Session.objects.get(id=session.id).stripe_data["total_details"]["amount_discount"] == 200
