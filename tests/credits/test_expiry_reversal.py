from io import StringIO

import pytest
from django.core.management import call_command

from core.errors import ValidationFailed
from core.time import MS_PER_DAY, now_ms
from credits.models import CreditTransaction, IdempotencyKey
from credits.selectors import credits_ledger_sum, credits_summary
from credits.services import credits_consume, credits_expire, credits_reverse
from tests.credits.helpers import assert_invariants, give, make_org, remaining

pytestmark = pytest.mark.django_db

NOW = 1_800_000_000_000


def test_expiry_zeroes_expired_grants_with_one_ledger_row_each():
    tenant, other = make_org(), make_org()
    expired = give(tenant, 40, expires_at=NOW, now=NOW - 10)
    partly_used = give(other, 40, expires_at=NOW - 5, now=NOW - 10)
    credits_consume(tenant=other, user=other.owner, amount=15, now=NOW - 9)
    alive = give(tenant, 40, expires_at=NOW + 1, now=NOW - 10)
    forever = give(tenant, 40, now=NOW - 10)
    # before the job, the expired grant is in the ledger sum but not in the balance
    assert credits_ledger_sum(tenant=tenant) == 120
    assert credits_summary(tenant=tenant, user=tenant.owner, at_ms=NOW).balance == 80

    assert credits_expire(now=NOW, batch_size=1) == 2

    assert (remaining(expired), remaining(partly_used), remaining(alive), remaining(forever)) == (0, 0, 40, 40)
    rows = CreditTransaction.objects.filter(type="expire").order_by("credits")
    assert [(r.credit_id, r.credits) for r in rows] == [(expired.pk, -40), (partly_used.pk, -25)]
    assert (
        credits_ledger_sum(tenant=tenant) == 80 == credits_summary(tenant=tenant, user=tenant.owner, at_ms=NOW).balance
    )
    assert_invariants(tenant)
    assert_invariants(other)


def test_expiry_is_safe_to_run_twice():
    tenant = make_org()
    give(tenant, 10, expires_at=NOW, now=NOW - 10)
    assert credits_expire(now=NOW) == 1
    assert credits_expire(now=NOW) == 0
    assert CreditTransaction.objects.filter(type="expire").count() == 1
    assert_invariants(tenant)


def test_expiry_in_many_batches_expires_everything():
    tenant = make_org()
    for _ in range(7):
        give(tenant, 3, expires_at=NOW, now=NOW - 10)
    assert credits_expire(now=NOW, batch_size=2) == 7
    assert credits_ledger_sum(tenant=tenant) == 0
    assert_invariants(tenant)


def test_expire_credits_command_expires_and_purges_old_idempotency_keys():
    tenant = make_org()
    give(tenant, 10, expires_at=now_ms() - 1, now=now_ms() - 10)
    give(tenant, 10, now=now_ms() - 2 * MS_PER_DAY)
    credits_consume(tenant=tenant, user=tenant.owner, amount=1, idempotency_key="old", now=now_ms() - MS_PER_DAY - 1)
    credits_consume(tenant=tenant, user=tenant.owner, amount=1, idempotency_key="fresh")
    out = StringIO()

    call_command("expire_credits", stdout=out)

    assert out.getvalue().strip() == "Expired 1 grant; purged 1 idempotency key."
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["fresh"]
    assert_invariants(tenant)


def test_reversal_takes_back_what_is_left_never_more():
    tenant = make_org()
    grant = give(tenant, 100)
    credits_consume(tenant=tenant, user=tenant.owner, amount=70)

    taken = credits_reverse(credit=grant, description="Refund ch_1")

    assert taken == 30 and grant.remaining_credits == 0 == remaining(grant)
    row = CreditTransaction.objects.get(type="reverse")
    assert (row.credits, row.credit_id, row.description) == (-30, grant.pk, "Refund ch_1")
    assert credits_reverse(credit=grant, description="again") == 0
    assert CreditTransaction.objects.filter(type="reverse").count() == 1
    assert_invariants(tenant)


def test_partial_reversal_is_capped_at_what_is_left():
    tenant = make_org()
    grant = give(tenant, 10)
    assert credits_reverse(credit=grant, description="partial", amount=4) == 4
    assert credits_reverse(credit=grant, description="rest", amount=50) == 6
    assert remaining(grant) == 0
    with pytest.raises(ValidationFailed):
        credits_reverse(credit=grant, description="bad", amount=0)
    assert_invariants(tenant)


def test_reversal_of_an_expired_grant_takes_back_nothing_after_the_job():
    tenant = make_org()
    grant = give(tenant, 10, expires_at=NOW, now=NOW - 10)
    credits_expire(now=NOW)
    assert credits_reverse(credit=grant, description="late refund") == 0
    assert_invariants(tenant)
