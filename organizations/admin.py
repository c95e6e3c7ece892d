from django.contrib import admin, messages

from core.admin import json_column, link_column, ms_column
from core.errors import ApplicationError
from organizations import services
from organizations.models import Tenant, TenantInvitation, TenantMember, TenantMemberCreditLimit, TenantSlug


class TenantMemberInline(admin.TabularInline):
    """Shown, not edited: role changes go through the services (last-owner rule)."""

    model = TenantMember
    extra = 0
    fields = ("user", "role", "permissions")
    readonly_fields = ("user", "role", "permissions")
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class TenantInvitationInline(admin.TabularInline):
    model = TenantInvitation
    extra = 0
    fields = ("email", "role", "status", "credit_limit")
    readonly_fields = ("email", "role", "status", "credit_limit")
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
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
    # Name and logo only: slugs (history, reserved words), deletion (invitations, hooks),
    # ownership and overdraft change through the services and the credits admin's forms.
    readonly_fields = (
        "slug",
        "owner_link",
        "is_default",
        "overdraft_enabled",
        "overdraft_limit",
        "created_at_display",
        "updated_at_display",
        "deleted_at_display",
    )
    fields = ("name", "logo_url", *readonly_fields)
    inlines = [TenantMemberInline, TenantInvitationInline]

    owner_link = link_column("owner")
    created_at_display = ms_column("created_at", "created")
    updated_at_display = ms_column("updated_at", "updated")
    deleted_at_display = ms_column("deleted_at", "deleted")

    def has_add_permission(self, request):
        return False  # an organization starts with its owner member: `tenant_create`


@admin.register(TenantMember)
class TenantMemberAdmin(admin.ModelAdmin):
    list_display = ("user_link", "tenant_link", "role", "created_at_display")
    list_filter = ("role",)
    search_fields = ("user__username", "tenant__slug", "tenant__name")
    list_select_related = ("user", "tenant")
    # Memberships change through the organization's services (invitations,
    # role changes, the last-owner rule), never by editing a row here.
    readonly_fields = ("user", "tenant", "role", "permissions", "created_at_display")

    user_link = link_column("user")
    tenant_link = link_column("tenant")
    created_at_display = ms_column("created_at", "joined")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(TenantInvitation)
class TenantInvitationAdmin(admin.ModelAdmin):
    list_display = ("email", "tenant_link", "role", "status", "credit_limit", "invited_by_link", "expires_at_display")
    list_filter = ("status", "role")
    search_fields = ("email", "tenant__slug", "tenant__name")
    list_select_related = ("tenant", "invited_by")
    # The stored token is a hash: useless to show, harmful to edit. Status changes go
    # through the actions below (conditional updates), so every field is read-only.
    exclude = ("token",)
    fields = ("email", "tenant_link", "role", "permissions_pretty", "credit_limit", "status", "invited_by_link")
    readonly_fields = (*fields, "created_at_display", "expires_at_display")

    tenant_link = link_column("tenant")
    invited_by_link = link_column("invited_by", "invited by")
    expires_at_display = ms_column("expires_at", "expires")
    created_at_display = ms_column("created_at", "created")
    permissions_pretty = json_column("permissions")
    actions = ["resend_invitations", "revoke_invitations"]

    def has_add_permission(self, request):
        return False  # invitations are sent from the organization's pages or API

    def _apply(self, request, queryset, service, done: str):
        # Through the services, as a site operator (actor=None): same rules, same emails as the pages.
        succeeded, refused = 0, []
        for invitation in queryset.select_related("tenant", "invited_by"):
            try:
                service(invitation=invitation, actor=None)
            except ApplicationError as error:
                refused.append(f"{invitation.email}: {error.detail}")
            else:
                succeeded += 1
        if succeeded:
            self.message_user(request, f"{done} {succeeded} invitation(s).", messages.SUCCESS)
        for line in refused:
            self.message_user(request, line, messages.WARNING)

    @admin.action(description="Resend selected invitations (new link, new expiry)")
    def resend_invitations(self, request, queryset):
        self._apply(request, queryset, services.invitation_resend, "Resent")

    @admin.action(description="Revoke selected pending invitations")
    def revoke_invitations(self, request, queryset):
        self._apply(request, queryset, services.invitation_revoke, "Revoked")


@admin.register(TenantMemberCreditLimit)
class TenantMemberCreditLimitAdmin(admin.ModelAdmin):
    list_display = ("user_link", "tenant_link", "credit_limit", "used_credits", "updated_at_display")
    search_fields = ("user__username", "tenant__slug")
    list_select_related = ("user", "tenant")
    # Limits and usage change through `member_credit_limit_set` / `member_usage_reset` (the member pages).
    readonly_fields = ("user_link", "tenant_link", "credit_limit", "used_credits", "updated_at_display")
    fields = readonly_fields

    user_link = link_column("user")
    tenant_link = link_column("tenant")
    updated_at_display = ms_column("updated_at", "updated")

    def has_add_permission(self, request):
        return False


@admin.register(TenantSlug)
class TenantSlugAdmin(admin.ModelAdmin):
    list_display = ("slug", "tenant_link", "created_at_display")
    search_fields = ("slug", "tenant__slug", "tenant__name")
    list_select_related = ("tenant",)
    raw_id_fields = ("tenant",)
    readonly_fields = ("created_at_display",)

    tenant_link = link_column("tenant")
    created_at_display = ms_column("created_at", "retired")
