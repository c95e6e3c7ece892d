"""Billing's panel on the organization dashboard (settings.KEEL_DASHBOARD_PANELS; credits shows
it without importing billing): the plan, its renewal or end date, a past-due notice with where
to pay, the lifetime deal. Three queries at most, whatever the organization holds."""

from billing import selectors
from organizations.models import Permission
from organizations.tenancy import member_can


def plan_panel(*, member) -> dict:
    tenant = member.tenant
    plan = selectors.tenant_plan(tenant)  # one query, two without a subscription
    if plan.kind == selectors.TenantPlanKind.SUBSCRIPTION:
        lifetime = selectors.tenant_has_lifetime(tenant)
    else:
        lifetime = plan.kind == selectors.TenantPlanKind.LIFETIME  # tenant_plan looked for it
    return {
        "template": "billing/_dashboard_plan.html",
        "context": {
            "tenant": tenant,
            "plan": plan,
            "plan_name": selectors.plan_name(plan),
            "lifetime_owned": lifetime,
            "can_manage": member_can(member, Permission.MANAGE_BILLING),
        },
    }
