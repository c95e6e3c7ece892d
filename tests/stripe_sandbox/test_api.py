"""The sandbox speaks Stripe's protocol: keys, errors, idempotency, pagination, expand."""

import pytest
import requests
import stripe

from stripe_sandbox import API_VERSION, StripeSandbox
from stripe_sandbox.testing import TEST_API_KEY, stripe_pointed_at
from tests.stripe_sandbox.assertions import assert_stripe_shape


def test_the_global_api_and_a_stripe_client_both_reach_the_sandbox(stripe_sandbox):
    created = stripe.Customer.create(email="global@example.com")

    client = stripe.StripeClient(TEST_API_KEY, base_addresses={"api": stripe_sandbox.url}, stripe_version=API_VERSION)
    fetched = client.v1.customers.retrieve(created.id)

    assert fetched.id == created.id
    assert fetched.email == "global@example.com"


def test_a_request_for_another_api_version_is_400_naming_the_served_one(stripe_sandbox):
    # What the `stripe` library sends unless told otherwise.
    library_default = stripe._api_version._ApiVersion.CURRENT
    assert library_default != API_VERSION
    client = stripe.StripeClient(TEST_API_KEY, base_addresses={"api": stripe_sandbox.url})

    with pytest.raises(stripe.InvalidRequestError) as global_api:
        stripe.Customer.create(email="old@example.com", stripe_version="2024-06-20")
    with pytest.raises(stripe.InvalidRequestError) as default_client:
        client.v1.customers.list()

    assert global_api.value.http_status == 400
    assert global_api.value.user_message.startswith("Invalid Stripe API version: 2024-06-20. ")
    assert f"serves API version {API_VERSION} only" in global_api.value.user_message
    assert default_client.value.user_message.startswith(f"Invalid Stripe API version: {library_default}. ")
    assert global_api.value.headers["Stripe-Version"] == API_VERSION
    assert stripe.Customer.list().data == []


def test_every_response_names_the_served_version(stripe_sandbox):
    created = stripe.Customer.create(email="v@example.com")
    without_header = requests.get(f"{stripe_sandbox.url}/v1/customers", auth=(TEST_API_KEY, ""))
    not_found = requests.get(f"{stripe_sandbox.url}/v1/nothing_here", auth=(TEST_API_KEY, ""))
    control = requests.get(f"{stripe_sandbox.url}/_sandbox/deliveries")

    assert created.last_response.headers["Stripe-Version"] == API_VERSION
    assert [r.headers["Stripe-Version"] for r in (without_header, not_found, control)] == [API_VERSION] * 3
    assert stripe.Event.list().data[0].api_version == API_VERSION


def test_stripe_pointed_at_sets_the_served_version_and_restores_the_librarys(stripe_sandbox_server):
    before = stripe.api_version

    with stripe_pointed_at(stripe_sandbox_server):
        inside = stripe.api_version
        stripe.Customer.list()

    assert (inside, stripe.api_version) == (API_VERSION, before)


def test_a_sandbox_for_another_api_version_cannot_be_made():
    with pytest.raises(ValueError, match=f"serves API version {API_VERSION} only"):
        StripeSandbox(api_version="2026-08-26.dahlia")


def test_the_account_is_a_test_mode_standard_account(stripe_sandbox):
    account = assert_stripe_shape(stripe.Account.retrieve(), "account")

    assert account["id"].startswith("acct_")
    assert account["charges_enabled"] is True
    assert account["settings"]["dashboard"]["display_name"] == "Keel Sandbox"


def test_a_request_without_an_api_key_is_401(stripe_sandbox):
    response = requests.get(f"{stripe_sandbox.url}/v1/customers")

    assert response.status_code == 401
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert "did not provide an API key" in response.json()["error"]["message"]


@pytest.mark.parametrize("key", ["sk_live_" + "x" * 24, "pk_test_" + "x" * 24, "not-a-key"])
def test_keys_other_than_test_secret_or_restricted_keys_are_401(stripe_sandbox, key):
    with pytest.raises(stripe.AuthenticationError) as failure:
        stripe.Customer.list(api_key=key)

    assert failure.value.http_status == 401
    assert failure.value.user_message.startswith("Invalid API Key provided")


def test_restricted_test_keys_and_basic_auth_are_accepted(stripe_sandbox):
    assert stripe.Customer.list(api_key="rk_test_" + "x" * 24).data == []
    response = requests.get(f"{stripe_sandbox.url}/v1/customers", auth=(TEST_API_KEY, ""))
    assert response.status_code == 200


def test_an_unknown_id_is_404_resource_missing(stripe_sandbox):
    with pytest.raises(stripe.InvalidRequestError) as failure:
        stripe.Customer.retrieve("cus_doesnotexist")

    assert failure.value.http_status == 404
    assert failure.value.code == "resource_missing"
    assert failure.value.param == "id"
    assert str(failure.value.user_message) == "No such customer: 'cus_doesnotexist'"


def test_a_missing_required_param_is_400_naming_it(stripe_sandbox):
    product = stripe.Product.create(name="Pro")

    with pytest.raises(stripe.InvalidRequestError) as failure:
        stripe.Price.create(product=product.id, unit_amount=1000)

    assert failure.value.http_status == 400
    assert failure.value.code == "parameter_missing"
    assert failure.value.param == "currency"


def test_bad_values_and_unknown_params_are_400(stripe_sandbox):
    with pytest.raises(stripe.InvalidRequestError) as unknown:
        stripe.Customer.create(emial="typo@example.com")
    with pytest.raises(stripe.InvalidRequestError) as bad_integer:
        stripe.Price.create(product="prod_x", currency="usd", unit_amount="ten")
    with pytest.raises(stripe.InvalidRequestError) as bad_choice:
        stripe.Price.create(
            currency="usd", unit_amount=10, recurring={"interval": "fortnight"}, product_data={"name": "x"}
        )

    assert (unknown.value.param, unknown.value.code) == ("emial", "parameter_unknown")
    assert (bad_integer.value.param, bad_integer.value.http_status) == ("unit_amount", 400)
    assert bad_choice.value.param == "recurring[interval]"


def test_an_unknown_url_is_404(stripe_sandbox):
    response = requests.get(f"{stripe_sandbox.url}/v1/nothing_here", auth=(TEST_API_KEY, ""))

    assert response.status_code == 404
    assert "Unrecognized request URL (GET: /v1/nothing_here)" in response.json()["error"]["message"]


def test_a_stripe_route_the_sandbox_does_not_implement_is_404_unrecognized_url(stripe_sandbox):
    # `search` is one of Stripe's own routes beside `/{id}`, not an id.
    with pytest.raises(stripe.InvalidRequestError) as search:
        stripe.Customer.search(query="email:'ada@example.com'")
    with pytest.raises(stripe.InvalidRequestError) as bare_search:
        stripe.Customer.retrieve("search")
    with pytest.raises(stripe.InvalidRequestError) as preview:
        stripe.CreditNote.preview(invoice="in_doesnotexist")

    assert (search.value.http_status, search.value.code) == (404, None)
    assert search.value.user_message.startswith("Unrecognized request URL (GET: /v1/customers/search). ")
    assert bare_search.value.user_message.startswith("Unrecognized request URL (GET: /v1/customers/search). ")
    assert preview.value.http_status == 404
    assert preview.value.user_message.startswith("Unrecognized request URL (GET: /v1/credit_notes/preview). ")


def test_any_other_word_where_an_id_goes_is_an_unknown_id(stripe_sandbox):
    with pytest.raises(stripe.InvalidRequestError) as failure:
        stripe.Customer.retrieve("searches")

    assert (failure.value.http_status, failure.value.code) == (404, "resource_missing")
    assert failure.value.user_message == "No such customer: 'searches'"


def test_the_same_idempotency_key_and_body_replays_the_first_response(stripe_sandbox):
    first = stripe.Customer.create(email="once@example.com", idempotency_key="signup-42")
    second = stripe.Customer.create(email="once@example.com", idempotency_key="signup-42")

    assert second.id == first.id
    assert second.last_response.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.last_response.headers
    assert [c.id for c in stripe.Customer.list().data] == [first.id]
    assert [e.type for e in stripe.Event.list().data] == ["customer.created"]


def test_the_same_idempotency_key_with_another_body_is_an_idempotency_error(stripe_sandbox):
    stripe.Customer.create(email="first@example.com", idempotency_key="signup-43")

    with pytest.raises(stripe.IdempotencyError) as failure:
        stripe.Customer.create(email="second@example.com", idempotency_key="signup-43")

    assert failure.value.http_status == 400
    assert "signup-43" in failure.value.user_message
    assert len(stripe.Customer.list().data) == 1


def test_lists_paginate_newest_first_with_cursors(stripe_sandbox):
    ids = [stripe.Customer.create(email=f"c{n}@example.com").id for n in range(5)]
    newest_first = ids[::-1]

    first_page = stripe.Customer.list(limit=2)
    second_page = stripe.Customer.list(limit=2, starting_after=first_page.data[-1].id)
    last_page = stripe.Customer.list(limit=2, starting_after=second_page.data[-1].id)
    before = stripe.Customer.list(limit=2, ending_before=last_page.data[0].id)

    assert (first_page.object, first_page.url, first_page.has_more) == ("list", "/v1/customers", True)
    assert [c.id for c in first_page.data] == newest_first[:2]
    assert [c.id for c in second_page.data] == newest_first[2:4]
    assert second_page.has_more is True
    assert ([c.id for c in last_page.data], last_page.has_more) == (newest_first[4:], False)
    assert [c.id for c in before.data] == newest_first[2:4]
    assert [c.id for c in stripe.Customer.list(limit=2).auto_paging_iter()] == newest_first


def test_a_limit_outside_1_to_100_is_rejected(stripe_sandbox):
    with pytest.raises(stripe.InvalidRequestError) as failure:
        stripe.Customer.list(limit=101)

    assert failure.value.param == "limit"


def test_list_filters_select_objects(stripe_sandbox, catalog):
    stripe.Price.modify(catalog.credits.id, active=False)

    active = stripe.Price.list(active=True)
    of_pack = stripe.Price.list(product=catalog.pack.id)
    recurring = stripe.Price.list(type="recurring")

    assert [p.id for p in active.data] == [catalog.monthly.id]
    assert [p.id for p in of_pack.data] == [catalog.credits.id]
    assert [p.id for p in recurring.data] == [catalog.monthly.id]


def test_expand_replaces_ids_with_objects_in_lists_and_nested_paths(stripe_sandbox, subscription):
    prices = stripe.Price.list(expand=["data.product"])
    expanded = stripe.Subscription.retrieve(
        subscription.id, expand=["customer", "latest_invoice.payments.data.payment.payment_intent.latest_charge"]
    )

    assert isinstance(stripe.Price.list().data[0].product, str)
    assert prices.data[0].product.object == "product"
    assert expanded.customer.email == "ada@example.com"
    payment = expanded.latest_invoice.payments.data[0].payment
    assert payment.payment_intent.object == "payment_intent"
    assert payment.payment_intent.latest_charge.paid is True


def test_expanding_inside_a_field_sent_only_when_expanded_leaves_the_stored_objects_alone(stripe_sandbox, catalog):
    session = stripe.checkout.Session.create(mode="payment", line_items=[{"price": catalog.credits.id, "quantity": 1}])

    expanded = stripe.checkout.Session.retrieve(session.id, expand=["line_items.data.price.product"])

    assert expanded.line_items.data[0].price.product.name == "1,000 credits"
    assert stripe.checkout.Session.list_line_items(session.id).data[0].price.product == catalog.pack.id


def test_expanding_a_field_that_is_not_expandable_is_400(stripe_sandbox, subscription):
    # In current API versions the invoice no longer has `payment_intent` (it moved to `payments`).
    with pytest.raises(stripe.InvalidRequestError) as failure:
        stripe.Subscription.retrieve(subscription.id, expand=["latest_invoice.payment_intent"])

    assert failure.value.param == "expand"
    assert "cannot be expanded (latest_invoice.payment_intent)" in failure.value.user_message


def test_the_fields_dj_stripe_expands_on_retrieve_are_served(stripe_sandbox, catalog, customer):
    price = stripe.Price.retrieve(catalog.monthly.id, expand=["currency_options", "product", "tiers"])
    fetched = stripe.Customer.retrieve(customer.id, expand=["default_source", "sources"])

    assert price.currency_options.usd.unit_amount == 2000
    assert price.product.name == "Pro"
    assert price.tiers == []  # not nullable; a per-unit price has no tiers
    assert (fetched.default_source, fetched.sources.data) == (None, [])


def test_metadata_updates_merge_and_an_empty_value_removes_a_key(stripe_sandbox, customer):
    updated = stripe.Customer.modify(customer.id, metadata={"tenant_id": "", "plan": "pro[1]&more"})

    assert updated.metadata.to_dict() == {"plan": "pro[1]&more"}
