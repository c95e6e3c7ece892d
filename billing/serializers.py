"""API shapes of the billing endpoints (input and output serializers)."""

from rest_framework import serializers

from billing.models import BillingReason, SubscriptionStatus
from billing.plans import PlanKind
from billing.selectors import TenantPlanKind
from core.api import InputSerializer

# What a checkout answers: a Checkout Session to visit for a new purchase, or the plan change
# of the organization's live subscription (no page to visit).
CHECKOUT_RESULT_KINDS = [*PlanKind.choices, ("upgrade", "Upgrade (invoiced now)"), ("downgrade", "Downgrade")]


class PriceSerializer(serializers.Serializer):
    """A price for sale (rendered from `billing.selectors.SellablePrice`)."""

    price = serializers.CharField(
        source="price.provider_price_id", help_text="The provider's price id: send it to checkout as `price`."
    )
    plan_id = serializers.CharField(source="plan.plan_id")
    kind = serializers.ChoiceField(source="plan.kind", choices=PlanKind.choices)
    credits = serializers.IntegerField(
        source="plan.credits", help_text="Per paid period (subscription), per pack, or once (lifetime deal)."
    )
    unit_amount = serializers.IntegerField(
        source="price.unit_amount", allow_null=True, help_text="In the currency's smallest unit (cents)."
    )
    currency = serializers.CharField(source="price.currency")
    interval = serializers.CharField(
        source="price.interval", allow_blank=True, help_text="`month`, `year`, ...; empty for one-time prices."
    )
    interval_count = serializers.IntegerField(source="price.interval_count", allow_null=True)
    product_name = serializers.CharField(source="price.product_name", allow_blank=True)
    product_description = serializers.CharField(source="price.product_description", allow_blank=True)


class TenantPlanSerializer(serializers.Serializer):
    """The organization's plan (rendered from `billing.selectors.TenantPlan`)."""

    kind = serializers.ChoiceField(
        choices=TenantPlanKind.choices,
        help_text="Its active or past-due subscription, else its lifetime deal, else the free plan.",
    )
    plan_id = serializers.CharField()
    status = serializers.ChoiceField(
        choices=SubscriptionStatus.choices, help_text="The subscription's; `active` for a lifetime deal or free."
    )
    past_due = serializers.BooleanField(help_text="A renewal failed: credits and access stay until Stripe cancels.")
    cancel_at_period_end = serializers.BooleanField()
    renews_at = serializers.IntegerField(allow_null=True, help_text="Epoch ms; null unless a subscription renews.")
    ends_at = serializers.IntegerField(
        allow_null=True, help_text="Epoch ms: when a subscription canceled at the period's end stops."
    )
    price = serializers.CharField(source="provider_price_id", allow_null=True, help_text="The provider's price id.")
    amount = serializers.IntegerField(allow_null=True, help_text="Per period (subscription) or paid once, in cents.")
    currency = serializers.CharField(allow_null=True)
    interval = serializers.CharField(allow_null=True, help_text="A subscription's `month`, `year`, ...")


class InvoiceSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    number = serializers.CharField(allow_null=True, help_text="The provider's invoice number.")
    plan_id = serializers.CharField(allow_blank=True)
    amount = serializers.IntegerField(help_text="Paid, in the currency's smallest unit (cents).")
    currency = serializers.CharField()
    billing_reason = serializers.ChoiceField(choices=[*BillingReason.choices, ("", "")], allow_blank=True)
    paid_at = serializers.IntegerField(help_text="Epoch milliseconds.")
    hosted_invoice_url = serializers.CharField(allow_blank=True, help_text="The provider's page for this invoice.")
    invoice_pdf = serializers.CharField(allow_blank=True, help_text="A link to the invoice as a PDF.")


class CheckoutInputSerializer(InputSerializer):
    price = serializers.CharField(max_length=255, help_text="A price id from `GET /api/v1/prices/`.")
    kind = serializers.ChoiceField(
        choices=PlanKind.choices,
        required=False,
        help_text="What you mean to buy: refused (`price_kind_mismatch`) when the price sells something else.",
    )


class CheckoutSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="The Checkout Session's id, or the subscription's for a plan change.")
    url = serializers.CharField(
        allow_null=True, help_text="Send the buyer here to pay; null for a plan change (nothing to visit)."
    )
    kind = serializers.ChoiceField(
        choices=CHECKOUT_RESULT_KINDS,
        help_text="What was started: a purchase of that kind, or a plan change of the live subscription "
        "(`upgrade`: invoiced now, prorated; `downgrade`: at the period's end).",
    )


class PortalSerializer(serializers.Serializer):
    url = serializers.CharField(help_text="The provider's customer portal: cards, invoices, cancellation.")
