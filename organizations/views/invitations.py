from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.http import urlencode

from core.errors import ApplicationError, PermissionDenied
from core.forms import form_error
from organizations import selectors, services
from organizations.forms import InvitationForm
from organizations.models import Permission
from organizations.selectors import InvitationState
from organizations.tenancy import SESSION_KEY
from organizations.views.common import tenant_page

INVITATIONS_PER_PAGE = 50


@tenant_page(permission=Permission.MANAGE_INVITATIONS, denied="You cannot manage invitations here.")
def invitation_list(request, member):
    form = InvitationForm(request.POST or None, initial={"role": "member", "credit_limit": -1})
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                invitation = services.invitation_create(
                    tenant=member.tenant,
                    actor=member,
                    invited_by=request.user,
                    email=data["email"],
                    role=data["role"],
                    permissions=data["permissions"],
                    credit_limit=data["credit_limit"],
                )
            except PermissionDenied:
                raise
            except ApplicationError as error:
                form_error(form, error)
            else:
                messages.success(request, f"Invitation sent to {invitation.email}.")
                return redirect("organizations:invitations", slug=member.tenant.slug)
        status = 400
    page = Paginator(selectors.tenant_invitations_list(tenant=member.tenant), INVITATIONS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "organizations/invitations.html",
        {
            "member": member,
            "tenant": member.tenant,
            "page": page,
            "form": form,
            "ttl_days": settings.INVITATION_TTL_DAYS,
        },
        status=status,
    )


def _invitation_action(service, done: str):
    @tenant_page(methods=("POST",), permission=Permission.MANAGE_INVITATIONS, denied="You cannot manage invitations.")
    def view(request, member, invitation_id):
        invitation = selectors.tenant_invitation_get(tenant=member.tenant, invitation_id=invitation_id)
        try:
            service(invitation=invitation, actor=member)
        except PermissionDenied:
            raise
        except ApplicationError as error:
            messages.error(request, error.detail)
        else:
            messages.success(request, done.format(email=invitation.email))
        return redirect("organizations:invitations", slug=member.tenant.slug)

    return view


invitation_resend = _invitation_action(services.invitation_resend, "Invitation sent again to {email}.")
invitation_revoke = _invitation_action(services.invitation_revoke, "Invitation to {email} revoked.")


def _signup_url() -> str:
    for name in ("accounts:signup", "signup", "accounts:register"):
        try:
            return reverse(name)
        except NoReverseMatch:
            continue
    return "/accounts/signup/"


def _mask(email: str) -> str:
    """Enough of the invited address to recognise it, not enough to harvest it from a leaked link."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}{'•' * max(len(local) - 1, 1)}@{domain}"


def invitation_accept(request, token):
    """The page an invitation link opens. Every state gets a page that says what to do next."""
    check = selectors.invitation_check(token=token, user=request.user)
    if request.method == "POST" and check.state == InvitationState.OK:
        try:
            member = services.invitation_accept(token=token, user=request.user)
        except ApplicationError as error:
            check = selectors.InvitationCheck(error.code, check.invitation)
        else:
            request.session[SESSION_KEY] = str(member.tenant_id)
            messages.success(request, f"Welcome to “{member.tenant.name}”.")
            return redirect("credits:dashboard", slug=member.tenant.slug)
    here = request.get_full_path()
    # The sign-in and sign-up pages come back here (`next`), and look the invitation up by its
    # token to pre-fill its address: the address itself never goes into a URL (access logs).
    links = urlencode({"next": here, "invitation": token})
    context = {
        "state": check.state,
        "invitation": check.invitation,
        "terms": selectors.invitation_terms(check.invitation) if check.invitation else "",
        "masked_email": _mask(check.invitation.email) if check.invitation else "",
        "login_url": f"{settings.LOGIN_URL}?{links}",
        "signup_url": f"{_signup_url()}?{links}",
        "tenant_slug": check.invitation.tenant.slug if check.invitation else "",
    }
    status = 404 if check.state == InvitationState.INVALID else 200
    return render(request, "organizations/invitation_accept.html", context, status=status)
