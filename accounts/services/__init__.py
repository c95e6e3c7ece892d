"""Every write of the accounts app. Views, the API, the admin and commands call these."""

from accounts.services.addresses import (
    email_add,
    email_make_primary,
    email_remove,
    email_verification_resend,
    email_verify,
)
from accounts.services.google import google_sign_in
from accounts.services.invitations import InvitationJoined, signup_invitation_accept
from accounts.services.passwords import (
    password_reset_check,
    password_reset_complete,
    password_reset_request,
    user_password_change,
)
from accounts.services.preferences import email_preferences_update, email_unsubscribe
from accounts.services.users import (
    avatar_check,
    profile_errors,
    signup_errors,
    user_avatar_upload,
    user_create,
    user_delete,
    user_operator_create,
    user_set_status,
    user_signup,
    user_update_profile,
)
from accounts.services.verification import email_verification_send

__all__ = [
    "InvitationJoined",
    "avatar_check",
    "email_add",
    "email_make_primary",
    "email_preferences_update",
    "email_remove",
    "email_unsubscribe",
    "email_verification_resend",
    "email_verification_send",
    "email_verify",
    "google_sign_in",
    "password_reset_check",
    "password_reset_complete",
    "password_reset_request",
    "profile_errors",
    "signup_errors",
    "signup_invitation_accept",
    "user_avatar_upload",
    "user_create",
    "user_delete",
    "user_operator_create",
    "user_password_change",
    "user_set_status",
    "user_signup",
    "user_update_profile",
]
