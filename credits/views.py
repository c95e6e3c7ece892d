"""Credits pages: an organization's dashboard (/o/<slug>/), its usage, and its API keys."""

import uuid

from django.contrib import messages
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render

from accounts.reauth import reauth_required
from core.errors import ApplicationError
from core.paging import cursor_of, cursor_parse
from credits import dashboard as board
from credits import selectors, services
from credits.forms import ApiKeyForm, TransactionFilterForm
from credits.models import ApiKey
from organizations.models import Permission
from organizations.selectors import tenant_members_list
from organizations.tenancy import OwnerOnly, member_can, member_sees_all_usage
from organizations.views.common import tenant_page

TRANSACTIONS_PER_PAGE = 50
DASHBOARD_TRANSACTIONS = 10


@tenant_page(methods=("GET",))
def dashboard(request, member):
    """The organization's home: balance, the last 30 days of use, what happens next (expiry, the
    plan's renewal through billing's panel), and what to do when something is missing. Its
    queries do not grow with the ledger or the members (tests/credits/test_dashboard.py)."""
    tenant = member.tenant
    see_all = member_sees_all_usage(member)
    can = {
        "manage_billing": member_can(member, Permission.MANAGE_BILLING),
        "manage_invitations": member_can(member, Permission.MANAGE_INVITATIONS),
        "manage_api_keys": member_can(member, Permission.MANAGE_API_KEYS),
        "manage_organization": member_can(member, OwnerOnly.MANAGE_ORGANIZATION),
    }
    summary = selectors.credits_summary(tenant=tenant, user=request.user)
    window = selectors.usage_window(days=board.CHART_DAYS)
    used = selectors.credits_used_per_day(tenant=tenant, window=window, user=None if see_all else request.user)
    names = selectors.user_labels(user_ids={user_id for _, user_id, _ in used}) if see_all else {}
    chart = board.usage_chart(used, window=window, names=names, viewer_id=request.user.pk)
    granted = selectors.credits_granted_since(tenant=tenant, since_ms=window.start_ms)
    expiring = [grant for grant in summary.grants if grant.expires_at is not None]
    member_count = tenant_members_list(tenant=tenant).count()
    recent = selectors.credit_transactions_for(tenant=tenant, user=None if see_all else request.user)
    return render(
        request,
        "credits/dashboard.html",
        {
            "tenant": tenant,
            "member": member,
            "can": can,
            "see_all": see_all,
            "summary": summary,
            "low_balance": summary.balance > 0
            and board.balance_is_low(balance=summary.balance, granted_recently=granted),
            "granted_recently": granted,
            "chart": chart,
            "chart_data": chart.as_json(),
            "chart_days": board.CHART_DAYS,
            "expires_next": min(expiring, key=lambda grant: grant.expires_at, default=None),
            "transactions": list(recent[:DASHBOARD_TRANSACTIONS]),
            "member_count": member_count,
            "has_api_keys": selectors.tenant_has_api_keys(tenant=tenant) if can["manage_api_keys"] else None,
            "panels": board.dashboard_panels(member=member),
        },
    )


@tenant_page(methods=("GET",))
def usage(request, member):
    tenant = member.tenant
    see_all = member_sees_all_usage(member)
    summary = selectors.credits_summary(tenant=tenant, user=request.user)
    rows = selectors.credit_transactions_for(tenant=tenant, user=None if see_all else request.user)
    filters = TransactionFilterForm(request.GET)
    filtered_member = None
    if filters.is_valid():
        rows, filtered_member = _filtered(rows, filters, tenant=tenant, see_all=see_all)
    cursor = cursor_parse(request.GET.get("before"))
    if cursor is not None:
        created_at, row_id = cursor
        rows = rows.filter(Q(created_at__lt=created_at) | Q(created_at=created_at, id__lt=row_id))
    transactions = list(rows[: TRANSACTIONS_PER_PAGE + 1]) if not filters.errors else []
    more = len(transactions) > TRANSACTIONS_PER_PAGE
    transactions = transactions[:TRANSACTIONS_PER_PAGE]
    next_cursor = cursor_of(transactions[-1]) if more else None
    kept = request.GET.copy()
    kept.pop("before", None)
    return render(
        request,
        "credits/usage.html",
        {
            "tenant": tenant,
            "member": member,
            "summary": summary,
            "see_all": see_all,
            "filters": filters,
            "filtered": any(filters.data.get(name) for name in filters.fields),
            "filtered_member": filtered_member,
            "query": kept.urlencode(),
            "paged": cursor is not None,
            "transactions": transactions,
            "next_cursor": next_cursor,
            "members": list(selectors.member_usage_list(tenant=tenant)[:MEMBERS_SHOWN]) if see_all else None,
            "can_manage_api_keys": member_can(member, Permission.MANAGE_API_KEYS),
            "can_buy": member_can(member, Permission.MANAGE_BILLING),
        },
        status=400 if filters.errors else 200,
    )


MEMBERS_SHOWN = 10  # the heaviest users; everyone is on the members page


def _filtered(rows, filters: TransactionFilterForm, *, tenant, see_all: bool):
    data = filters.cleaned_data
    if data["type"]:
        rows = rows.filter(type=data["type"])
    since, until = filters.window_ms()
    if since is not None:
        rows = rows.filter(created_at__gte=since)
    if until is not None:
        rows = rows.filter(created_at__lt=until)
    filtered_member = None
    if data["member"] and see_all:
        filtered_member = selectors.member_usage_list(tenant=tenant).filter(user_id=data["member"]).first()
        rows = rows.filter(user_id=data["member"])
    return rows, filtered_member


@tenant_page(
    permission=Permission.MANAGE_API_KEYS,
    denied="Only owners and members allowed to manage API keys can see this organization's keys.",
)
@reauth_required(methods=("POST",))
def api_keys(request, member):
    """The keys page. A created key is shown by the page the creation redirects to, once
    (post/redirect/get): it waits in the session for that one request, so a reload shows it no
    more and creates nothing; the form's `once` token makes a resent form create no second key."""
    tenant = member.tenant
    if request.method == "POST":
        form = ApiKeyForm(request.POST)
        if form.is_valid():
            once = str(form.cleaned_data["once"] or "")
            used = request.session.get(USED_KEY_FORMS, [])
            if once and once in used:
                messages.info(request, "That key was already created: it is in the list below.")
                return _to_keys(tenant)
            try:
                _api_key, new_key = services.api_key_create(
                    tenant=tenant, user=request.user, name=form.cleaned_data["name"]
                )
            except ApplicationError as error:
                form.add_error("name" if error.field == "name" else None, error.detail)
            else:
                request.session[NEW_API_KEY] = {"tenant": str(tenant.pk), "key": new_key}
                if once:
                    request.session[USED_KEY_FORMS] = [*used, once][-20:]
                return _to_keys(tenant)
    else:
        form = ApiKeyForm(initial={"once": uuid.uuid4()})
    shown = request.session.pop(NEW_API_KEY, None) if request.method == "GET" else None
    new_key = shown["key"] if shown and shown.get("tenant") == str(tenant.pk) else None
    response = render(
        request,
        "credits/api_keys.html",
        {
            "tenant": tenant,
            "member": member,
            "form": form,
            "new_key": new_key,
            "keys": selectors.tenant_api_keys(tenant=tenant),
            # Whose keys this member may see but not revoke: the owners', unless they are one.
            "protected_user_ids": (
                set() if member_can(member, OwnerOnly.GRANT_OWNER) else selectors.tenant_owner_ids(tenant=tenant)
            ),
        },
        status=400 if form.errors else 200,
    )
    if new_key:
        response["Cache-Control"] = "no-store"  # the key must not linger in any cache
    return response


NEW_API_KEY = "credits.new_api_key"
USED_KEY_FORMS = "credits.used_api_key_forms"


def _to_keys(tenant):
    response = redirect("credits:api_keys", slug=tenant.slug)
    response.status_code = 303
    return response


@tenant_page(methods=("POST",), permission=Permission.MANAGE_API_KEYS)
def api_key_revoke(request, member, api_key_id):
    api_key = get_object_or_404(ApiKey, pk=api_key_id, tenant=member.tenant)
    if services.api_key_revoke(api_key=api_key, actor=member):
        messages.success(request, f"API key “{api_key.name}” revoked: it stops working now.")
    else:
        messages.info(request, f"API key “{api_key.name}” was already revoked.")
    return redirect("credits:api_keys", slug=member.tenant.slug)
