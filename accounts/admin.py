"""Accounts in the admin: every row read-only. Staff disable/enable users and edit a profile
through the account services; addresses, preferences and Stripe customers are the user's own
(verification, one primary, consent) or Stripe's, so they are shown, never edited here.

Also the sign-in apps' admins: Group unregistered, axes' lockouts read-only but deletable."""

# Imported for their registrations, which are adjusted below (accounts is installed before them).
import axes.admin
import django.contrib.auth.admin  # noqa: F401
from axes.models import AccessAttempt
from django.contrib import admin, messages
from django.contrib.auth.models import Group
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse

from accounts.forms import ProfileForm
from accounts.models import User, UserEmail, UserEmailPreference, UserProviderCustomer, UserStatus
from accounts.selectors import impersonation_allowed
from accounts.services import user_set_status, user_update_profile
from accounts.views.impersonation import ImpersonationStartView
from core.admin import ReadOnlyAdmin, ReadOnlyMixin, ReadOnlyTabularInline, link_column, ms_column

# Keel's User has no groups or model permissions (its system role decides), so a Group does nothing.
admin.site.unregister(Group)


@admin.register(AccessAttempt)
class AccessAttemptAdmin(ReadOnlyMixin, axes.admin.AccessAttemptAdmin):
    """Failed sign-ins per (username, IP). AccessLog and AccessFailureLog are not kept
    (AXES_DISABLE_ACCESS_LOG, no failure log), so their admins are off (AXES_ENABLE_ADMIN)."""

    # Whitelisted write: deleting a user's attempts is how axes unlocks them (its
    # `axes_reset_username` command does the same delete); the attempts are axes' state, no Keel row.
    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


class UserEmailInline(ReadOnlyTabularInline):
    model = UserEmail
    fields = ("email", "is_primary", "verified", "via")
    readonly_fields = fields


class UserEmailPreferenceInline(ReadOnlyTabularInline):
    model = UserEmailPreference
    fields = ("email_type", "subscribed")
    readonly_fields = fields
    show_change_link = False


class MembershipInline(ReadOnlyTabularInline):
    # The related model, not an import: accounts sits below organizations.
    model = User.memberships.rel.related_model
    fk_name = "user"
    fields = ("tenant", "role", "permissions", "row_actions")
    readonly_fields = fields
    verbose_name_plural = "organizations"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("tenant")


class StaffProfileForm(ProfileForm):
    avatar = None  # uploads stay on the user's own profile page


@admin.register(User)
class UserAdmin(ReadOnlyAdmin):
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
    fieldsets = (
        (None, {"fields": ("id", "username", "first_name", "last_name", "avatar_url")}),
        ("Access", {"fields": ("role", "status", "last_login")}),
        ("Timestamps", {"fields": ("created_at_display", "updated_at_display", "deleted_at_display")}),
    )
    readonly_fields = (
        "id",
        "username",
        "first_name",
        "last_name",
        "avatar_url",
        "role",
        "status",
        "last_login",
        "created_at_display",
        "updated_at_display",
        "deleted_at_display",
    )
    # Status through the actions (`user_set_status`); the system role only through
    # `createsuperuser`: making a site operator is not a click.
    actions = ["disable_users", "enable_users"]
    object_tools = (("Edit profile", "admin:accounts_user_edit"),)
    # Adds the "Sign in as this user" button (a POST form) beside the tools.
    change_form_template = "admin/accounts/user_change_form.html"
    inlines = [UserEmailInline, UserEmailPreferenceInline, MembershipInline]

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

    def get_urls(self):
        view = self.admin_site.admin_view(self.edit_view)
        # Impersonation starts behind the admin's own access check (docs/accounts.md).
        impersonate = self.admin_site.admin_view(ImpersonationStartView.as_view())
        return [
            path("impersonate/", impersonate, name="accounts_user_impersonate"),
            path("<path:object_id>/edit/", view, name="accounts_user_edit"),
            *super().get_urls(),
        ]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context["can_impersonate"] = impersonation_allowed(hijacker=request.user, hijacked=obj)
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)

    def edit_view(self, request, object_id):
        user = get_object_or_404(User, pk=object_id)
        if user.deleted_at is not None:
            messages.error(request, "This account is deleted (anonymised): it cannot be edited.")
            return redirect("admin:accounts_user_change", user.pk)
        form = StaffProfileForm(
            request.POST or None,
            initial={f: getattr(user, f) for f in ("username", "first_name", "last_name", "avatar_url")},
            user=user,
        )

        def apply(data):
            saved = user_update_profile(user=user, **data)
            return f"Saved the profile of {saved.username}.", reverse("admin:accounts_user_change", args=[saved.pk])

        return self.service_form_view(
            request,
            form,
            apply=apply,
            title="Edit profile",
            obj=user,
            intro="The same rules as the user's own profile page (a free, valid username).",
        )

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
class UserEmailAdmin(ReadOnlyAdmin):
    list_display = ("email", "user_link", "is_primary", "verified", "via", "created_at_display")
    list_filter = ("is_primary", "verified", "via")
    search_fields = ("email", "user__username")
    list_select_related = ("user",)
    fields = ("user", "email", "is_primary", "verified", "via", "created_at_display", "updated_at_display")
    readonly_fields = fields

    user_link = link_column("user")
    created_at_display = ms_column("created_at", "created")
    updated_at_display = ms_column("updated_at", "updated")


@admin.register(UserProviderCustomer)
class UserProviderCustomerAdmin(ReadOnlyAdmin):
    """Written at checkout: one Stripe customer per (user, provider), looked up by webhooks."""

    list_display = ("customer_id", "provider", "user_link", "user_email_link", "created_at_display")
    list_filter = ("provider",)
    search_fields = ("customer_id", "user__username", "user_email__email")
    list_select_related = ("user", "user_email")
    readonly_fields = ("created_at_display",)

    user_link = link_column("user")
    user_email_link = link_column("user_email", "email")
    created_at_display = ms_column("created_at", "created")


@admin.register(UserEmailPreference)
class UserEmailPreferenceAdmin(ReadOnlyAdmin):
    """The user's consent: changed by them (preferences page, one-click unsubscribe), not staff."""

    list_display = ("user_link", "email_type", "subscribed", "updated_at_display")
    list_filter = ("email_type", "subscribed")
    search_fields = ("user__username",)
    list_select_related = ("user",)
    readonly_fields = ("updated_at_display",)

    user_link = link_column("user")
    updated_at_display = ms_column("updated_at", "updated")
