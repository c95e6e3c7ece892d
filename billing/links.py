"""Absolute links to an organization's billing pages, for Stripe to send the buyer back to
(built from `SITE_URL`: Stripe needs absolute URLs, and the request's host is not trusted)."""

from django.conf import settings
from django.urls import reverse

from billing.services.checkout import SESSION_PLACEHOLDER


def absolute(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def billing_page_url(tenant) -> str:
    return absolute(reverse("billing:billing", kwargs={"slug": tenant.slug}))


def checkout_success_url(tenant) -> str:
    # Stripe replaces the placeholder with the session's id.
    return absolute(reverse("billing:success", kwargs={"slug": tenant.slug})) + f"?session_id={SESSION_PLACEHOLDER}"


def checkout_cancel_url(tenant) -> str:
    return absolute(reverse("billing:cancel", kwargs={"slug": tenant.slug}))
