"""The Stripe webhook URL: Keel's guard in front of dj-stripe's view (docs/billing.md)."""

import json

from django.http import HttpResponseBadRequest
from django.views.decorators.csrf import csrf_exempt
from djstripe.views import ProcessWebhookView

_djstripe_view = ProcessWebhookView.as_view()


@csrf_exempt
def stripe_webhook(request, uuid):
    """Refuse with a 400 what dj-stripe would answer with a 500 (a body that is not a JSON
    object with an id), and drop the header with which dj-stripe, in DEBUG, lets a request
    choose the signing secret; then hand over to dj-stripe."""
    request.META.pop("HTTP_X_DJSTRIPE_WEBHOOK_SECRET", None)
    try:
        body = json.loads(request.body or b"null")
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("id"), str) or "livemode" not in body:
        return HttpResponseBadRequest("The body is not a Stripe event.")
    return _djstripe_view(request, uuid=uuid)
