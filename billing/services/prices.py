"""The `prices` table, kept equal to the account's Stripe prices (docs/billing.md): the
`sync_prices` command reads them all, `price.*`/`product.*` webhooks keep them current,
and `billing_catalog` creates the example catalogue at Stripe."""

from collections.abc import Callable
from dataclasses import dataclass, field

import stripe

from billing.catalog import EXAMPLE_CATALOGUE
from billing.models import Price
from billing.plans import plan_from_metadata
from billing.stripe_api import client
from core.errors import ValidationFailed

PRICE_FIELDS = [
    "product_id",
    "product_name",
    "product_description",
    "active",
    "currency",
    "unit_amount",
    "billing_scheme",
    "type",
    "interval",
    "interval_count",
    "trial_period_days",
    "usage_type",
    "metadata",
    "raw_data",
]


@dataclass
class SyncReport:
    synced: list[str] = field(default_factory=list)
    deactivated: list[str] = field(default_factory=list)
    # Prices whose metadata does not describe a plan: stored, never sold.
    problems: dict[str, str] = field(default_factory=dict)


def _as_dict(obj) -> dict:
    return obj.to_dict(for_json=True) if hasattr(obj, "to_dict") else dict(obj)


def price_values(price: dict, product: dict | None) -> dict:
    """The `prices` row of a Stripe price (with its product, if known)."""
    recurring = price.get("recurring") or {}
    product_id = price["product"]["id"] if isinstance(price["product"], dict) else price["product"]
    product_active = True if product is None else bool(product.get("active", True)) and not product.get("deleted")
    return {
        "product_id": product_id,
        "product_name": (product or {}).get("name") or "",
        "product_description": (product or {}).get("description") or "",
        "active": bool(price["active"]) and product_active,
        "currency": price["currency"],
        "unit_amount": price.get("unit_amount"),
        "billing_scheme": price.get("billing_scheme") or "per_unit",
        "type": price["type"],
        "interval": recurring.get("interval") or "",
        "interval_count": recurring.get("interval_count"),
        "trial_period_days": recurring.get("trial_period_days"),
        "usage_type": recurring.get("usage_type") or "",
        "metadata": dict(price.get("metadata") or {}),
        "raw_data": price,
    }


def price_upsert(price, product=None) -> Price:
    """Insert or update one price (an INSERT ... ON CONFLICT: webhooks and the sync command
    may write the same price at once)."""
    price = _as_dict(price)
    if product is None and isinstance(price.get("product"), dict):
        product = price["product"]
    values = price_values(price, _as_dict(product) if product is not None else None)
    if product is None:
        # Keep the product's name and state from what the row already knows.
        known = Price.objects.filter(provider="stripe", product_id=values["product_id"]).exclude(product_name="")
        known = known.values("product_name", "product_description").first()
        if known:
            values.update(known)
    Price.objects.bulk_create(
        [Price(provider="stripe", provider_price_id=price["id"], **values)],
        update_conflicts=True,
        unique_fields=["provider", "provider_price_id"],
        update_fields=[*PRICE_FIELDS, "updated_at"],
    )
    return Price.objects.get(provider="stripe", provider_price_id=price["id"])


def price_deactivate(provider_price_id: str) -> int:
    """A price deleted at Stripe stays in the table (invoices name it), never sold again."""
    return Price.objects.filter(provider="stripe", provider_price_id=provider_price_id, active=True).update(
        active=False
    )


def product_refresh(product) -> int:
    """A product changed (or was deleted): its prices' names and whether they can be sold."""
    product = _as_dict(product)
    rows = list(Price.objects.filter(provider="stripe", product_id=product["id"]))
    for row in rows:
        price_upsert(row.raw_data or {"id": row.provider_price_id, "product": product["id"]}, product=product)
    return len(rows)


def plan_problem(price: Price) -> str | None:
    try:
        plan_from_metadata(price.metadata, price_type=price.type)
    except ValidationFailed as exc:
        return exc.detail
    return None


def prices_sync(*, progress: Callable[[int], None] | None = None) -> SyncReport:
    """Read every price (active or not) with its product from Stripe into `prices`; a price
    no longer at Stripe becomes inactive. Running it twice changes nothing."""
    report = SyncReport()
    pages = client().v1.prices.list(params={"limit": 100, "expand": ["data.product"]})
    for price in pages.auto_paging_iter():
        row = price_upsert(price)
        report.synced.append(row.provider_price_id)
        if row.active and (problem := plan_problem(row)):
            report.problems[row.provider_price_id] = problem
        if progress:
            progress(len(report.synced))
    gone = Price.objects.filter(provider="stripe", active=True).exclude(provider_price_id__in=report.synced)
    report.deactivated = list(gone.values_list("provider_price_id", flat=True))
    gone.update(active=False)
    return report


def catalog_create(*, catalogue=EXAMPLE_CATALOGUE, currency: str = "usd") -> list[str]:
    """Create the catalogue's products (by id) and prices (by lookup key) at Stripe, leaving
    those that exist alone; returns the ids created."""
    api = client().v1
    created = []
    for spec in catalogue:
        try:
            api.products.retrieve(spec["id"])
        except stripe.InvalidRequestError as exc:
            if exc.code != "resource_missing":
                raise
            api.products.create(params={"id": spec["id"], "name": spec["name"], "description": spec["description"]})
            created.append(spec["id"])
        keys = [price["lookup_key"] for price in spec["prices"]]
        existing = {p.lookup_key for p in api.prices.list(params={"lookup_keys": keys, "limit": 100}).data}
        for price in spec["prices"]:
            if price["lookup_key"] in existing:
                continue
            params = {"product": spec["id"], "currency": currency, **price}
            created.append(api.prices.create(params=params).id)
    return created
