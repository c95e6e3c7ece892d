import datetime as dt

import pytest
from django.db import IntegrityError, transaction

from billing.models import Price
from tests.factories import InvoiceFactory, LifetimeFactory, PriceFactory, SubscriptionFactory

pytestmark = pytest.mark.django_db


def refused(factory, **kwargs):
    with pytest.raises(IntegrityError), transaction.atomic():
        factory(**kwargs)


def test_provider_ids_are_unique():
    refused(SubscriptionFactory, provider_subscription_id=SubscriptionFactory().provider_subscription_id)
    refused(InvoiceFactory, provider_invoice_id=InvoiceFactory().provider_invoice_id)
    refused(LifetimeFactory, provider_checkout_session_id=LifetimeFactory().provider_checkout_session_id)
    refused(PriceFactory, provider_price_id=PriceFactory().provider_price_id)


def test_statuses_and_types_are_enumerations():
    refused(SubscriptionFactory, status="paused_forever")
    refused(PriceFactory, type="weekly")
    refused(InvoiceFactory, billing_reason="because")


def test_price_timestamps_round_trip_as_aware_utc():
    price = PriceFactory()
    stored = Price.objects.get(pk=price.pk)
    assert stored.created_at.tzinfo is not None
    assert abs(stored.created_at - dt.datetime.now(tz=dt.UTC)) < dt.timedelta(minutes=1)
