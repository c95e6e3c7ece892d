"""Every write of the organizations app. Import from here: `organizations.services.tenant_create`."""

from organizations.services.departures import tenants_account_delete, tenants_account_delete_notices
from organizations.services.invitations import (
    invitation_accept,
    invitation_accept_after_signup,
    invitation_create,
    invitation_resend,
    invitation_revoke,
    invitation_state_error,
    invitations_expire,
)
from organizations.services.members import (
    member_credit_limit_set,
    member_leave,
    member_remove,
    member_role_change,
    member_update,
    member_usage_reset,
    tenant_ownership_transfer,
)
from organizations.services.tenants import (
    RESERVED_SLUGS,
    tenant_create,
    tenant_create_default,
    tenant_delete,
    tenant_slug_suggest,
    tenant_update,
)

__all__ = [
    "RESERVED_SLUGS",
    "invitation_accept",
    "invitation_accept_after_signup",
    "invitation_create",
    "invitation_resend",
    "invitation_revoke",
    "invitation_state_error",
    "invitations_expire",
    "member_credit_limit_set",
    "member_leave",
    "member_remove",
    "member_role_change",
    "member_update",
    "member_usage_reset",
    "tenant_create",
    "tenant_create_default",
    "tenant_delete",
    "tenant_ownership_transfer",
    "tenant_slug_suggest",
    "tenant_update",
    "tenants_account_delete",
    "tenants_account_delete_notices",
]
