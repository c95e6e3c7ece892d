"""Grants: credits an organization receives (free plan, subscription, pack, staff)."""

import logging
import uuid

from django.conf import settings
from django.db import IntegrityError, transaction

from audit.services import audit_record
from core.db import run_atomic
from core.errors import PermissionDenied, ValidationFailed
from core.locks import lock_row
from core.time import now_ms
from credits.models import MAX_CREDITS, PAYMENT_SOURCE_TYPES, Credit, CreditMode, CreditTransaction
from credits.selectors import credits_overdraft_owed
from credits.services._ledger import ADD_TYPE_FOR_MODE, ledger_row, overdraft_set
from credits.services.overdraft import repayment_rows
from organizations.models import Tenant

logger = logging.getLogger(__name__)

MAX_PRIORITY = 1_000_000


def _validate(*, amount, mode, source_id, priority, effective_at, expires_at) -> None:
    if isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount <= MAX_CREDITS:
        raise ValidationFailed(f"A grant is a whole number of credits from 1 to {MAX_CREDITS}.", field="amount")
    if mode not in CreditMode.values:
        raise ValidationFailed(f"Unknown grant mode {mode!r}.", field="mode")
    if not source_id or len(source_id) > 255:
        raise ValidationFailed("A grant needs a source id (at most 255 characters).", field="source_id")
    if isinstance(priority, bool) or not isinstance(priority, int) or abs(priority) > MAX_PRIORITY:
        raise ValidationFailed(
            f"Priority is a whole number between -{MAX_PRIORITY} and {MAX_PRIORITY}.", field="priority"
        )
    if expires_at is not None and expires_at <= effective_at:
        raise ValidationFailed("A grant must expire after it becomes effective.", field="expires_at")


def credits_grant(
    *,
    tenant: Tenant,
    user,
    amount: int,
    mode: str,
    source_type: str,
    source_id: str,
    priority: int = 50,
    effective_at: int | None = None,
    expires_at: int | None = None,
    plan_id: str = "",
    provider_price_id: str = "",
    provider_customer_id: str = "",
    amount_cents: int = 0,
    currency: str = "usd",
    raw_data: dict | None = None,
    provider: str = "stripe",
    description: str = "",
    now: int | None = None,
) -> Credit:
    """Grant `amount` credits to `tenant`; the same (user, source_id) twice is one grant, and
    for a payment (PAYMENT_SOURCE_TYPES) the same source twice, whatever the user.

    A second call with a source already granted returns that grant and writes
    nothing. What the organization owes on overdraft is paid back first, out of
    the new grant, in the same transaction.
    """
    at_ms = now if now is not None else now_ms()
    effective_at = at_ms if effective_at is None else effective_at
    _validate(
        amount=amount,
        mode=mode,
        source_id=source_id,
        priority=priority,
        effective_at=effective_at,
        expires_at=expires_at,
    )
    # A payment's grant is one per business object (invoice, checkout session) whoever the
    # user; other grants one per (user, source). Unique constraints back both.
    if source_type in PAYMENT_SOURCE_TYPES:
        same_source = {"source_type": source_type, "source_id": source_id}
    else:
        same_source = {"user": user, "source_id": source_id}
    existing = Credit.objects.filter(**same_source).first()
    if existing is not None:
        return existing

    def write() -> Credit:
        wallet = lock_row(Tenant, tenant.pk, fields=["id"])
        # Read after the lock, as its own statement: under READ COMMITTED it sees what the
        # previous holder of the lock committed (a read joined to the locking statement
        # would keep the snapshot taken before waiting; a concurrency test caught that).
        owed = credits_overdraft_owed(tenant_id=tenant.pk)
        repaid = min(owed, amount)
        grant = Credit(
            provider=provider,
            user=user,
            tenant_id=tenant.pk,
            plan_id=plan_id,
            mode=mode,
            total_credits=amount,
            remaining_credits=amount - repaid,
            amount=amount_cents,
            currency=currency,
            priority=priority,
            source_type=source_type,
            source_id=source_id,
            provider_price_id=provider_price_id,
            provider_customer_id=provider_customer_id,
            expires_at=expires_at,
            effective_at=effective_at,
            raw_data=raw_data or {},
            created_at=at_ms,
        )
        try:
            # The unique (user, source_id) decides between concurrent duplicates.
            with transaction.atomic():
                grant.save(force_insert=True)
        except IntegrityError:
            existing = Credit.objects.filter(**same_source).first()
            if existing is None:
                raise
            return existing
        rows = [
            ledger_row(
                tenant_id=tenant.pk,
                user_id=user.pk,
                credit_id=grant.pk,
                credits=amount,
                type=ADD_TYPE_FOR_MODE[mode],
                at_ms=at_ms,
                description=description or CreditMode(mode).label,
            ),
            *repayment_rows(
                tenant_id=tenant.pk, user_id=user.pk, draws=[(grant.pk, repaid)] if repaid else [], at_ms=at_ms
            ),
        ]
        CreditTransaction.objects.bulk_create(rows)
        overdraft_set(tenant=wallet, owed_before=owed, owed_after=owed - repaid, user_id=user.pk, at_ms=at_ms)
        audit_record(
            action="credits.granted",
            tenant_id=tenant.pk,
            target_type="credit",
            target_id=str(grant.pk),
            target_label=description or CreditMode(mode).label,
            after={
                "credits": amount,
                "mode": mode,
                "source_type": source_type,
                "source_id": source_id,
                "priority": priority,
                "expires_at": expires_at,
                "overdraft_repaid": repaid,
            },
        )
        return grant

    return run_atomic(write)


def credits_grant_free(*, user) -> Credit | None:
    """Sign-up hook: the free plan's credits for the user's default organization, once per user."""
    amount = settings.FREE_PLAN_CREDITS
    tenant = Tenant.objects.filter(owner=user, is_default=True, deleted_at__isnull=True).first()
    if amount <= 0 or tenant is None:
        return None
    return credits_grant(
        tenant=tenant,
        user=user,
        amount=amount,
        mode=CreditMode.FREE,
        source_type="signup",
        source_id=f"free:{user.pk}",
        provider="keel",
        description="Free plan credits",
    )


STAFF_REASON_MAX = 500


def credits_grant_staff(
    *,
    tenant: Tenant,
    staff,
    amount: int,
    reason: str,
    priority: int = 50,
    expires_at: int | None = None,
    grant_id: uuid.UUID | str,
    now: int | None = None,
) -> Credit:
    """Credits a site operator gives an organization (mode `grant`), with the reason in its ledger.

    `grant_id` is generated when the admin's form is shown: resubmitting that form (a double
    click, a reload) is the same source id, so one grant. Like every grant it pays back what the
    organization owes on overdraft first. The grant's user is the organization's owner, as for
    every grant to its wallet; who granted it and why are in `raw_data`.
    """
    if not getattr(staff, "is_staff", False):
        raise PermissionDenied("Only a site operator can grant credits by hand.", code="not_staff")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(
            "Give a reason: it is shown in the organization's ledger.", code="reason_required", field="reason"
        )
    if len(reason) > STAFF_REASON_MAX:
        raise ValidationFailed(
            f"Keep the reason under {STAFF_REASON_MAX} characters.", code="reason_too_long", field="reason"
        )
    try:
        grant_id = uuid.UUID(str(grant_id))
    except ValueError:
        raise ValidationFailed("The grant id is not a UUID.", code="invalid_grant_id", field="grant_id") from None
    return credits_grant(
        tenant=tenant,
        user=tenant.owner,
        amount=amount,
        mode=CreditMode.GRANT,
        source_type="admin",
        source_id=f"staff:{grant_id}",
        priority=priority,
        expires_at=expires_at,
        provider="keel",
        description=f"Staff grant: {reason}",
        raw_data={"granted_by": str(staff.pk), "granted_by_username": staff.username, "reason": reason},
        now=now,
    )
