"""Copy the Stripe example objects the sandbox imitates into stripe_sandbox/shapes.json.

    python -m stripe_sandbox.build_shapes [path/to/fixtures3.json]

The source is Stripe's fixtures3.json (github.com/stripe/openapi, MIT licence). Its
path defaults to $STRIPE_SANDBOX_FIXTURES, else ../shared/stripe/fixtures3.json beside
the repository. The objects are copied verbatim: shapes.py turns them into fresh-object
templates at runtime, and the tests compare sandbox objects against them.
"""

import json
import os
import sys
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
SHAPES_PATH = PACKAGE_DIR / "shapes.json"

RESOURCES = (
    "account",
    "balance_transaction",
    "billing_portal.session",
    "charge",
    "checkout.session",
    "coupon",
    "customer",
    "deleted_coupon",
    "deleted_customer",
    "deleted_discount",
    "deleted_invoiceitem",
    "deleted_product",
    "deleted_test_helpers.test_clock",
    "deleted_webhook_endpoint",
    "discount",
    "event",
    "invoice",
    "invoice_payment",
    "invoiceitem",
    "item",
    "line_item",
    "payment_intent",
    "payment_method",
    "plan",
    "price",
    "product",
    "promotion_code",
    "refund",
    "subscription",
    "subscription_item",
    "subscription_schedule",
    "tax_rate",
    "test_helpers.test_clock",
    "deleted_test_helpers.test_clock",
    "webhook_endpoint",
)


def default_fixtures_path() -> Path:
    configured = os.environ.get("STRIPE_SANDBOX_FIXTURES")
    if configured:
        return Path(configured)
    return PACKAGE_DIR.parent.parent / "shared" / "stripe" / "fixtures3.json"


def build(fixtures_path: Path) -> dict:
    resources = json.loads(fixtures_path.read_text())["resources"]
    return {
        "source": "fixtures3.json from github.com/stripe/openapi (MIT licence, Copyright (c) 2011- Stripe, Inc.)",
        "resources": {name: resources[name] for name in RESOURCES},
    }


def main(argv: list[str]) -> int:
    fixtures_path = Path(argv[0]) if argv else default_fixtures_path()
    if not fixtures_path.is_file():
        print(f"fixtures not found: {fixtures_path} (pass a path or set STRIPE_SANDBOX_FIXTURES)", file=sys.stderr)
        return 1
    SHAPES_PATH.write_text(json.dumps(build(fixtures_path), indent=1, sort_keys=True) + "\n")
    print(f"wrote {SHAPES_PATH} from {fixtures_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
