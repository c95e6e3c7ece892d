"""Every action the audit log records, `noun.verb`, with what the owners' page calls it
(docs/audit.md has the table: when each is written and its before/after fields)."""

ACTIONS: dict[str, str] = {
    "tenant.created": "Organization created",
    "tenant.updated": "Organization renamed or moved",
    "tenant.deleted": "Organization deleted",
    "tenant.overdraft_changed": "Overdraft settings changed",
    "member.role_changed": "Role changed",
    "member.credit_limit_changed": "Credit limit changed",
    "member.usage_reset": "Usage reset",
    "member.removed": "Member removed",
    "member.left": "Member left",
    "member.ownership_transferred": "Ownership transferred",
    "invitation.created": "Invitation sent",
    "invitation.resent": "Invitation resent",
    "invitation.revoked": "Invitation revoked",
    "invitation.accepted": "Invitation accepted (member joined)",
    "invitation.expired": "Invitation expired",
    "api_key.created": "API key created",
    "api_key.revoked": "API key revoked",
    "credits.granted": "Credits granted",
    "credits.reversed": "Credits taken back",
    "credits.expired": "Credits expired",
    "checkout.completed": "Credit pack bought",
    "lifetime.purchased": "Lifetime deal bought",
    "lifetime.refunded": "Lifetime deal refunded",
    "invoice.paid": "Invoice paid",
    "refund.applied": "Refund",
    "subscription.created": "Subscription started",
    "subscription.plan_changed": "Plan changed",
    "subscription.renewed": "Subscription renewed",
    "subscription.status_changed": "Subscription status changed",
    "subscription.cancel_scheduled": "Cancellation scheduled",
    "subscription.cancel_withdrawn": "Cancellation withdrawn",
    "subscription.canceled": "Subscription ended",
    "subscription.updated": "Subscription updated",
    "subscription.change_requested": "Plan change requested",
    "subscription.cancel_requested": "Cancellation requested",
    "subscription.reactivation_requested": "Reactivation requested",
}

# Rows of no organization (accounts/services/impersonation.py): in the admin, not on owners' pages.
ACCOUNT_ACTIONS: dict[str, str] = {
    "impersonation.started": "Staff signed in as the user",
    "impersonation.ended": "Staff stopped signing in as the user",
}


def action_label(action: str) -> str:
    return ACTIONS.get(action) or ACCOUNT_ACTIONS.get(action, action)
