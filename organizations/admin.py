"""Organizations in the admin: every row read-only; staff change things through the services,
as a site operator (`actor=None`): the same rules (last owner, slug history, API-key revocation
when a membership ends) and the same emails as the organization's own pages."""

from django.contrib import admin, messages
from django.db.models import Exists, OuterRef
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse

from core.admin import (
    ReadOnlyAdmin,
    ReadOnlyTabularInline,
    apply_each,
    confirm_action,
    json_column,
    link_column,
    ms_column,
)
from organizations import services
from organizations.forms import CreditLimitForm, OrganizationSettingsForm, RoleForm
from organizations.models import Tenant, TenantInvitation, TenantMember, TenantMemberCreditLimit, TenantSlug


def member_label(member: TenantMember) -> str:
    return f"{member.user.username} in {member.tenant.slug}"


class TenantMemberInline(ReadOnlyTabularInline):
    model = TenantMember
    fields = ("user", "role", "permissions", "row_actions")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user", "tenant")


class TenantInvitationInline(ReadOnlyTabularInline):
    model = TenantInvitation
    fields = ("email", "role", "status", "credit_limit")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("tenant")


@admin.register(Tenant)
class TenantAdmin(ReadOnlyAdmin):
    list_display = (
        "name",
        "slug",
        "owner_link",
        "is_default",
        "overdraft_enabled",
        "created_at_display",
        "deleted_at_display",
    )
    list_filter = ("is_default", "overdraft_enabled", ("deleted_at", admin.EmptyFieldListFilter))
    search_fields = ("name", "slug", "owner__username")
    list_select_related = ("owner",)
    fields = (
        "name",
        "slug",
        "logo_url",
        "owner_link",
        "is_default",
        "overdraft_enabled",
        "overdraft_limit",
        "created_at_display",
        "updated_at_display",
        "deleted_at_display",
    )
    readonly_fields = fields
    inlines = [TenantMemberInline, TenantInvitationInline]
    # Overdraft: the credits admin's "Configure an organization's overdraft" form.
    object_tools = (("Edit name, slug, logo", "admin:organizations_tenant_edit"),)

    owner_link = link_column("owner")
    created_at_display = ms_column("created_at", "created")
    updated_at_display = ms_column("updated_at", "updated")
    deleted_at_display = ms_column("deleted_at", "deleted")

    def get_urls(self):
        view = self.admin_site.admin_view(self.edit_view)
        return [path("<path:object_id>/edit/", view, name="organizations_tenant_edit"), *super().get_urls()]

    def edit_view(self, request, object_id):
        tenant = get_object_or_404(Tenant, pk=object_id)
        if tenant.deleted_at is not None:
            messages.error(request, "This organization is deleted: it cannot be edited.")
            return redirect("admin:organizations_tenant_change", tenant.pk)
        form = OrganizationSettingsForm(
            request.POST or None, initial={"name": tenant.name, "slug": tenant.slug, "logo_url": tenant.logo_url}
        )

        def apply(data):
            saved = services.tenant_update(
                tenant=tenant, actor=None, name=data["name"], slug=data["slug"], logo_url=data["logo_url"]
            )
            return f"Saved {saved.name} ({saved.slug}).", reverse("admin:organizations_tenant_change", args=[saved.pk])

        return self.service_form_view(
            request,
            form,
            apply=apply,
            title="Edit name, slug, logo",
            obj=tenant,
            intro="A changed slug is kept as a former slug, so old links keep working.",
        )


def _role_initial(queryset) -> dict:
    member = queryset.first() if queryset.count() == 1 else None
    return {"role": member.role, "permissions": member.permissions} if member else {}


def _limit_initial(queryset) -> dict:
    row = queryset.first() if queryset.count() == 1 else None
    return {"credit_limit": row.credit_limit} if row else {}


def _member_limit_initial(queryset) -> dict:
    member = queryset.first() if queryset.count() == 1 else None
    if member is None:
        return {}
    return _limit_initial(TenantMemberCreditLimit.objects.filter(tenant_id=member.tenant_id, user_id=member.user_id))


class MemberServicesMixin:
    """The member services, on a queryset of memberships; one message per refusal."""

    def _each_member(self, request, members, service, done: str) -> None:
        apply_each(self, request, members.select_related("user", "tenant"), service, done=done, label=member_label)

    def _change_role(self, request, members, *, role, permissions):
        self._each_member(
            request,
            members,
            lambda m: services.member_role_change(member=m, actor=None, role=role, permissions=permissions),
            "Changed the role of {count} member(s).",
        )

    def _remove(self, request, members):
        self._each_member(
            request,
            members,
            lambda m: services.member_remove(member=m, actor=None),
            "Removed {count} member(s) from their organization.",
        )

    def _set_credit_limit(self, request, members, *, credit_limit):
        self._each_member(
            request,
            members,
            lambda m: services.member_credit_limit_set(member=m, actor=None, credit_limit=credit_limit),
            "Set the credit limit of {count} member(s).",
        )

    def _reset_usage(self, request, members):
        self._each_member(
            request,
            members,
            lambda m: services.member_usage_reset(member=m, actor=None),
            "Reset the used credits of {count} member(s).",
        )


REMOVE_INTRO = (
    "They lose access at once; their API keys for the organization are revoked. "
    "An organization keeps at least one owner, and a user stays in their personal organization."
)


@admin.register(TenantMember)
class TenantMemberAdmin(MemberServicesMixin, ReadOnlyAdmin):
    list_display = ("user_link", "tenant_link", "role", "created_at_display")
    list_filter = ("role",)
    search_fields = ("user__username", "tenant__slug", "tenant__name")
    list_select_related = ("user", "tenant")
    fields = ("user", "tenant", "role", "permissions", "created_at_display")
    readonly_fields = fields
    actions = ["change_role", "set_credit_limit", "reset_used_credits", "remove_members"]
    object_actions = ("change_role", "set_credit_limit", "reset_used_credits", "remove_members")

    user_link = link_column("user")
    tenant_link = link_column("tenant")
    created_at_display = ms_column("created_at", "joined")

    def object_label(self, obj):
        return member_label(obj)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user", "tenant")

    @confirm_action(description="Change role", form_class=RoleForm, initial=_role_initial)
    def change_role(self, request, queryset, *, role, permissions):
        self._change_role(request, queryset, role=role, permissions=permissions)

    @confirm_action(description="Set credit limit", form_class=CreditLimitForm, initial=_member_limit_initial)
    def set_credit_limit(self, request, queryset, *, credit_limit):
        self._set_credit_limit(request, queryset, credit_limit=credit_limit)

    @confirm_action(description="Reset used credits", intro="Usage starts from zero again; the ledger keeps it.")
    def reset_used_credits(self, request, queryset):
        self._reset_usage(request, queryset)

    @confirm_action(description="Remove from organization", intro=REMOVE_INTRO)
    def remove_members(self, request, queryset):
        self._remove(request, queryset)


@admin.register(TenantInvitation)
class TenantInvitationAdmin(ReadOnlyAdmin):
    list_display = ("email", "tenant_link", "role", "status", "credit_limit", "invited_by_link", "expires_at_display")
    list_filter = ("status", "role")
    search_fields = ("email", "tenant__slug", "tenant__name")
    list_select_related = ("tenant", "invited_by")
    # The stored token is a hash: useless to show, harmful to edit.
    exclude = ("token",)
    fields = ("email", "tenant_link", "role", "permissions_pretty", "credit_limit", "status", "invited_by_link")
    readonly_fields = (*fields, "created_at_display", "expires_at_display")

    tenant_link = link_column("tenant")
    invited_by_link = link_column("invited_by", "invited by")
    expires_at_display = ms_column("expires_at", "expires")
    created_at_display = ms_column("created_at", "created")
    permissions_pretty = json_column("permissions")
    actions = ["resend_invitations", "revoke_invitations"]

    def _apply(self, request, queryset, service, done: str):
        apply_each(
            self,
            request,
            queryset.select_related("tenant", "invited_by"),
            lambda invitation: service(invitation=invitation, actor=None),
            done=f"{done} {{count}} invitation(s).",
            label=lambda invitation: invitation.email,
        )

    @admin.action(description="Resend selected invitations (new link, new expiry)")
    def resend_invitations(self, request, queryset):
        self._apply(request, queryset, services.invitation_resend, "Resent")

    @admin.action(description="Revoke selected pending invitations")
    def revoke_invitations(self, request, queryset):
        self._apply(request, queryset, services.invitation_revoke, "Revoked")


@admin.register(TenantMemberCreditLimit)
class TenantMemberCreditLimitAdmin(MemberServicesMixin, ReadOnlyAdmin):
    """A member's limit and usage. No delete: the next consumption would recreate the row
    as unlimited (a member limited to 5 credits could then spend 50)."""

    list_display = ("user_link", "tenant_link", "credit_limit", "used_credits", "updated_at_display")
    search_fields = ("user__username", "tenant__slug")
    list_select_related = ("user", "tenant")
    fields = ("user_link", "tenant_link", "credit_limit", "used_credits", "updated_at_display")
    readonly_fields = fields
    actions = ["set_credit_limit", "reset_used_credits"]
    object_actions = ("set_credit_limit", "reset_used_credits")

    user_link = link_column("user")
    tenant_link = link_column("tenant")
    updated_at_display = ms_column("updated_at", "updated")

    def object_label(self, obj):
        return f"{obj.user.username} in {obj.tenant.slug}: {obj}"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user", "tenant")

    def _members(self, request, rows):
        """The memberships of the selected rows (the services take a member); a row without
        one is reported and left alone."""
        members = TenantMember.objects.filter(
            Exists(rows.filter(tenant_id=OuterRef("tenant_id"), user_id=OuterRef("user_id")))
        )
        found = set(members.values_list("tenant_id", "user_id"))
        for row in rows:
            if (row.tenant_id, row.user_id) not in found:
                self.message_user(request, f"{self.object_label(row)}: no longer a member.", messages.WARNING)
        return members

    @confirm_action(description="Set credit limit", form_class=CreditLimitForm, initial=_limit_initial)
    def set_credit_limit(self, request, queryset, *, credit_limit):
        self._set_credit_limit(request, self._members(request, queryset), credit_limit=credit_limit)

    @confirm_action(description="Reset used credits", intro="Usage starts from zero again; the ledger keeps it.")
    def reset_used_credits(self, request, queryset):
        self._reset_usage(request, self._members(request, queryset))


@admin.register(TenantSlug)
class TenantSlugAdmin(ReadOnlyAdmin):
    """Former slugs: they keep old links working and stay reserved; written by `tenant_update`."""

    list_display = ("slug", "tenant_link", "created_at_display")
    search_fields = ("slug", "tenant__slug", "tenant__name")
    list_select_related = ("tenant",)
    fields = ("slug", "tenant_link", "created_at_display")
    readonly_fields = fields

    tenant_link = link_column("tenant")
    created_at_display = ms_column("created_at", "retired")
