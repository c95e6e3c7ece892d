"""Every row lock Keel takes explicitly, in one global order, with one strength.

The order. A transaction takes its locks in this order and never back; within a
kind, rows in ascending primary key (`lock_rows` sorts them):

1. `users`: one user's own rows (their emails, their two-factor devices and codes), account deletion;
2. `tenants`: the organization, for every write to it or to rows that belong
   to it: memberships and their credit limits, invitations, settings, and the
   wallet (every grant, consumption, repayment, expiry and reversal);
3. rows inside an organization, only ever written under (2) and so needing no
   lock of their own: `tenant_member_credit_limits`, then `credits` (grants,
   conditional updates in consumption order), then `credit_overdrafts`, then
   new ledger rows and idempotency keys. The consumption function
   (`credits/sql/engine_v2.sql`) takes the same locks in the same order.

So two writers of one organization run one after the other, writers of
different organizations never wait for each other, and no two transactions
can deadlock on these rows: every path that holds a tenant and wants a user,
or holds one tenant and wants another of a higher id, would break the order,
and none does (`tests/core/test_locks.py` fails on a lock taken anywhere but
here).

The strength: `FOR NO KEY UPDATE` for every kind. Keel never changes a primary
key and never hard-deletes a user or an organization (soft delete), so no lock
needs to stop the `FOR KEY SHARE` lock that inserting a row referencing the
locked one takes: with `FOR UPDATE`, every ledger row, membership or grant
inserted for a locked organization by another transaction would wait for it.
"""

from collections.abc import Iterable
from typing import TypeVar

from django.db import models

M = TypeVar("M", bound=models.Model)

# The kinds, by table (the spec's names), in lock order.
ORDER = ("users", "tenants")


def lock_rows(model: type[M], pks: Iterable, *, fields: Iterable[str] = ()) -> list[M]:
    """Lock the rows of `model` with these primary keys, in ascending order; returns them as read under the lock.

    `fields` limits what is read (the primary key is always read). Rows that
    do not exist are skipped. Call it inside a transaction.
    """
    if model._meta.db_table not in ORDER:
        raise ValueError(f"{model._meta.db_table} is not a kind of row core.locks orders: {ORDER}")
    rows = model._base_manager.select_for_update(no_key=True).filter(pk__in=sorted(set(pks))).order_by("pk")
    if fields:
        rows = rows.only(*fields)
    return list(rows)


def lock_row(model: type[M], pk, *, fields: Iterable[str] = ()) -> M:
    """`lock_rows` for one row; `model.DoesNotExist` if there is none."""
    rows = lock_rows(model, [pk], fields=fields)
    if not rows:
        raise model.DoesNotExist(f"No {model._meta.verbose_name} {pk} to lock.")
    return rows[0]
