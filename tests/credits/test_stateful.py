"""A Hypothesis state machine: grants, consumption, expiry, overdraft, repayment and reversal,
run through the real services and through the reference (`reference.py`) side by side.

After every consumption its answer is compared with the reference's: balance,
overdraft and ledger rows in order, or the refusal's code and detail. After
every step the whole ledger, every grant, what is owed and every member's usage
are compared, and the bookkeeping invariants are checked from the database.

The clock is an argument (`now=`), advanced by a rule: no sleeping.
"""

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

from core.errors import ApplicationError
from credits.models import Credit
from credits.selectors import credits_summary
from credits.services import credits_consume, credits_expire, credits_reverse, tenant_overdraft_configure
from organizations.models import TenantMemberCreditLimit
from tests.credits.helpers import add_member, assert_invariants, give_both, make_org, owed
from tests.credits.reference import Member, Wallet, consumed_from, ledger_of, refusal_from

START = 1_800_000_000_000


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
        tenant_overdraft_configure(tenant=self.tenant, enabled=overdraft[0], limit=overdraft[1])
        self.wallet = Wallet(overdraft_enabled=overdraft[0], overdraft_limit=overdraft[1])
        self.wallet.members = {self.tenant.owner.pk: Member(), self.member.pk: Member(limit=limit)}
        self.sources = 0

    # -- rules -------------------------------------------------------------
    @rule(ms=st.integers(min_value=1, max_value=2_500))
    def advance_clock(self, ms):
        self.now += ms

    @rule(
        amount=st.integers(min_value=1, max_value=120),
        priority=st.sampled_from([50, 50, 50, 90]),
        expires_in=st.one_of(st.none(), st.integers(min_value=1_000, max_value=12_000)),
        delay=st.sampled_from([0, 0, 2_000]),  # a later grant: usable while something is owed
    )
    def grant(self, amount, priority, expires_in, delay):
        self.sources += 1
        effective_at = self.now + delay
        expires_at = None if expires_in is None else effective_at + expires_in
        give_both(
            self.tenant,
            self.wallet,
            amount,
            source_id=f"s{self.sources}",
            now=self.now,
            priority=priority,
            effective_at=effective_at,
            expires_at=expires_at,
        )

    @rule(
        who=st.integers(min_value=0, max_value=1),
        amount=st.integers(min_value=1, max_value=30),
        description=st.sampled_from(["", "job", "render #7"]),
    )
    def consume(self, who, amount, description):
        user = self.users[who]
        expected = self.wallet.consume(user.pk, amount, description, self.now)
        try:
            result = credits_consume(
                tenant=self.tenant, user=user, amount=amount, description=description, now=self.now
            )
        except ApplicationError as error:
            assert refusal_from(error) == expected
        else:
            assert consumed_from(result) == expected

    @rule()
    def expire(self):
        credits_expire(now=self.now, batch_size=3)
        self.wallet.expire(self.now)

    @rule(enabled=st.booleans(), cap=st.integers(min_value=0, max_value=100))
    def set_overdraft(self, enabled, cap):
        tenant_overdraft_configure(tenant=self.tenant, enabled=enabled, limit=cap)
        self.wallet.overdraft_enabled, self.wallet.overdraft_limit = enabled, cap

    @precondition(lambda self: self.wallet.grants)
    @rule(index=st.integers(min_value=0), amount=st.one_of(st.none(), st.integers(min_value=1, max_value=50)))
    def reverse(self, index, amount):
        grant = self.wallet.grants[index % len(self.wallet.grants)]
        taken = credits_reverse(
            credit=Credit.objects.get(pk=grant.key), description="refund", amount=amount, now=self.now
        )
        assert taken == self.wallet.reverse(grant, amount, "refund")

    # -- invariants --------------------------------------------------------
    @invariant()
    def database_and_reference_agree(self):
        if not hasattr(self, "tenant"):
            return
        assert_invariants(self.tenant)
        assert ledger_of(self.tenant) == self.wallet.ledger
        assert owed(self.tenant) == self.wallet.owed
        db = dict(Credit.objects.filter(tenant=self.tenant).values_list("pk", "remaining_credits"))
        assert db == {g.key: g.remaining for g in self.wallet.grants}
        used = dict(TenantMemberCreditLimit.objects.filter(tenant=self.tenant).values_list("user_id", "used_credits"))
        assert used == {user: member.used for user, member in self.wallet.members.items()}
        summary = credits_summary(tenant=self.tenant, user=self.member, at_ms=self.now)
        assert summary.balance == self.wallet.balance(self.now)
        assert [g.pk for g in summary.grants] == [g.key for g in self.wallet.usable(self.now)]


@pytest.mark.django_db
def test_the_engine_matches_the_reference():
    run_state_machine_as_test(
        CreditsMachine,
        settings=settings(
            max_examples=30,
            stateful_step_count=60,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
