"""The account pages (and an invitation's) cost the same number of queries for a user in 10 or
1,000 organizations (the nav's switcher lists 20) with 1 or 10 addresses (the most an account
holds)."""

import pytest

from accounts.models import UserEmail
from accounts.services.addresses import MAX_EMAILS_PER_USER
from core.time import MS_PER_DAY, now_ms
from organizations import services as organizations
from organizations.context_processors import SWITCHER_SIZE
from organizations.models import MemberRole, Tenant, TenantInvitation, TenantMember
from organizations.selectors import invitation_token_hash
from tests import factories
from tests.querycount import queries_of

pytestmark = pytest.mark.django_db

INVITATION = "/invitations/accept/the-token/"
# The most each page may cost: the session, the user, the switcher's organizations, and the
# page's own reads (the addresses; the preferences; the invitation, then the address and the
# membership it checks).
PINS = {
    "/accounts/": 4,
    "/accounts/emails/": 4,
    "/accounts/email-preferences/": 4,
    "/accounts/password/": 3,
    INVITATION: 6,
}
PAGES = list(PINS)


def grow(user, owner, *, organizations_to: int, emails_to: int):
    """Bring `user` to that many organizations (their personal one and others') and addresses, in bulk."""
    have = TenantMember.objects.filter(user=user).count()
    tenants = Tenant.objects.bulk_create(
        Tenant(name=f"Org {n:04}", slug=f"org-{n:04}", owner=owner) for n in range(have, organizations_to)
    )
    TenantMember.objects.bulk_create(TenantMember(tenant=t, user=user, role=MemberRole.MEMBER) for t in tenants)
    addresses = UserEmail.objects.filter(user=user).count()
    UserEmail.objects.bulk_create(
        UserEmail(user=user, email=f"ada{n}@example.com", verified=n % 2 == 0) for n in range(addresses, emails_to)
    )


def test_account_pages_do_not_grow_with_organizations_or_addresses(client, django_assert_max_num_queries):
    ada = factories.UserFactory(username="ada", email="ada@example.com")
    organizations.tenant_create_default(user=ada)
    owner = factories.UserFactory(username="olivia")
    acme = organizations.tenant_create(owner=owner, name="Acme")
    TenantInvitation.objects.create(
        tenant=acme,
        email="ada@example.com",
        invited_by=owner,
        token=invitation_token_hash("the-token"),
        expires_at=now_ms() + MS_PER_DAY,
    )
    client.force_login(ada)
    grow(ada, owner, organizations_to=10, emails_to=1)
    small = {url: queries_of(client, url) for url in PAGES}

    grow(ada, owner, organizations_to=1000, emails_to=MAX_EMAILS_PER_USER)
    large = {url: queries_of(client, url) for url in PAGES}

    assert large == small
    for url, most in PINS.items():
        with django_assert_max_num_queries(most):
            response = client.get(url)
    # The switcher lists SWITCHER_SIZE of the 1,000, and the emails page every address.
    assert response.content.decode().count("<option ") == SWITCHER_SIZE
    assert client.get("/accounts/emails/").content.decode().count('<article class="card">') == MAX_EMAILS_PER_USER
    assert "Accept and join" in client.get(INVITATION).content.decode()


def test_the_delete_page_costs_the_same_for_10_or_200_organizations_the_user_owns(client):
    """What happens to each organization (deleted, handed over, left) is worked out in a fixed
    number of queries, not two per organization owned."""
    ada = factories.UserFactory(username="ada")
    organizations.tenant_create_default(user=ada)
    client.force_login(ada)

    def own(to: int):
        have = Tenant.objects.filter(owner=ada).count()
        for n in range(have, to):
            tenant = organizations.tenant_create(owner=ada, name=f"Owned {n:04}")
            if n % 2:  # half are handed over to a member, half deleted with no one left
                TenantMember.objects.create(tenant=tenant, user=factories.UserFactory(), role=MemberRole.MEMBER)

    own(10)
    small = queries_of(client, "/accounts/delete/")
    own(200)
    large = queries_of(client, "/accounts/delete/")

    assert large == small
    page = client.get("/accounts/delete/").content.decode()
    assert page.count("will pass to") == 100 and "Owned 0198" in page
