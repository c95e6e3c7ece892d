"""The tenant-isolation matrix: every route, classified (routes.py), and every tenant route
attacked by a member of another organization, with that organization's real ids.

For each TENANT route and each of GET/POST/PUT/PATCH/DELETE, as A's owner (a session, and
for the API A's key too), the path filled with:

- B's slug and B's ids;
- B's *old* slug (organizations keep former slugs) and B's ids;
- A's own slug and B's ids (the object lookup must be scoped to the resolved tenant).

Each answers 404, never 200, 403 or a redirect into B, and every row B owns is the same
afterwards. A 405 is accepted only where the route refuses that method to A in A's own
organization too (the method is refused before anything is looked up, so it tells nothing).

tests/organizations/test_isolation.py adds the API operations from the OpenAPI schema and a
member of both organizations whose key is bound to one of them.
"""

import json
from urllib.parse import urlencode

import pytest
from django.test import Client

from accounts.models import UserEmail
from organizations.models import TenantMember
from tests import factories
from tests.security.routes import (
    METHODS,
    PUBLIC,
    ROUTES,
    STAFF,
    TENANT,
    USER,
    Tenants,
    fill,
    resolver_routes,
    routes_of,
    tenant_rows,
)

pytestmark = pytest.mark.django_db


def test_every_route_is_classified():
    found = resolver_routes()

    unclassified = sorted(found - ROUTES.keys())
    stale = sorted(ROUTES.keys() - found)

    assert not unclassified, (
        f"Routes the security matrix does not know: {unclassified}. Classify each in "
        "tests/security/routes.py ROUTES (public / user / tenant / staff)."
    )
    assert not stale, f"ROUTES names routes that no longer exist: {stale}"


def test_tenant_routes_all_name_the_organization():
    """A tenant route without a slug would be resolved some other way: the matrix cannot attack it."""
    assert all("<slug:slug>" in route for route in routes_of(TENANT))
    assert not any("<slug:slug>" in route for route in routes_of(USER) + routes_of(PUBLIC))


@pytest.fixture
def world():
    return Tenants()


def session_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def send(client: Client, method: str, url: str, data: dict, **headers):
    """A page gets a form, the API JSON (with an Idempotency-Key, so a consume would go through)."""
    if url.startswith("/api/"):
        headers.setdefault("HTTP_IDEMPOTENCY_KEY", f"attack-{method}-{url}")
        return client.generic(method, url, json.dumps(data), "application/json", **headers)
    if method == "GET":
        return client.get(url, **headers)
    if method == "POST":
        return client.post(url, data, **headers)
    return client.generic(method, url, urlencode(data), "application/x-www-form-urlencoded", **headers)


def attack_urls(world, route) -> dict[str, str]:
    b_ids, has_ids = world.ids("b"), "_id>" in route
    variants = {
        "B's slug": fill(route, slug=world.b.slug, **b_ids),
        "B's old slug": fill(route, slug=world.b_old_slug, **b_ids),
    }
    if has_ids:
        variants["A's slug, B's ids"] = fill(route, slug=world.a.slug, **b_ids)
    return variants


def refused_to_a_too(client, method, route, world, headers) -> bool:
    """The method is refused (405) on A's own equivalent URL: the route does not accept it."""
    own = fill(route, slug=world.a.slug, **world.ids("a"))
    return send(client, method, own, {}, **headers).status_code == 405


@pytest.mark.parametrize("route", routes_of(TENANT))
def test_another_organizations_ids_answer_404_and_change_nothing(world, route):
    clients = {"session": (session_of(world.a_owner), {})}
    if route.startswith("api/"):
        clients["A's API key"] = (Client(), {"HTTP_AUTHORIZATION": f"Bearer {world.a_raw_key}"})
    before = tenant_rows(world.b)
    failures = []

    for who, (client, headers) in clients.items():
        for variant, url in attack_urls(world, route).items():
            for method in METHODS:
                response = send(client, method, url, world.body(), **headers)
                status = response.status_code
                if status == 404:
                    continue
                if status == 405 and refused_to_a_too(client, method, route, world, headers):
                    continue
                where = response.get("Location", "") or response.content[:120]
                failures.append(f"{who}, {variant}: {method} {url} -> {status} {where}")

    assert not failures, "\n".join(failures)
    assert tenant_rows(world.b) == before


@pytest.mark.parametrize("route", routes_of(TENANT))
def test_tenant_routes_need_a_signed_in_member(client, route):
    world_slug = "nobody-org"
    url = fill(route, slug=world_slug, member_id=factories.uuid.uuid4(), invitation_id=factories.uuid.uuid4(),
               api_key_id=factories.uuid.uuid4())  # fmt: skip

    response = client.get(url)

    if route.startswith("api/"):
        assert response.status_code == 401, url
    else:
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/?next="), url


USER_OBJECT_ROUTES = [route for route in routes_of(USER) if "<str:email_id>" in route]


def test_the_user_object_routes_are_found():
    assert len(USER_OBJECT_ROUTES) == 6


@pytest.mark.parametrize("route", USER_OBJECT_ROUTES)
def test_another_users_addresses_answer_404_and_change_nothing(route):
    """The user's own objects (email addresses) are to a user what members are to a tenant."""
    attacker = factories.UserFactory(username="attacker")
    victim = factories.UserFactory(username="victim")
    spare = factories.UserEmailFactory(user=victim, email="victim-spare@example.com", verified=True)
    unverified = factories.UserEmailFactory(user=victim, email="victim-new@example.com", verified=False)
    factories.UserEmailFactory(user=attacker, email="attacker-spare@example.com")
    before = sorted(UserEmail.objects.filter(user=victim).values(), key=lambda row: str(row["id"]))
    client = session_of(attacker)
    failures = []

    for email in (spare, unverified):
        url = fill(route, email_id=email.pk)
        for method in METHODS:
            status = send(client, method, url, {"email": "x@example.com"}).status_code
            not_accepted = status == 405 and send(client, method, fill(route, email_id="x"), {}).status_code == 405
            if status == 404 or not_accepted:
                continue
            failures.append(f"{method} {url} -> {status}")

    assert not failures, "\n".join(failures)
    assert sorted(UserEmail.objects.filter(user=victim).values(), key=lambda row: str(row["id"])) == before


@pytest.mark.parametrize("route", routes_of(USER))
def test_user_routes_need_sign_in(client, route):
    url = fill(route, email_id=factories.uuid.uuid4())

    response = client.get(url)

    if route.startswith("api/"):
        assert response.status_code in (401, 403), url
    elif route == "orgs/switch/":
        assert response.status_code in (302, 405)
    else:
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/?next="), url


def test_the_public_routes_answer_without_sign_in(client):
    for route in routes_of(PUBLIC):
        url = fill(route, uuid=factories.uuid.uuid4(), uidb64="x", token="x")
        response = client.get(url)
        assert not response.get("Location", "").startswith("/accounts/login/"), url
        assert response.status_code < 500, url


def test_the_admin_is_for_staff_only(client):
    assert routes_of(STAFF) == ["admin/"]
    member = factories.UserFactory()
    client.force_login(member)

    for url in ("/admin/", "/admin/accounts/user/", "/admin/organizations/tenant/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/"), url


def test_switching_to_another_organization_is_refused(world):
    """orgs/switch/ takes the slug in its body, not its path."""
    client = session_of(world.a_owner)
    client.get(f"/o/{world.a.slug}/")

    for slug in (world.b.slug, world.b_old_slug):
        response = client.post("/orgs/switch/", {"slug": slug, "next": f"/o/{world.b.slug}/"})
        assert response["Location"] == "/orgs/"
        assert client.session["keel_current_tenant"] == str(world.a.pk)


@pytest.mark.parametrize(
    ("url", "field"),
    [("/o/attacker-org/transfer/", "member"), ("/api/v1/orgs/attacker-org/transfer/", "member_id")],
)
def test_ownership_cannot_be_transferred_to_another_organizations_member(world, url, field):
    client = session_of(world.a_owner)
    before_a, before_b = tenant_rows(world.a), tenant_rows(world.b)

    response = send(client, "POST", url, {field: str(world.b_member.pk)})

    assert response.status_code in (200, 400, 404)  # the form again, or the API's refusal
    assert tenant_rows(world.a) == before_a and tenant_rows(world.b) == before_b
    assert not TenantMember.objects.filter(tenant=world.a, user=world.b_member.user).exists()
