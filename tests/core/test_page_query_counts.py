"""Every page costs the same number of queries with 10 or 1,000 rows of what it lists.

Given an organization with N members, invitations, transactions, grants, API keys and invoices,
and an owner in N organizations, each page is counted at N = 10 and N = 1,000: the counts must be
equal (no query per row), and each stays under a pinned ceiling.
"""

import itertools

import pytest

from accounts.models import User, UserEmail
from core.time import MS_PER_DAY, now_ms
from credits.models import ApiKey, Credit, CreditMode, CreditTransaction, TransactionType
from organizations import services
from organizations.models import MemberRole, Tenant, TenantInvitation, TenantMember, TenantMemberCreditLimit
from tests import factories
from tests.factories import _default_password_hash
from tests.querycount import queries_of

pytestmark = pytest.mark.django_db

# Each page and its ceiling: session, user, membership (tenant resolved once), what the page lists,
# the nav's organizations.
PAGES = {
    "/o/acme/credits/": 9,
    "/o/acme/credits/?type=deduct&since=2020-01-01": 9,
    "/o/acme/members/": 6,
    "/o/acme/invitations/": 6,
    "/o/acme/api-keys/": 5,
    "/o/acme/billing/": 8,
    "/o/acme/settings/": 5,
    "/orgs/": 4,
    "/orgs/new/": 3,
    "/pricing/": 4,
}

_n = itertools.count()


def grow(org: Tenant, owner: User, *, to: int) -> None:
    """Bring every list of the organization (and the owner's organizations) to `to` rows, in bulk."""
    have = TenantMember.objects.filter(tenant=org).count()
    users = User.objects.bulk_create(
        User(username=f"bulk{next(_n)}", first_name="Bulk", last_name=str(n), password=_default_password_hash())
        for n in range(have, to)
    )
    UserEmail.objects.bulk_create(
        UserEmail(user=u, email=f"{u.username}@example.com", is_primary=True, verified=True) for u in users
    )
    TenantMember.objects.bulk_create(TenantMember(tenant=org, user=u, role=MemberRole.MEMBER) for u in users)
    TenantMemberCreditLimit.objects.bulk_create(
        TenantMemberCreditLimit(tenant=org, user=u, credit_limit=100, used_credits=n % 50) for n, u in enumerate(users)
    )
    members = [owner, *users]
    missing = to - TenantInvitation.objects.filter(tenant=org).count()
    TenantInvitation.objects.bulk_create(
        TenantInvitation(
            tenant=org,
            email=f"invitee{next(_n)}@example.com",
            invited_by=owner,
            token=f"hash-{next(_n)}",
            expires_at=now_ms() + MS_PER_DAY,
        )
        for _ in range(missing)
    )
    start = now_ms()
    missing = to - Credit.objects.filter(tenant=org).count()
    grants = Credit.objects.bulk_create(
        Credit(
            tenant=org,
            user=owner,
            mode=CreditMode.ONE_TIME_CREDITS,
            total_credits=100,
            remaining_credits=90,
            source_type="test",
            source_id=f"src_{next(_n)}",
            effective_at=start - MS_PER_DAY,
            expires_at=start + (n + 1) * MS_PER_DAY,
        )
        for n in range(missing)
    )
    missing = to - CreditTransaction.objects.filter(tenant=org).count()
    CreditTransaction.objects.bulk_create(
        CreditTransaction(
            tenant=org,
            user=members[n % len(members)],
            credit=grants[n % len(grants)] if grants else None,
            credits=-1,
            type=TransactionType.DEDUCT,
            description=f"job {n}",
            created_at=start - n * 60_000,
        )
        for n in range(missing)
    )
    missing = to - ApiKey.objects.filter(tenant=org).count()
    ApiKey.objects.bulk_create(factories.ApiKeyFactory.build(tenant=org, user=owner) for _ in range(missing))
    missing = to - org.invoices.count()
    factories.InvoiceFactory.create_batch(missing, tenant=org, user=owner)
    missing = to - TenantMember.objects.filter(user=owner).count()
    tenants = Tenant.objects.bulk_create(
        Tenant(name=f"Other {next(_n)}", slug=f"other-{next(_n)}", owner=owner) for _ in range(missing)
    )
    TenantMember.objects.bulk_create(TenantMember(tenant=t, user=owner, role=MemberRole.OWNER) for t in tenants)


def test_every_page_costs_the_same_queries_with_10_or_1000_rows(client, django_assert_max_num_queries):
    owner = factories.UserFactory(username="olivia")
    org = services.tenant_create(owner=owner, name="Acme")
    client.force_login(owner)
    client.get("/o/acme/credits/")  # the first visit stores the current organization in the session
    member_page = f"/o/acme/members/{TenantMember.objects.get(tenant=org, user=owner).pk}/"

    grow(org, owner, to=10)
    small = {url: queries_of(client, url) for url in [*PAGES, member_page]}
    grow(org, owner, to=1000)
    large = {url: queries_of(client, url) for url in [*PAGES, member_page]}

    assert large == small
    assert TenantMember.objects.filter(tenant=org).count() == CreditTransaction.objects.filter(tenant=org).count()
    for url, ceiling in PAGES.items():
        with django_assert_max_num_queries(ceiling):
            client.get(url)
