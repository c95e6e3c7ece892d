"""Credits services: every write to grants, the ledger, overdrafts, API keys and idempotency keys.

Import from here: `from credits.services import credits_consume`.
"""

from credits.services.api_keys import (
    api_key_create,
    api_key_revoke,
    api_key_touch,
    api_key_verify,
    api_keys_revoke_for_member,
)
from credits.services.consumption import ConsumeResult, credits_consume
from credits.services.expiry import credits_expire
from credits.services.grants import credits_grant, credits_grant_free, credits_grant_staff
from credits.services.idempotency import idempotency_keys_purge
from credits.services.overdraft import tenant_overdraft_configure
from credits.services.reversal import credits_reverse

__all__ = [
    "ConsumeResult",
    "api_key_create",
    "api_key_revoke",
    "api_key_touch",
    "api_key_verify",
    "api_keys_revoke_for_member",
    "credits_consume",
    "credits_expire",
    "credits_grant",
    "credits_grant_free",
    "credits_grant_staff",
    "credits_reverse",
    "idempotency_keys_purge",
    "tenant_overdraft_configure",
]
