"""The accounts app's background tasks (core.tasks, docs/deploy.md "Queue (Celery)")."""

import smtplib

from celery import shared_task

from accounts.emails import email_render_and_send
from core.tasks import task_once


@shared_task(
    bind=True,
    acks_late=True,
    # The mail server refused or could not be reached: try again, 30 s, 60 s, ... up to an hour apart.
    autoretry_for=(smtplib.SMTPException, OSError),
    retry_backoff=30,
    retry_backoff_max=3600,
    retry_jitter=True,
    max_retries=8,
)
def email_deliver(self, *, to: str, template: str, context: dict, email_type: str | None, user_id: int | None):
    """Every email Keel sends (accounts.emails.email_send queues it); once per delivery (task_once)."""
    task_once(
        self.request,
        lambda: email_render_and_send(
            to=to, template=template, context=context, email_type=email_type, user_id=user_id
        ),
    )
