"""Credits in the admin. Balances change only through services: grants, reversals,
overdraft settings and API keys have their own forms and actions; rows are read-only."""

import uuid

from django import forms
from django.contrib import admin, messages
from django.shortcuts import render
from django.urls import path, reverse

from accounts.models import User
from core.admin import ReadOnlyAdmin, json_column, link_column, ms_column
from core.errors import ApplicationError
from core.forms import form_error
from core.time import now_ms
from credits import services
from credits.forms import OverdraftForm, StaffApiKeyForm, StaffGrantForm
from credits.models import ApiKey, Credit, CreditOverdraft, CreditTransaction, IdempotencyKey


class StaffGrantAdminForm(StaffGrantForm):
    # Generated when the form is shown: submitting the same form twice is one grant.
    grant_id = forms.UUIDField(widget=forms.HiddenInput)


@admin.register(Credit)
class CreditAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "tenant_link",
        "mode",
        "remaining_credits",
        "total_credits",
        "priority",
        "effective_at_display",
        "expires_at_display",
        "source_id",
    )
    list_filter = ("mode", "provider", "priority")
    search_fields = ("tenant__slug", "user__username", "source_id", "plan_id", "provider_customer_id")
    list_select_related = ("tenant", "user")
    raw_id_fields = ("tenant", "user")
    exclude = ("raw_data",)
    readonly_fields = ("created_at_display", "effective_at_display", "expires_at_display", "raw_data_pretty")
    actions = ["take_back_remaining"]
    tools = (("Grant credits", "admin:credits_credit_grant"),)

    tenant_link = link_column("tenant")
    effective_at_display = ms_column("effective_at", "effective")
    expires_at_display = ms_column("expires_at", "expires")
    created_at_display = ms_column("created_at", "created")
    raw_data_pretty = json_column("raw_data", "raw data")

    def get_urls(self):
        view = self.admin_site.admin_view(self.grant_view)
        return [path("grant/", view, name="credits_credit_grant"), *super().get_urls()]

    def grant_view(self, request):
        form = StaffGrantAdminForm(request.POST or None, initial={"grant_id": uuid.uuid4()})

        def apply(data):
            at_ms = now_ms()
            grant = services.credits_grant_staff(
                tenant=data["organization"],
                staff=request.user,
                amount=data["amount"],
                reason=data["reason"],
                priority=data["priority"],
                expires_at=form.expires_at(at_ms),
                grant_id=data["grant_id"],
                now=at_ms,
            )
            message = f"Granted {grant.total_credits} credits to {data['organization'].slug}."
            return message, reverse("admin:credits_credit_change", args=[grant.pk])

        return self.service_form_view(
            request,
            form,
            apply=apply,
            title="Grant credits",
            intro="A staff grant (mode “grant”) goes to the organization's wallet and the ledger, "
            "and pays back any overdraft first.",
        )

    @admin.action(description="Take back what is left of the selected grants (refund)")
    def take_back_remaining(self, request, queryset):
        total = sum(
            services.credits_reverse(credit=grant, description=f"Taken back by staff ({request.user.username})")
            for grant in queryset
        )
        messages.success(request, f"Took back {total} credits.")


@admin.register(CreditTransaction)
class CreditTransactionAdmin(ReadOnlyAdmin):
    list_display = ("created_at_display", "tenant_link", "user_link", "type", "credits", "credit_link", "description")
    list_filter = ("type",)
    search_fields = ("tenant__slug", "user__username", "description")
    list_select_related = ("tenant", "user", "credit")
    raw_id_fields = ("tenant", "user", "credit")
    readonly_fields = ("created_at_display",)

    tenant_link = link_column("tenant")
    user_link = link_column("user")
    credit_link = link_column("credit", "grant")
    created_at_display = ms_column("created_at", "at")


@admin.register(CreditOverdraft)
class CreditOverdraftAdmin(ReadOnlyAdmin):
    list_display = ("tenant_link", "credits", "user_link", "updated_at_display")
    search_fields = ("tenant__slug",)
    list_select_related = ("tenant", "user")
    raw_id_fields = ("tenant", "user")
    tools = (("Configure an organization's overdraft", "admin:credits_creditoverdraft_configure"),)

    tenant_link = link_column("tenant")
    user_link = link_column("user")
    updated_at_display = ms_column("updated_at", "updated")

    def get_urls(self):
        view = self.admin_site.admin_view(self.configure_view)
        return [path("configure/", view, name="credits_creditoverdraft_configure"), *super().get_urls()]

    def configure_view(self, request):
        def apply(data):
            tenant = services.tenant_overdraft_configure(
                tenant=data["organization"], enabled=data["enabled"], limit=data["limit"]
            )
            state = f"allowed up to {tenant.overdraft_limit}" if tenant.overdraft_enabled else "off"
            return f"Overdraft for {tenant.slug}: {state}.", reverse("admin:credits_creditoverdraft_changelist")

        return self.service_form_view(
            request,
            OverdraftForm(request.POST or None),
            apply=apply,
            title="Configure overdraft",
            intro="Off by default. When allowed, consumption beyond the balance is recorded as owed, "
            "up to the limit, and the next credits received pay it back first.",
        )


@admin.register(ApiKey)
class ApiKeyAdmin(ReadOnlyAdmin):
    list_display = ("name", "prefix", "tenant_link", "user_link", "created_at_display", "last_used_display", "revoked")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    search_fields = ("name", "prefix", "tenant__slug", "user__username")
    list_select_related = ("tenant", "user")
    exclude = ("hashed_key",)
    readonly_fields = ("created_at_display", "last_used_display", "revoked_at_display")
    actions = ["revoke"]
    tools = (("Create an API key", "admin:credits_apikey_create"),)

    tenant_link = link_column("tenant")
    user_link = link_column("user")
    created_at_display = ms_column("created_at", "created")
    last_used_display = ms_column("last_used_at", "last used")
    revoked_at_display = ms_column("revoked_at", "revoked at")

    @admin.display(boolean=True, description="revoked", ordering="revoked_at")
    def revoked(self, obj):
        return obj.revoked_at is not None

    def get_urls(self):
        view = self.admin_site.admin_view(self.create_view)
        return [path("create/", view, name="credits_apikey_create"), *super().get_urls()]

    def create_view(self, request):
        form = StaffApiKeyForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            tenant = form.cleaned_data["organization"]
            user = User.objects.alive().filter(username__iexact=form.cleaned_data["username"].strip()).first()
            if user is None:
                form.add_error("username", "No such user.")
            else:
                try:
                    api_key, raw_key = services.api_key_create(tenant=tenant, user=user, name=form.cleaned_data["name"])
                except ApplicationError as error:
                    form_error(form, error)
                else:
                    context = {
                        **self.admin_site.each_context(request),
                        "title": "API key created",
                        "opts": self.model._meta,
                        "api_key": api_key,
                        "raw_key": raw_key,
                    }
                    response = render(request, "credits/admin/api_key_created.html", context)
                    response["Cache-Control"] = "no-store"
                    return response
        return self.form_page(
            request,
            title="Create an API key",
            form=form,
            status=400 if form.errors else 200,
            intro="The key acts as the member inside the organization only. It is shown once.",
        )

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request, queryset):
        revoked = sum(services.api_key_revoke(api_key=key) for key in queryset)
        messages.success(request, f"Revoked {revoked} key{'s' if revoked != 1 else ''}.")


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(ReadOnlyAdmin):
    list_display = ("key", "tenant_link", "user_link", "created_at_display")
    search_fields = ("key", "tenant__slug")
    list_select_related = ("tenant", "user")
    readonly_fields = ("created_at_display", "result_pretty")
    exclude = ("result",)

    tenant_link = link_column("tenant")
    user_link = link_column("user")
    created_at_display = ms_column("created_at", "created")
    result_pretty = json_column("result", "result")
