"""Pages reached from links in emails: verify an address, unsubscribe."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from accounts.models import EmailType
from accounts.services import email_unsubscribe, email_verify
from accounts.tokens import InvalidToken, unsubscribe_token_read
from accounts.views.common import safe_next
from core.errors import ApplicationError


@require_http_methods(["GET"])
def verify_email(request, token):
    try:
        user_email = email_verify(token=token)
    except ApplicationError as exc:
        return render(
            request, "accounts/link_invalid.html", {"title": "Verify your email", "error": exc.detail}, status=400
        )
    messages.success(request, f"{user_email.email} is verified.")
    next_url = safe_next(request)
    if next_url:
        return redirect(next_url)
    return redirect("accounts:emails" if request.user.is_authenticated else "accounts:login")


# RFC 8058 one-click: mail clients POST here without a CSRF token (they hold
# none). The signed token is the authorisation, and a forged one writes nothing.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token):
    invalid = {"title": "Unsubscribe", "error": "This unsubscribe link is not valid."}
    if request.method == "GET":
        # GET only asks: link scanners that prefetch URLs must not unsubscribe anyone.
        try:
            claim = unsubscribe_token_read(token)
        except InvalidToken:
            return render(request, "accounts/link_invalid.html", invalid, status=400)
        return render(request, "accounts/unsubscribe.html", {"label": EmailType(claim.email_type).label})
    try:
        _user, email_type = email_unsubscribe(token=token)
    except ApplicationError as exc:
        return render(request, "accounts/link_invalid.html", {**invalid, "error": exc.detail}, status=400)
    return render(request, "accounts/unsubscribe_done.html", {"label": EmailType(email_type).label})
