"""The member and invitation lists cost the same number of queries with 5 or 500 members."""

import pytest
from rest_framework.test import APIClient

from accounts.models import User, UserEmail
from core.time import MS_PER_DAY, now_ms
from organizations.models import MemberRole, TenantInvitation, TenantMember, TenantMemberCreditLimit
from tests.factories import _default_password_hash
from tests.querycount import queries_of

pytestmark = pytest.mark.django_db

# The organization's dashboard (/o/acme/) is credits' page: tests/credits/test_dashboard.py pins it.
PAGES = ["/o/acme/members/", "/o/acme/invitations/", "/o/acme/members/?page=2"]
API = ["/api/v1/orgs/acme/members/", "/api/v1/orgs/acme/invitations/", "/api/v1/orgs/"]


def grow(org, inviter, *, to: int):
    """Bring the organization to `to` members and as many pending invitations, in bulk."""
    have = TenantMember.objects.filter(tenant=org).count()
    start = TenantInvitation.objects.filter(tenant=org).count()
    users = User.objects.bulk_create(
        User(username=f"bulk{n}", first_name="Bulk", last_name=str(n), password=_default_password_hash())
        for n in range(have, to)
    )
    UserEmail.objects.bulk_create(
        UserEmail(user=u, email=f"{u.username}@example.com", is_primary=True, verified=True) for u in users
    )
    joined = now_ms()
    TenantMember.objects.bulk_create(
        # One millisecond apart, so that join order (the list's order) is the creation order.
        TenantMember(tenant=org, user=u, role=MemberRole.CUSTOM, permissions=["view_all_usage"], created_at=joined + n)
        for n, u in enumerate(users)
    )
    TenantMemberCreditLimit.objects.bulk_create(
        TenantMemberCreditLimit(tenant=org, user=u, credit_limit=100, used_credits=n % 50) for n, u in enumerate(users)
    )
    TenantInvitation.objects.bulk_create(
        TenantInvitation(
            tenant=org,
            email=f"invitee{n}@example.com",
            invited_by=inviter,
            token=f"hash-{n}",
            expires_at=now_ms() + MS_PER_DAY,
        )
        for n in range(start, to)
    )


def test_pages_and_api_lists_do_not_grow_with_members(client, owner, org, django_assert_max_num_queries):
    client.force_login(owner)
    api = APIClient()
    api.force_authenticate(owner)
    client.get("/o/acme/")  # the first visit stores the current organization in the session
    grow(org, owner, to=5)
    # page 2 needs members to exist beyond the first page; with 5 it falls back to page 1, same cost.
    small = {url: queries_of(client, url) for url in PAGES} | {url: queries_of(api, url) for url in API}

    grow(org, owner, to=500)
    large = {url: queries_of(client, url) for url in PAGES} | {url: queries_of(api, url) for url in API}

    assert large == small
    for url in PAGES:
        with django_assert_max_num_queries(6):
            client.get(url)
    for url in API:
        with django_assert_max_num_queries(2):
            api.get(url)
    assert "bulk499" in client.get("/o/acme/members/?page=10").content.decode()
