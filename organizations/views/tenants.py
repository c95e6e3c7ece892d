from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from accounts.reauth import reauth_required
from core.errors import ApplicationError
from core.forms import form_error
from organizations import selectors, services
from organizations.forms import DeleteForm, OrganizationForm, OrganizationSettingsForm, TransferForm
from organizations.models import MemberRole
from organizations.tenancy import SESSION_KEY, OwnerOnly
from organizations.views.common import tenant_page


def home(request):
    """A signed-in user's `/` (billing's landing page calls it): their current organization's
    dashboard (the one the nav shows as current), or the list of organizations if they are in none."""
    current = selectors.user_current_membership(user=request.user, tenant_id=request.session.get(SESSION_KEY))
    if current is None:
        return redirect("organizations:list")
    return redirect("credits:dashboard", slug=current.tenant.slug)


@login_required
def org_list(request):
    memberships = selectors.user_memberships_list(user=request.user)
    return render(request, "organizations/list.html", {"memberships": memberships})


@login_required
def org_create(request):
    form = OrganizationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            tenant = services.tenant_create(
                owner=request.user,
                name=form.cleaned_data["name"],
                slug=form.cleaned_data["slug"] or None,
                logo_url=form.cleaned_data["logo_url"],
            )
        except ApplicationError as error:
            form_error(form, error)
        else:
            request.session[SESSION_KEY] = str(tenant.pk)
            messages.success(request, f"“{tenant.name}” is ready.")
            return redirect("credits:dashboard", slug=tenant.slug)
    return render(request, "organizations/create.html", {"form": form})


@login_required
@require_POST
def org_switch(request):
    """Make another organization the session's current one (the nav's switcher posts here)."""
    membership = selectors.user_memberships_list(user=request.user).filter(tenant__slug=request.POST.get("slug"))
    membership = membership.first()
    if membership is None:
        messages.error(request, "You are not a member of that organization.")
        return redirect("organizations:list")
    request.session[SESSION_KEY] = str(membership.tenant_id)
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}) or "/o/" in target:
        # Pages of the previous organization are not pages of this one.
        target = reverse("credits:dashboard", kwargs={"slug": membership.tenant.slug})
    return redirect(target)


def _settings_page(request, member, *, form=None, delete_form=None, transfer_form=None, status=200):
    tenant = member.tenant
    others = list(selectors.tenant_members_list(tenant=tenant).exclude(pk=member.pk))
    form = form or OrganizationSettingsForm(
        initial={"name": tenant.name, "slug": tenant.slug, "logo_url": tenant.logo_url}
    )
    context = {
        "member": member,
        "tenant": tenant,
        "form": form,
        "delete_form": delete_form or DeleteForm(),
        "transfer_form": transfer_form or TransferForm(members=others),
        "can_transfer": bool(others) and member.role == MemberRole.OWNER,
        "can_delete": not (tenant.is_default and tenant.owner_id == member.user_id),
    }
    return render(request, "organizations/settings.html", context, status=status)


@tenant_page(permission=OwnerOnly.MANAGE_ORGANIZATION, denied="Only an owner can change the organization's settings.")
def org_settings(request, member):
    if request.method != "POST":
        return _settings_page(request, member)
    form = OrganizationSettingsForm(request.POST)
    if form.is_valid():
        try:
            tenant = services.tenant_update(
                tenant=member.tenant,
                actor=member,
                name=form.cleaned_data["name"],
                slug=form.cleaned_data["slug"],
                logo_url=form.cleaned_data["logo_url"],
            )
        except ApplicationError as error:
            form_error(form, error)
        else:
            messages.success(request, "Settings saved.")
            return redirect("organizations:settings", slug=tenant.slug)
    return _settings_page(request, member, form=form, status=400)


@tenant_page(
    methods=("POST",), permission=OwnerOnly.DELETE_ORGANIZATION, denied="Only an owner can delete the organization."
)
@reauth_required
def org_delete(request, member):
    form = DeleteForm(request.POST)
    if form.is_valid():
        try:
            services.tenant_delete(tenant=member.tenant, actor=member, confirm_name=form.cleaned_data["confirm_name"])
        except ApplicationError as error:
            form_error(form, error)
        else:
            if request.session.get(SESSION_KEY) == str(member.tenant_id):
                del request.session[SESSION_KEY]
            messages.success(request, f"“{member.tenant.name}” was deleted.")
            return redirect("organizations:list")
    return _settings_page(request, member, delete_form=form, status=400)


@tenant_page(methods=("POST",), permission=OwnerOnly.TRANSFER_OWNERSHIP, denied="Only an owner can transfer ownership.")
def org_transfer(request, member):
    others = selectors.tenant_members_list(tenant=member.tenant).exclude(pk=member.pk)
    form = TransferForm(request.POST, members=others)
    if form.is_valid():
        to_member = selectors.tenant_member_get(tenant=member.tenant, member_id=form.cleaned_data["member"])
        try:
            new_owner = services.tenant_ownership_transfer(actor=member, to_member=to_member)
        except ApplicationError as error:
            form_error(form, error)
        else:
            messages.success(request, f"{new_owner.user.get_full_name()} now owns “{member.tenant.name}”.")
            return redirect("organizations:members", slug=member.tenant.slug)
    return _settings_page(request, member, transfer_form=form, status=400)


@tenant_page(methods=("POST",))
def org_leave(request, member):
    try:
        services.member_leave(member=member)
    except ApplicationError as error:
        messages.error(request, error.detail)
        return redirect("credits:dashboard", slug=member.tenant.slug)
    if request.session.get(SESSION_KEY) == str(member.tenant_id):
        del request.session[SESSION_KEY]
    messages.success(request, f"You left “{member.tenant.name}”.")
    return redirect("organizations:list")
