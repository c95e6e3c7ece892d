from billing.services.customers import customer_for
from billing.services.fulfilment import charge_refunded, checkout_session_fulfil, invoice_paid, subscription_sync
from billing.services.prices import (
    catalog_create,
    plan_problem,
    price_deactivate,
    price_upsert,
    prices_sync,
    product_refresh,
)

__all__ = [
    "catalog_create",
    "charge_refunded",
    "checkout_session_fulfil",
    "customer_for",
    "invoice_paid",
    "subscription_sync",
    "plan_problem",
    "price_deactivate",
    "price_upsert",
    "prices_sync",
    "product_refresh",
]
