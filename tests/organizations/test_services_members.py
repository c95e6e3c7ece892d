import pytest

from core.errors import ApplicationError
from organizations import services
from organizations.models import MemberRole, Permission, TenantMember, TenantMemberCreditLimit
from organizations.tenancy import OwnerOnly, member_can
from tests import factories
from tests.organizations.conftest import join, membership

pytestmark = pytest.mark.django_db


def refused(code, fn, **kwargs):
    with pytest.raises(ApplicationError) as caught:
        fn(**kwargs)
    assert caught.value.code == code, caught.value.detail
    return caught.value


def reloaded(member):
    return TenantMember.objects.get(pk=member.pk)


def limit_of(member):
    return TenantMemberCreditLimit.objects.get(tenant_id=member.tenant_id, user_id=member.user_id)


# --- permissions ---------------------------------------------------------------


OWNER_ONLY = [value for name, value in vars(OwnerOnly).items() if name.isupper()]


@pytest.mark.parametrize("permission", [*Permission.values, *OWNER_ONLY])
def test_owner_can_everything(org, owner_member, permission):
    assert member_can(owner_member, permission)


def test_member_can_nothing_listed_and_custom_only_what_was_chosen(org):
    plain = join(org)
    custom = join(org, role=MemberRole.CUSTOM, permissions=[Permission.MANAGE_INVITATIONS])

    assert not any(member_can(plain, p) for p in Permission.values)
    assert member_can(custom, Permission.MANAGE_INVITATIONS)
    assert not member_can(custom, Permission.MANAGE_MEMBERS)
    # Owner-only actions cannot be granted to a custom member.
    assert not member_can(custom, OwnerOnly.DELETE_ORGANIZATION)


# --- roles -----------------------------------------------------------------------


def test_owner_changes_a_role_to_custom_with_permissions(org, owner_member):
    target = join(org)

    services.member_role_change(member=target, actor=owner_member, role="custom", permissions=["view_all_usage"])

    target = reloaded(target)
    assert (target.role, target.permissions) == ("custom", ["view_all_usage"])


def test_unknown_role_or_permission_is_refused(org, owner_member):
    target = join(org)

    refused("invalid_role", services.member_role_change, member=target, actor=owner_member, role="admin")
    refused(
        "invalid_permission",
        services.member_role_change,
        member=target,
        actor=owner_member,
        role="custom",
        permissions=["launch_missiles"],
    )
    assert reloaded(target).role == "member"


def test_a_member_cannot_change_roles(org, owner_member):
    plain = join(org)
    other = join(org)

    refused("permission_denied", services.member_role_change, member=other, actor=plain, role="custom")
    refused("permission_denied", services.member_role_change, member=plain, actor=plain, role="owner")
    assert reloaded(other).role == reloaded(plain).role == "member"


def test_a_custom_manager_cannot_escalate(org, owner_member):
    manager = join(org, role=MemberRole.CUSTOM, permissions=[Permission.MANAGE_MEMBERS])
    other = join(org)

    refused("permission_denied", services.member_role_change, member=other, actor=manager, role="owner")
    refused("permission_denied", services.member_role_change, member=owner_member, actor=manager, role="member")
    refused(
        "cannot_grant",
        services.member_role_change,
        member=other,
        actor=manager,
        role="custom",
        permissions=["manage_billing"],
    )
    refused(
        "cannot_change_own_role",
        services.member_role_change,
        member=manager,
        actor=manager,
        role="custom",
        permissions=["manage_members"],
    )
    # What they hold, they may hand on.
    services.member_role_change(member=other, actor=manager, role="custom", permissions=["manage_members"])
    assert reloaded(other).permissions == ["manage_members"]
    assert reloaded(owner_member).role == "owner"


def test_the_last_owner_cannot_step_down_but_one_of_two_can(org, owner_member):
    refused("last_owner", services.member_role_change, member=owner_member, actor=owner_member, role="member")
    assert reloaded(owner_member).role == "owner"

    second = join(org, role=MemberRole.OWNER)
    services.member_role_change(member=owner_member, actor=owner_member, role="member")

    assert reloaded(owner_member).role == "member"
    assert reloaded(second).role == "owner"


def test_ownership_transfer_swaps_roles(org, owner_member):
    heir = join(org, role=MemberRole.CUSTOM, permissions=["view_all_usage"])

    services.tenant_ownership_transfer(actor=owner_member, to_member=heir)

    assert (reloaded(heir).role, reloaded(heir).permissions) == ("owner", [])
    assert reloaded(owner_member).role == "member"


def test_only_an_owner_transfers_and_only_to_a_member_of_the_same_organization(org, owner_member):
    plain = join(org)
    foreign = join(factories.TenantFactory())

    refused("permission_denied", services.tenant_ownership_transfer, actor=plain, to_member=owner_member)
    refused("not_a_member", services.tenant_ownership_transfer, actor=owner_member, to_member=foreign)
    refused("same_member", services.tenant_ownership_transfer, actor=owner_member, to_member=owner_member)
    assert reloaded(owner_member).role == "owner"


def test_a_stale_owner_copy_cannot_transfer_after_handing_ownership_away(org, owner_member):
    """The actor's role is read again under the organization's lock, not trusted from the caller's copy."""
    first_heir = join(org)
    second_heir = join(org)
    stale = TenantMember.objects.get(pk=owner_member.pk)  # loaded while still an owner
    services.tenant_ownership_transfer(actor=owner_member, to_member=first_heir)

    refused("permission_denied", services.tenant_ownership_transfer, actor=stale, to_member=second_heir)
    assert [reloaded(m).role for m in (owner_member, first_heir, second_heir)] == ["member", "owner", "member"]


# --- removing and leaving ------------------------------------------------------------


def test_remove_deletes_the_membership_and_its_credit_limit(org, owner_member):
    target = join(org, credit_limit=10, used_credits=4)

    services.member_remove(member=target, actor=owner_member)

    assert not TenantMember.objects.filter(pk=target.pk).exists()
    assert not TenantMemberCreditLimit.objects.filter(tenant=org, user_id=target.user_id).exists()


def test_a_member_cannot_remove_others_and_a_custom_manager_cannot_remove_an_owner(org, owner_member):
    plain = join(org)
    manager = join(org, role=MemberRole.CUSTOM, permissions=[Permission.MANAGE_MEMBERS])

    refused("permission_denied", services.member_remove, member=manager, actor=plain)
    refused("permission_denied", services.member_remove, member=owner_member, actor=manager)
    services.member_remove(member=plain, actor=manager)

    assert set(TenantMember.objects.filter(tenant=org).values_list("pk", flat=True)) == {owner_member.pk, manager.pk}


def test_the_last_owner_can_neither_leave_nor_be_removed(org, owner_member):
    co_owner = join(org)  # a plain member: not an owner

    refused("last_owner", services.member_leave, member=owner_member)
    refused("last_owner", services.member_remove, member=owner_member, actor=owner_member)
    assert TenantMember.objects.filter(pk=owner_member.pk).exists()
    services.member_leave(member=co_owner)
    assert not TenantMember.objects.filter(pk=co_owner.pk).exists()


def test_the_creator_stays_in_their_personal_organization(owner):
    personal = services.tenant_create_default(user=owner)
    creator = membership(personal, owner)
    join(personal, role=MemberRole.OWNER)

    refused("default_organization", services.member_leave, member=creator)
    assert TenantMember.objects.filter(pk=creator.pk).exists()


# --- credit limits ---------------------------------------------------------------------


def test_owner_sets_clears_and_resets_a_member_limit(org, owner_member):
    target = join(org, used_credits=7)

    services.member_credit_limit_set(member=target, actor=owner_member, credit_limit=50)
    assert (limit_of(target).credit_limit, limit_of(target).used_credits) == (50, 7)
    services.member_usage_reset(member=target, actor=owner_member)
    assert limit_of(target).used_credits == 0
    services.member_credit_limit_set(member=target, actor=owner_member, credit_limit=-1)
    assert limit_of(target).is_unlimited


@pytest.mark.parametrize("value", [-2, "ten", None, True, 2**31])
def test_bad_credit_limits_are_refused(org, owner_member, value):
    target = join(org, credit_limit=5)

    refused(
        "invalid_credit_limit", services.member_credit_limit_set, member=target, actor=owner_member, credit_limit=value
    )
    assert limit_of(target).credit_limit == 5


def test_only_owners_touch_credit_limits(org):
    manager = join(org, role=MemberRole.CUSTOM, permissions=list(Permission.values))
    target = join(org, credit_limit=5, used_credits=3)

    refused("permission_denied", services.member_credit_limit_set, member=target, actor=manager, credit_limit=-1)
    refused("permission_denied", services.member_usage_reset, member=target, actor=manager)
    assert (limit_of(target).credit_limit, limit_of(target).used_credits) == (5, 3)


def test_member_update_is_all_or_nothing(org, owner_member):
    target = join(org, credit_limit=5)

    refused(
        "invalid_credit_limit",
        services.member_update,
        member=target,
        actor=owner_member,
        role="custom",
        permissions=["view_all_usage"],
        credit_limit=-9,
    )

    assert reloaded(target).role == "member"
    assert limit_of(target).credit_limit == 5
