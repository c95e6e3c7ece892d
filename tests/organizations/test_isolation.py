"""Tenant isolation, as a matrix generated from the routes themselves.

Every URL pattern (from the resolver) and every API operation (from the
drf-spectacular schema) that names an organization by slug, or a
tenant-scoped object by id, is requested by someone from another
organization, and must answer 404:

- the victim's slug (and ids of the victim's objects), by a signed-in outsider;
- the outsider's *own* slug with ids of the victim's objects (the object
  lookup must be scoped to the resolved tenant, not just exist);
- API operations, also with an API key of a user who belongs to the victim's
  organization too, but whose key is bound to another organization.

Routes are found, not listed: a route another app adds later is in the matrix
the day it lands. Its parameters are filled generically: `slug` is the
organization; `<noun>_id` (or `id`/`pk` after a `<nouns>/` segment) names a
Keel model, matched by name, and a victim object is made with that model's
factory. A parameter name the test cannot place fails the test, asking for an
entry in PARAMETER_MODELS (or for the model, a factory or an OBJECT_BUILDERS entry).
"""

import re
from functools import cache

import pytest
from django.apps import apps
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RoutePattern
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from organizations import services
from organizations.models import MemberRole, Tenant, TenantMember
from tests import factories
from tests.organizations.conftest import join

pytestmark = pytest.mark.django_db

KEEL_APPS = ("accounts", "organizations", "credits", "billing")
# Staff-only (the admin) and Stripe's own routes are outside tenant resolution.
SKIPPED_NAMESPACES = {"admin", "djstripe"}
# Parameter nouns whose model the name alone does not give: noun -> "app_label.ModelName".
PARAMETER_MODELS = {
    "member": "organizations.TenantMember",
    "invitation": "organizations.TenantInvitation",
    "api_key": "credits.ApiKey",
    "key": "credits.ApiKey",
    "grant": "credits.Credit",
    "transaction": "credits.CreditTransaction",
}
# Parameters that are not object ids: tokens in links, converters of other kinds.
NOT_OBJECT_PARAMETERS = {"token", "uidb64", "url", "path", "format"}


def _build_api_key(*, tenant):
    from credits.services.api_keys import api_key_create

    owner = TenantMember.objects.filter(tenant=tenant, role=MemberRole.OWNER).select_related("user").first().user
    return api_key_create(tenant=tenant, user=owner, name="victim key")[0]


OBJECT_BUILDERS = {"credits.ApiKey": _build_api_key}

PARAM_RE = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>|\{(?P<api_name>[^}]+)\}")


# --- finding routes and what their parameters mean ------------------------------------


def resolver_routes() -> list[str]:
    """Every path() route of the project, joined with its includes' prefixes."""
    routes: list[str] = []

    def walk(patterns, prefix: str):
        for entry in patterns:
            if isinstance(entry, URLResolver):
                if entry.namespace in SKIPPED_NAMESPACES:
                    continue
                walk(entry.url_patterns, prefix + _route_text(entry, prefix))
            elif isinstance(entry, URLPattern):
                routes.append(prefix + _route_text(entry, prefix))

    walk(get_resolver().url_patterns, "")
    return routes


def _route_text(entry, prefix: str) -> str:
    if isinstance(entry.pattern, RoutePattern):
        return str(entry.pattern)
    names = set(entry.pattern.regex.groupindex)
    assert not names, f"{prefix}{entry.pattern}: a regex route with parameters {names}; use path() so it is checked"
    return str(entry.pattern).lstrip("^").rstrip("$").replace("\\", "")


def parameters(route: str) -> list[str]:
    return [m.group("name") or m.group("api_name") for m in PARAM_RE.finditer(route)]


def noun_of(route: str, name: str) -> str | None:
    """The noun an id parameter stands for: `member_id` -> member; `members/{id}` -> member."""
    if name.endswith("_id"):
        return name.removesuffix("_id")
    if name in ("id", "pk"):
        match = re.search(rf"([\w-]+)/(?:<(?:\w+:)?{name}>|\{{{name}\}})", route)
        if match:
            return match.group(1).removesuffix("s").replace("-", "_")
    return None


@cache
def model_for(noun: str):
    if noun in PARAMETER_MODELS:
        return apps.get_model(PARAMETER_MODELS[noun])
    wanted = noun.replace("_", "")
    candidates = [
        model
        for label in KEEL_APPS
        for model in apps.get_app_config(label).get_models()
        if model._meta.model_name == wanted or model._meta.model_name.endswith(wanted)
    ]
    if len(candidates) == 1:
        return candidates[0]
    pytest.fail(
        f"Cannot tell which model the route parameter '{noun}' names (candidates: {candidates}); "
        "add it to PARAMETER_MODELS in tests/organizations/test_isolation.py"
    )


def is_tenant_scoped(model) -> bool:
    return model is Tenant or any(
        getattr(field, "related_model", None) is Tenant for field in model._meta.get_fields() if field.many_to_one
    )


def object_params(route: str) -> dict[str, type]:
    found = {}
    for name in parameters(route):
        if name == "slug" or name in NOT_OBJECT_PARAMETERS:
            continue
        noun = noun_of(route, name)
        if noun is None:
            continue
        found[name] = model_for(noun)
    return found


def tenant_routes(routes) -> list[str]:
    return sorted(
        {
            route
            for route in routes
            if "slug" in parameters(route) or any(is_tenant_scoped(m) for m in object_params(route).values())
        }
    )


def api_operations() -> list[tuple[str, str]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return sorted(
        (path, method.upper())
        for path, operations in schema["paths"].items()
        for method in operations
        if method in {"get", "post", "put", "patch", "delete"}
    )


PAGE_ROUTES = tenant_routes(r for r in resolver_routes() if not r.startswith("api/"))
API_ROUTES = tenant_routes(r for r in resolver_routes() if r.startswith("api/"))
API_OPERATIONS = [(path, method) for path, method in api_operations() if tenant_routes([path.lstrip("/")])]


# --- the world: a victim organization with one of everything, and an outsider ---------------------


class World:
    def __init__(self):
        self.victim_owner = factories.UserFactory(username="victim")
        self.victim = services.tenant_create(owner=self.victim_owner, name="Victim", slug="victim")
        self.outsider = factories.UserFactory(username="outsider")
        self.outsider_org = services.tenant_create(owner=self.outsider, name="Outsider", slug="outsider")
        # Belongs to both, but holds a key bound to the outsider's organization.
        self.double_agent = factories.UserFactory(username="double")
        join(self.victim, self.double_agent, role=MemberRole.OWNER)
        join(self.outsider_org, self.double_agent, role=MemberRole.OWNER)
        from credits.services.api_keys import api_key_create

        self.bound_key = api_key_create(tenant=self.outsider_org, user=self.double_agent, name="outsider key")[1]
        self._objects: dict[type, object] = {}

    def victim_object(self, model):
        if model not in self._objects:
            self._objects[model] = build(model, tenant=self.victim)
        return self._objects[model]

    def url(self, route: str, slug: str) -> str:
        values = {"slug": slug}
        for name, model in object_params(route).items():
            values[name] = str(self.victim_object(model).pk)

        def fill(match):
            name = match.group("name") or match.group("api_name")
            assert name in values, f"{route}: no value for parameter {name!r}"
            return values[name]

        return "/" + PARAM_RE.sub(fill, route).lstrip("/")


def build(model, *, tenant):
    label = model._meta.label
    if model is Tenant:
        return tenant
    if label in OBJECT_BUILDERS:
        return OBJECT_BUILDERS[label](tenant=tenant)
    for name in dir(factories):
        factory_class = getattr(factories, name)
        if getattr(getattr(factory_class, "_meta", None), "model", None) is model:
            return factory_class(tenant=tenant)
    pytest.fail(f"No way to make a {label} for the isolation matrix: add a factory or an OBJECT_BUILDERS entry")


@pytest.fixture
def world():
    return World()


def assert_not_found(responses: dict[str, int], where: str):
    """404 for every method; 405 is allowed (it is answered before anything is looked up), but not everywhere."""
    assert all(status in (404, 405) for status in responses.values()), f"{where}: {responses}"
    assert 404 in responses.values(), f"{where}: no method answered 404: {responses}"


# --- the matrix ------------------------------------------------------------------------------------


def test_the_matrix_covers_the_known_routes():
    """Guards the generator: if it stopped finding routes, the matrix would pass vacuously."""
    assert {
        "o/<slug:slug>/members/<uuid:member_id>/",
        "o/<slug:slug>/invitations/<uuid:invitation_id>/revoke/",
        "o/<slug:slug>/settings/",
    } <= set(PAGE_ROUTES)
    assert ("/api/v1/orgs/{slug}/members/{member_id}/", "PATCH") in API_OPERATIONS
    assert ("/api/v1/orgs/{slug}/invitations/", "POST") in API_OPERATIONS
    assert "invitations/accept/<str:token>/" not in PAGE_ROUTES


@pytest.mark.parametrize("route", PAGE_ROUTES)
def test_pages_answer_404_to_other_organizations(client, world, route):
    client.force_login(world.outsider)
    variants = {"victim slug": world.url(route, "victim")}
    if object_params(route) and "slug" in parameters(route):
        variants["own slug, victim ids"] = world.url(route, "outsider")

    for variant, url in variants.items():
        responses = {method: client.generic(method, url).status_code for method in ("GET", "POST")}
        assert_not_found(responses, f"{variant}: {url}")


@pytest.mark.parametrize("route", API_ROUTES)
def test_api_routes_answer_404_to_other_organizations(world, route):
    api = APIClient()
    api.force_authenticate(world.outsider)
    url = world.url(route, "victim")

    responses = {
        method: api.generic(method, url, "{}", "application/json").status_code
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE")
    }

    assert_not_found(responses, url)


@pytest.mark.parametrize(("path", "method"), API_OPERATIONS)
def test_api_operations_answer_404_to_other_organizations(world, path, method):
    session = APIClient()
    session.force_authenticate(world.outsider)
    keyed = APIClient(HTTP_AUTHORIZATION=f"Bearer {world.bound_key}")
    cases = {"outsider, victim slug": (session, world.url(path, "victim"))}
    if object_params(path) and "{slug}" in path:
        cases["outsider, own slug, victim ids"] = (session, world.url(path, "outsider"))
    if "{slug}" in path:
        cases["victim member's key bound elsewhere"] = (keyed, world.url(path, "victim"))

    for case, (api, url) in cases.items():
        response = api.generic(method, url, "{}", "application/json")
        assert response.status_code == 404, f"{case}: {method} {url} -> {response.status_code} {response.content[:200]}"
        assert response.json()["code"] == "not_found"


def test_lists_never_show_foreign_rows(world):
    """The lists a member sees hold their organization's rows only."""
    factories.TenantInvitationFactory(tenant=world.victim, email="victim-invitee@example.com")
    factories.TenantInvitationFactory(tenant=world.outsider_org, email="own-invitee@example.com")
    api = APIClient()
    api.force_authenticate(world.outsider)

    orgs = [o["slug"] for o in api.get("/api/v1/orgs/").json()["results"]]
    members = [m["user"]["username"] for m in api.get("/api/v1/orgs/outsider/members/").json()["results"]]
    invitations = [i["email"] for i in api.get("/api/v1/orgs/outsider/invitations/").json()["results"]]

    assert orgs == ["outsider"]
    assert sorted(members) == ["double", "outsider"]
    assert invitations == ["own-invitee@example.com"]


def test_a_key_for_one_organization_lists_nothing_else(world):
    keyed = APIClient(HTTP_AUTHORIZATION=f"Bearer {world.bound_key}")

    assert keyed.get("/api/v1/orgs/outsider/").json()["slug"] == "outsider"
    assert keyed.get("/api/v1/orgs/victim/").status_code == 404
