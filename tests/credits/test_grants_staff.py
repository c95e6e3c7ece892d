"""`credits_grant_staff`: the admin's "Grant credits" form as a service."""

import uuid

import pytest

from core.errors import ApplicationError, PermissionDenied, ValidationFailed
from credits.models import Credit, CreditTransaction
from credits.services import credits_consume, credits_grant_staff
from tests import factories
from tests.credits.helpers import assert_invariants, make_org, owed

pytestmark = pytest.mark.django_db

DAY_MS = 86_400_000


@pytest.fixture
def staff():
    return factories.UserFactory(username="boss", role="owner")


def test_a_staff_grant_records_who_granted_it_and_why(staff):
    org = make_org()
    grant_id = uuid.uuid4()

    grant = credits_grant_staff(
        tenant=org,
        staff=staff,
        amount=40,
        reason="  Sorry for the outage ",
        priority=80,
        expires_at=1_000 + 30 * DAY_MS,
        grant_id=grant_id,
        now=1_000,
    )

    assert (grant.mode, grant.total_credits, grant.remaining_credits, grant.priority) == ("grant", 40, 40, 80)
    assert (grant.user_id, grant.source_type, grant.source_id) == (org.owner_id, "admin", f"staff:{grant_id}")
    assert (grant.effective_at, grant.expires_at) == (1_000, 1_000 + 30 * DAY_MS)
    assert grant.raw_data == {
        "granted_by": str(staff.pk),
        "granted_by_username": "boss",
        "reason": "Sorry for the outage",
    }
    row = CreditTransaction.objects.get(tenant=org)
    assert (row.type, row.credits, row.description) == ("add:grant", 40, "Staff grant: Sorry for the outage")
    assert_invariants(org)


def test_the_same_grant_id_twice_is_one_grant(staff):
    org = make_org()
    grant_id = str(uuid.uuid4())

    first = credits_grant_staff(tenant=org, staff=staff, amount=10, reason="r", grant_id=grant_id)
    again = credits_grant_staff(tenant=org, staff=staff, amount=10, reason="r", grant_id=uuid.UUID(grant_id))
    other = credits_grant_staff(tenant=org, staff=staff, amount=10, reason="r", grant_id=uuid.uuid4())

    assert again.pk == first.pk and other.pk != first.pk
    assert Credit.objects.filter(tenant=org).count() == 2
    assert CreditTransaction.objects.filter(tenant=org).count() == 2
    assert_invariants(org)


def test_a_staff_grant_pays_the_overdraft_back_first(staff):
    org = make_org(overdraft_limit=10)
    credits_consume(tenant=org, user=org.owner, amount=4)

    grant = credits_grant_staff(tenant=org, staff=staff, amount=10, reason="goodwill", grant_id=uuid.uuid4())

    assert (grant.remaining_credits, owed(org)) == (6, 0)
    assert_invariants(org)


@pytest.mark.parametrize(
    ("kwargs", "error", "field"),
    [
        ({"reason": "   "}, ValidationFailed, "reason"),
        ({"reason": "x" * 501}, ValidationFailed, "reason"),
        ({"amount": 0}, ValidationFailed, "amount"),
        ({"amount": -5}, ValidationFailed, "amount"),
        ({"amount": "10"}, ValidationFailed, "amount"),
        ({"priority": 10**7}, ValidationFailed, "priority"),
        ({"grant_id": ""}, ValidationFailed, "grant_id"),
        ({"expires_at": 500}, ValidationFailed, "expires_at"),
    ],
)
def test_bad_staff_grants_are_refused_and_write_nothing(staff, kwargs, error, field):
    org = make_org()
    arguments = {"tenant": org, "staff": staff, "amount": 10, "reason": "r", "grant_id": uuid.uuid4(), "now": 1_000}

    with pytest.raises(error) as refused:
        credits_grant_staff(**{**arguments, **kwargs})

    assert refused.value.field == field and refused.value.detail
    assert not Credit.objects.exists() and not CreditTransaction.objects.exists()


def test_a_blank_reason_says_why_it_is_needed(staff):
    with pytest.raises(ApplicationError, match="reason") as refused:
        credits_grant_staff(tenant=make_org(), staff=staff, amount=10, reason="", grant_id=uuid.uuid4())
    assert refused.value.code == "reason_required"


def test_only_a_site_operator_grants_by_hand():
    org = make_org()

    with pytest.raises(PermissionDenied) as refused:
        credits_grant_staff(tenant=org, staff=org.owner, amount=10, reason="r", grant_id=uuid.uuid4())

    assert refused.value.code == "not_staff"
    assert not Credit.objects.exists()
