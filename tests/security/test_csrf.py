"""CSRF on every form and every session-authenticated API write, found from the route list.

With `Client(enforce_csrf_checks=True)` (a browser that did not load the page, so holds no
token), every unsafe method on every route is refused with 403 and writes nothing. The only
routes without the check are named below, each with why.
"""

import json

import pytest
from django.test import Client

from accounts.models import User, UserEmail
from tests.security.routes import METHODS, PUBLIC, ROUTES, STAFF, Tenants, fill, tenant_rows

pytestmark = pytest.mark.django_db

# No cookie-authenticated state: a signature or a token in the link is the defence.
CSRF_EXEMPT = {
    # Stripe's signed webhooks (test_webhooks.py).
    "stripe/webhook/<uuid:uuid>/",
    # RFC 8058 one-click unsubscribe: mail clients POST with no session; the signed token in the
    # link is the credential (tests/accounts/test_emails.py).
    "accounts/unsubscribe/<str:token>/",
}
# Read-only API routes: every unsafe method is 405 (or the session's CSRF 403), so there is
# no write to forge.
READ_ONLY = {"api/schema/", "api/docs/", "api/v1/prices/"}
UNSAFE = [method for method in METHODS if method != "GET"]
CHECKED = sorted(route for route, kind in ROUTES.items() if kind != STAFF and route not in CSRF_EXEMPT)


@pytest.fixture
def world():
    return Tenants()


def everything(world) -> tuple:
    users = User.objects.filter(pk__in=[world.a_owner.pk, world.a_member.user_id])
    return (
        tenant_rows(world.a),
        sorted(users.values(), key=lambda row: str(row["id"])),
        sorted(UserEmail.objects.values(), key=lambda row: str(row["id"])),
    )


def test_the_checked_routes_include_every_form():
    assert {"accounts/login/", "accounts/signup/", "accounts/logout/", "o/<slug:slug>/delete/"} <= set(CHECKED)
    assert len(CHECKED) == len(ROUTES) - len(CSRF_EXEMPT) - 1  # all but the exempt and the admin


CASES = [(route, True) for route in CHECKED] + [(route, False) for route in CHECKED if ROUTES[route] == PUBLIC]


# Anonymous, only the public routes: the others answer the same 403 before asking for sign-in.
@pytest.mark.parametrize(
    ("route", "signed_in"), CASES, ids=[f"{'signed-in' if s else 'anonymous'}-{r}" for r, s in CASES]
)
def test_unsafe_methods_without_the_token_are_refused_and_write_nothing(world, route, signed_in):
    strict = Client(enforce_csrf_checks=True)
    if signed_in:
        strict.force_login(world.a_owner)
    email = UserEmail.objects.get(user=world.a_owner)
    url = fill(
        route,
        slug=world.a.slug,
        email_id=email.pk,
        uuid="00000000-0000-0000-0000-000000000000",
        uidb64="x",
        token="x",
        **world.ids("a"),
    )
    body = world.body() | {"confirm_name": world.a.name, "member": str(world.a_member.pk)}
    before = everything(world)
    failures = []

    for method in UNSAFE:
        if route in READ_ONLY:
            if strict.generic(method, url, "{}", "application/json").status_code not in (403, 405):
                failures.append(f"{method} {url}: a read-only route accepted a write")
            continue
        if url.startswith("/api/"):
            response = strict.generic(method, url, json.dumps(body), "application/json")
            if not signed_in:
                # Nothing to forge without a session: an anonymous write is not authenticated.
                if response.status_code not in (401, 403):
                    failures.append(f"{method} {url} -> {response.status_code}")
                continue
        else:
            response = strict.post(url, body) if method == "POST" else strict.generic(method, url, "")
        if response.status_code != 403:
            failures.append(f"{method} {url} -> {response.status_code}")
        elif not url.startswith("/api/"):
            assert b"This form expired" in response.content, url
        else:
            assert response.json()["code"] == "permission_denied"

    assert not failures, "\n".join(failures)
    assert everything(world) == before


def test_with_the_token_the_same_form_goes_through(world):
    """The refusals above are the missing token, not the request: the page's token makes it work."""
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(world.a_owner)
    strict.get(f"/o/{world.a.slug}/settings/")
    token = strict.cookies["csrftoken"].value

    response = strict.post(
        f"/o/{world.a.slug}/settings/",
        {"csrfmiddlewaretoken": token, "name": "Renamed", "slug": world.a.slug, "logo_url": ""},
    )

    assert response.status_code == 302
    world.a.refresh_from_db()
    assert world.a.name == "Renamed"
