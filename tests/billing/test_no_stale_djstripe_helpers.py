"""dj-stripe 2.11's model helpers read pre-2025 Stripe fields that API 2026-05-27.dahlia no
longer sends (docs/billing.md): they return None or [] or raise. Keel reads the current
shapes itself; this test fails if Keel's code calls one of them on an expression that
starts from a dj-stripe import (a value kept in a variable first is not followed)."""

import ast
from pathlib import Path

from django.conf import settings

ROOT = Path(settings.BASE_DIR)
APPS = ["core", "accounts", "organizations", "credits", "billing", "config"]

# Members of dj-stripe models that read fields this API version does not send.
STALE = {
    "current_period_end",  # Subscription: on the items now
    "current_period_start",
    "is_period_current",
    "is_status_temporarily_current",
    "has_any_active_subscription",
    "has_active_subscription",
    "active_subscriptions",
    "is_subscribed_to",
    "reactivate",
    "extend",
    "started_plan_summary_for",
    "active_plan_summary",
    "canceled_plan_summary_for",
    "subscription_item",  # LineItem: parent.subscription_item_details now
    "tax_percent",
    # Invoice.paid/charge/payment_intent/subscription, Subscription.plan/quantity/discount,
    # Customer.coupon: always None, or KeyError.
    "paid",
    "charge",
    "payment_intent",
    "subscription",
    "plan",
    "quantity",
    "discount",
    "coupon",
}


def _djstripe_names(tree) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("djstripe"):
            names.update(alias.asname or alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.asname or alias.name for alias in node.names if alias.name.startswith("djstripe"))
    return names


def _offences(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    djstripe_names = _djstripe_names(tree)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        base = node.value
        while isinstance(base, ast.Attribute | ast.Call | ast.Subscript):
            base = base.func if isinstance(base, ast.Call) else base.value
        touches_djstripe = isinstance(base, ast.Name) and base.id in djstripe_names
        if node.attr in STALE and touches_djstripe:
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} .{node.attr}")
    return found


def test_keel_never_calls_dj_stripes_stale_helpers():
    offences = [o for app in APPS for path in sorted((ROOT / app).rglob("*.py")) for o in _offences(path)]
    assert offences == []


def test_the_scan_finds_a_call(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from djstripe.models import Customer, Subscription\n"
        "def f(c):\n"
        "    end = Subscription.objects.get(id=c).current_period_end\n"
        "    return end or Customer.objects.first().has_any_active_subscription()\n"
    )
    global ROOT
    saved, ROOT = ROOT, tmp_path
    try:
        assert sorted(o.split(" ")[1] for o in _offences(sample)) == [
            ".current_period_end",
            ".has_any_active_subscription",
        ]
    finally:
        ROOT = saved
