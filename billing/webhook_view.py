"""The Stripe webhook URL: Keel's guard in front of dj-stripe's view (docs/billing.md)."""

import json
import time

import stripe
from django.http import HttpResponseBadRequest
from django.views.decorators.csrf import csrf_exempt
from djstripe.views import ProcessWebhookView

_djstripe_view = ProcessWebhookView.as_view()


def _signed_in_the_future(header: str) -> bool:
    """A signature timestamp beyond the tolerance ahead of now. Stripe's check refuses only old
    ones, so a delivery stamped a year ahead would replay for a year (docs/billing.md)."""
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t" and value.isdigit():
            return int(value) > time.time() + stripe.Webhook.DEFAULT_TOLERANCE
    return False


@csrf_exempt
def stripe_webhook(request, uuid):
    """Refuse with a 400 what dj-stripe would answer with a 500 (a body that is not a JSON
    object with an id), and drop the header with which dj-stripe, in DEBUG, lets a request
    choose the signing secret, and refuse a signature dated in the future; then hand over to
    dj-stripe."""
    request.META.pop("HTTP_X_DJSTRIPE_WEBHOOK_SECRET", None)
    try:
        body = json.loads(request.body or b"null")
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("id"), str) or "livemode" not in body:
        return HttpResponseBadRequest("The body is not a Stripe event.")
    if _signed_in_the_future(request.headers.get("Stripe-Signature", "")):
        return HttpResponseBadRequest("The signature's timestamp is in the future.")
    return _djstripe_view(request, uuid=uuid)
