"""core/locks.py is the only place a row lock is taken, in one order, with one strength."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from core.locks import ORDER, lock_rows
from credits.models import Credit
from organizations.models import Tenant
from organizations.services import tenants_account_delete
from tests import factories

ROOT = Path(settings.BASE_DIR)
APPS = ("core", "accounts", "organizations", "credits", "billing")
LOCKING = re.compile(r"select_for_update|FOR (NO KEY )?UPDATE|FOR (KEY )?SHARE", re.IGNORECASE)
# Where a lock may be written: the lock module itself, and the consumption function, which
# takes the module's locks in its order in SQL (its header says so).
ALLOWED = {ROOT / "core" / "locks.py", ROOT / "credits" / "sql" / "engine_v2.sql"}


def _sources():
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*")):
            if path.suffix in (".py", ".sql") and "migrations" not in path.parts:
                yield path


def test_no_code_outside_the_lock_module_takes_a_row_lock():
    offenders = []
    for path in _sources():
        if path in ALLOWED:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#")[0] if path.suffix == ".py" else line.split("--")[0]
            if LOCKING.search(code):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == [], "take locks through core.locks (its order and strength):\n" + "\n".join(offenders)


def test_the_sql_engine_locks_the_wallet_with_the_modules_strength():
    sql = (ROOT / "credits" / "sql" / "engine_v2.sql").read_text()
    locks = re.findall(r"FROM (\w+) \w+ WHERE [^;]*?FOR ((?:NO KEY )?UPDATE|(?:KEY )?SHARE);", sql)
    assert locks == [("tenants", "NO KEY UPDATE")]


@pytest.mark.django_db
def test_a_kind_of_row_the_module_does_not_order_is_refused():
    with pytest.raises(ValueError, match="credits"), transaction.atomic():
        lock_rows(Credit, [])
    assert ORDER == ("users", "tenants")


@pytest.mark.django_db
def test_rows_are_locked_in_ascending_primary_key_order_whatever_the_callers_order():
    tenants = [factories.TenantFactory() for _ in range(4)]
    ids = [t.pk for t in tenants]
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        locked = lock_rows(Tenant, reversed(ids))

    assert [t.pk for t in locked] == sorted(ids)
    (sql,) = [q["sql"] for q in queries.captured_queries]
    assert sql.endswith('ORDER BY "tenants"."id" ASC FOR NO KEY UPDATE')


@pytest.mark.django_db
def test_account_deletion_locks_every_organization_in_id_order_before_it_plans():
    """It used to lock them one by one in name order, after planning who takes over."""
    user = factories.UserFactory()
    names = ["zeta", "alpha", "mid"]
    for name in names:
        tenant = factories.TenantFactory(name=name)
        factories.TenantMemberFactory(tenant=tenant, user=tenant.owner, role="owner")
        factories.TenantMemberFactory(tenant=tenant, user=user, role="member")
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        tenants_account_delete(user=user)

    statements = [q["sql"] for q in queries.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]
    locks = [i for i, sql in enumerate(statements) if "FOR NO KEY UPDATE" in sql]
    assert len(locks) == 1, statements
    assert locks[0] <= 1  # after reading which organizations (if not in the same statement), before anything else
    assert 'FROM "tenants"' in statements[locks[0]] and 'ORDER BY "tenants"."id" ASC' in statements[locks[0]]
