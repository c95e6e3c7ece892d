"""The example catalogue (docs/billing.md): what `manage.py billing_catalog` creates in a
Stripe account (the sandbox, or test mode) so that Keel has plans to sell."""

MONTH = {"interval": "month"}
YEAR = {"interval": "year"}

EXAMPLE_CATALOGUE = [
    {
        "id": "keel_starter",
        "name": "Starter",
        "description": "For one person getting started: 1,000 credits a month.",
        "prices": [
            {
                "lookup_key": "keel_starter_monthly",
                "unit_amount": 900,
                "recurring": MONTH,
                "metadata": {"plan_id": "starter", "kind": "subscription", "credits": "1000"},
            },
            {
                "lookup_key": "keel_starter_yearly",
                "unit_amount": 9000,
                "recurring": YEAR,
                "metadata": {"plan_id": "starter", "kind": "subscription", "credits": "12000"},
            },
        ],
    },
    {
        "id": "keel_pro",
        "name": "Pro",
        "description": "For teams: 5,000 credits a month, spent before packs.",
        "prices": [
            {
                "lookup_key": "keel_pro_monthly",
                "unit_amount": 2900,
                "recurring": MONTH,
                "metadata": {"plan_id": "pro", "kind": "subscription", "credits": "5000", "credit_priority": "60"},
            },
            {
                "lookup_key": "keel_pro_yearly",
                "unit_amount": 29000,
                "recurring": YEAR,
                "metadata": {"plan_id": "pro", "kind": "subscription", "credits": "60000", "credit_priority": "60"},
            },
        ],
    },
    {
        "id": "keel_credits",
        "name": "Credit pack",
        "description": "Credits that last a year, for any plan.",
        "prices": [
            {
                "lookup_key": "keel_credits_1000",
                "unit_amount": 1000,
                "metadata": {
                    "plan_id": "credits-1000",
                    "kind": "credits",
                    "credits": "1000",
                    "credit_expires_days": "365",
                },
            },
            {
                "lookup_key": "keel_credits_5000",
                "unit_amount": 4000,
                "metadata": {
                    "plan_id": "credits-5000",
                    "kind": "credits",
                    "credits": "5000",
                    "credit_expires_days": "365",
                },
            },
        ],
    },
    {
        "id": "keel_lifetime",
        "name": "Lifetime",
        "description": "Pay once: 50,000 credits that never expire.",
        "prices": [
            {
                "lookup_key": "keel_lifetime",
                "unit_amount": 29900,
                "metadata": {"plan_id": "lifetime", "kind": "lifetime", "credits": "50000", "credit_priority": "40"},
            },
        ],
    },
]
