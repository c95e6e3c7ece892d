import pytest
from django.db import IntegrityError, transaction

from credits.models import Credit
from tests.factories import CreditFactory, CreditOverdraftFactory, CreditTransactionFactory

pytestmark = pytest.mark.django_db


def refused(factory, **kwargs):
    with pytest.raises(IntegrityError), transaction.atomic():
        factory(**kwargs)


def test_same_source_granted_twice_to_a_user_is_refused():
    grant = CreditFactory(source_id="cs_123")
    refused(CreditFactory, user=grant.user, tenant=grant.tenant, source_id="cs_123")


@pytest.mark.parametrize(("total", "remaining"), [(10, -1), (10, 11)])
def test_remaining_credits_stay_between_zero_and_total(total, remaining):
    refused(CreditFactory, total_credits=total, remaining_credits=remaining)


def test_a_conditional_update_cannot_take_a_grant_below_zero():
    grant = CreditFactory(total_credits=5)
    with pytest.raises(IntegrityError), transaction.atomic():
        Credit.objects.filter(pk=grant.pk).update(remaining_credits=-1)
    grant.refresh_from_db()
    assert grant.remaining_credits == 5


def test_mode_and_transaction_type_are_enumerations():
    refused(CreditFactory, mode="gift")
    refused(CreditTransactionFactory, type="steal")


def test_overdraft_is_one_non_negative_row_per_tenant():
    overdraft = CreditOverdraftFactory(credits=3)
    refused(CreditOverdraftFactory, tenant=overdraft.tenant)
    refused(CreditOverdraftFactory, credits=-1)
