"""Reads of the credits app that pages, the API and the admin share."""

from dataclasses import dataclass

from django.db.models import F, QuerySet, Sum

from accounts.models import User
from core.time import MS_PER_DAY, now_ms
from credits.models import CONSUMPTION_TYPES, ApiKey, Credit, CreditOverdraft, CreditTransaction, utc_day
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


# Dashboard reads (credits/views.py `dashboard`)


@dataclass(frozen=True)
class UsageWindow:
    """`days` whole UTC days ending with today's: days are numbered `epoch ms // MS_PER_DAY`."""

    first_day: int
    days: int

    @property
    def start_ms(self) -> int:
        return self.first_day * MS_PER_DAY

    @property
    def end_ms(self) -> int:
        return (self.first_day + self.days) * MS_PER_DAY

    @property
    def day_numbers(self) -> range:
        return range(self.first_day, self.first_day + self.days)


def usage_window(*, days: int, at_ms: int | None = None) -> UsageWindow:
    today = (at_ms if at_ms is not None else now_ms()) // MS_PER_DAY
    return UsageWindow(first_day=today - days + 1, days=days)


def credits_used_per_day(*, tenant: Tenant, window: UsageWindow, user=None) -> QuerySet:
    """`(day, user_id, credits used)` for each UTC day and member with consumption in the window
    (only `user`'s when given); days without any are absent. One aggregate query (a QuerySet:
    iterating it again reads its cache), an index-only scan of `credit_tx_usage_idx` in its order:
    the window is whole days, so it is asked for by day, the index's expression, not by
    `created_at`."""
    rows = (
        CreditTransaction.objects.filter(tenant=tenant, type__in=CONSUMPTION_TYPES)
        .annotate(day=utc_day())
        .filter(day__gte=window.first_day, day__lt=window.first_day + window.days)
    )
    if user is not None:
        rows = rows.filter(user=user)
    # Ordered as the index is, so that PostgreSQL groups in that order as it reads (before 17 it
    # takes the GROUP BY keys in the ORDER BY's order, not the index's).
    return rows.values_list("day", "user_id").annotate(used=-Sum("credits")).order_by("day", "user_id")


def user_labels(*, user_ids) -> dict:
    """user id -> full name (or username), for the chart's legend."""
    user_ids = list(user_ids)
    if not user_ids:
        return {}
    users = User.objects.filter(pk__in=user_ids).only("username", "first_name", "last_name").order_by()
    return {user.pk: user.get_full_name() for user in users}


def credits_granted_since(*, tenant: Tenant, since_ms: int) -> int:
    """Credits of the grants the organization received since `since_ms` (their size when granted)."""
    granted = Credit.objects.filter(tenant=tenant, created_at__gte=since_ms).aggregate(total=Sum("total_credits"))
    return granted["total"] or 0


def tenant_has_api_keys(*, tenant: Tenant) -> bool:
    """Whether the organization has a key that works (not revoked)."""
    return ApiKey.objects.filter(tenant=tenant, revoked_at__isnull=True).exists()


# The data export reads the ledger in chunks of this many rows.
EXPORT_CHUNK_ROWS = 2000


def user_export_credit_transactions(*, user: User) -> tuple[str, object]:
    """The data export's section (KEEL_ACCOUNT_EXPORT_SECTIONS): every ledger row the user made,
    across organizations, oldest first, as an iterator: one query on a server-side cursor,
    fetched `EXPORT_CHUNK_ROWS` at a time, so 100,000 rows never sit in memory together."""
    rows = (
        CreditTransaction.objects.filter(user=user)
        .order_by("created_at", "id")
        .values_list("id", "tenant__slug", "credits", "type", "description", "created_at")
        .iterator(chunk_size=EXPORT_CHUNK_ROWS)
    )
    keys = ("id", "organization", "credits", "type", "description", "created_at")
    return "credit_transactions", (dict(zip(keys, row, strict=True)) for row in rows)


def user_export_api_keys(*, user: User) -> tuple[str, list]:
    """The data export's section: the API keys the user created (never their hash)."""
    keys = ApiKey.objects.filter(user=user).order_by("created_at", "id")
    rows = keys.values_list("tenant__slug", "name", "prefix", "created_at", "last_used_at", "revoked_at")
    names = ("organization", "name", "prefix", "created_at", "last_used_at", "revoked_at")
    return "api_keys", [dict(zip(names, row, strict=True)) for row in rows]
