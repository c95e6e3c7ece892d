from billing.models import Price

DEMO_PRICES = [
    {
        "provider_price_id": "price_demo_starter_monthly",
        "product_id": "prod_demo_starter",
        "unit_amount": 900,
        "type": "recurring",
        "interval": "month",
        "metadata": {"plan_id": "starter", "name": "Starter", "kind": "subscription", "credits": "1000"},
    },
    {
        "provider_price_id": "price_demo_pro_monthly",
        "product_id": "prod_demo_pro",
        "unit_amount": 2900,
        "type": "recurring",
        "interval": "month",
        "metadata": {"plan_id": "pro", "name": "Pro", "kind": "subscription", "credits": "5000"},
    },
    {
        "provider_price_id": "price_demo_credits_500",
        "product_id": "prod_demo_credits",
        "unit_amount": 500,
        "type": "one_time",
        "interval": "",
        "metadata": {"plan_id": "credits-500", "name": "500 credits", "kind": "credits", "credits": "500"},
    },
    {
        "provider_price_id": "price_demo_lifetime",
        "product_id": "prod_demo_lifetime",
        "unit_amount": 29900,
        "type": "one_time",
        "interval": "",
        "metadata": {"plan_id": "lifetime", "name": "Lifetime", "kind": "lifetime", "credits": "20000"},
    },
]


def prices_seed_demo() -> list[Price]:
    """Local demo prices, so pricing has something to show without Stripe keys."""
    prices = []
    for spec in DEMO_PRICES:
        defaults = {
            **spec,
            "currency": "usd",
            "billing_scheme": "per_unit",
            "interval_count": 1 if spec["interval"] else None,
            "usage_type": "licensed" if spec["interval"] else "",
            "active": True,
        }
        price, _ = Price.objects.update_or_create(
            provider="stripe", provider_price_id=defaults.pop("provider_price_id"), defaults=defaults
        )
        prices.append(price)
    return prices
