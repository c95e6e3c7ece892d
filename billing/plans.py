"""What a Stripe price sells, read from its metadata (docs/billing.md):

- `plan_id`: Keel's name for the plan (several prices may share it: monthly and yearly);
- `kind`: `subscription` (a recurring price), `credits` (a one-time credit pack) or
  `lifetime` (a one-time lifetime deal);
- `credits`: credits granted per paid period (subscription), per pack or once (lifetime);
- optional `credit_priority` (higher is spent first; default 50), `credit_expires_days`
  (packs and lifetime: days until the credits expire; default never; subscriptions expire
  at the period's end), `trial_credits` (credits for a trial period; default 0).
"""

from dataclasses import dataclass

from django.db import models

from core.errors import ValidationFailed
from credits.models import MAX_CREDITS

DEFAULT_PRIORITY = 50


class PlanKind(models.TextChoices):
    SUBSCRIPTION = "subscription", "Subscription"
    CREDITS = "credits", "Credit pack"
    LIFETIME = "lifetime", "Lifetime deal"


@dataclass(frozen=True)
class Plan:
    plan_id: str
    kind: str
    credits: int
    priority: int = DEFAULT_PRIORITY
    expires_days: int | None = None
    trial_credits: int = 0


def _whole(metadata: dict, key: str, *, default=None, minimum: int = 0, maximum: int = MAX_CREDITS) -> int | None:
    raw = metadata.get(key)
    if raw in (None, ""):
        return default
    text = str(raw).strip()
    if not text.isdigit() or not minimum <= int(text) <= maximum:
        raise ValidationFailed(f"Price metadata `{key}` must be a whole number from {minimum} to {maximum}.", field=key)
    return int(text)


def plan_from_metadata(metadata: dict, *, price_type: str) -> Plan:
    """The plan a price's metadata describes; ValidationFailed says what is wrong."""
    plan_id = str(metadata.get("plan_id") or "").strip()
    if not plan_id:
        raise ValidationFailed("Price metadata needs a `plan_id`.", field="plan_id")
    kind = metadata.get("kind")
    if kind not in PlanKind.values:
        raise ValidationFailed(f"Price metadata `kind` must be one of {', '.join(PlanKind.values)}.", field="kind")
    recurring = price_type == "recurring"
    if recurring != (kind == PlanKind.SUBSCRIPTION):
        raise ValidationFailed(
            "A `subscription` plan needs a recurring price; packs and lifetime deals a one-time price.", field="kind"
        )
    credits = _whole(metadata, "credits")
    if credits is None:
        raise ValidationFailed("Price metadata needs `credits`.", field="credits")
    return Plan(
        plan_id=plan_id,
        kind=kind,
        credits=credits,
        priority=_whole(metadata, "credit_priority", default=DEFAULT_PRIORITY, maximum=1000),
        expires_days=_whole(metadata, "credit_expires_days", default=None, minimum=1, maximum=36500),
        trial_credits=_whole(metadata, "trial_credits", default=0),
    )


MONTHS_PER_INTERVAL = {"day": 1 / 30, "week": 7 / 30, "month": 1, "year": 12}


def monthly_amount(price) -> float:
    """A recurring price per month (a yearly one over twelve): what tells an upgrade from a
    downgrade."""
    months = MONTHS_PER_INTERVAL.get(price.interval or "month", 1) * (price.interval_count or 1)
    return (price.unit_amount or 0) / months
