"""The one function every email of Keel goes through.

Templates: `templates/emails/<name>_subject.txt`, `<name>.txt` and `<name>.html`.
Non-essential mail (`email_type` set) honours the recipient's preferences.
Sending happens after the surrounding transaction commits, so a rolled-back
write never leaves a mail behind.
"""

import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string

from accounts.models import EmailType, UserEmailPreference

logger = logging.getLogger(__name__)


def email_is_wanted(*, user, email_type: EmailType | str | None) -> bool:
    if email_type is None or user is None:
        return True  # security and transactional mail always goes out
    return not UserEmailPreference.objects.filter(user=user, email_type=email_type, subscribed=False).exists()


def email_send(
    *,
    to: str,
    template: str,
    context: dict | None = None,
    email_type: EmailType | str | None = None,
    user=None,
) -> bool:
    """Render and send `template` to `to`; returns False if preferences suppress it."""
    if not email_is_wanted(user=user, email_type=email_type):
        logger.info("email suppressed by preference: template=%s type=%s", template, email_type)
        return False
    context = {"site_url": settings.SITE_URL, "user": user, **(context or {})}
    subject = render_to_string(f"emails/{template}_subject.txt", context).strip()
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(f"emails/{template}.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
    )
    message.attach_alternative(render_to_string(f"emails/{template}.html", context), "text/html")
    transaction.on_commit(message.send)
    return True
