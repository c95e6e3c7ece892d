"""A Hypothesis state machine: grants, consumption, expiry, overdraft, repayment and
reversal against a simple in-memory model, with every invariant checked after every step.

The clock is an argument (`now=`), advanced by a rule: no sleeping.
"""

from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from credits.errors import InsufficientCredits, MemberCreditLimitExceeded
from credits.models import Credit
from credits.selectors import credits_summary
from credits.services import credits_consume, credits_expire, credits_grant, credits_reverse, tenant_overdraft_configure
from organizations.models import TenantMemberCreditLimit
from tests.credits.helpers import add_member, assert_invariants, make_org, owed

START = 1_800_000_000_000


@dataclass
class Grant:
    pk: object
    total: int
    remaining: int
    priority: int
    effective_at: int
    expires_at: int | None
    created_at: int

    def usable(self, now: int) -> bool:
        return self.remaining > 0 and self.effective_at <= now and (self.expires_at is None or self.expires_at > now)

    def order(self):
        return (
            -self.priority,
            self.expires_at is None,
            self.expires_at or 0,
            self.effective_at,
            self.created_at,
            self.pk,
        )


class CreditsMachine(RuleBasedStateMachine):
    @initialize(
        limit=st.integers(min_value=0, max_value=60),
        overdraft=st.tuples(st.booleans(), st.integers(min_value=0, max_value=100)),
    )
    def setup(self, limit, overdraft):
        self.now = START
        self.tenant = make_org()
        self.member = add_member(self.tenant, credit_limit=limit)
        self.users = [self.tenant.owner, self.member]
        self.limits = {self.tenant.owner.pk: -1, self.member.pk: limit}
        self.used = {self.tenant.owner.pk: 0, self.member.pk: 0}
        self.grants: list[Grant] = []
        self.owed = 0
        self.overdraft = overdraft
        tenant_overdraft_configure(tenant=self.tenant, enabled=overdraft[0], limit=overdraft[1])
        self.sources = 0

    # -- the model ---------------------------------------------------------
    def usable_in_order(self) -> list[Grant]:
        return sorted((g for g in self.grants if g.usable(self.now)), key=Grant.order)

    def model_balance(self) -> int:
        return sum(g.remaining for g in self.usable_in_order()) - self.owed

    @staticmethod
    def take(grants: list[Grant], amount: int) -> int:
        for grant in grants:
            n = min(grant.remaining, amount)
            grant.remaining -= n
            amount -= n
        return amount

    # -- rules -------------------------------------------------------------
    @rule(ms=st.integers(min_value=1, max_value=2_500))
    def advance_clock(self, ms):
        self.now += ms

    @rule(
        amount=st.integers(min_value=1, max_value=120),
        priority=st.sampled_from([50, 50, 50, 90]),
        expires_in=st.one_of(st.none(), st.integers(min_value=1_000, max_value=12_000)),
        delay=st.sampled_from([0, 0, 0, 2_000]),
    )
    def grant(self, amount, priority, expires_in, delay):
        self.sources += 1
        effective_at = self.now + delay
        expires_at = None if expires_in is None else effective_at + expires_in
        credit = credits_grant(
            tenant=self.tenant,
            user=self.tenant.owner,
            amount=amount,
            mode="one_time:credits",
            source_type="test",
            source_id=f"s{self.sources}",
            priority=priority,
            effective_at=effective_at,
            expires_at=expires_at,
            now=self.now,
        )
        repaid = min(self.owed, amount)
        self.owed -= repaid
        self.grants.append(Grant(credit.pk, amount, amount - repaid, priority, effective_at, expires_at, self.now))

    @rule(who=st.integers(min_value=0, max_value=1), amount=st.integers(min_value=1, max_value=30))
    def consume(self, who, amount):
        user = self.users[who]
        limit = self.limits[user.pk]
        over_limit = limit != -1 and self.used[user.pk] + amount > limit
        usable = self.usable_in_order()
        snapshot = [(g, g.remaining) for g in usable]
        owed = self.take(usable, self.owed)  # usable credits repay what is owed first
        uncovered = self.take(usable, amount)
        enabled, cap = self.overdraft
        refused_for_credits = uncovered > 0 and (not enabled or owed + uncovered > cap)
        if over_limit or refused_for_credits:
            for grant, before in snapshot:
                grant.remaining = before
            expected = MemberCreditLimitExceeded if over_limit else InsufficientCredits
            with pytest.raises(expected):
                credits_consume(tenant=self.tenant, user=user, amount=amount, now=self.now)
            return
        result = credits_consume(tenant=self.tenant, user=user, amount=amount, now=self.now)
        self.owed = owed + uncovered
        self.used[user.pk] += amount
        assert (result.consumed, result.balance, result.overdraft) == (amount, self.model_balance(), self.owed)

    @rule()
    def expire(self):
        credits_expire(now=self.now, batch_size=3)
        for grant in self.grants:
            if grant.expires_at is not None and grant.expires_at <= self.now:
                grant.remaining = 0

    @rule(enabled=st.booleans(), cap=st.integers(min_value=0, max_value=100))
    def set_overdraft(self, enabled, cap):
        tenant_overdraft_configure(tenant=self.tenant, enabled=enabled, limit=cap)
        self.overdraft = (enabled, cap)

    @precondition(lambda self: self.grants)
    @rule(index=st.integers(min_value=0), amount=st.one_of(st.none(), st.integers(min_value=1, max_value=50)))
    def reverse(self, index, amount):
        grant = self.grants[index % len(self.grants)]
        credit = Credit.objects.get(pk=grant.pk)
        taken = credits_reverse(credit=credit, description="refund", amount=amount, now=self.now)
        expected = grant.remaining if amount is None else min(amount, grant.remaining)
        assert taken == expected
        grant.remaining -= taken

    # -- invariants --------------------------------------------------------
    @invariant()
    def ledger_and_model_agree(self):
        if not hasattr(self, "tenant"):
            return
        assert_invariants(self.tenant)
        assert owed(self.tenant) == self.owed
        db = dict(Credit.objects.filter(tenant=self.tenant).values_list("pk", "remaining_credits"))
        assert db == {g.pk: g.remaining for g in self.grants}
        used = dict(TenantMemberCreditLimit.objects.filter(tenant=self.tenant).values_list("user_id", "used_credits"))
        assert used == self.used
        summary = credits_summary(tenant=self.tenant, user=self.member, at_ms=self.now)
        assert summary.balance == self.model_balance()


@pytest.mark.django_db
def test_credits_engine_matches_the_model(engine):
    run_state_machine_as_test(
        CreditsMachine,
        settings=settings(
            max_examples=30,
            stateful_step_count=60,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
