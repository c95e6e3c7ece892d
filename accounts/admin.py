from django.contrib import admin, messages
from django.contrib.auth.forms import AdminPasswordChangeForm

from accounts.models import User, UserEmail, UserEmailPreference, UserProviderCustomer, UserStatus
from accounts.services import user_set_status
from core.admin import link_column, ms_column


class UserEmailInline(admin.TabularInline):
    """Shown, not edited: addresses change through the account services
    (verification, one primary, lowercase), which the user drives."""

    model = UserEmail
    extra = 0
    fields = ("email", "is_primary", "verified", "via")
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


class UserEmailPreferenceInline(admin.TabularInline):
    model = UserEmailPreference
    extra = 0
    fields = ("email_type", "subscribed")


class MembershipInline(admin.TabularInline):
    model = User.memberships.rel.related_model
    fk_name = "user"
    extra = 0
    fields = ("tenant", "role")
    readonly_fields = ("tenant",)
    show_change_link = True
    verbose_name_plural = "organizations"

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    list_display = (
        "username",
        "primary_email",
        "full_name",
        "role",
        "status",
        "created_at_display",
        "deleted_at_display",
    )
    list_filter = ("role", "status", ("deleted_at", admin.EmptyFieldListFilter))
    search_fields = ("username", "first_name", "last_name", "emails__email")
    ordering = ("-created_at",)
    # Status changes go through the actions (the service), not the form.
    readonly_fields = (
        "id",
        "status",
        "last_login",
        "created_at_display",
        "updated_at_display",
        "deleted_at_display",
    )
    actions = ["disable_users", "enable_users"]
    fieldsets = (
        (None, {"fields": ("id", "username", "first_name", "last_name", "avatar_url")}),
        ("Access", {"fields": ("role", "status", "last_login")}),
        ("Timestamps", {"fields": ("created_at_display", "updated_at_display", "deleted_at_display")}),
    )
    inlines = [UserEmailInline, UserEmailPreferenceInline, MembershipInline]
    change_password_form = AdminPasswordChangeForm

    created_at_display = ms_column("created_at", "created")
    updated_at_display = ms_column("updated_at", "updated")
    deleted_at_display = ms_column("deleted_at", "deleted")

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("emails")

    @admin.display(description="primary email")
    def primary_email(self, obj):
        return obj.email

    @admin.display(description="name")
    def full_name(self, obj):
        return f"{obj.first_name} {obj.last_name}".strip()

    def _set_status(self, request, queryset, status: str, verb: str) -> None:
        changed = sum(user_set_status(user=user, status=status) for user in queryset)
        self.message_user(request, f"{verb} {changed} user(s).", messages.SUCCESS)

    @admin.action(description="Disable selected users (signs them out everywhere, at once)")
    def disable_users(self, request, queryset):
        if queryset.filter(pk=request.user.pk).exists():
            self.message_user(request, "You cannot disable your own account; it was left out.", messages.WARNING)
        self._set_status(request, queryset.exclude(pk=request.user.pk), UserStatus.DISABLED, "Disabled")

    @admin.action(description="Enable selected users")
    def enable_users(self, request, queryset):
        self._set_status(request, queryset, UserStatus.ACTIVE, "Enabled")


@admin.register(UserEmail)
class UserEmailAdmin(admin.ModelAdmin):
    list_display = ("email", "user_link", "is_primary", "verified", "via", "created_at_display")
    list_filter = ("is_primary", "verified", "via")
    search_fields = ("email", "user__username")
    list_select_related = ("user",)
    fields = ("user", "email", "is_primary", "verified", "via", "created_at_display", "updated_at_display")
    readonly_fields = fields

    user_link = link_column("user")
    created_at_display = ms_column("created_at", "created")
    updated_at_display = ms_column("updated_at", "updated")

    def has_add_permission(self, request):
        return False


@admin.register(UserProviderCustomer)
class UserProviderCustomerAdmin(admin.ModelAdmin):
    list_display = ("customer_id", "provider", "user_link", "user_email_link", "created_at_display")
    list_filter = ("provider",)
    search_fields = ("customer_id", "user__username", "user_email__email")
    list_select_related = ("user", "user_email")
    raw_id_fields = ("user", "user_email")
    readonly_fields = ("created_at_display",)

    user_link = link_column("user")
    user_email_link = link_column("user_email", "email")
    created_at_display = ms_column("created_at", "created")


@admin.register(UserEmailPreference)
class UserEmailPreferenceAdmin(admin.ModelAdmin):
    list_display = ("user_link", "email_type", "subscribed", "updated_at_display")
    list_filter = ("email_type", "subscribed")
    search_fields = ("user__username",)
    list_select_related = ("user",)
    raw_id_fields = ("user",)

    user_link = link_column("user")
    updated_at_display = ms_column("updated_at", "updated")
