"""The one function every email of Keel goes through.

Templates: `templates/emails/<name>_subject.txt`, `<name>.txt` and `<name>.html`.

- Security and transactional mail (`email_type=None`: verification, password
  reset, invitations) always goes out.
- Non-essential mail (`email_type` set: marketing, product updates, payment
  receipts) honours the recipient's preferences, and always carries a signed
  one-click unsubscribe link: in the body (appended here, so no template can
  forget it) and in the `List-Unsubscribe`/`List-Unsubscribe-Post` headers
  (RFC 2369, RFC 8058).

`email_send` checks and queues; the mail is rendered and sent by the task
`accounts.tasks.email_deliver` after the surrounding transaction commits (core.tasks.enqueue),
so a rolled-back write never leaves a mail behind: on a Celery worker when a broker is
configured, inline otherwise. The task gets the recipient account's id, not the account, and
checks the preference again when it runs (an unsubscribe in between wins).
"""

import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.functional import Promise

from accounts.models import EmailType, User, UserEmailPreference
from accounts.selectors import user_by_verified_email
from accounts.tokens import unsubscribe_token_make
from core.tasks import enqueue

logger = logging.getLogger(__name__)


def email_is_wanted(*, user, email_type: EmailType | str | None) -> bool:
    if email_type is None:
        return True  # security and transactional mail always goes out
    if user is None or user.deleted_at is not None:
        return False
    return not UserEmailPreference.objects.filter(user=user, email_type=email_type, subscribed=False).exists()


def unsubscribe_url(*, user, email_type: EmailType | str) -> str:
    token = unsubscribe_token_make(user=user, email_type=email_type)
    return settings.SITE_URL + reverse("accounts:unsubscribe", args=[token])


def _recipient_user(to: str) -> User | None:
    return user_by_verified_email(to)


def _with_footer(body: str, footer: str, *, html: bool) -> str:
    if html and "</body>" in body:
        head, _, tail = body.rpartition("</body>")
        return f"{head}{footer}</body>{tail}"
    return f"{body.rstrip()}\n\n{footer}" if not html else body + footer


def email_send(
    *,
    to: str,
    template: str,
    context: dict | None = None,
    email_type: EmailType | str | None = None,
    user=None,
) -> bool:
    """Render and send `template` to `to`; returns False if preferences suppress it.

    Non-essential mail needs a recipient account (the unsubscribe link is per
    user): pass `user`, or `to` must be an address verified by a live account.
    """
    if email_type is not None:
        if email_type not in EmailType.values:
            raise ValueError(f"unknown email type {email_type!r}")
        if user is None:
            user = _recipient_user(to)
            if user is None:
                raise ValueError("non-essential mail needs a recipient account (pass user=)")
    if not email_is_wanted(user=user, email_type=email_type):
        logger.info("email suppressed by preference: template=%s type=%s", template, email_type)
        return False
    from accounts.tasks import email_deliver

    # Lazy translations (choice labels) become the text they stand for: the task gets plain values.
    context = {key: str(value) if isinstance(value, Promise) else value for key, value in (context or {}).items()}
    enqueue(
        email_deliver,
        to=to,
        template=template,
        context=context,
        email_type=str(email_type) if email_type is not None else None,
        user_id=user.pk if user is not None else None,
    )
    return True


def email_render_and_send(
    *, to: str, template: str, context: dict, email_type: str | None, user_id: int | None
) -> bool:
    """What `email_send` queued, when the task runs: the account read again, the preference
    checked again, the templates rendered and the message sent. False if it was not sent."""
    user = User.objects.filter(pk=user_id).first() if user_id is not None else None
    if email_type is not None and (user is None or not email_is_wanted(user=user, email_type=email_type)):
        logger.info("email suppressed when sent: template=%s type=%s", template, email_type)
        return False

    context = {"site_url": settings.SITE_URL, "user": user, **context}
    headers = {}
    if email_type is not None:
        context["unsubscribe_url"] = unsubscribe_url(user=user, email_type=email_type)
        context["email_type_label"] = EmailType(email_type).label
        headers = {
            "List-Unsubscribe": f"<{context['unsubscribe_url']}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }

    subject = " ".join(render_to_string(f"emails/{template}_subject.txt", context).split())
    text = render_to_string(f"emails/{template}.txt", context)
    html = render_to_string(f"emails/{template}.html", context)
    if email_type is not None:
        text = _with_footer(text, render_to_string("emails/_unsubscribe_footer.txt", context), html=False)
        html = _with_footer(html, render_to_string("emails/_unsubscribe_footer.html", context), html=True)

    message = EmailMultiAlternatives(
        subject=subject, body=text, from_email=settings.DEFAULT_FROM_EMAIL, to=[to], headers=headers
    )
    message.attach_alternative(html, "text/html")
    message.send()
    return True
