from django.contrib import admin

from core.admin import json_column, link_column, ms_column
from organizations.models import Tenant, TenantInvitation, TenantMember, TenantMemberCreditLimit


class TenantMemberInline(admin.TabularInline):
    model = TenantMember
    extra = 0
    fields = ("user", "role", "permissions")
    raw_id_fields = ("user",)
    show_change_link = True


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
    raw_id_fields = ("owner",)
    readonly_fields = ("created_at_display", "updated_at_display", "deleted_at_display")
    inlines = [TenantMemberInline, TenantInvitationInline]

    owner_link = link_column("owner")
    created_at_display = ms_column("created_at", "created")
    updated_at_display = ms_column("updated_at", "updated")
    deleted_at_display = ms_column("deleted_at", "deleted")


@admin.register(TenantMember)
class TenantMemberAdmin(admin.ModelAdmin):
    list_display = ("user_link", "tenant_link", "role", "created_at_display")
    list_filter = ("role",)
    search_fields = ("user__username", "tenant__slug", "tenant__name")
    list_select_related = ("user", "tenant")
    raw_id_fields = ("user", "tenant")

    user_link = link_column("user")
    tenant_link = link_column("tenant")
    created_at_display = ms_column("created_at", "joined")


@admin.register(TenantInvitation)
class TenantInvitationAdmin(admin.ModelAdmin):
    list_display = ("email", "tenant_link", "role", "status", "credit_limit", "invited_by_link", "expires_at_display")
    list_filter = ("status", "role")
    search_fields = ("email", "tenant__slug", "tenant__name")
    list_select_related = ("tenant", "invited_by")
    raw_id_fields = ("tenant", "invited_by")
    # The stored token is a hash: useless to show, harmful to edit.
    exclude = ("token",)
    readonly_fields = ("created_at_display", "expires_at_display", "permissions_pretty")

    tenant_link = link_column("tenant")
    invited_by_link = link_column("invited_by", "invited by")
    expires_at_display = ms_column("expires_at", "expires")
    created_at_display = ms_column("created_at", "created")
    permissions_pretty = json_column("permissions")


@admin.register(TenantMemberCreditLimit)
class TenantMemberCreditLimitAdmin(admin.ModelAdmin):
    list_display = ("user_link", "tenant_link", "credit_limit", "used_credits", "updated_at_display")
    search_fields = ("user__username", "tenant__slug")
    list_select_related = ("user", "tenant")
    raw_id_fields = ("user", "tenant")

    user_link = link_column("user")
    tenant_link = link_column("tenant")
    updated_at_display = ms_column("updated_at", "updated")
