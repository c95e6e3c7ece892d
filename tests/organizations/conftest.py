import re

import pytest
from django.core import mail

from organizations import services
from organizations.models import MemberRole, TenantMember, TenantMemberCreditLimit
from tests import factories


def join(tenant, user=None, *, role=MemberRole.MEMBER, permissions=(), credit_limit=-1, used_credits=0):
    """A membership with its credit limit row, as invitation acceptance would leave it."""
    user = user or factories.UserFactory()
    member = TenantMember.objects.create(tenant=tenant, user=user, role=role, permissions=list(permissions))
    TenantMemberCreditLimit.objects.create(
        tenant=tenant, user=user, credit_limit=credit_limit, used_credits=used_credits
    )
    return member


def membership(tenant, user) -> TenantMember:
    return TenantMember.objects.select_related("tenant", "user").get(tenant=tenant, user=user)


def token_from_last_email() -> str:
    """The raw token, from the accept link in the last email sent."""
    match = re.search(r"/invitations/accept/([^/\s]+)/", mail.outbox[-1].body)
    assert match, mail.outbox[-1].body
    return match.group(1)


@pytest.fixture
def owner(db):
    return factories.UserFactory(username="olivia", first_name="Olivia", last_name="Owner")


@pytest.fixture
def org(owner):
    return services.tenant_create(owner=owner, name="Acme")


@pytest.fixture
def owner_member(org, owner):
    return membership(org, owner)


@pytest.fixture
def outsider(db):
    """Someone with an organization of their own, and nothing to do with `org`."""
    user = factories.UserFactory(username="mallory", first_name="Mallory")
    services.tenant_create(owner=user, name="Mallory Inc", slug="mallory-inc")
    return user
