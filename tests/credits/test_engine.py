"""The credits engine (credits/sql/engine_v*.sql): versioned, pinned, installed by migrations,
and held to the reference (`reference.py`) on scripted histories.
"""

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from core.errors import ApplicationError
from credits.errors import NotAMember
from credits.models import Credit
from credits.selectors import credits_usable_grants
from credits.services import consumption, credits_consume
from organizations.models import TenantMemberCreditLimit
from tests.conftest import migration_sql
from tests.credits.helpers import add_member, assert_invariants, give, give_both, make_org
from tests.credits.reference import Grant, Member, Wallet, consumed_from, ledger_of, refusal_from

SQL_DIR = Path(settings.BASE_DIR) / "credits" / "sql"
NOW = 1_800_000_000_000


def _versions() -> dict[int, Path]:
    return {int(re.fullmatch(r"engine_v(\d+)\.sql", p.name).group(1)): p for p in SQL_DIR.glob("engine_v*.sql")}


# -- versions, pins, installation ---------------------------------------------------------------


def test_every_engine_version_is_installed_by_a_migration_that_pins_its_checksum():
    """An edit to a released version without a new version fails here (and the migration refuses to load)."""
    installed = list(migration_sql())
    for _version, path in _versions().items():
        text = path.read_text()
        migration = next(
            (
                p
                for p in (Path(settings.BASE_DIR) / "credits" / "migrations").glob("*.py")
                if path.name in p.read_text()
            ),
            None,
        )
        assert migration is not None, f"no migration installs {path.name}"
        assert hashlib.sha256(text.encode()).hexdigest() in migration.read_text(), (
            f"{path.name} does not match the checksum its migration {migration.name} pins: never edit a released "
            f"version; copy it to engine_v{max(_versions()) + 1}.sql with new function names and a new migration"
        )
        assert text in installed, f"{migration.name} does not install {path.name} as it is"


def test_each_version_defines_only_functions_of_its_own_version():
    for version, path in _versions().items():
        names = re.findall(r"CREATE OR REPLACE FUNCTION (\w+)\(", path.read_text())
        assert names, path.name
        assert all(name.endswith(f"_v{version}") for name in names), (path.name, names)


def test_the_code_calls_the_newest_version():
    newest = max(_versions())
    assert f"keel_credits_consume_v{newest}" == consumption.CONSUME_FUNCTION
    source = (Path(settings.BASE_DIR) / "credits" / "selectors.py").read_text()
    assert f"keel_credits_usable_v{newest}(" in source


def test_no_constant_the_engine_shares_with_python_is_written_in_its_sql():
    """They are arguments (credits/services/consumption.py passes them), not literals to keep in step."""
    newest = _versions()[max(_versions())].read_text()
    body = "\n".join(line.split("--")[0] for line in newest.splitlines())  # comments may name them
    for literal in ("2147483647", "-1", "'deduct", "'add:", "Overdraft repaid", "Overdraft settled"):
        assert literal not in body, literal


@pytest.mark.migrations
@pytest.mark.django_db
def test_the_database_has_the_newest_engine_and_nothing_older():
    with connection.cursor() as cursor:
        cursor.execute("SELECT proname FROM pg_proc WHERE proname LIKE 'keel\\_credits\\_%%' ORDER BY proname")
        names = [row[0] for row in cursor.fetchall()]
    newest = max(_versions())
    assert names == [f"keel_credits_consume_v{newest}", f"keel_credits_usable_v{newest}"]


def test_sqlmigrate_shows_the_engine_a_migration_installs():
    result = subprocess.run(
        [sys.executable, "manage.py", "sqlmigrate", "credits", "0003"],
        cwd=settings.BASE_DIR,
        env={**os.environ, "DATABASE_URL": os.environ.get("DATABASE_URL", "")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "CREATE OR REPLACE FUNCTION keel_credits_consume_v2(" in result.stdout


# -- the engine against the reference, on a scripted history ------------------------------------


class Side:
    """One organization run through the services, and the reference beside it."""

    def __init__(self, *, overdraft_limit: int, member_limit: int):
        self.tenant = make_org(overdraft_limit=overdraft_limit)
        self.member = add_member(self.tenant, credit_limit=member_limit)
        self.wallet = Wallet(overdraft_enabled=True, overdraft_limit=overdraft_limit)
        self.wallet.members = {self.tenant.owner.pk: Member(), self.member.pk: Member(limit=member_limit)}

    def give(self, amount, *, priority=50, effective_at=None, expires_at=None, at):
        give_both(
            self.tenant,
            self.wallet,
            amount,
            source_id=f"g{at}",
            now=at,
            priority=priority,
            effective_at=effective_at,
            expires_at=expires_at,
        )

    def consume(self, user, amount, *, at, key=None):
        description = f"step at {at - NOW}"
        expected = self.wallet.consume(user.pk, amount, description, at)
        try:
            result = credits_consume(
                tenant=self.tenant, user=user, amount=amount, description=description, idempotency_key=key, now=at
            )
        except ApplicationError as error:
            return refusal_from(error), expected
        return consumed_from(result), expected


@pytest.mark.migrations  # CI: also the function exactly as the real migrations install it
@pytest.mark.django_db
def test_the_engine_answers_a_scripted_history_as_the_reference_does():
    """Priorities, expiry, overdraft, the overdraft room, the member limit, and repayment by a
    grant that becomes usable later: every answer (rows in order, balance, overdraft, or the
    refusal's code and detail) and the whole ledger, step by step."""
    side = Side(overdraft_limit=40, member_limit=60)
    owner, member = side.tenant.owner, side.member
    side.give(10, priority=50, at=NOW - 100)
    side.give(5, priority=90, expires_at=NOW + 50, at=NOW - 90)
    side.give(7, priority=50, expires_at=NOW + 20, at=NOW - 80)
    side.give(25, priority=10, effective_at=NOW + 30, at=NOW - 70)  # usable later

    steps = [
        (owner, 3, NOW + 1),  # from the priority-90 grant
        (member, 9, NOW + 2),  # the rest of it, then the soonest-expiring
        (owner, 30, NOW + 4),  # across grants, 19 on overdraft
        (member, 52, NOW + 5),  # over the member's limit
        (owner, 22, NOW + 6),  # more than the overdraft room
        (owner, 200, NOW + 31),  # the later grant is usable while 19 are owed: refused, 6 available
        (owner, 2, NOW + 32),  # repays what is owed first, then draws
        (member, 1, NOW + 33),
        (owner, 200, NOW + 60),  # refused after expiry
    ]
    answers, refused_while_owing = [], False
    for user, amount, at in steps:
        owing, usable = side.wallet.owed, sum(g.remaining for g in side.wallet.usable(at))
        actual, expected = side.consume(user, amount, at=at)
        refused_while_owing |= getattr(expected, "code", "") == "insufficient_credits" and 0 < owing < usable
        answers.append(expected)
        assert actual == expected, f"step at {at - NOW}"
        assert ledger_of(side.tenant) == side.wallet.ledger, f"ledger after step at {at - NOW}"
    assert_invariants(side.tenant)
    # The history covers what it claims to: both refusals, every row type, and a refusal while
    # something is owed and more than that is usable (what is available is the difference).
    assert {getattr(a, "code", None) for a in answers} >= {"insufficient_credits", "member_credit_limit_exceeded"}
    assert refused_while_owing
    kinds = {row.type for row in side.wallet.ledger}
    assert kinds >= {"deduct", "deduct:overdraft", "deduct:repay", "add:repay"}


@pytest.mark.django_db
def test_usable_grants_come_in_the_references_order_with_its_filter():
    tenant = make_org()
    wallet = Wallet()
    specs = [
        {"priority": 10, "at": NOW - 50},
        {"priority": 50, "at": NOW - 40},
        {"priority": 50, "expires_at": NOW + 9_000, "at": NOW - 30},
        {"priority": 50, "expires_at": NOW + 1_000, "at": NOW - 20},
        {"priority": 90, "at": NOW - 10},
        {"priority": 50, "expires_at": NOW + 9_000, "effective_at": NOW - 100, "at": NOW - 5},
        {"priority": 50, "expires_at": NOW + 9_000, "effective_at": NOW - 100, "at": NOW - 5},  # same keys: id decides
        {"priority": 99, "expires_at": NOW, "effective_at": NOW - 100, "at": NOW - 200},  # expired now
        {"priority": 99, "effective_at": NOW + 1, "at": NOW - 3},  # not effective yet
    ]
    for spec in specs:
        at = spec.pop("at")
        credit = give(tenant, 10, now=at, **spec)
        effective_at = spec.get("effective_at", at)
        wallet.grants.append(
            Grant(credit.pk, 10, 10, spec["priority"], effective_at, spec.get("expires_at"), credit.created_at)
        )
    spent = give(tenant, 10, priority=99, now=NOW - 2)
    Credit.objects.filter(pk=spent.pk).update(remaining_credits=0)
    give(make_org(), 10, priority=99, now=NOW - 1)  # another organization

    usable = credits_usable_grants(tenant=tenant, at_ms=NOW)

    assert [g.pk for g in usable] == [g.key for g in wallet.usable(NOW)]
    assert len(usable) == 7


@pytest.mark.django_db
def test_a_membership_without_its_limit_row_is_refused_not_made_unlimited():
    """Every membership has its limit row (created with it, removed with it): a missing row means
    the membership ended between authentication and consumption. It is never recreated as unlimited."""
    tenant = make_org()
    member = add_member(tenant, credit_limit=5)
    give(tenant, 100)
    TenantMemberCreditLimit.objects.filter(tenant=tenant, user=member).delete()

    with pytest.raises(NotAMember) as refused:
        credits_consume(tenant=tenant, user=member, amount=50)

    assert (refused.value.status, refused.value.code) == (404, "not_a_member")
    assert not TenantMemberCreditLimit.objects.filter(tenant=tenant, user=member).exists()
    assert ledger_of(tenant).total() == 1  # the grant only
