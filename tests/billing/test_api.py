"""The billing API through real requests, Stripe being the sandbox: the public catalogue, an
organization's plan and invoices, checkout and the portal (session only, billing permission)."""

import pytest
import stripe
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from billing.models import Price, Subscription
from billing.services import subscription_sync
from credits.services.api_keys import api_key_create
from organizations.models import MemberRole
from organizations.services import tenant_create
from tests.factories import InvoiceFactory, LifetimeFactory, SubscriptionFactory, UserFactory
from tests.organizations.conftest import join

pytestmark = pytest.mark.django_db


def session_client(user, **kwargs) -> APIClient:
    client = APIClient(**kwargs)
    client.force_login(user)
    return client


def key_client(member) -> APIClient:
    raw = api_key_create(tenant=member.tenant, user=member.user, name="script")[1]
    return APIClient(HTTP_AUTHORIZATION=f"Bearer {raw}")


def url(member, rest: str) -> str:
    return f"/api/v1/orgs/{member.tenant.slug}/{rest}"


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code and body["detail"], body
    return body


@pytest.fixture
def api(owner):
    return session_client(owner.user)


@pytest.fixture
def plain_member(owner):
    """A member of the owner's organization without the billing permission."""
    return join(owner.tenant, role=MemberRole.MEMBER)


@pytest.fixture
def outsider(db):
    user = UserFactory(username="mallory")
    tenant_create(owner=user, name="Mallory Inc", slug="mallory-inc")
    return user


# GET /api/v1/prices/


def test_the_catalogue_is_public_and_lists_what_checkout_sells(catalogue):
    anonymous = APIClient().get("/api/v1/prices/")
    with_a_bad_key = APIClient(HTTP_AUTHORIZATION="Bearer keel_nope.nope").get("/api/v1/prices/")

    assert anonymous.status_code == 200 and with_a_bad_key.status_code == 200
    body = anonymous.json()
    assert [row["price"] for row in body] == [row["price"] for row in with_a_bad_key.json()]
    assert sorted(row["price"] for row in body) == sorted(catalogue.values())
    monthly = next(row for row in body if row["price"] == catalogue["keel_pro_monthly"])
    assert monthly == {
        "price": catalogue["keel_pro_monthly"],
        "plan_id": "pro",
        "kind": "subscription",
        "credits": 5000,
        "unit_amount": 2900,
        "currency": "usd",
        "interval": "month",
        "interval_count": 1,
        "product_name": "Pro",
        "product_description": "For teams: 5,000 credits a month, spent before packs.",
    }
    pack = next(row for row in body if row["price"] == catalogue["keel_credits_1000"])
    assert (pack["kind"], pack["credits"], pack["interval"], pack["interval_count"]) == ("credits", 1000, "", None)
    assert [row["unit_amount"] for row in body] == sorted(row["unit_amount"] for row in body)


# GET /api/v1/orgs/{slug}/subscription/


def test_the_plan_of_an_organization_without_purchases_is_free(api, owner):
    response = api.get(url(owner, "subscription/"))

    assert response.status_code == 200
    assert response.json() == {
        "kind": "free",
        "plan_id": "free",
        "status": "active",
        "past_due": False,
        "cancel_at_period_end": False,
        "renews_at": None,
        "ends_at": None,
        "price": None,
        "amount": None,
        "currency": None,
        "interval": None,
    }


def test_the_plan_is_the_subscription_for_any_member_and_the_organizations_key(owner, plain_member):
    subscription = SubscriptionFactory(
        tenant=owner.tenant,
        status="past_due",
        provider_price_id="price_pro",
        raw_data={"items": {"data": [{"price": {"recurring": {"interval": "month"}}}]}},
    )

    by_member = session_client(plain_member.user).get(url(owner, "subscription/"))
    by_key = key_client(owner).get(url(owner, "subscription/"))

    assert by_member.status_code == by_key.status_code == 200
    assert by_member.json() == by_key.json()
    body = by_member.json()
    assert (body["kind"], body["plan_id"], body["status"]) == ("subscription", "pro", "past_due")
    assert body["past_due"] is True
    assert (body["renews_at"], body["price"], body["amount"], body["interval"]) == (
        subscription.current_period_end,
        "price_pro",
        1900,
        "month",
    )


def test_a_lifetime_deal_is_the_plan(api, owner):
    LifetimeFactory(tenant=owner.tenant, provider_price_id="price_life")

    body = api.get(url(owner, "subscription/")).json()

    assert (body["kind"], body["plan_id"], body["price"]) == ("lifetime", "lifetime", "price_life")
    assert body["amount"] == 29900


@pytest.mark.parametrize("rest", ["subscription/", "invoices/"])
def test_another_organizations_plan_and_invoices_are_404(owner, outsider, rest):
    SubscriptionFactory(tenant=owner.tenant)
    InvoiceFactory(tenant=owner.tenant)

    response = session_client(outsider).get(url(owner, rest))

    assert_error(response, 404, "not_found")


# GET /api/v1/orgs/{slug}/invoices/


def test_invoices_are_the_paid_ones_newest_first_paginated(api, owner):
    older = InvoiceFactory(
        tenant=owner.tenant,
        paid_at=1_700_000_000_000,
        invoice_pdf="https://pdf/1",
        hosted_invoice_url="https://inv/1",
        raw_data={"number": "AE-0001"},
    )
    newer = InvoiceFactory(tenant=owner.tenant, paid_at=1_700_000_100_000, billing_reason="subscription_cycle")
    InvoiceFactory(tenant=owner.tenant, paid_at=None)

    first = api.get(url(owner, "invoices/"), {"page_size": 1}).json()
    second = api.get(first["next"]).json()

    assert [row["id"] for row in first["results"] + second["results"]] == [str(newer.pk), str(older.pk)]
    assert second["next"] is None
    assert second["results"][0] == {
        "id": str(older.pk),
        "number": "AE-0001",
        "plan_id": "pro",
        "amount": 1900,
        "currency": "usd",
        "billing_reason": "subscription_create",
        "paid_at": 1_700_000_000_000,
        "hosted_invoice_url": "https://inv/1",
        "invoice_pdf": "https://pdf/1",
    }


def test_the_invoice_list_costs_the_same_queries_for_5_or_100_invoices(owner, django_assert_max_num_queries):
    api = APIClient()
    api.force_authenticate(owner.user)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert api.get(url(owner, "invoices/")).status_code == 200
        return len(queries)

    InvoiceFactory.create_batch(5, tenant=owner.tenant)
    small = count()
    InvoiceFactory.create_batch(95, tenant=owner.tenant)
    large = count()

    assert small == large
    with django_assert_max_num_queries(2):  # the membership, the page
        api.get(url(owner, "invoices/"))


# POST /api/v1/orgs/{slug}/checkout/


def test_checkout_starts_a_stripe_session_for_the_organization(api, owner, catalogue, settings):
    settings.SITE_URL = "https://keel.example"

    response = api.post(url(owner, "checkout/"), {"price": catalogue["keel_credits_1000"]}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["kind"] == "credits" and body["id"].startswith("cs_") and body["url"].startswith("http")
    session = stripe.checkout.Session.retrieve(body["id"])
    assert session.metadata["keel_tenant_id"] == str(owner.tenant_id)
    assert session.success_url == (
        f"https://keel.example/o/{owner.tenant.slug}/billing/success/?session_id={{CHECKOUT_SESSION_ID}}"
    )
    assert session.cancel_url == f"https://keel.example/o/{owner.tenant.slug}/billing/cancel/"


def test_a_custom_member_with_the_billing_permission_can_buy(owner, catalogue):
    buyer = join(owner.tenant, role=MemberRole.CUSTOM, permissions=["manage_billing"])

    response = session_client(buyer.user).post(
        url(owner, "checkout/"), {"price": catalogue["keel_lifetime"], "kind": "lifetime"}, format="json"
    )

    assert response.status_code == 201 and response.json()["kind"] == "lifetime"


def test_another_subscription_plan_is_a_plan_change_with_nothing_to_visit(api, owner, catalogue, stripe_sandbox):
    started = api.post(url(owner, "checkout/"), {"price": catalogue["keel_starter_monthly"]}, format="json").json()
    stripe_sandbox.complete_checkout(started["id"])
    subscription_sync(stripe.checkout.Session.retrieve(started["id"]).subscription)  # no webhooks here

    response = api.post(
        url(owner, "checkout/"), {"price": catalogue["keel_pro_monthly"], "kind": "subscription"}, format="json"
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["kind"], body["url"]) == ("upgrade", None)
    assert body["id"] == Subscription.objects.get(tenant=owner.tenant).provider_subscription_id


def test_a_member_without_the_billing_permission_cannot_buy(plain_member, catalogue):
    response = session_client(plain_member.user).post(
        url(plain_member, "checkout/"), {"price": catalogue["keel_credits_1000"]}, format="json"
    )

    assert_error(response, 403, "permission_denied")


def test_checkout_refuses_api_keys_even_the_organizations_owners(owner, catalogue):
    response = key_client(owner).post(url(owner, "checkout/"), {"price": catalogue["keel_credits_1000"]}, format="json")

    assert_error(response, 401, "api_key_not_allowed")
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert not stripe.checkout.Session.list().data


def test_checkout_in_another_organization_is_404_before_anything_is_read(outsider, owner, catalogue):
    response = session_client(outsider).post(url(owner, "checkout/"), {"price": "not even valid"}, format="json")

    assert_error(response, 404, "not_found")


def test_a_session_without_its_csrf_token_cannot_buy(owner, catalogue):
    client = session_client(owner.user, enforce_csrf_checks=True)

    response = client.post(url(owner, "checkout/"), {"price": catalogue["keel_credits_1000"]}, format="json")

    assert_error(response, 403, "permission_denied")


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"price": "price_doesnotexist"}, 404, "price_unavailable"),
        ({"price": ""}, 400, "blank"),
        ({}, 400, "required"),
        ({"price": "keel_credits_1000", "kind": "subscription"}, 400, "price_kind_mismatch"),
        ({"price": "keel_credits_1000", "kind": "forever"}, 400, "invalid_choice"),
    ],
)
def test_checkout_refuses_bad_prices(api, owner, catalogue, body, status, code):
    body = {key: catalogue.get(value, value) for key, value in body.items()}

    response = api.post(url(owner, "checkout/"), body, format="json")

    error = assert_error(response, status, code)
    assert list(error.get("errors", {})) in ([], ["price"], ["kind"])


def test_an_archived_price_is_not_for_sale(api, owner, catalogue):
    Price.objects.filter(provider_price_id=catalogue["keel_pro_yearly"]).update(active=False)

    response = api.post(url(owner, "checkout/"), {"price": catalogue["keel_pro_yearly"]}, format="json")

    assert_error(response, 404, "price_unavailable")


def test_the_lifetime_deal_once_and_the_same_plan_twice_are_conflicts(api, owner, catalogue):
    LifetimeFactory(tenant=owner.tenant)
    SubscriptionFactory(tenant=owner.tenant, provider_price_id=catalogue["keel_starter_monthly"])

    lifetime = api.post(url(owner, "checkout/"), {"price": catalogue["keel_lifetime"]}, format="json")
    same_plan = api.post(url(owner, "checkout/"), {"price": catalogue["keel_starter_monthly"]}, format="json")

    assert_error(lifetime, 409, "lifetime_owned")
    assert_error(same_plan, 409, "already_on_plan")


def test_without_stripe_keys_checkout_is_unavailable(api, owner, catalogue, settings):
    settings.STRIPE_TEST_SECRET_KEY = ""

    response = api.post(url(owner, "checkout/"), {"price": catalogue["keel_credits_1000"]}, format="json")

    assert_error(response, 503, "billing_unavailable")


# POST /api/v1/orgs/{slug}/billing-portal/


def test_the_portal_is_a_link_back_to_the_billing_page(api, owner, catalogue, settings, stripe_sandbox):
    settings.SITE_URL = "https://keel.example"

    response = api.post(url(owner, "billing-portal/"))

    assert response.status_code == 200, response.content
    portal_url = response.json()["url"]
    session = stripe_sandbox.store.get(portal_url.rstrip("/").rsplit("/", 1)[1], "billing_portal.session")
    assert portal_url.startswith(stripe_sandbox.url)
    assert session["return_url"] == f"https://keel.example/o/{owner.tenant.slug}/billing/"
    assert session["customer"] == owner.user.provider_customers.get().customer_id


def test_the_portal_needs_the_billing_permission(plain_member, catalogue):
    assert_error(session_client(plain_member.user).post(url(plain_member, "billing-portal/")), 403, "permission_denied")


def test_the_portal_refuses_api_keys(owner, catalogue):
    assert_error(key_client(owner).post(url(owner, "billing-portal/")), 401, "api_key_not_allowed")


def test_the_portal_of_another_organization_is_404(outsider, owner, catalogue):
    assert_error(session_client(outsider).post(url(owner, "billing-portal/")), 404, "not_found")
