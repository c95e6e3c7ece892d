"""Coupons and promotion codes: Stripe's API for this version, its events and its refusals."""

import time

import pytest
import stripe

from tests.stripe_sandbox.assertions import as_json, assert_stripe_shape, event_types


def test_coupons_are_created_retrieved_updated_listed_and_deleted(stripe_sandbox):
    redeem_by = int(time.time()) + 86400
    percent = stripe.Coupon.create(
        percent_off=25, duration="repeating", duration_in_months=3, name="Launch", metadata={"campaign": "launch"}
    )
    stripe.Coupon.create(id="WELCOME5", amount_off=500, currency="USD", max_redemptions=10, redeem_by=redeem_by)

    created = assert_stripe_shape(percent, "coupon")
    fetched = assert_stripe_shape(stripe.Coupon.retrieve("WELCOME5"), "coupon")
    renamed = stripe.Coupon.modify(percent.id, name="Launch 2026", metadata={"campaign": ""})
    listed = stripe.Coupon.list()
    deleted = stripe.Coupon.delete("WELCOME5")

    assert len(created["id"]) == 8 and created["id"].isalnum()
    assert (created["percent_off"], created["amount_off"], created["currency"]) == (25.0, None, None)
    assert (created["duration"], created["duration_in_months"]) == ("repeating", 3)
    assert (created["valid"], created["times_redeemed"], created["livemode"]) == (True, 0, False)
    assert (created["max_redemptions"], created["redeem_by"], created["metadata"]) == (
        None,
        None,
        {"campaign": "launch"},
    )
    assert (fetched["amount_off"], fetched["currency"], fetched["duration"]) == (500, "usd", "once")
    assert (fetched["max_redemptions"], fetched["redeem_by"], fetched["duration_in_months"]) == (10, redeem_by, None)
    assert (renamed.name, renamed.metadata.to_dict()) == ("Launch 2026", {})
    assert [c.id for c in listed.data] == ["WELCOME5", percent.id]
    assert (deleted.id, deleted.deleted) == ("WELCOME5", True)
    with pytest.raises(stripe.InvalidRequestError) as gone:
        stripe.Coupon.retrieve("WELCOME5")
    assert (gone.value.http_status, gone.value.user_message) == (404, "No such coupon: 'WELCOME5'")

    events = stripe.Event.list().data
    assert event_types(events) == ["coupon.created", "coupon.created", "coupon.updated", "coupon.deleted"]
    assert as_json(events[1].data.previous_attributes) == {"name": "Launch", "metadata": {"campaign": "launch"}}
    assert (events[0].data.object.id, events[0].data.object.amount_off) == ("WELCOME5", 500)


def test_a_coupon_id_of_your_choice_may_hold_any_character(stripe_sandbox):
    stripe.Coupon.create(id="Summer 25% off/2026", percent_off=25)

    assert stripe.Coupon.retrieve("Summer 25% off/2026").percent_off == 25


@pytest.mark.parametrize(
    ("params", "param", "code"),
    [
        ({"percent_off": 10, "amount_off": 100, "currency": "usd"}, None, "parameters_exclusive"),
        ({"duration": "once"}, None, None),
        ({"percent_off": 0}, "percent_off", None),
        ({"percent_off": 100.5}, "percent_off", None),
        ({"percent_off": "ten"}, "percent_off", "parameter_invalid_decimal"),
        ({"percent_off": 10, "currency": "usd"}, "currency", None),
        ({"amount_off": 100}, "currency", "parameter_missing"),
        ({"amount_off": 0, "currency": "usd"}, "amount_off", "parameter_invalid_integer"),
        ({"percent_off": 10, "duration": "repeating"}, "duration_in_months", "parameter_missing"),
        ({"percent_off": 10, "duration": "forever", "duration_in_months": 3}, "duration_in_months", None),
        ({"percent_off": 10, "duration": "weekly"}, "duration", "parameter_invalid"),
        ({"percent_off": 10, "redeem_by": 1_000_000_000}, "redeem_by", None),
        ({"percent_off": 10, "max_redemptions": 0}, "max_redemptions", "parameter_invalid_integer"),
        ({"percent_off": 10, "name": "x" * 41}, "name", None),
        ({"percent_off": 10, "applies_to": {"products": ["prod_x"]}}, "applies_to", "parameter_unknown"),
    ],
    ids=[
        "percent-and-amount",
        "neither",
        "zero-percent",
        "over-100-percent",
        "percent-not-a-number",
        "percent-with-currency",
        "amount-without-currency",
        "zero-amount",
        "repeating-without-months",
        "months-without-repeating",
        "unknown-duration",
        "redeem-by-in-the-past",
        "zero-max-redemptions",
        "long-name",
        "applies-to",
    ],
)
def test_invalid_coupons_are_400(stripe_sandbox, params, param, code):
    with pytest.raises(stripe.InvalidRequestError) as failure:
        stripe.Coupon.create(**params)

    assert (failure.value.http_status, failure.value.param, failure.value.code) == (400, param, code)
    assert stripe.Coupon.list().data == []


def test_a_coupon_id_is_taken_once(stripe_sandbox):
    stripe.Coupon.create(id="FRIENDS", percent_off=10)

    with pytest.raises(stripe.InvalidRequestError) as failure:
        stripe.Coupon.create(id="FRIENDS", percent_off=20)

    assert (failure.value.param, failure.value.code) == ("id", "resource_already_exists")
    assert stripe.Coupon.retrieve("FRIENDS").percent_off == 10


@pytest.fixture
def coupon(stripe_sandbox):
    return stripe.Coupon.create(id="SPRING", percent_off=20, duration="once", max_redemptions=100)


def test_promotion_codes_point_at_a_coupon_and_send_their_events(stripe_sandbox, coupon, customer):
    expires_at = int(time.time()) + 3600
    spring = stripe.PromotionCode.create(
        promotion={"type": "coupon", "coupon": coupon.id},
        code="Spring-26",
        max_redemptions=5,
        expires_at=expires_at,
        metadata={"channel": "newsletter"},
        restrictions={"first_time_transaction": True, "minimum_amount": 1000, "minimum_amount_currency": "usd"},
    )
    generated = stripe.PromotionCode.create(promotion={"type": "coupon", "coupon": coupon.id}, customer=customer.id)

    shaped = assert_stripe_shape(spring, "promotion_code")
    expanded = stripe.PromotionCode.retrieve(spring.id, expand=["promotion.coupon", "customer"])
    paused = stripe.PromotionCode.modify(spring.id, active=False, metadata={"paused": "yes"})

    assert shaped["id"].startswith("promo_")
    assert (shaped["code"], shaped["active"], shaped["times_redeemed"]) == ("Spring-26", True, 0)
    assert (shaped["max_redemptions"], shaped["expires_at"], shaped["customer"]) == (5, expires_at, None)
    assert shaped["promotion"] == {"coupon": "SPRING", "type": "coupon"}
    assert shaped["restrictions"] == {
        "first_time_transaction": True,
        "minimum_amount": 1000,
        "minimum_amount_currency": "usd",
    }
    assert generated.code.isalnum() and generated.code.isupper() and len(generated.code) == 8
    assert generated.customer == customer.id
    assert (expanded.promotion.coupon.percent_off, expanded.customer) == (20, None)
    assert (paused.active, paused.metadata.to_dict()) == (False, {"channel": "newsletter", "paused": "yes"})
    events = stripe.Event.list(type="promotion_code.*").data
    assert event_types(events) == ["promotion_code.created", "promotion_code.created", "promotion_code.updated"]
    assert as_json(events[0].data.previous_attributes) == {"active": True, "metadata": {"paused": None}}


def test_promotion_codes_are_listed_by_code_regardless_of_case_active_coupon_and_customer(
    stripe_sandbox, coupon, customer
):
    other = stripe.Coupon.create(amount_off=500, currency="usd")
    spring = stripe.PromotionCode.create(promotion={"type": "coupon", "coupon": coupon.id}, code="SPRING")
    mine = stripe.PromotionCode.create(
        promotion={"type": "coupon", "coupon": coupon.id}, code="spring", customer=customer.id
    )
    five = stripe.PromotionCode.create(promotion={"type": "coupon", "coupon": other.id}, code="FIVE", active=False)

    def ids(**filters):
        return [p.id for p in stripe.PromotionCode.list(**filters).data]

    assert ids() == [five.id, mine.id, spring.id]
    assert ids(code="Spring") == [mine.id, spring.id]
    assert ids(active=False) == [five.id]
    assert ids(coupon=other.id) == [five.id]
    assert ids(customer=customer.id) == [mine.id]


def test_an_active_code_is_unique_regardless_of_case_for_each_customer(stripe_sandbox, coupon, customer):
    promotion = {"type": "coupon", "coupon": coupon.id}
    first = stripe.PromotionCode.create(promotion=promotion, code="SPRING")

    with pytest.raises(stripe.InvalidRequestError) as taken:
        stripe.PromotionCode.create(promotion=promotion, code="spring")
    stripe.PromotionCode.create(promotion=promotion, code="spring", customer=customer.id)
    inactive = stripe.PromotionCode.create(promotion=promotion, code="Spring", active=False)
    with pytest.raises(stripe.InvalidRequestError) as reactivated:
        stripe.PromotionCode.modify(inactive.id, active=True)
    stripe.PromotionCode.modify(first.id, active=False)
    stripe.PromotionCode.modify(inactive.id, active=True)

    assert (taken.value.param, taken.value.code) == ("code", "resource_already_exists")
    assert reactivated.value.code == "resource_already_exists"
    assert [p.code for p in stripe.PromotionCode.list(active=True).data if not p.customer] == ["Spring"]


@pytest.mark.parametrize(
    ("params", "param", "code"),
    [
        ({"promotion": None}, "promotion", "parameter_missing"),
        ({"promotion": {"type": "coupon"}}, "promotion[coupon]", "parameter_missing"),
        ({"promotion": {"type": "coupon", "coupon": "NOPE"}}, "promotion[coupon]", "resource_missing"),
        ({"promotion": {"type": "price", "coupon": "SPRING"}}, "promotion[type]", "parameter_invalid"),
        ({"code": "SPRING 26"}, "code", "parameter_invalid"),
        ({"expires_at": 1_000_000_000}, "expires_at", None),
        ({"max_redemptions": 101}, "max_redemptions", None),
        ({"customer": "cus_nope"}, "customer", "resource_missing"),
        ({"restrictions": {"minimum_amount": 1000}}, "restrictions[minimum_amount_currency]", "parameter_missing"),
        ({"customer_account": "acct_x"}, "customer_account", "parameter_unknown"),
    ],
    ids=[
        "no-promotion",
        "no-coupon",
        "unknown-coupon",
        "not-a-coupon-promotion",
        "space-in-code",
        "expires-in-the-past",
        "more-redemptions-than-the-coupon",
        "unknown-customer",
        "minimum-without-currency",
        "customer-account",
    ],
)
def test_invalid_promotion_codes_are_400(stripe_sandbox, coupon, params, param, code):
    params = {"promotion": {"type": "coupon", "coupon": coupon.id}, **params}

    with pytest.raises(stripe.InvalidRequestError) as failure:
        stripe.PromotionCode.create(**{key: value for key, value in params.items() if value is not None})

    assert (failure.value.http_status, failure.value.param, failure.value.code) == (400, param, code)


def test_a_promotion_code_cannot_outlive_its_coupons_redeem_by(stripe_sandbox):
    redeem_by = int(time.time()) + 3600
    coupon = stripe.Coupon.create(percent_off=10, redeem_by=redeem_by)

    with pytest.raises(stripe.InvalidRequestError) as failure:
        stripe.PromotionCode.create(promotion={"type": "coupon", "coupon": coupon.id}, expires_at=redeem_by + 1)

    assert failure.value.param == "expires_at"


def test_deleting_a_coupon_turns_its_promotion_codes_off(stripe_sandbox, coupon):
    spring = stripe.PromotionCode.create(promotion={"type": "coupon", "coupon": coupon.id}, code="SPRING")

    stripe.Coupon.delete(coupon.id)

    assert stripe.PromotionCode.retrieve(spring.id).active is False
    with pytest.raises(stripe.InvalidRequestError) as failure:
        stripe.PromotionCode.modify(spring.id, active=True)
    assert failure.value.param == "active"
    with pytest.raises(stripe.InvalidRequestError) as new_code:
        stripe.PromotionCode.create(promotion={"type": "coupon", "coupon": coupon.id})
    assert (new_code.value.param, new_code.value.code) == ("promotion[coupon]", "resource_missing")
