import pytest
from django.test import override_settings

from core.errors import ValidationFailed
from credits.models import Credit, CreditTransaction
from credits.selectors import credits_summary
from credits.services import credits_consume, credits_grant, credits_grant_free
from tests import factories
from tests.credits.helpers import assert_invariants, give, make_org, owed

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("mode", "ledger_type"),
    [
        ("free", "add:free"),
        ("subscription", "add:subscription"),
        ("one_time:credits", "add:purchase"),
        ("one_time:lifetime", "add:purchase"),
        ("grant", "add:grant"),
    ],
)
def test_a_grant_adds_to_the_wallet_with_one_ledger_row(mode, ledger_type):
    tenant = make_org()

    grant = give(tenant, 250, mode=mode, priority=70, expires_at=None)

    assert (grant.total_credits, grant.remaining_credits, grant.priority, grant.mode) == (250, 250, 70, mode)
    row = CreditTransaction.objects.get(tenant=tenant)
    assert (row.type, row.credits, row.credit_id) == (ledger_type, 250, grant.pk)
    assert credits_summary(tenant=tenant, user=tenant.owner).balance == 250
    assert_invariants(tenant)


def test_the_same_source_granted_twice_is_one_grant():
    tenant = make_org()
    first = give(tenant, 100, source_id="in_123")

    again = give(tenant, 100, source_id="in_123")

    assert again.pk == first.pk
    assert Credit.objects.filter(tenant=tenant).count() == 1
    assert CreditTransaction.objects.filter(tenant=tenant).count() == 1
    assert credits_summary(tenant=tenant, user=tenant.owner).balance == 100


def test_another_user_may_use_the_same_source_id():
    tenant = make_org()
    other = factories.UserFactory()
    give(tenant, 10, source_id="shared")
    give(tenant, 10, source_id="shared", user=other)
    assert Credit.objects.filter(tenant=tenant).count() == 2


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"amount": 0}, "amount"),
        ({"amount": -5}, "amount"),
        ({"amount": 2**31}, "amount"),
        ({"amount": 1.5}, "amount"),
        ({"mode": "gift"}, "mode"),
        ({"source_id": ""}, "source_id"),
        ({"effective_at": 2_000, "expires_at": 1_000}, "expires_at"),
    ],
)
def test_bad_grants_are_refused_and_write_nothing(kwargs, field):
    tenant = make_org()
    args = {"amount": 10, **kwargs}
    with pytest.raises(ValidationFailed) as refused:
        give(tenant, args.pop("amount"), **args)
    assert refused.value.field == field
    assert not Credit.objects.exists() and not CreditTransaction.objects.exists()


def test_a_grant_not_yet_effective_does_not_count_until_it_is():
    tenant = make_org()
    give(tenant, 40, effective_at=10_000, now=5_000)

    assert credits_summary(tenant=tenant, user=tenant.owner, at_ms=9_999).balance == 0
    assert credits_summary(tenant=tenant, user=tenant.owner, at_ms=10_000).balance == 40


@override_settings(FREE_PLAN_CREDITS=150)
def test_free_credits_go_to_the_default_organization_once():
    user = factories.UserFactory()
    default = make_org(owner=user, is_default=True)
    make_org(owner=user)  # another organization of theirs gets nothing

    grant = credits_grant_free(user=user)
    again = credits_grant_free(user=user)

    assert again.pk == grant.pk
    assert (grant.tenant_id, grant.mode, grant.total_credits) == (default.pk, "free", 150)
    assert CreditTransaction.objects.get().type == "add:free"


def test_free_credits_without_a_default_organization_are_none():
    assert credits_grant_free(user=factories.UserFactory()) is None
    assert not Credit.objects.exists()


@override_settings(FREE_PLAN_CREDITS=0)
def test_no_free_credits_when_the_free_plan_grants_none():
    user = factories.UserFactory()
    make_org(owner=user, is_default=True)
    assert credits_grant_free(user=user) is None


def test_signup_hook_is_listed_after_the_organization_hook():
    from django.conf import settings

    hooks = settings.KEEL_SIGNUP_HOOKS
    assert hooks.index("credits.services.credits_grant_free") > hooks.index(
        "organizations.services.tenant_create_default"
    )


def test_a_grant_pays_the_overdraft_back_first():
    tenant = make_org(overdraft_limit=100)
    credits_consume(tenant=tenant, user=tenant.owner, amount=30)
    assert owed(tenant) == 30

    grant = give(tenant, 50)

    assert owed(tenant) == 0
    assert grant.remaining_credits == 20
    rows = {row.type: row for row in CreditTransaction.objects.filter(tenant=tenant, created_at=grant.created_at)}
    assert rows["deduct:repay"].credits == -30 and rows["deduct:repay"].credit_id == grant.pk
    assert rows["add:repay"].credits == 30 and rows["add:repay"].credit_id is None
    assert credits_summary(tenant=tenant, user=tenant.owner).balance == 20
    assert_invariants(tenant)


def test_a_grant_smaller_than_the_overdraft_pays_what_it_can():
    tenant = make_org(overdraft_limit=100)
    credits_consume(tenant=tenant, user=tenant.owner, amount=80)

    grant = give(tenant, 50)

    assert (grant.remaining_credits, owed(tenant)) == (0, 30)
    assert credits_summary(tenant=tenant, user=tenant.owner).balance == -30
    assert_invariants(tenant)


def test_a_duplicate_grant_does_not_repay_twice():
    tenant = make_org(overdraft_limit=100)
    credits_consume(tenant=tenant, user=tenant.owner, amount=30)
    give(tenant, 20, source_id="cs_1")
    give(tenant, 20, source_id="cs_1")
    assert owed(tenant) == 10
    assert_invariants(tenant)


def test_grant_inside_a_callers_transaction_rolls_back_with_it():
    from django.db import transaction

    tenant = make_org()
    with pytest.raises(RuntimeError), transaction.atomic():
        credits_grant(tenant=tenant, user=tenant.owner, amount=5, mode="free", source_type="t", source_id="x")
        raise RuntimeError("the webhook failed later")
    assert not Credit.objects.exists() and not CreditTransaction.objects.exists()
