"""Stripe's example objects (shapes.json) and the fresh-object templates built from them.

Every sandbox object starts as a copy of Stripe's own example for its resource. The
examples are of a later API version than the one the sandbox serves (schema.json):
NOT_SENT lists the keys the templates leave out. They are also filled with sample values
(discounts, shipping costs, huge random numbers): FRESH_VALUES resets those to what a
newly created test-mode object holds. Fields that depend on the request are set by
objects.py; tests/stripe_sandbox/test_shapes.py checks every template against the schema.
"""

import copy
import json
from functools import cache
from pathlib import Path

SHAPES_PATH = Path(__file__).resolve().parent / "shapes.json"

# Keys of Stripe's examples that the sandbox's objects leave out, with dotted paths into
# nested hashes: keys the served API version (2026-05-27.dahlia) does not have, and fields
# it sends only when expanded (expand.py's INCLUDABLE adds them on `expand[]`).
NOT_SENT: dict[str, tuple[str, ...]] = {
    # A later version's key of the card details; `refunds` is sent only with
    # expand[]=refunds (GET /v1/charges/{id}/refunds lists them).
    "charge": ("payment_method_details.card.transaction_link_id", "refunds"),
    # The example event carries a plan with the pre-2025 `aggregate_usage`.
    "event": ("data.object.aggregate_usage",),
    # Pre-2025: the invoice's subscription is parent.subscription_details.subscription.
    "invoice": ("subscription",),
    # Later versions' links from a refund to its customer and payment method.
    "refund": ("customer", "customer_account", "payment_method"),
    # (The examples' subscription and schedule invoice_settings also carry later versions'
    # custom_fields, description and footer; FRESH_VALUES replaces those hashes whole.)
}

_NO_AUTOMATIC_TAX = {"enabled": False, "liability": None, "status": None, "provider": None}

FRESH_VALUES: dict[str, dict] = {
    "account": {
        "business_type": "company",
        "charges_enabled": True,
        "details_submitted": True,
        "payouts_enabled": True,
        "future_requirements": {
            "alternatives": [],
            "current_deadline": None,
            "currently_due": [],
            "disabled_reason": None,
            "errors": [],
            "eventually_due": [],
            "past_due": [],
            "pending_verification": [],
        },
        "requirements": {
            "alternatives": [],
            "current_deadline": None,
            "currently_due": [],
            "disabled_reason": None,
            "errors": [],
            "eventually_due": [],
            "past_due": [],
            "pending_verification": [],
        },
    },
    "customer": {
        "address": None,
        "currency": None,
        "discount": None,
        "shipping": None,
    },
    "product": {
        "default_price": None,
        "description": None,
        "package_dimensions": None,
        "type": "service",
    },
    "price": {
        "custom_unit_amount": None,
        "recurring": None,
        "transform_quantity": None,
    },
    "plan": {"transform_usage": None},
    "checkout.session": {
        "adaptive_pricing": {"enabled": False},
        "after_expiration": None,
        "automatic_tax": dict(_NO_AUTOMATIC_TAX),
        "collected_information": None,
        "consent": None,
        "consent_collection": None,
        "currency_conversion": None,
        "custom_text": {
            "after_submit": None,
            "shipping_address": None,
            "submit": None,
            "terms_of_service_acceptance": None,
        },
        "customer_details": None,
        "discounts": [],
        "invoice_creation": None,
        "managed_payments": None,
        "payment_method_configuration_details": None,
        "permissions": None,
        "saved_payment_method_options": None,
        "shipping_address_collection": None,
        "shipping_cost": None,
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        "wallet_options": None,
    },
    "item": {"adjustable_quantity": None},
    "subscription": {
        "automatic_tax": {"enabled": False, "liability": None, "disabled_reason": None},
        "billing_cycle_anchor_config": None,
        "billing_mode": {"type": "classic", "flexible": None},
        "billing_schedules": [],
        "billing_thresholds": None,
        "cancel_at": None,
        "cancel_at_period_end": False,
        "canceled_at": None,
        "ended_at": None,
        "invoice_settings": {"account_tax_ids": None, "issuer": {"type": "self"}},
        "managed_payments": None,
        "next_pending_invoice_item_invoice": None,
        "pause_collection": None,
        "payment_settings": {
            "payment_method_options": None,
            "payment_method_types": None,
            "save_default_payment_method": "off",
        },
        "pending_invoice_item_interval": None,
        "pending_update": None,
        "transfer_data": None,
        "trial_end": None,
        "trial_start": None,
    },
    "subscription_item": {"billing_thresholds": None},
    "subscription_schedule": {
        "billing_mode": {"type": "classic", "flexible": None},
        "canceled_at": None,
        "completed_at": None,
        "current_phase": None,
        "default_settings": {
            "application_fee_percent": None,
            "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
            "billing_cycle_anchor": "automatic",
            "billing_thresholds": None,
            "collection_method": "charge_automatically",
            "default_payment_method": None,
            "description": None,
            "invoice_settings": {"account_tax_ids": None, "days_until_due": None, "issuer": {"type": "self"}},
            "on_behalf_of": None,
            "transfer_data": None,
        },
        "phases": [],
        "released_at": None,
    },
    "invoice": {
        "account_name": "Keel Sandbox",
        "amount_overpaid": 0,
        "automatic_tax": dict(_NO_AUTOMATIC_TAX, disabled_reason=None),
        "customer_address": None,
        "customer_shipping": None,
        "due_date": None,
        "from_invoice": None,
        "last_finalization_error": None,
        "next_payment_attempt": None,
        "payment_settings": {"default_mandate": None, "payment_method_options": None, "payment_method_types": None},
        "rendering": {
            "amount_tax_display": None,
            "pdf": {"page_size": "auto"},
            "template": None,
            "template_version": None,
        },
        "shipping_cost": None,
        "shipping_details": None,
        "total_pretax_credit_amounts": [],
        "total_taxes": [],
        "webhooks_delivered_at": None,
    },
    "line_item": {"pretax_credit_amounts": [], "taxes": []},
    "payment_intent": {
        "automatic_payment_methods": None,
        "canceled_at": None,
        "last_payment_error": None,
        "managed_payments": None,
        "next_action": None,
        "payment_method_configuration_details": None,
        "payment_method_options": {
            "card": {
                "installments": None,
                "mandate_options": None,
                "network": None,
                "request_three_d_secure": "automatic",
            }
        },
        "processing": None,
        "shipping": None,
        "transfer_data": None,
    },
    "charge": {
        "calculated_statement_descriptor": "KEEL SANDBOX",
        "shipping": None,
        "source": None,
        "transfer_data": None,
    },
    "payment_method": {
        "billing_details": {
            "address": {
                "city": None,
                "country": None,
                "line1": None,
                "line2": None,
                "postal_code": None,
                "state": None,
            },
            "email": None,
            "name": None,
            "phone": None,
            "tax_id": None,
        }
    },
    "billing_portal.session": {"flow": None},
    "webhook_endpoint": {"description": None},
}


@cache
def _resources() -> dict:
    return json.loads(SHAPES_PATH.read_text())["resources"]


def fixture(kind: str) -> dict:
    """Stripe's example object for `kind`, verbatim."""
    return copy.deepcopy(_resources()[kind])


def template(kind: str) -> dict:
    """A fresh test-mode object of `kind` with every key Stripe sends."""
    obj = fixture(kind)
    for path in NOT_SENT.get(kind, ()):
        *parents, key = path.split(".")
        node = obj
        for parent in parents:
            node = node[parent]
        del node[key]
    obj.update(copy.deepcopy(FRESH_VALUES.get(kind, {})))
    if "livemode" in obj:
        obj["livemode"] = False
    if "metadata" in obj:
        obj["metadata"] = {}
    return obj
