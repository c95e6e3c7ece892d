"""Account deletion: the organizations' side, through the hooks named in settings."""

import pytest
from django.conf import settings
from django.utils.module_loading import import_string

from organizations import services
from organizations.models import MemberRole, Tenant, TenantMember
from tests import factories
from tests.organizations.conftest import join

pytestmark = pytest.mark.django_db


def notices(user):
    return [line for path in settings.KEEL_ACCOUNT_DELETE_NOTICES for line in import_string(path)(user=user)]


def delete_account(user):
    for path in settings.KEEL_ACCOUNT_DELETE_HOOKS:
        import_string(path)(user=user)


def alive(tenant) -> bool:
    return Tenant.objects.alive().filter(pk=tenant.pk).exists()


def test_hooks_are_named_in_settings():
    assert "organizations.services.tenants_account_delete_notices" in settings.KEEL_ACCOUNT_DELETE_NOTICES
    assert "organizations.services.tenants_account_delete" in settings.KEEL_ACCOUNT_DELETE_HOOKS


def test_sole_owned_organizations_are_handed_over_or_deleted_and_the_user_is_told_first(owner):
    personal = services.tenant_create_default(user=owner)
    join(personal)  # even with members, a personal organization goes with its user
    alone = services.tenant_create(owner=owner, name="Solo")
    shared = services.tenant_create(owner=owner, name="Shared")
    senior = join(shared, factories.UserFactory(first_name="Sam", last_name="Senior"))
    junior = join(shared, factories.UserFactory(first_name="Jo", last_name="Junior"))
    TenantMember.objects.filter(pk=junior.pk).update(created_at=senior.created_at + 1)
    co_owned = services.tenant_create(owner=factories.UserFactory(), name="Co-owned")
    mine_too = join(co_owned, owner, role=MemberRole.OWNER)

    told = notices(owner)
    delete_account(owner)

    assert f"The organization “{personal.name}” will be deleted." in told
    assert "The organization “Solo” will be deleted." in told
    assert "Ownership of “Shared” will pass to Sam Senior, its longest-standing member." in told
    assert "You will leave “Co-owned”." in told
    assert not alive(personal) and not alive(alone)
    assert alive(shared) and alive(co_owned)
    assert TenantMember.objects.get(pk=senior.pk).role == "owner"
    assert not TenantMember.objects.filter(user=owner, tenant__in=[shared, co_owned]).exists()
    assert not TenantMember.objects.filter(pk=mine_too.pk).exists()


def test_a_member_who_is_not_an_owner_just_leaves(org):
    plain = join(org)

    assert notices(plain.user) == ["You will leave “Acme”."]
    delete_account(plain.user)

    assert alive(org)
    assert not TenantMember.objects.filter(pk=plain.pk).exists()


def test_through_the_delete_account_page(client, owner, org):
    heir = join(org, factories.UserFactory(first_name="Hal", last_name="Heir"))
    client.force_login(owner)

    page = client.get("/accounts/delete/").content.decode()
    assert "Ownership of “Acme” will pass to Hal Heir" in page
    response = client.post("/accounts/delete/", {"password": factories.DEFAULT_PASSWORD})

    assert response.status_code == 302
    assert alive(org)
    assert TenantMember.objects.get(pk=heir.pk).role == "owner"
    assert not TenantMember.objects.filter(tenant=org, user=owner).exists()
