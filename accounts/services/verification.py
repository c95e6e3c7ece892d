"""Sending the email-verification link (a security email: preferences never suppress it)."""

from urllib.parse import urlencode

from django.conf import settings
from django.urls import reverse

from accounts.emails import email_send
from accounts.models import UserEmail
from accounts.tokens import verification_token_make


def email_verification_url(*, user_email: UserEmail, next_url: str = "") -> str:
    url = settings.SITE_URL + reverse("accounts:verify_email", args=[verification_token_make(user_email=user_email)])
    if next_url:
        url += "?" + urlencode({"next": next_url})
    return url


def email_verification_send(*, user_email: UserEmail, next_url: str = "") -> None:
    email_send(
        to=user_email.email,
        template="verify_email",
        context={
            "verify_url": email_verification_url(user_email=user_email, next_url=next_url),
            "address": user_email.email,
            "max_age_hours": settings.EMAIL_VERIFICATION_MAX_AGE // 3600,
        },
        user=user_email.user,
    )
