"""The consume hot path's shortcuts give what the slower, general code gives.

A dict for the response, the body read without the serializer, the key's
membership loaded with the key, the idempotency key written last: each is
checked here against the serializer/general path it stands in for.
"""

import pytest

from credits.api import consume_input, consume_output
from credits.errors import IdempotencyConflict, InsufficientCredits, MemberCreditLimitExceeded
from credits.models import CreditTransaction, IdempotencyKey
from credits.serializers import ConsumeInputSerializer, ConsumeOutputSerializer
from credits.services import credits_consume
from organizations.models import TenantMemberCreditLimit, TenantSlug
from tests.credits.conftest import consume, url
from tests.credits.helpers import add_member, assert_invariants, give, make_org

pytestmark = pytest.mark.django_db

NOW = 1_800_000_000_000


@pytest.mark.parametrize("replay", [False, True])
def test_the_response_body_is_what_the_output_serializer_renders(replay):
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


def test_a_repeat_that_would_now_be_refused_still_replays():
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


def test_a_repeat_over_the_member_limit_now_still_replays():
    tenant = make_org()
    member = add_member(tenant, credit_limit=4)
    give(tenant, 10)
    credits_consume(tenant=tenant, user=member, amount=4, idempotency_key="m")

    assert credits_consume(tenant=tenant, user=member, amount=4, idempotency_key="m").replayed
    with pytest.raises(MemberCreditLimitExceeded):
        credits_consume(tenant=tenant, user=member, amount=4, idempotency_key="other")
    assert TenantMemberCreditLimit.objects.get(tenant=tenant, user=member).used_credits == 4


def test_a_key_consumes_with_one_query_for_key_and_membership(org, api, django_assert_num_queries):
    give(org, 10)
    consume(api, org, {"amount": 1}, key="first")  # last_used_at written on the first use
    # The key with its membership; then SAVEPOINT, the whole consumption (keel_credits_consume_v2),
    # RELEASE. The test runs inside a transaction, so the consumption is in a savepoint; in
    # production it is one statement and its own transaction, with no BEGIN or COMMIT.
    with django_assert_num_queries(4):
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
