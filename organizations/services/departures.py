"""What happens to a user's organizations when their account is deleted.

Named in settings: `KEEL_ACCOUNT_DELETE_NOTICES` (sentences shown before the
user confirms) and `KEEL_ACCOUNT_DELETE_HOOKS` (run inside the deletion
transaction). Both walk the same plan, so what the user is told is what happens.
"""

from dataclasses import dataclass

from django.db import transaction
from django.db.models import Exists, OuterRef, Subquery

from accounts.models import User
from core.locks import lock_rows
from organizations.models import MemberRole, Tenant, TenantMember
from organizations.services.members import member_audit, membership_end
from organizations.services.tenants import tenant_soft_delete


@dataclass
class Departure:
    tenant: Tenant
    membership: TenantMember
    action: str  # "delete" | "hand_over" | "leave"
    successor: TenantMember | None = None


def _plan(user: User) -> list[Departure]:
    """What deleting `user` does to each of their organizations, in three queries whatever their
    number: the memberships with whether another owner stays and who would take over, then the
    successors."""
    others = TenantMember.objects.filter(tenant=OuterRef("tenant_id"), user__deleted_at__isnull=True).exclude(user=user)
    memberships = list(
        TenantMember.objects.select_related("tenant")
        .filter(user=user, tenant__deleted_at__isnull=True)
        .annotate(
            other_owner=Exists(others.filter(role=MemberRole.OWNER)),
            # The longest-standing member takes over; id breaks ties so the choice is stable.
            successor_id=Subquery(others.order_by("created_at", "id").values("id")[:1]),
        )
        .order_by("tenant__name", "tenant_id")
    )

    def sole_owner(membership) -> bool:
        return membership.role == MemberRole.OWNER and not membership.other_owner

    wanted = [m.successor_id for m in memberships if sole_owner(m) and m.successor_id]
    successors = TenantMember.objects.select_related("user").in_bulk(wanted) if wanted else {}
    plan = []
    for membership in memberships:
        tenant = membership.tenant
        if tenant.is_default and tenant.owner_id == user.pk:
            plan.append(Departure(tenant, membership, "delete"))
        elif not sole_owner(membership):
            plan.append(Departure(tenant, membership, "leave"))
        elif membership.successor_id is None:
            plan.append(Departure(tenant, membership, "delete"))
        else:
            plan.append(Departure(tenant, membership, "hand_over", successors[membership.successor_id]))
    return plan


def tenants_account_delete_notices(*, user: User) -> list[str]:
    notices = []
    for step in _plan(user):
        if step.action == "delete":
            notices.append(f"The organization “{step.tenant.name}” will be deleted.")
        elif step.action == "hand_over":
            notices.append(
                f"Ownership of “{step.tenant.name}” will pass to {step.successor.user.get_full_name()}, "
                "its longest-standing member."
            )
        else:
            notices.append(f"You will leave “{step.tenant.name}”.")
    return notices


@transaction.atomic
def tenants_account_delete(*, user: User) -> None:
    """Run inside `user_delete`, which holds the user's lock (so no invitation is accepted meanwhile).

    Every organization the user is in is locked first, in core/locks.py's
    order, and the plan is made under those locks: who takes over and whether
    the user is the sole owner are decided on what holds, not on what held a
    moment before.
    """
    lock_rows(Tenant, TenantMember.objects.filter(user=user).values_list("tenant_id", flat=True), fields=["id"])
    for step in _plan(user):
        if step.action == "delete":
            tenant_soft_delete(tenant=step.tenant)
            continue
        if step.action == "hand_over":
            TenantMember.objects.filter(pk=step.successor.pk).update(role=MemberRole.OWNER, permissions=[])
            member_audit(
                "member.ownership_transferred",
                step.successor,
                before={"role": step.successor.role, "owner": str(user.pk)},
                after={"role": MemberRole.OWNER, "reason": "account_deleted"},
            )
        step.membership.user = user
        membership_end(step.membership, action="member.left")
