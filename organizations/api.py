"""Organizations API: /api/v1/orgs/..., /api/v1/invitations/accept/.

Views are thin: validate the input serializer, resolve the tenant (always
first, so another organization's URLs answer 404 whatever the body), call a
service, render the output serializer. Errors come out as {"code", "detail"}
through core.api.exception_handler. An API key never reaches the routes
outside /orgs/{slug}/ (`credits.auth` refuses it: 401 `api_key_not_allowed`).

Each operation declares its own errors (`error_responses`); 401, and 404/413/415
where a slug, an id or a body makes them possible, are declared for every
operation by core.schema.AutoSchema.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from accounts.reauth import REAUTH_REQUIRED_DESCRIPTION, reauth_check
from core.api import Pagination, error_responses
from core.errors import PermissionDenied
from organizations import selectors, services
from organizations.models import InvitationStatus, Permission
from organizations.serializers import (
    AcceptSerializer,
    InvitationInputSerializer,
    InvitationSerializer,
    MemberSerializer,
    MemberUpdateSerializer,
    OrganizationDeleteSerializer,
    OrganizationInputSerializer,
    OrganizationSerializer,
    TransferSerializer,
)
from organizations.tenancy import member_can, member_sees_all_usage, resolve_tenant

SLUG = OpenApiParameter("slug", OpenApiTypes.STR, OpenApiParameter.PATH, description="The organization's slug.")


def _valid(serializer_class, data, **kwargs) -> dict:
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class MemberPagination(Pagination):
    ordering = "created_at"


class OrganizationListView(GenericAPIView):
    serializer_class = OrganizationSerializer
    filter_backends = ()  # these lists take no django-filter filters (and have no queryset to build them from)

    @extend_schema(
        operation_id="orgs_list", summary="Your organizations", responses={200: OrganizationSerializer(many=True)}
    )
    def get(self, request):
        memberships = selectors.user_memberships_list(user=request.user)
        page = self.paginate_queryset(memberships)
        return self.get_paginated_response(OrganizationSerializer(page, many=True).data)

    @extend_schema(
        operation_id="orgs_create",
        summary="Create an organization (you become its owner)",
        request=OrganizationInputSerializer,
        responses={
            201: OrganizationSerializer,
            **error_responses(
                {
                    400: "`slug_reserved`, `slug_invalid`, `name_required`, `invalid_url`, `logo_invalid`, ...",
                    409: "`slug_taken`: the slug is taken (or no free slug could be derived from the name).",
                }
            ),
        },
    )
    def post(self, request):
        data = _valid(OrganizationInputSerializer, request.data)
        tenant = services.tenant_create(
            owner=request.user, name=data["name"], slug=data.get("slug"), logo_url=data.get("logo_url", "")
        )
        membership = selectors.user_memberships_list(user=request.user, tenant_id=tenant.pk).get()
        return Response(OrganizationSerializer(membership).data, status=status.HTTP_201_CREATED)


class OrganizationDetailView(GenericAPIView):
    serializer_class = OrganizationSerializer

    @extend_schema(operation_id="orgs_retrieve", parameters=[SLUG], responses={200: OrganizationSerializer})
    def get(self, request, slug):
        return Response(OrganizationSerializer(resolve_tenant(request, slug)).data)

    @extend_schema(
        operation_id="orgs_update",
        summary="Rename, change slug or logo (owner); a former slug keeps resolving",
        parameters=[SLUG],
        request=OrganizationInputSerializer(partial=True),
        responses={
            200: OrganizationSerializer,
            **error_responses(
                {
                    400: "As for creating one.",
                    403: "`permission_denied`: owners only.",
                    409: "`slug_taken`.",
                }
            ),
        },
    )
    def patch(self, request, slug):
        member = resolve_tenant(request, slug)
        data = _valid(OrganizationInputSerializer, request.data, partial=True)
        tenant = services.tenant_update(
            tenant=member.tenant,
            actor=member,
            name=data.get("name"),
            slug=data.get("slug"),
            logo_url=data.get("logo_url"),
        )
        member.tenant = tenant
        return Response(OrganizationSerializer(member).data)

    @extend_schema(
        operation_id="orgs_destroy",
        summary="Delete the organization (owner; soft delete)",
        parameters=[SLUG],
        request=OrganizationDeleteSerializer,
        responses={
            204: None,
            **error_responses(
                {
                    400: "`confirm_name` missing (`required`) or not a string.",
                    401: "`not_authenticated`; `api_key_not_allowed`: deleting an organization is for people "
                    "signed in (recently), not API keys.",
                    403: f"`permission_denied`: owners only. {REAUTH_REQUIRED_DESCRIPTION}",
                    409: "`confirmation_mismatch`: `confirm_name` is not the organization's name; "
                    "`default_organization`: a personal organization stays; `already_deleted`.",
                }
            ),
        },
    )
    def delete(self, request, slug):
        member = resolve_tenant(request, slug)
        if request.auth is not None:
            # A key has no sign-in to be recent: deleting needs a person, signed in (docs/accounts.md).
            raise exceptions.AuthenticationFailed(
                "Deleting an organization is for people signed in: API keys cannot do it.", code="api_key_not_allowed"
            )
        reauth_check(request)
        data = _valid(OrganizationDeleteSerializer, request.data)
        services.tenant_delete(tenant=member.tenant, actor=member, confirm_name=data["confirm_name"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class OwnershipTransferView(GenericAPIView):
    serializer_class = MemberSerializer

    @extend_schema(
        operation_id="orgs_transfer",
        summary="Make another member the owner; you become a member",
        parameters=[SLUG],
        request=TransferSerializer,
        responses={
            200: MemberSerializer,
            **error_responses(
                {
                    400: "`not_a_member`, `same_member`, or `member_id` missing or not a UUID.",
                    403: "`permission_denied`: owners only.",
                }
            ),
        },
    )
    def post(self, request, slug):
        member = resolve_tenant(request, slug)
        data = _valid(TransferSerializer, request.data)
        to_member = selectors.tenant_member_get(tenant=member.tenant, member_id=data["member_id"])
        services.tenant_ownership_transfer(actor=member, to_member=to_member)
        to_member = selectors.tenant_member_get(tenant=member.tenant, member_id=to_member.pk)
        return Response(MemberSerializer(to_member, context={"see_all_usage": True}).data)


class MemberListView(GenericAPIView):
    serializer_class = MemberSerializer
    filter_backends = ()
    pagination_class = MemberPagination

    @extend_schema(operation_id="orgs_members_list", parameters=[SLUG], responses={200: MemberSerializer(many=True)})
    def get(self, request, slug):
        member = resolve_tenant(request, slug)
        page = self.paginate_queryset(selectors.tenant_members_list(tenant=member.tenant))
        return self.get_paginated_response(MemberSerializer(page, many=True, context=_usage_context(member)).data)


def _usage_context(member) -> dict:
    return {"see_all_usage": member_sees_all_usage(member), "viewer_id": member.pk}


class MemberDetailView(GenericAPIView):
    serializer_class = MemberSerializer

    @extend_schema(
        operation_id="orgs_members_update",
        summary="Change a member's role, permissions, credit limit; reset their used credits",
        parameters=[SLUG],
        request=MemberUpdateSerializer,
        responses={
            200: MemberSerializer,
            **error_responses(
                {
                    400: "`invalid_choice`, `invalid_permission`, `invalid_credit_limit`, ...",
                    403: "`permission_denied`, `cannot_grant`, `cannot_change_own_role`.",
                    404: "No such organization, or no such member in it.",
                    409: "`last_owner`.",
                }
            ),
        },
    )
    def patch(self, request, slug, member_id):
        member = resolve_tenant(request, slug)
        target = selectors.tenant_member_get(tenant=member.tenant, member_id=member_id)
        data = _valid(MemberUpdateSerializer, request.data)
        services.member_update(
            member=target,
            actor=member,
            role=data.get("role"),
            permissions=data.get("permissions"),
            credit_limit=data.get("credit_limit"),
            reset_used_credits=data["reset_used_credits"],
        )
        target = selectors.tenant_member_get(tenant=member.tenant, member_id=member_id)
        return Response(MemberSerializer(target, context=_usage_context(member)).data)

    @extend_schema(
        operation_id="orgs_members_destroy",
        summary="Remove a member (your own id: leave the organization)",
        parameters=[SLUG],
        responses={
            204: None,
            **error_responses(
                {
                    403: "`permission_denied`.",
                    404: "No such organization, or no such member in it.",
                    409: "`last_owner`, `default_organization`.",
                }
            ),
        },
    )
    def delete(self, request, slug, member_id):
        member = resolve_tenant(request, slug)
        target = selectors.tenant_member_get(tenant=member.tenant, member_id=member_id)
        services.member_remove(member=target, actor=member)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _invitations_manager(request, slug):
    member = resolve_tenant(request, slug)
    if not member_can(member, Permission.MANAGE_INVITATIONS):
        raise PermissionDenied("You cannot manage invitations in this organization.")
    return member


class InvitationListView(GenericAPIView):
    serializer_class = InvitationSerializer
    filter_backends = ()  # `status` is read by the view

    @extend_schema(
        operation_id="orgs_invitations_list",
        parameters=[
            SLUG,
            OpenApiParameter(
                "status",
                OpenApiTypes.STR,
                enum=[*InvitationStatus.values, "all"],
                description="Default: pending.",
            ),
        ],
        responses={
            200: InvitationSerializer(many=True),
            **error_responses(
                {
                    400: "`invalid_choice`: an unknown `status`; `invalid_cursor`.",
                    403: "`permission_denied`: needs `manage_invitations`.",
                }
            ),
        },
    )
    def get(self, request, slug):
        member = _invitations_manager(request, slug)
        wanted = request.query_params.get("status", InvitationStatus.PENDING)
        if wanted != "all" and wanted not in InvitationStatus.values:
            raise serializers.ValidationError({"status": ["Unknown status."]}, code="invalid_choice")
        invitations = selectors.tenant_invitations_list(
            tenant=member.tenant, status=None if wanted == "all" else wanted
        )
        page = self.paginate_queryset(invitations)
        return self.get_paginated_response(InvitationSerializer(page, many=True).data)

    @extend_schema(
        operation_id="orgs_invitations_create",
        summary="Invite an email (again: updates the pending invitation and sends a new link)",
        parameters=[SLUG],
        request=InvitationInputSerializer,
        responses={
            201: InvitationSerializer,
            **error_responses(
                {
                    400: "`invalid` (the email), `invalid_choice`, ...",
                    403: "`permission_denied`: needs `manage_invitations`; `cannot_grant`.",
                    409: "`already_member`.",
                }
            ),
        },
    )
    def post(self, request, slug):
        member = _invitations_manager(request, slug)
        data = _valid(InvitationInputSerializer, request.data)
        invitation = services.invitation_create(tenant=member.tenant, actor=member, invited_by=request.user, **data)
        return Response(InvitationSerializer(invitation).data, status=status.HTTP_201_CREATED)


class InvitationDetailView(GenericAPIView):
    serializer_class = InvitationSerializer

    @extend_schema(
        operation_id="orgs_invitations_destroy",
        summary="Revoke a pending invitation",
        parameters=[SLUG],
        responses={
            204: None,
            **error_responses(
                {
                    403: "`permission_denied`: needs `manage_invitations`.",
                    404: "No such organization, or no such invitation in it.",
                    409: "`invitation_not_pending`.",
                }
            ),
        },
    )
    def delete(self, request, slug, invitation_id):
        member = _invitations_manager(request, slug)
        invitation = selectors.tenant_invitation_get(tenant=member.tenant, invitation_id=invitation_id)
        services.invitation_revoke(invitation=invitation, actor=member)
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationResendView(GenericAPIView):
    serializer_class = InvitationSerializer

    @extend_schema(
        operation_id="orgs_invitations_resend",
        summary="Send a pending or expired invitation again, with a new link and expiry",
        parameters=[SLUG],
        request=None,
        responses={
            200: InvitationSerializer,
            **error_responses(
                {
                    403: "`permission_denied`: needs `manage_invitations`.",
                    404: "No such organization, or no such invitation in it.",
                    409: "`invitation_not_pending`.",
                }
            ),
        },
    )
    def post(self, request, slug, invitation_id):
        member = _invitations_manager(request, slug)
        invitation = selectors.tenant_invitation_get(tenant=member.tenant, invitation_id=invitation_id)
        invitation = services.invitation_resend(invitation=invitation, actor=member)
        return Response(InvitationSerializer(invitation).data)


class InvitationAcceptView(GenericAPIView):
    serializer_class = AcceptSerializer

    @extend_schema(
        operation_id="invitations_accept",
        summary="Accept an invitation as the signed-in user (who holds the invited email, verified)",
        request=AcceptSerializer,
        responses={
            201: OrganizationSerializer,
            **error_responses(
                {
                    403: "`invitation_wrong_email`, `email_unverified`.",
                    404: "`invitation_invalid`: no invitation has this token.",
                    409: "`invitation_used`, `invitation_revoked`, `invitation_expired`, `already_member`.",
                }
            ),
        },
    )
    def post(self, request):
        data = _valid(AcceptSerializer, request.data)
        member = services.invitation_accept(token=data["token"], user=request.user)
        membership = selectors.user_memberships_list(user=request.user, tenant_id=member.tenant_id).get()
        return Response(OrganizationSerializer(membership).data, status=status.HTTP_201_CREATED)
