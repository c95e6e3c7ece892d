"""Constructors for card payments: payment methods, payment intents, charges, balance
transactions and refunds."""

import copy
import hashlib
import secrets
import string
from datetime import UTC, datetime

from .objects import DAY, create_object

# Stripe's test card numbers (https://docs.stripe.com/testing). 0341 attaches to a
# customer fine and fails when charged, the way a card that later stops working does.
SUCCEEDING_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000002"
CHARGE_FAILS_CARD = "4000000000000341"
DECLINING_LAST4 = {DECLINED_CARD[-4:], CHARGE_FAILS_CARD[-4:]}

# Test-mode PaymentMethod ids that Stripe turns into a new card payment method.
TEST_PAYMENT_METHODS = {
    "pm_card_visa": SUCCEEDING_CARD,
    "pm_card_visa_chargeDeclined": DECLINED_CARD,
    "pm_card_chargeCustomerFail": CHARGE_FAILS_CARD,
}


def _card_fingerprint(number: str) -> str:
    return hashlib.sha256(number.encode()).hexdigest()[:16]


def new_payment_method(store, *, card_number: str, customer: str | None, email: str | None, name: str | None) -> dict:
    return create_object(
        store,
        "payment_method",
        "pm",
        billing_details={
            "address": {
                "city": None,
                "country": None,
                "line1": None,
                "line2": None,
                "postal_code": None,
                "state": None,
            },
            "email": email,
            "name": name,
            "phone": None,
            "tax_id": None,
        },
        card={
            "brand": "visa",
            "checks": {"address_line1_check": None, "address_postal_code_check": None, "cvc_check": "pass"},
            "country": "US",
            "display_brand": "visa",
            "exp_month": 12,
            "exp_year": datetime.now(tz=UTC).year + 3,
            "fingerprint": _card_fingerprint(card_number),
            "funding": "credit",
            "generated_from": None,
            "last4": card_number[-4:],
            "networks": {"available": ["visa"], "preferred": None},
            "regulated_status": "unregulated",
            "three_d_secure_usage": {"supported": True},
            "wallet": None,
        },
        customer=customer,
    )


def card_declines(payment_method: dict) -> bool:
    return payment_method["card"]["last4"] in DECLINING_LAST4


def card_number_declines(card_number: str) -> bool:
    return card_number[-4:] in DECLINING_LAST4


def card_number_from_input(value: str | None) -> str | None:
    """A card number from a form or a sandbox call: digits, or `succeeds` / `declines`.
    None when the input is not a plausible card number."""
    aliases = {None: SUCCEEDING_CARD, "": SUCCEEDING_CARD, "succeeds": SUCCEEDING_CARD, "declines": DECLINED_CARD}
    if value in aliases:
        return aliases[value]
    digits = value.replace(" ", "").replace("-", "")
    return digits if digits.isdigit() and 13 <= len(digits) <= 19 else None


def new_payment_intent(store, **fields) -> dict:
    payment_intent = create_object(
        store,
        "payment_intent",
        "pi",
        amount_capturable=0,
        amount_details={"tip": {}},
        amount_received=0,
        automatic_payment_methods=None,
        capture_method="automatic_async",
        confirmation_method="automatic",
        latest_charge=None,
        payment_method_types=["card"],
        status="requires_payment_method",
        **fields,
    )
    payment_intent["client_secret"] = f"{payment_intent['id']}_secret_{secrets.token_urlsafe(18)}"
    return payment_intent


def new_charge(store, *, payment_intent: dict, payment_method: dict, succeeded: bool, base_url: str) -> dict:
    amount, currency = payment_intent["amount"], payment_intent["currency"]
    charge = create_object(
        store,
        "charge",
        "ch",
        amount=amount,
        amount_captured=amount if succeeded else 0,
        amount_refunded=0,
        balance_transaction=None,
        billing_details=copy.deepcopy(payment_method["billing_details"]),
        captured=succeeded,
        created=payment_intent["created"],
        currency=currency,
        customer=payment_intent["customer"],
        description=payment_intent["description"],
        failure_code=None if succeeded else "card_declined",
        failure_message=None if succeeded else "Your card was declined.",
        metadata=dict(payment_intent["metadata"]),
        outcome=_charge_outcome(succeeded),
        paid=succeeded,
        payment_intent=payment_intent["id"],
        payment_method=payment_method["id"],
        payment_method_details={"card": _card_details(payment_method, amount), "type": "card"},
        status="succeeded" if succeeded else "failed",
    )
    charge["receipt_url"] = f"{base_url}/receipts/{charge['id']}"
    return charge


def _charge_outcome(succeeded: bool) -> dict:
    outcome = {
        "advice_code": None,
        "network_advice_code": None,
        "network_decline_code": None,
        "network_status": "approved_by_network",
        "reason": None,
        "risk_level": "normal",
        "risk_score": 32,
        "seller_message": "Payment complete.",
        "type": "authorized",
    }
    if not succeeded:
        outcome.update(
            advice_code="try_again_later",
            network_status="declined_by_network",
            reason="generic_decline",
            seller_message="The bank did not return any further details with this decline.",
            type="issuer_declined",
        )
    return outcome


def _card_details(payment_method: dict, amount: int) -> dict:
    card = payment_method["card"]
    return {
        "amount_authorized": amount,
        "authorization_code": "123456",
        "brand": card["brand"],
        "checks": dict(card["checks"]),
        "country": card["country"],
        "exp_month": card["exp_month"],
        "exp_year": card["exp_year"],
        "extended_authorization": {"status": "disabled"},
        "fingerprint": card["fingerprint"],
        "funding": card["funding"],
        "incremental_authorization": {"status": "unavailable"},
        "installments": None,
        "last4": card["last4"],
        "mandate": None,
        "multicapture": {"status": "unavailable"},
        "network": "visa",
        "network_token": {"used": False},
        "network_transaction_id": secrets.token_hex(8),
        "overcapture": {"maximum_amount_capturable": amount, "status": "unavailable"},
        "regulated_status": card["regulated_status"],
        "three_d_secure": None,
        "wallet": None,
    }


def new_balance_transaction(
    store, *, source: dict, amount: int, kind: str, created: int, description: str | None
) -> dict:
    # Stripe's US card pricing, 2.9% + 30¢, charged on payments and not returned on refunds.
    fee = round(amount * 0.029) + 30 if kind == "charge" else 0
    return create_object(
        store,
        "balance_transaction",
        "txn",
        amount=amount,
        available_on=created + 2 * DAY,
        created=created,
        currency=source["currency"],
        description=description,
        exchange_rate=None,
        fee=fee,
        fee_details=[_stripe_fee(fee, source["currency"])] if fee else [],
        net=amount - fee,
        reporting_category=kind,
        source=source["id"],
        status="pending",
        type=kind,
    )


def _stripe_fee(amount: int, currency: str) -> dict:
    return {
        "amount": amount,
        "application": None,
        "currency": currency,
        "description": "Stripe processing fees",
        "type": "stripe_fee",
    }


def new_refund(store, *, charge: dict, amount: int, reason: str | None, metadata: dict) -> dict:
    return create_object(
        store,
        "refund",
        "re",
        amount=amount,
        charge=charge["id"],
        currency=charge["currency"],
        destination_details={
            "card": {
                # The acquirer reference number the card network gives a settled refund.
                "reference": "".join(secrets.choice(string.digits) for _ in range(23)),
                "reference_status": "available",
                "reference_type": "acquirer_reference_number",
                "type": "refund",
            },
            "type": "card",
        },
        metadata=metadata,
        payment_intent=charge["payment_intent"],
        reason=reason,
        status="succeeded",
    )
