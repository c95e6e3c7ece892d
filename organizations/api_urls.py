from django.urls import path

from organizations import api

urlpatterns = [
    path("orgs/", api.OrganizationListView.as_view(), name="api-orgs"),
    path("orgs/<slug:slug>/", api.OrganizationDetailView.as_view(), name="api-org"),
    path("orgs/<slug:slug>/transfer/", api.OwnershipTransferView.as_view(), name="api-org-transfer"),
    path("orgs/<slug:slug>/members/", api.MemberListView.as_view(), name="api-org-members"),
    path("orgs/<slug:slug>/members/<uuid:member_id>/", api.MemberDetailView.as_view(), name="api-org-member"),
    path("orgs/<slug:slug>/invitations/", api.InvitationListView.as_view(), name="api-org-invitations"),
    path(
        "orgs/<slug:slug>/invitations/<uuid:invitation_id>/",
        api.InvitationDetailView.as_view(),
        name="api-org-invitation",
    ),
    path(
        "orgs/<slug:slug>/invitations/<uuid:invitation_id>/resend/",
        api.InvitationResendView.as_view(),
        name="api-org-invitation-resend",
    ),
    path("invitations/accept/", api.InvitationAcceptView.as_view(), name="api-invitation-accept"),
]
