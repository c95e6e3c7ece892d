"""Reads of the credits app that pages, the API and the admin share."""

from dataclasses import dataclass

from django.db.models import F, QuerySet, Sum

from core.time import now_ms
from credits.models import ApiKey, Credit, CreditOverdraft, CreditTransaction
from organizations.models import MemberRole, Tenant, TenantMember, TenantMemberCreditLimit


@dataclass
class CreditSummary:
    """What an organization can spend now.

    `balance` = usable remaining credits - overdraft owed: what can be spent
    without overdraft. Grants that expired but were not swept by
    `expire_credits` yet, and grants not effective yet, do not count.
    """

    balance: int
    usable: int
    overdraft: int
    grants: list[Credit]
    member_limit: TenantMemberCreditLimit | None


# The engine's one definition of "usable" and of the consumption order (credits/sql/engine_v2.sql).
_USABLE_SQL = (
    "SELECT c.* FROM keel_credits_usable_v2(%s, %s) WITH ORDINALITY AS g"
    " JOIN credits c ON c.id = g.id ORDER BY g.ordinality"
)


def credits_usable_grants(*, tenant: Tenant, at_ms: int | None = None) -> list[Credit]:
    """Grants that count now (effective, unexpired, with credits left), in the order consumption takes them."""
    at_ms = at_ms if at_ms is not None else now_ms()
    return list(Credit.objects.raw(_USABLE_SQL, [tenant.pk, at_ms]))


def credits_overdraft_owed(*, tenant_id) -> int:
    """What the organization owes on overdraft (0 if nothing). Writers read it after the wallet lock."""
    return CreditOverdraft.objects.filter(tenant_id=tenant_id).values_list("credits", flat=True).first() or 0


def member_credit_limit(*, tenant: Tenant, user) -> TenantMemberCreditLimit | None:
    return TenantMemberCreditLimit.objects.filter(tenant=tenant, user=user).first()


def credits_summary(*, tenant: Tenant, user, at_ms: int | None = None) -> CreditSummary:
    grants = credits_usable_grants(tenant=tenant, at_ms=at_ms)
    usable = sum(grant.remaining_credits for grant in grants)
    owed = credits_overdraft_owed(tenant_id=tenant.pk)
    return CreditSummary(
        balance=usable - owed,
        usable=usable,
        overdraft=owed,
        grants=grants,
        member_limit=member_credit_limit(tenant=tenant, user=user),
    )


def credit_transactions_for(*, tenant: Tenant, user=None) -> QuerySet[CreditTransaction]:
    """An organization's ledger, newest first; only `user`'s rows when given."""
    rows = CreditTransaction.objects.filter(tenant=tenant).select_related("user")
    if user is not None:
        rows = rows.filter(user=user)
    return rows.order_by("-created_at", "-id")


def credit_grants_for(*, tenant: Tenant) -> QuerySet[Credit]:
    return Credit.objects.filter(tenant=tenant).order_by("-created_at", "-id")


def member_usage_list(*, tenant: Tenant) -> QuerySet[TenantMemberCreditLimit]:
    """Every member's limit and use, for people who may see all usage."""
    return (
        TenantMemberCreditLimit.objects.filter(tenant=tenant, user__memberships__tenant=tenant)
        .select_related("user")
        .order_by("-used_credits", "user__username")
    )


def tenant_owner_ids(*, tenant: Tenant) -> set:
    """The user ids of the organization's owners."""
    return set(TenantMember.objects.filter(tenant=tenant, role=MemberRole.OWNER).values_list("user_id", flat=True))


def tenant_api_keys(*, tenant: Tenant) -> QuerySet[ApiKey]:
    return (
        ApiKey.objects.filter(tenant=tenant)
        .select_related("user")
        .order_by(F("revoked_at").asc(nulls_first=True), "-created_at")
    )


def credits_ledger_sum(*, tenant: Tenant) -> int:
    """The sum of the organization's ledger: remaining of all its grants minus its overdraft."""
    return CreditTransaction.objects.filter(tenant=tenant).aggregate(total=Sum("credits"))["total"] or 0
