import pytest
from django.db import IntegrityError, transaction

from tests.factories import (
    TenantFactory,
    TenantInvitationFactory,
    TenantMemberCreditLimitFactory,
    TenantMemberFactory,
)

pytestmark = pytest.mark.django_db


def refused(factory, **kwargs):
    with pytest.raises(IntegrityError), transaction.atomic():
        factory(**kwargs)


def test_tenant_slug_is_unique():
    TenantFactory(slug="acme")
    refused(TenantFactory, slug="acme")


def test_one_default_organization_per_owner_while_alive():
    tenant = TenantFactory(is_default=True)
    refused(TenantFactory, owner=tenant.owner, is_default=True)
    TenantFactory(owner=tenant.owner, is_default=False)
    tenant.deleted_at = 1
    tenant.save()
    TenantFactory(owner=tenant.owner, is_default=True)


def test_membership_is_unique_and_role_is_an_enumeration():
    member = TenantMemberFactory()
    refused(TenantMemberFactory, tenant=member.tenant, user=member.user)
    refused(TenantMemberFactory, role="admin")


def test_invitation_unique_per_tenant_and_email_and_token_unique():
    invitation = TenantInvitationFactory(email="x@example.com")
    refused(TenantInvitationFactory, tenant=invitation.tenant, email="x@example.com")
    refused(TenantInvitationFactory, token=invitation.token)
    refused(TenantInvitationFactory, status="lost")
    refused(TenantInvitationFactory, credit_limit=-2)


def test_member_credit_limit_unique_and_bounded():
    limit = TenantMemberCreditLimitFactory()
    refused(TenantMemberCreditLimitFactory, tenant=limit.tenant, user=limit.user)
    refused(TenantMemberCreditLimitFactory, used_credits=-1)
    refused(TenantMemberCreditLimitFactory, credit_limit=-5)
