"""The sandbox speaks Stripe's protocol: keys, errors, idempotency, pagination, expand."""

import pytest
import requests
import stripe

from stripe_sandbox.testing import TEST_API_KEY
from tests.stripe_sandbox.assertions import assert_stripe_shape


def test_the_global_api_and_a_stripe_client_both_reach_the_sandbox(stripe_sandbox):
    created = stripe.Customer.create(email="global@example.com")

    client = stripe.StripeClient(TEST_API_KEY, base_addresses={"api": stripe_sandbox.url})
    fetched = client.v1.customers.retrieve(created.id)

    assert fetched.id == created.id
    assert fetched.email == "global@example.com"


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
