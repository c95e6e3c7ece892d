import pytest
from django.db import transaction
from django.test import override_settings

from core.errors import ApplicationError
from organizations import services
from organizations.models import (
    InvitationStatus,
    MemberRole,
    Permission,
    Tenant,
    TenantInvitation,
    TenantMember,
    TenantMemberCreditLimit,
    TenantSlug,
)
from tests import factories
from tests.organizations.conftest import join, membership

pytestmark = pytest.mark.django_db

deleted_tenant_ids = []


def record_deleted_tenant(*, tenant):
    deleted_tenant_ids.append(tenant.pk)


def refused(code, fn, **kwargs):
    with pytest.raises(ApplicationError) as caught:
        fn(**kwargs)
    assert caught.value.code == code, caught.value.detail
    return caught.value


def test_create_makes_the_creator_owner_with_an_unlimited_credit_limit(owner):
    tenant = services.tenant_create(owner=owner, name="Ünïcode Rocket Co.", logo_url="https://cdn.example.com/l.png")

    assert tenant.slug == "unicode-rocket-co"
    assert tenant.logo_url == "https://cdn.example.com/l.png"
    assert membership(tenant, owner).role == MemberRole.OWNER
    limit = TenantMemberCreditLimit.objects.get(tenant=tenant, user=owner)
    assert (limit.credit_limit, limit.used_credits) == (-1, 0)


def test_generated_slugs_are_numbered_when_taken_and_avoid_reserved_words(owner):
    first = services.tenant_create(owner=owner, name="Acme")
    second = services.tenant_create(owner=owner, name="ACME")
    admin = services.tenant_create(owner=owner, name="Admin")
    nothing_latin = services.tenant_create(owner=owner, name="日本")

    assert (first.slug, second.slug) == ("acme", "acme-2")
    assert admin.slug == "admin-org"
    assert nothing_latin.slug == "org"


@pytest.mark.parametrize(
    ("slug", "code"),
    [
        ("admin", "slug_reserved"),
        ("api", "slug_reserved"),
        ("static", "slug_reserved"),
        ("o", "slug_invalid"),
        ("-acme", "slug_invalid"),
        ("acme_co", "slug_invalid"),
        ("a" * 51, "slug_invalid"),
        ("with space", "slug_invalid"),
    ],
)
def test_bad_slugs_are_refused_and_nothing_is_written(owner, slug, code):
    before = Tenant.objects.count()

    error = refused(code, services.tenant_create, owner=owner, name="Acme", slug=slug)

    assert error.field == "slug"
    assert Tenant.objects.count() == before


def test_duplicate_slug_is_refused_with_slug_taken(owner):
    services.tenant_create(owner=owner, name="Acme", slug="acme")
    before = TenantMember.objects.count()

    refused("slug_taken", services.tenant_create, owner=factories.UserFactory(), name="Other", slug="ACME")

    assert TenantMember.objects.count() == before


def test_empty_name_and_bad_logo_are_refused(owner):
    refused("name_required", services.tenant_create, owner=owner, name="   ")
    refused("logo_invalid", services.tenant_create, owner=owner, name="Acme", logo_url="javascript:alert(1)")
    assert not Tenant.objects.exists()


def test_a_user_has_one_personal_organization(owner):
    services.tenant_create_default(user=owner)

    refused("default_exists", services.tenant_create_default, user=owner)
    assert Tenant.objects.filter(owner=owner, is_default=True).count() == 1


def test_rename_and_slug_change_keep_the_old_slug_reserved_for_the_organization(org, owner_member):
    services.tenant_update(tenant=org, actor=owner_member, name="Acme Two", slug="acme-two")
    org.refresh_from_db()

    assert (org.name, org.slug) == ("Acme Two", "acme-two")
    assert list(TenantSlug.objects.filter(tenant=org).values_list("slug", flat=True)) == ["acme"]
    # Nobody else can take the retired slug: old links must never lead elsewhere.
    refused("slug_taken", services.tenant_create, owner=factories.UserFactory(), name="x", slug="acme")


def test_an_organization_can_take_back_its_former_slug(org, owner_member):
    services.tenant_update(tenant=org, actor=owner_member, slug="acme-two")
    services.tenant_update(tenant=org, actor=owner_member, slug="acme")
    org.refresh_from_db()

    assert org.slug == "acme"
    assert list(TenantSlug.objects.filter(tenant=org).values_list("slug", flat=True)) == ["acme-two"]


def test_only_an_owner_changes_settings(org):
    custom = join(org, role=MemberRole.CUSTOM, permissions=["manage_members", "manage_billing"])

    refused("permission_denied", services.tenant_update, tenant=org, actor=custom, name="Hijacked")
    org.refresh_from_db()
    assert org.name == "Acme"


def test_slug_change_to_a_taken_slug_writes_nothing(org, owner_member, outsider):
    refused("slug_taken", services.tenant_update, tenant=org, actor=owner_member, name="New", slug="mallory-inc")

    org.refresh_from_db()
    assert (org.name, org.slug) == ("Acme", "acme")
    assert not TenantSlug.objects.exists()


@override_settings(KEEL_TENANT_DELETE_HOOKS=["tests.organizations.test_services_tenants.record_deleted_tenant"])
def test_delete_is_soft_revokes_pending_invitations_and_runs_hooks_on_commit(
    org, owner_member, django_capture_on_commit_callbacks
):
    invitation = factories.TenantInvitationFactory(tenant=org)
    deleted_tenant_ids.clear()

    with django_capture_on_commit_callbacks(execute=True):
        services.tenant_delete(tenant=org, actor=owner_member, confirm_name="Acme")

    org.refresh_from_db()
    assert org.deleted_at is not None
    assert TenantInvitation.objects.get(pk=invitation.pk).status == InvitationStatus.REVOKED
    assert deleted_tenant_ids == [org.pk]
    assert not Tenant.objects.alive().filter(pk=org.pk).exists()


@override_settings(KEEL_TENANT_DELETE_HOOKS=["tests.organizations.test_services_tenants.record_deleted_tenant"])
def test_a_refused_delete_runs_no_hook(org, owner_member, django_capture_on_commit_callbacks):
    deleted_tenant_ids.clear()

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        refused("confirmation_mismatch", services.tenant_delete, tenant=org, actor=owner_member, confirm_name="acme")

    assert deleted_tenant_ids == []
    org.refresh_from_db()
    assert org.deleted_at is None


def test_delete_needs_an_owner_and_the_exact_name(org):
    custom = join(org, role=MemberRole.CUSTOM, permissions=list(Permission.values))

    refused("permission_denied", services.tenant_delete, tenant=org, actor=custom, confirm_name="Acme")
    org.refresh_from_db()
    assert org.deleted_at is None


def test_the_personal_organization_stays_while_its_user_exists(owner):
    personal = services.tenant_create_default(user=owner)
    actor = membership(personal, owner)

    refused("default_organization", services.tenant_delete, tenant=personal, actor=actor, confirm_name=personal.name)
    personal.refresh_from_db()
    assert personal.deleted_at is None
