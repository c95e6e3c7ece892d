"""/o/<slug>/audit/: the organization's audit log, for its owners (docs/audit.md)."""

from django.db.models import Q
from django.shortcuts import render

from audit.selectors import event_display, tenant_audit_events
from core.paging import cursor_of, cursor_parse
from organizations.forms import AuditFilterForm
from organizations.models import TenantMember
from organizations.tenancy import OwnerOnly
from organizations.views.common import tenant_page

EVENTS_PER_PAGE = 50


def _member_choices(tenant) -> list[tuple[str, str]]:
    rows = (
        TenantMember.objects.filter(tenant=tenant, user__deleted_at__isnull=True)
        .order_by("user__username")
        .values_list("user_id", "user__username", "user__first_name", "user__last_name")
    )
    choices = []
    for user_id, username, first, last in rows:
        full = f"{first} {last}".strip()
        choices.append((str(user_id), f"{full} ({username})" if full else username))
    return choices


@tenant_page(
    methods=("GET",), permission=OwnerOnly.VIEW_AUDIT_LOG, denied="Only an owner can see the organization's audit log."
)
def audit_log(request, member):
    tenant = member.tenant
    filters = AuditFilterForm(request.GET, members=_member_choices(tenant))
    rows = tenant_audit_events(tenant=tenant)
    if filters.is_valid():
        data = filters.cleaned_data
        if data["action"]:
            rows = rows.filter(action=data["action"])
        if data["actor"]:
            rows = rows.filter(actor_user_id=data["actor"])
        since, until = filters.window_ms()
        if since is not None:
            rows = rows.filter(created_at__gte=since)
        if until is not None:
            rows = rows.filter(created_at__lt=until)
    cursor = cursor_parse(request.GET.get("before"))
    if cursor is not None:
        created_at, row_id = cursor
        rows = rows.filter(Q(created_at__lt=created_at) | Q(created_at=created_at, id__lt=row_id))
    events = list(rows[: EVENTS_PER_PAGE + 1]) if not filters.errors else []
    more = len(events) > EVENTS_PER_PAGE
    events = events[:EVENTS_PER_PAGE]
    kept = request.GET.copy()
    kept.pop("before", None)
    return render(
        request,
        "organizations/audit.html",
        {
            "tenant": tenant,
            "member": member,
            "filters": filters,
            "filtered": any(filters.data.get(name) for name in filters.fields),
            "query": kept.urlencode(),
            "paged": cursor is not None,
            "events": [event_display(event) for event in events],
            "next_cursor": cursor_of(events[-1]) if more else None,
        },
        status=400 if filters.errors else 200,
    )
