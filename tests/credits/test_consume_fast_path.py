"""The consume hot path's shortcuts give what the slower, general code gives.

Raw SQL for the grants read, a dict for the response, the key's membership
loaded with the key, the idempotency key written last: each is checked here
against the ORM/serializer/general path it stands in for.
"""

import pytest
from django.db import connection, transaction

from credits.api import consume_input, consume_output
from credits.errors import IdempotencyConflict, InsufficientCredits, MemberCreditLimitExceeded
from credits.models import Credit, CreditTransaction, IdempotencyKey
from credits.serializers import ConsumeInputSerializer, ConsumeOutputSerializer
from credits.services import consumption, credits_consume
from organizations.models import TenantMemberCreditLimit, TenantSlug
from tests.credits.conftest import consume, url
from tests.credits.helpers import add_member, assert_invariants, give, make_org

pytestmark = pytest.mark.django_db

NOW = 1_800_000_000_000


def test_raw_grants_read_matches_the_orm_order_and_filter():
    tenant = make_org()
    give(tenant, 10, priority=10, now=NOW - 50)
    give(tenant, 10, priority=50, now=NOW - 40)
    give(tenant, 10, priority=50, expires_at=NOW + 9_000, now=NOW - 30)
    give(tenant, 10, priority=50, expires_at=NOW + 1_000, now=NOW - 20)
    give(tenant, 10, priority=90, now=NOW - 10)
    give(tenant, 10, priority=50, expires_at=NOW + 9_000, effective_at=NOW - 100, now=NOW - 5)
    give(tenant, 10, priority=50, expires_at=NOW + 9_000, effective_at=NOW - 100, now=NOW - 5)  # same keys: id decides
    give(tenant, 10, priority=99, expires_at=NOW, effective_at=NOW - 100, now=NOW - 200)  # expired now
    give(tenant, 10, priority=99, effective_at=NOW + 1, now=NOW - 3)  # not effective yet
    used = give(tenant, 10, priority=99, now=NOW - 2)
    Credit.objects.filter(pk=used.pk).update(remaining_credits=0)
    give(make_org(), 10, priority=99, now=NOW - 1)  # another organization

    expected = [
        [credit_id, left]
        for credit_id, left in Credit.objects.filter(tenant=tenant)
        .usable(at_ms=NOW)
        .in_consumption_order()
        .values_list("id", "remaining_credits")
    ]

    assert len(expected) == 7
    with transaction.atomic(), connection.cursor() as cursor:
        owed, grants = consumption._charge_and_read_grants(
            cursor, tenant_id=tenant.pk, user_id=tenant.owner_id, amount=1, at_ms=NOW
        )
    assert (owed, grants) == (0, expected)


@pytest.mark.parametrize("replay", [False, True])
def test_the_response_body_is_what_the_output_serializer_renders(replay, engine):
    tenant = make_org(overdraft_limit=100)
    give(tenant, 3, now=NOW - 50)
    give(tenant, 4, priority=90, now=NOW - 40)
    first = credits_consume(
        tenant=tenant, user=tenant.owner, amount=20, description="mixed", idempotency_key="k", now=NOW
    )
    result = (
        credits_consume(tenant=tenant, user=tenant.owner, amount=20, description="mixed", idempotency_key="k", now=NOW)
        if replay
        else first
    )

    assert result.replayed == replay
    assert {tx.type for tx in result.transactions} >= {"deduct", "deduct:overdraft"}
    assert consume_output(result) == ConsumeOutputSerializer(result).data
    assert_invariants(tenant)


def test_a_repeat_that_would_now_be_refused_still_replays(engine):
    tenant = make_org()
    give(tenant, 10)
    first = credits_consume(tenant=tenant, user=tenant.owner, amount=10, idempotency_key="all")

    again = credits_consume(tenant=tenant, user=tenant.owner, amount=10, idempotency_key="all")

    assert again.replayed and [tx.pk for tx in again.transactions] == [tx.pk for tx in first.transactions]
    with pytest.raises(IdempotencyConflict):
        credits_consume(tenant=tenant, user=tenant.owner, amount=9, idempotency_key="all")
    with pytest.raises(InsufficientCredits):
        credits_consume(tenant=tenant, user=tenant.owner, amount=9, idempotency_key="fresh")
    assert IdempotencyKey.objects.count() == 1
    assert CreditTransaction.objects.filter(type="deduct").count() == 1
    assert_invariants(tenant)


def test_a_repeat_over_the_member_limit_now_still_replays(engine):
    tenant = make_org()
    member = add_member(tenant, credit_limit=4)
    give(tenant, 10)
    credits_consume(tenant=tenant, user=member, amount=4, idempotency_key="m")

    assert credits_consume(tenant=tenant, user=member, amount=4, idempotency_key="m").replayed
    with pytest.raises(MemberCreditLimitExceeded):
        credits_consume(tenant=tenant, user=member, amount=4, idempotency_key="other")
    assert TenantMemberCreditLimit.objects.get(tenant=tenant, user=member).used_credits == 4


def test_a_membership_without_its_limit_row_reads_the_debt_too(engine):
    tenant = make_org(overdraft_limit=50)
    credits_consume(tenant=tenant, user=tenant.owner, amount=5)  # owed 5
    member = add_member(tenant)
    TenantMemberCreditLimit.objects.filter(tenant=tenant, user=member).delete()
    give(tenant, 8)  # repays the 5 first: 3 left

    with pytest.raises(InsufficientCredits):
        credits_consume(tenant=tenant, user=member, amount=54)
    result = credits_consume(tenant=tenant, user=member, amount=53)

    assert (result.balance, result.overdraft) == (-50, 50)
    assert TenantMemberCreditLimit.objects.get(tenant=tenant, user=member).used_credits == 53
    assert_invariants(tenant)


def test_a_key_consumes_with_one_query_for_key_and_membership(org, api, django_assert_num_queries):
    give(org, 10)
    consume(api, org, {"amount": 1}, key="first")  # last_used_at written on the first use
    # The test runs inside a transaction, so the consumption's own transaction is a savepoint:
    # SAVEPOINT and RELEASE stand for what is BEGIN and COMMIT in production (or nothing at all
    # for the one-statement database function).
    # PostgreSQL: the key with its membership; SAVEPOINT, the whole consumption (keel_credits_consume_v1),
    # RELEASE. SQLite: the key with its membership; SAVEPOINT, wallet lock, member limit (and debt), grants,
    # update grants, ledger, idempotency key, RELEASE.
    expected = 4 if connection.vendor == "postgresql" else 9
    with django_assert_num_queries(expected):
        assert consume(api, org, {"amount": 1}, key="second").status_code == 201


def test_a_key_whose_user_left_gets_404_and_an_old_slug_still_resolves(org, api):
    give(org, 10)
    old_slug = org.slug
    org.slug = f"{old_slug}-renamed"
    org.save()
    TenantSlug.objects.create(tenant=org, slug=old_slug)

    assert api.get(url(org)).status_code == 200
    org.slug = old_slug  # ask by the former slug
    assert api.get(url(org)).status_code == 200
    org.members.all().delete()
    assert api.get(url(org)).status_code == 404


FAST = [
    {"amount": 1},
    {"amount": 2_147_483_647, "description": "  padded  "},
    {"amount": 5, "description": "x" * 1000},
    {"amount": 5, "description": " " + "x" * 1000 + " "},
    {"amount": 5, "description": "été 会議"},
    {"amount": 5, "extra": "ignored"},
]
LEFT_TO_THE_SERIALIZER = [
    {"amount": 5, "description": "x" * 1001},
    {"amount": 5, "description": "tab\there"},
    {"amount": 5, "description": "nul\x00"},
    {"amount": 5, "description": "\ud800"},
    {"amount": 5, "description": None},
    {"amount": 5, "description": 7},
    {"amount": 0},
    {"amount": -1},
    {"amount": 2_147_483_648},
    {"amount": True},
    {"amount": 5.0},
    {"amount": "5"},
    {"amount": None},
    {},
    [],
    "5",
]


@pytest.mark.parametrize(
    ("body", "fast_path"), [(body, True) for body in FAST] + [(body, False) for body in LEFT_TO_THE_SERIALIZER]
)
def test_the_consume_body_fast_path_reads_what_the_serializer_reads(body, fast_path):
    fast = consume_input(body)
    serializer = ConsumeInputSerializer(data=body)
    valid = serializer.is_valid()

    assert (fast is not None) == fast_path
    if fast is not None:
        assert valid
        assert fast == (serializer.validated_data["amount"], serializer.validated_data["description"])


def _ledger_shape(tenant, grants: list) -> list[tuple]:
    """The organization's ledger, sorted, with grants named by their index in `grants` (-1: none)."""
    index = {grant.pk: i for i, grant in enumerate(grants)}
    return [
        (
            row.created_at,
            row.type,
            row.credits,
            index.get(row.credit_id),
            row.description,
            row.user_id == tenant.owner_id,
        )
        for row in CreditTransaction.objects.filter(tenant=tenant).order_by(
            "created_at", "type", "credits", "credit_id"
        )
    ]


def test_both_engines_write_the_same_ledger_and_answer_the_same(monkeypatch):
    """The database function and the Python reference, step by step on the same history."""
    outcomes, ledgers = {}, {}
    for in_database in (True, False):
        monkeypatch.setattr(consumption, "_in_database", lambda in_database=in_database: in_database)
        tenant = make_org(overdraft_limit=40)
        member = add_member(tenant, credit_limit=60)
        grants, answers = [], []

        def step(n, user, amount, key=None, tenant=tenant, answers=answers):
            description = f"key {key}" if key else f"step {n}"
            try:
                result = credits_consume(
                    tenant=tenant, user=user, amount=amount, description=description, idempotency_key=key, now=NOW + n
                )
            except (InsufficientCredits, MemberCreditLimitExceeded) as exc:
                answers.append((type(exc).__name__, str(exc.detail)))
                return
            answers.append(
                (
                    result.consumed,
                    result.balance,
                    result.overdraft,
                    result.replayed,
                    [tx.type for tx in result.transactions],
                )
            )

        grants.append(give(tenant, 10, priority=50, now=NOW - 100))
        grants.append(give(tenant, 5, priority=90, expires_at=NOW + 50, now=NOW - 90))
        grants.append(give(tenant, 7, priority=50, expires_at=NOW + 20, now=NOW - 80))
        grants.append(give(tenant, 25, priority=10, effective_at=NOW + 30, now=NOW - 70))  # usable later
        step(1, tenant.owner, 3)  # from the priority-90 grant
        step(2, member, 9, key="a")  # the rest of it, then the soonest-expiring
        step(3, member, 9, key="a")  # replayed
        step(4, tenant.owner, 30)  # across grants, 19 on overdraft
        step(5, member, 52)  # over the member's limit
        step(6, tenant.owner, 22)  # more than the overdraft room
        step(31, tenant.owner, 2)  # the future grant is usable now: repays what is owed first, then draws
        step(32, member, 1)
        outcomes[in_database] = answers
        ledgers[in_database] = _ledger_shape(tenant, grants)
        assert_invariants(tenant)

    assert outcomes[True] == outcomes[False]
    assert ledgers[True] == ledgers[False]
    assert {row[1] for row in ledgers[True]} >= {"deduct", "deduct:overdraft", "deduct:repay", "add:repay"}
