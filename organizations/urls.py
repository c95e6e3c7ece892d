"""Organization pages: /orgs/ (yours, create, switch), /o/<slug>/... (one organization; its dashboard,
/o/<slug>/ itself, is credits'), invitation links."""

from django.urls import path

from organizations.views import audit, invitations, members, tenants

app_name = "organizations"

urlpatterns = [
    path("orgs/", tenants.org_list, name="list"),
    path("orgs/new/", tenants.org_create, name="create"),
    path("orgs/switch/", tenants.org_switch, name="switch"),
    path("o/<slug:slug>/settings/", tenants.org_settings, name="settings"),
    path("o/<slug:slug>/delete/", tenants.org_delete, name="delete"),
    path("o/<slug:slug>/transfer/", tenants.org_transfer, name="transfer"),
    path("o/<slug:slug>/leave/", tenants.org_leave, name="leave"),
    path("o/<slug:slug>/audit/", audit.audit_log, name="audit"),
    path("o/<slug:slug>/members/", members.member_list, name="members"),
    path("o/<slug:slug>/members/<uuid:member_id>/", members.member_detail, name="member_detail"),
    path("o/<slug:slug>/members/<uuid:member_id>/reset-usage/", members.member_usage_reset, name="member_usage_reset"),
    path("o/<slug:slug>/members/<uuid:member_id>/remove/", members.member_remove, name="member_remove"),
    path("o/<slug:slug>/invitations/", invitations.invitation_list, name="invitations"),
    path(
        "o/<slug:slug>/invitations/<uuid:invitation_id>/resend/",
        invitations.invitation_resend,
        name="invitation_resend",
    ),
    path(
        "o/<slug:slug>/invitations/<uuid:invitation_id>/revoke/",
        invitations.invitation_revoke,
        name="invitation_revoke",
    ),
    path("invitations/accept/<str:token>/", invitations.invitation_accept, name="invitation_accept"),
]
