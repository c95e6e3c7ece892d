from billing.services.demo import prices_seed_demo
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
    "plan_problem",
    "price_deactivate",
    "price_upsert",
    "prices_seed_demo",
    "prices_sync",
    "product_refresh",
]
