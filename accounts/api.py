"""`/api/v1/me/...`: the signed-in user's own account. Thin: validate, call a service, render."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.reauth import REAUTH_REQUIRED_DESCRIPTION, reauth_check
from accounts.selectors import email_preferences_get, user_email_get, user_emails_list, user_has_verified_email
from accounts.serializers import (
    EmailAddSerializer,
    EmailPreferencesSerializer,
    MeSerializer,
    MeUpdateSerializer,
    UserEmailSerializer,
)
from accounts.services import (
    email_add,
    email_make_primary,
    email_preferences_update,
    email_remove,
    email_verification_resend,
    user_update_profile,
)
from core.api import error_responses

# 401 (not signed in), and 404/413/415 where a path parameter or a body makes them possible,
# are declared for every operation by core.schema.AutoSchema.
NOT_FOUND = "No such address on your account (or a malformed id)."


def _me(user) -> dict:
    return {
        "id": user.pk,
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "avatar_url": user.avatar_url,
        "email": user.email,
        "email_verified": user_has_verified_email(user=user),
        "has_password": user.has_usable_password(),
        "role": user.role,
        "created_at": user.created_at,
    }


class MeView(APIView):
    @extend_schema(operation_id="me_retrieve", responses={200: MeSerializer}, tags=["me"])
    def get(self, request):
        return Response(MeSerializer(_me(request.user)).data)

    @extend_schema(
        operation_id="me_update",
        request=MeUpdateSerializer,
        responses={
            200: MeSerializer,
            **error_responses({400: "`invalid_username`, `invalid_url`, `invalid_avatar`.", 409: "`username_taken`."}),
        },
        tags=["me"],
        description="Change any of username, first_name, last_name, avatar_url. "
        "Codes: `invalid_username`, `invalid_url`, `invalid_avatar` (400); `username_taken` (409).",
    )
    def patch(self, request):
        data = MeUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = user_update_profile(user=request.user, **data.validated_data)
        return Response(MeSerializer(_me(user)).data)


class MyEmailsView(APIView):
    @extend_schema(operation_id="me_emails_list", responses={200: UserEmailSerializer(many=True)}, tags=["me"])
    def get(self, request):
        return Response(UserEmailSerializer(user_emails_list(user=request.user), many=True).data)

    @extend_schema(
        operation_id="me_emails_create",
        request=EmailAddSerializer,
        responses={
            201: UserEmailSerializer,
            **error_responses({400: "`invalid_email`.", 409: "`email_taken`, `too_many_emails`."}),
        },
        tags=["me"],
        description="Add an unverified address; a verification link is mailed to it. "
        "Codes: `invalid_email` (400); `email_taken`, `too_many_emails` (409).",
    )
    def post(self, request):
        data = EmailAddSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user_email = email_add(user=request.user, email=data.validated_data["email"])
        return Response(UserEmailSerializer(user_email).data, status=status.HTTP_201_CREATED)


class MyEmailView(APIView):
    @extend_schema(
        operation_id="me_emails_destroy",
        responses={
            204: None,
            **error_responses({404: NOT_FOUND, 409: "`last_email` or `primary_email`."}),
        },
        tags=["me"],
        description="Codes: `last_email` (the only address), `primary_email` (make another primary first).",
    )
    def delete(self, request, email_id):
        email_remove(user=request.user, user_email=user_email_get(user=request.user, email_id=email_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class MyEmailMakePrimaryView(APIView):
    @extend_schema(
        operation_id="me_emails_make_primary",
        request=None,
        responses={
            200: UserEmailSerializer,
            **error_responses({403: REAUTH_REQUIRED_DESCRIPTION, 404: NOT_FOUND, 409: "`email_unverified`."}),
        },
        tags=["me"],
        description="Code `email_unverified`: only a verified address can be primary. Needs a recent sign-in "
        "(`reauthentication_required` otherwise).",
    )
    def post(self, request, email_id):
        user_email = user_email_get(user=request.user, email_id=email_id)  # 404 first
        reauth_check(request)
        user_email = email_make_primary(user=request.user, user_email=user_email)
        return Response(UserEmailSerializer(user_email).data)


class MyEmailResendView(APIView):
    @extend_schema(
        operation_id="me_emails_resend_verification",
        request=None,
        responses={
            202: OpenApiResponse(description="A new verification link is on its way."),
            **error_responses(
                {
                    404: NOT_FOUND,
                    409: "`already_verified`.",
                    429: "`rate_limited`: too many resends this hour.",
                }
            ),
        },
        tags=["me"],
        description="Code `already_verified` if there is nothing to verify.",
    )
    def post(self, request, email_id):
        email_verification_resend(user=request.user, user_email=user_email_get(user=request.user, email_id=email_id))
        return Response(status=status.HTTP_202_ACCEPTED)


class MyEmailPreferencesView(APIView):
    @extend_schema(
        operation_id="me_email_preferences_retrieve", responses={200: EmailPreferencesSerializer}, tags=["me"]
    )
    def get(self, request):
        return Response(EmailPreferencesSerializer(email_preferences_get(user=request.user)).data)

    @extend_schema(
        operation_id="me_email_preferences_update",
        request=EmailPreferencesSerializer,
        responses={
            200: EmailPreferencesSerializer,
            **error_responses({400: "`required` (a type missing), `invalid`."}),
        },
        tags=["me"],
        description="Replace every preference; all three types are required. Security email is always sent.",
    )
    def put(self, request):
        return self._update(request, partial=False)

    @extend_schema(
        operation_id="me_email_preferences_partial_update",
        request=EmailPreferencesSerializer(partial=True),
        responses={200: EmailPreferencesSerializer, **error_responses({400: "`invalid` (not a boolean)."})},
        tags=["me"],
        description="Change only the types sent; the others stay as they are.",
    )
    def patch(self, request):
        return self._update(request, partial=True)

    def _update(self, request, *, partial: bool):
        data = EmailPreferencesSerializer(data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        email_preferences_update(user=request.user, preferences=dict(data.validated_data))
        return Response(EmailPreferencesSerializer(email_preferences_get(user=request.user)).data)
