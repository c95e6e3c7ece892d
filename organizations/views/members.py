from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render

from core.errors import ApplicationError, PermissionDenied
from core.forms import form_error
from organizations import selectors, services
from organizations.forms import CreditLimitForm, RoleForm
from organizations.models import Permission
from organizations.tenancy import OwnerOnly, member_can, member_sees_all_usage
from organizations.views.common import forbidden, tenant_page

MEMBERS_PER_PAGE = 50


@tenant_page(methods=("GET",))
def member_list(request, member):
    page = Paginator(selectors.tenant_members_list(tenant=member.tenant), MEMBERS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "organizations/members.html",
        {
            "member": member,
            "tenant": member.tenant,
            "page": page,
            "see_all_usage": member_sees_all_usage(member),
            "can_manage": member_can(member, Permission.MANAGE_MEMBERS),
        },
    )


@tenant_page()
def member_detail(request, member, member_id):
    target = selectors.tenant_member_get(tenant=member.tenant, member_id=member_id)
    is_self = target.pk == member.pk
    if not is_self and not member_can(member, Permission.MANAGE_MEMBERS):
        return forbidden(request, member, "You cannot manage other members.")
    role_form = RoleForm(initial={"role": target.role, "permissions": target.permissions})
    limit_form = CreditLimitForm(initial={"credit_limit": target.credit_limit})
    status = 200
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "role":
                role_form = RoleForm(request.POST)
                if role_form.is_valid():
                    services.member_role_change(
                        member=target,
                        actor=member,
                        role=role_form.cleaned_data["role"],
                        permissions=role_form.cleaned_data["permissions"],
                    )
                    messages.success(request, "Role saved.")
                    return redirect("organizations:member_detail", slug=member.tenant.slug, member_id=target.pk)
            elif action == "limit":
                limit_form = CreditLimitForm(request.POST)
                if limit_form.is_valid():
                    services.member_credit_limit_set(
                        member=target, actor=member, credit_limit=limit_form.cleaned_data["credit_limit"]
                    )
                    messages.success(request, "Credit limit saved.")
                    return redirect("organizations:member_detail", slug=member.tenant.slug, member_id=target.pk)
            else:
                messages.error(request, "Unknown action.")
        except PermissionDenied:
            raise
        except ApplicationError as error:
            form_error(role_form if action == "role" else limit_form, error)
        status = 400
    return render(
        request,
        "organizations/member_detail.html",
        {
            "member": member,
            "tenant": member.tenant,
            "target": target,
            "is_self": is_self,
            "role_form": role_form,
            "limit_form": limit_form,
            "can_manage": member_can(member, Permission.MANAGE_MEMBERS),
            "can_set_limits": member_can(member, OwnerOnly.MANAGE_CREDIT_LIMITS),
        },
        status=status,
    )


@tenant_page(methods=("POST",))
def member_usage_reset(request, member, member_id):
    target = selectors.tenant_member_get(tenant=member.tenant, member_id=member_id)
    services.member_usage_reset(member=target, actor=member)
    messages.success(request, f"Credits used by {target.user.get_full_name()} start from zero again.")
    return redirect("organizations:member_detail", slug=member.tenant.slug, member_id=target.pk)


@tenant_page(methods=("POST",))
def member_remove(request, member, member_id):
    target = selectors.tenant_member_get(tenant=member.tenant, member_id=member_id)
    try:
        services.member_remove(member=target, actor=member)
    except PermissionDenied:
        raise
    except ApplicationError as error:
        messages.error(request, error.detail)
        return redirect("organizations:member_detail", slug=member.tenant.slug, member_id=target.pk)
    if target.pk == member.pk:
        messages.success(request, f"You left “{member.tenant.name}”.")
        return redirect("organizations:list")
    messages.success(request, f"{target.user.get_full_name()} was removed.")
    return redirect("organizations:members", slug=member.tenant.slug)
