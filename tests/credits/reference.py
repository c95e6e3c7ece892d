"""Keel's credits rules in plain Python: the reference the database engine is held to.

Written from docs/credits.md ("Consumption", "Overdraft"), not from the SQL:
one organization's wallet in memory, with what each operation must answer and
which ledger rows it must write. `test_stateful.py` (a Hypothesis state
machine) and `test_engine.py` (scripted histories) run the real services and
this model side by side and compare balances, ledger rows, refusal codes and
refusal details after every step.

Definitions that are names rather than rules (ledger row types, the repayment
descriptions, the unlimited marker, the INTEGER maximum) come from the code;
the rules and the messages people read are stated here.
"""

from collections import Counter
from dataclasses import dataclass, field

from core.db import INT_MAX
from credits.models import TransactionType
from credits.services.overdraft import REPAID_DESCRIPTION, SETTLED_DESCRIPTION
from organizations.models import UNLIMITED


@dataclass
class Grant:
    key: object  # the grant's id (a UUID: PostgreSQL and Python order them alike)
    total: int
    remaining: int
    priority: int
    effective_at: int
    expires_at: int | None
    created_at: int

    def usable(self, now: int) -> bool:
        return self.remaining > 0 and self.effective_at <= now and (self.expires_at is None or self.expires_at > now)

    def order(self) -> tuple:
        # priority DESC, soonest expiry first (never-expiring last), effective_at, created_at, id
        never = self.expires_at is None
        return (-self.priority, never, 0 if never else self.expires_at, self.effective_at, self.created_at, self.key)


@dataclass(frozen=True)
class Row:
    """A ledger row: `grant` is the key of the grant it points at, or None (the overdraft)."""

    type: str
    credits: int
    grant: object | None
    description: str


@dataclass(frozen=True)
class Refusal:
    code: str
    detail: str


@dataclass(frozen=True)
class Consumed:
    balance: int
    overdraft: int
    rows: tuple[Row, ...]


@dataclass
class Member:
    limit: int = UNLIMITED
    used: int = 0


@dataclass
class Wallet:
    overdraft_enabled: bool = False
    overdraft_limit: int = 0
    owed: int = 0
    grants: list[Grant] = field(default_factory=list)
    members: dict = field(default_factory=dict)
    ledger: Counter = field(default_factory=Counter)

    # -- reads ---------------------------------------------------------------
    def usable(self, now: int) -> list[Grant]:
        return sorted((g for g in self.grants if g.usable(now)), key=Grant.order)

    def balance(self, now: int) -> int:
        return sum(g.remaining for g in self.usable(now)) - self.owed

    # -- writes --------------------------------------------------------------
    def _write(self, rows: list[Row]) -> tuple[Row, ...]:
        self.ledger.update(rows)
        return tuple(rows)

    @staticmethod
    def _take(grants: list[Grant], amount: int, *, plan: list) -> int:
        """Take up to `amount` from `grants` in order, recording (grant, n); returns what is left to take."""
        for grant in grants:
            if amount == 0:
                break
            n = min(grant.remaining, amount)
            if n:
                grant.remaining -= n
                amount -= n
                plan.append((grant, n))
        return amount

    def _repayment(self, taken: list) -> list[Row]:
        if not taken:
            return []
        rows = [Row(TransactionType.DEDUCT_REPAY.value, -n, grant.key, REPAID_DESCRIPTION) for grant, n in taken]
        return [*rows, Row(TransactionType.ADD_REPAY.value, sum(n for _, n in taken), None, SETTLED_DESCRIPTION)]

    def grant(self, grant: Grant, *, add_type: str, description: str) -> tuple[Row, ...]:
        """A new grant pays back what is owed first, out of itself."""
        self.grants.append(grant)
        repaid = min(self.owed, grant.remaining)
        grant.remaining -= repaid
        self.owed -= repaid
        rows = [Row(add_type, grant.total, grant.key, description)]
        rows += self._repayment([(grant, repaid)] if repaid else [])
        return self._write(rows)

    def consume(self, user, amount: int, description: str, now: int) -> Consumed | Refusal:
        member = self.members.get(user)
        if member is None:
            return Refusal("not_a_member", "You are not a member of this organization.")
        if member.limit != UNLIMITED and member.used + amount > member.limit:
            left = max(member.limit - member.used, 0)
            return Refusal(
                "member_credit_limit_exceeded",
                "This would exceed your credit limit in this organization: "
                f"{amount} requested, {left} left of {member.limit}.",
            )
        usable = self.usable(now)
        before = {grant.key: grant.remaining for grant in usable}
        usable_total = sum(before.values())
        # Credits that became usable while something is owed pay it back first, then the amount is drawn.
        repaid, drawn = [], []
        still_owed = self._take(usable, self.owed, plan=repaid)
        uncovered = self._take(usable, amount, plan=drawn)
        room = self.overdraft_limit - still_owed if self.overdraft_enabled else 0
        if uncovered > room:
            for grant in usable:
                grant.remaining = before[grant.key]
            detail = f"Not enough credits: {amount} requested, {max(usable_total - self.owed, 0)} available"
            if self.overdraft_enabled:
                detail += f" (and {max(room, 0)} more on overdraft)"
            return Refusal("insufficient_credits", detail + ".")
        self.owed = still_owed + uncovered
        member.used = INT_MAX if member.used > INT_MAX - amount else member.used + amount
        rows = self._repayment(repaid)
        rows += [Row(TransactionType.DEDUCT.value, -n, grant.key, description) for grant, n in drawn]
        if uncovered:
            rows.append(Row(TransactionType.DEDUCT_OVERDRAFT.value, -uncovered, None, description))
        return Consumed(balance=self.balance(now), overdraft=self.owed, rows=self._write(rows))

    def expire(self, now: int) -> tuple[Row, ...]:
        rows = []
        for grant in self.grants:
            if grant.expires_at is not None and grant.expires_at <= now and grant.remaining:
                rows.append(Row(TransactionType.EXPIRE.value, -grant.remaining, grant.key, "Expired"))
                grant.remaining = 0
        return self._write(rows)

    def reverse(self, grant: Grant, amount: int | None, description: str) -> int:
        taken = grant.remaining if amount is None else min(amount, grant.remaining)
        grant.remaining -= taken
        if taken:
            self._write([Row(TransactionType.REVERSE.value, -taken, grant.key, description)])
        return taken


def consumed_from(result) -> Consumed:
    """What the service's `ConsumeResult` says, in the reference's terms."""
    rows = tuple(Row(tx.type, tx.credits, tx.credit_id, tx.description) for tx in result.transactions)
    return Consumed(balance=result.balance, overdraft=result.overdraft, rows=rows)


def refusal_from(error) -> Refusal:
    return Refusal(error.code, error.detail)


def ledger_of(tenant) -> Counter:
    """The organization's ledger in the database, as the reference keeps it."""
    from credits.models import CreditTransaction

    rows = CreditTransaction.objects.filter(tenant=tenant).values_list("type", "credits", "credit_id", "description")
    return Counter(Row(*row) for row in rows)
