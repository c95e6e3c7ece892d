"""Schemathesis against the live OpenAPI schema: every operation, with an API key and with a session.

pytest-django's `live_server` serves the site; the schema is what it serves at `/api/schema/`.
For each operation and each way of signing in, Schemathesis's engine (what `schemathesis run`
does) generates requests (its examples, coverage and fuzzing phases) and runs all of its
checks on every answer: no server error; status, content type, headers and body as the
schema declares them; schema-valid input accepted, schema-violating input refused; a
required header's absence refused; authentication enforced. One check is Keel's own: no
answer to the caller ever carries another organization's objects.

The world, seeded afresh for each operation: organizations A and B, each with an owner,
members, invitations, API keys, grants and ledger rows; the caller owns A and belongs to A
only. Path parameters are drawn from the real ids of both organizations (and from former
slugs), besides the values Schemathesis makes up; a `cursor` is one the API gave out.

Bounded and repeatable: a fixed seed, deterministic generation, `MAX_EXAMPLES` per phase.
docs/api.md ("Schemathesis") says how to run it and what it checks.
"""

import functools
import zlib
from dataclasses import dataclass, field
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import schemathesis
from django.conf import settings
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client
from drf_spectacular.generators import SchemaGenerator
from schemathesis.config import SchemathesisConfig
from schemathesis.core.parameters import ParameterLocation
from schemathesis.engine import Status, events, from_schema

from credits.services import api_key_create, credits_consume
from organizations.models import MemberRole
from tests import factories
from tests.credits.helpers import add_member, give, make_org

pytestmark = [pytest.mark.schemathesis, pytest.mark.django_db(transaction=True)]

SEED = 20260114
MAX_EXAMPLES = 10

CONFIG = {
    "seed": SEED,
    # Each run starts from nothing (no state kept between runs, nothing written in the checkout).
    "cache": {"enabled": False},
    # An operation whose only input is a free-form slug has no invalid value to make: negative
    # generation filters every attempt out, which is no finding.
    # Hypothesis's generation-speed check measures this shared 2-core machine, not the API.
    "suppress-health-check": ["filter_too_much", "too_slow"],
    "generation": {
        "max-examples": MAX_EXAMPLES,
        "deterministic": True,
        # Credentials are the test's (an API key or a session), never made-up ones.
        "with-security-parameters": False,
    },
    # One operation at a time, each against fresh data: no links to follow between them.
    "phases": {"stateful": {"enabled": False}},
    "checks": {
        # A schema-valid request may still meet a state that refuses it: 402 is "not enough credits".
        "positive_data_acceptance": {"expected-statuses": ["2xx", "3xx", "401", "402", "403", "404", "409", "429"]},
    },
}


BILLING_PATHS = ("/checkout/", "/billing-portal/", "/subscription/", "/invoices/", "/prices/")


@functools.cache
def schema_operations() -> tuple[tuple[str, str], ...]:
    """(METHOD, path) of every operation: drf-spectacular's generator, which `/api/schema/` serves."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return tuple((method.upper(), path) for path, ops in schema["paths"].items() for method in ops)


# --- the world -----------------------------------------------------------------------------


@dataclass
class World:
    caller: object = None
    org: object = None
    # Real values for path parameters, by name: both organizations'.
    path_values: dict[str, list[str]] = field(default_factory=dict)
    cursors: list[str] = field(default_factory=list)
    # Price ids for sale (the sandbox's catalogue), for the billing operations.
    prices: list[str] = field(default_factory=list)
    # Every identifying string of organization B's objects.
    foreign: set[str] = field(default_factory=set)


def _organization(name: str, slug: str):
    owner = factories.UserFactory(username=f"{slug}-owner")
    org = make_org(name=name, slug=slug, owner=owner)
    members = [
        add_member(org, username=f"{slug}-member", credit_limit=500),
        add_member(org, role=MemberRole.CUSTOM, permissions=["view_all_usage"], username=f"{slug}-custom"),
    ]
    factories.TenantSlugFactory(tenant=org, slug=f"{slug}-old")
    invitations = [
        factories.TenantInvitationFactory(tenant=org, email=f"{slug}-invitee{n}@example.com") for n in (1, 2)
    ]
    keys = [api_key_create(tenant=org, user=user, name=f"{slug} key")[0] for user in (owner, members[0])]
    give(org, 1000)
    for n, user in enumerate((owner, members[0], owner)):
        credits_consume(tenant=org, user=user, amount=3, description=f"{slug} job {n}", idempotency_key=f"{slug}-{n}")
    return org, invitations, keys


def _identifiers_of(org, invitations, keys) -> set[str]:
    members = list(org.members.select_related("user"))
    users = [member.user for member in members]
    return {
        str(org.pk),
        org.slug,
        f"{org.slug}-old",
        org.name,
        *(str(member.pk) for member in members),
        *(str(user.pk) for user in users),
        *(user.username for user in users),
        *(email.email for user in users for email in user.emails.all()),
        *(str(email.pk) for user in users for email in user.emails.all()),
        *(str(invitation.pk) for invitation in invitations),
        *(invitation.email for invitation in invitations),
        *(str(key.pk) for key in keys),
        *(key.prefix for key in keys),
        *(str(pk) for pk in org.credits.values_list("pk", flat=True)),
        *(str(pk) for pk in org.credit_transactions.values_list("pk", flat=True)),
    }


@pytest.fixture
def world(live_server) -> World:
    a, a_invitations, _ = _organization("Alpha Works", "alpha")
    b, b_invitations, b_keys = _organization("Bravo Labs", "bravo")
    caller = a.owner
    b_users = [member.user for member in b.members.select_related("user")]
    return World(
        caller=caller,
        org=a,
        path_values={
            "slug": [a.slug, f"{a.slug}-old", b.slug, f"{b.slug}-old"],
            "member_id": [str(member.pk) for member in [*a.members.all(), *b.members.all()]],
            "invitation_id": [str(invitation.pk) for invitation in [*a_invitations, *b_invitations]],
            "email_id": [str(email.pk) for user in [caller, *b_users] for email in user.emails.all()],
        },
        foreign=_identifiers_of(b, b_invitations, b_keys),
    )


@dataclass
class Credentials:
    headers: dict[str, str]


@pytest.fixture(params=["api_key", "session"])
def credentials(request, world) -> Credentials:
    """An API key of A (`Authorization: Bearer`), or A's owner signed in (cookie + CSRF token)."""
    if request.param == "api_key":
        _key, raw = api_key_create(tenant=world.org, user=world.caller, name="schemathesis")
        return Credentials({"Authorization": f"Bearer {raw}"})
    client = Client()
    client.force_login(world.caller, backend="accounts.backends.EmailOrUsernameBackend")
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    csrf = _get_new_csrf_string()
    cookie = f"{settings.SESSION_COOKIE_NAME}={session}; {settings.CSRF_COOKIE_NAME}={csrf}"
    return Credentials({"Cookie": cookie, "X-CSRFToken": csrf})


def _real_cursors(base_url: str, world: World, credentials: Credentials) -> list[str]:
    """`next` cursors of A's lists, as the API gives them out."""
    cursors = []
    for tail in ("members/", "credits/transactions/", "credits/grants/", "invitations/"):
        url = f"{base_url}/api/v1/orgs/{world.org.slug}/{tail}?page_size=1"
        page = requests.get(url, headers=credentials.headers, timeout=30).json()
        if page.get("next"):
            cursors += parse_qs(urlsplit(page["next"]).query)["cursor"]
    assert cursors, "the seed gives every list more than one page of one"
    return cursors


@pytest.fixture(scope="session")
def live_schema(live_server) -> dict:
    response = requests.get(f"{live_server.url}/api/schema/", params={"format": "json"}, timeout=60)
    response.raise_for_status()
    return response.json()


# --- the run -------------------------------------------------------------------------------


def _pick(options: list, seed_value) -> object:
    """One of `options`, chosen by the generated value itself: repeatable, as Hypothesis needs."""
    return options[zlib.crc32(repr(seed_value).encode()) % len(options)]


# The world of the test running now: the check below is registered once, for the process.
_current: dict[str, World] = {}


@schemathesis.check
def no_other_organizations_objects(ctx, response, case):
    """No answer carries an id, slug, name, username or email of organization B's objects,
    unless the request itself sent it (an error may repeat what it was given)."""
    world = _current.get("world")
    if world is None:
        return None
    request = response.request
    body = request.body if isinstance(request.body, str) else (request.body or b"").decode(errors="replace")
    sent = f"{request.url} {body}"
    leaked = sorted(value for value in world.foreign if value in response.text and value not in sent)
    if leaked:
        raise AssertionError(f"The answer carries organization B's {leaked}")
    return None


def run(schema) -> list[str]:
    """Every failure of a run of Schemathesis's engine, as text (with the answer's body)."""
    failures, errors = [], []
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished) and event.status == Status.FAILURE:
            recorder = event.recorder
            for case_id, checks in recorder.checks.items():
                for check in checks:
                    if check.failure_info is None:
                        continue
                    failure, response = check.failure_info.failure, recorder.find_response(case_id=case_id)
                    answer = "" if response is None else f"{response.status_code} {response.content[:300]!r}"
                    failures.append(
                        f"[{check.name}] {failure.title}: {failure.message}\n"
                        f"    {check.failure_info.code_sample[:600]}\n    -> {answer}"
                    )
        elif isinstance(event, events.NonFatalError | events.FatalError):
            errors.append(f"{event.__class__.__name__}: {getattr(event, 'value', event)!r}")
    return sorted(set(failures)) + errors


@pytest.mark.parametrize(("method", "path"), schema_operations(), ids=[f"{m} {p}" for m, p in schema_operations()])
def test_every_operation_passes_every_check(request, live_server, live_schema, world, credentials, method, path):
    world.cursors = _real_cursors(live_server.url, world, credentials)
    if any(part in path for part in BILLING_PATHS):
        # Stripe through the local sandbox, with the example catalogue for sale.
        world.prices = list(request.getfixturevalue("catalogue").values())
    config = SchemathesisConfig.from_dict({**CONFIG, "base-url": live_server.url, "headers": credentials.headers})
    # The whole schema (a check compares the `Allow` header with the path's methods), this operation tested.
    schema = schemathesis.openapi.from_dict(live_schema, config=config).include(method=method, path=path)
    _current["world"] = world

    @schema.hook
    def map_case(context, case):
        meta = case.meta
        if meta is None or not meta.is_negative_at(ParameterLocation.PATH):
            for name, value in case.path_parameters.items():
                if name in world.path_values:
                    case.path_parameters[name] = _pick([value, *world.path_values[name]], value)
        body_positive = meta is None or not meta.is_negative_at(ParameterLocation.BODY)
        if world.prices and body_positive and isinstance(case.body, dict) and isinstance(case.body.get("price"), str):
            case.body["price"] = _pick([case.body["price"], *world.prices], case.body["price"])
        if "cursor" in case.query and (meta is None or not meta.is_negative_at(ParameterLocation.QUERY)):
            case.query["cursor"] = _pick(world.cursors, case.query["cursor"])
        return case

    failures = run(schema)
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(failures)


def test_the_live_schema_is_the_one_tested(live_schema):
    """Every operation the server's schema lists is one the test above runs."""
    live = {(method.upper(), path) for path, ops in live_schema["paths"].items() for method in ops}
    assert live == set(schema_operations())


def test_the_isolation_check_fails_on_another_organizations_id_and_not_on_an_echo(world):
    """The check can fail: an answer naming B's member fails it, unless the request sent that id."""
    member_id = next(value for value in world.path_values["member_id"] if value in world.foreign)
    _current["world"] = world

    def answer(url: str, text: str):
        return SimpleNamespace(request=SimpleNamespace(url=url, body=None), text=text)

    with pytest.raises(AssertionError, match=member_id):
        no_other_organizations_objects(None, answer("http://testserver/api/v1/orgs/alpha/members/", member_id), None)
    echoed = answer(f"http://testserver/api/v1/orgs/alpha/members/{member_id}/", f'{{"detail": "{member_id}"}}')
    assert no_other_organizations_objects(None, echoed, None) is None
