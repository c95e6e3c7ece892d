import pytest
from django.test import Client

from credits.models import CreditTransaction, IdempotencyKey
from credits.services import api_key_create, credits_consume
from organizations.models import TenantMemberCreditLimit
from tests.credits.conftest import consume, url
from tests.credits.helpers import add_member, assert_invariants, give, make_org, owed
from tests.cursors import BAD_CURSORS, forged_cursor

pytestmark = pytest.mark.django_db


def key_client(tenant, user):
    _api_key, raw_key = api_key_create(tenant=tenant, user=user, name="k")
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw_key}")


def assert_error(response, status: int, code: str):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) >= {"code", "detail"} and body["code"] == code and body["detail"]


# -- balance ----------------------------------------------------------------


def test_balance_grants_and_member_usage(org, api):
    member = add_member(org, credit_limit=50)
    top = give(org, 30, priority=90)
    plain = give(org, 20)
    give(org, 99, expires_at=1, effective_at=0, now=0)  # long expired: not listed
    credits_consume(tenant=org, user=member, amount=5)

    body = api.get(url(org)).json()

    assert body["balance"] == 45 and body["overdraft"] == 0
    assert [g["id"] for g in body["grants"]] == [str(top.pk), str(plain.pk)]
    assert (
        body["grants"][0] | {"remaining_credits": 25, "total_credits": 30, "priority": 90, "state": "active"}
        == body["grants"][0]
    )
    assert body["member"] == {"credit_limit": -1, "used_credits": 0}  # the key acts as the owner
    as_member = key_client(org, member).get(url(org)).json()
    assert as_member["member"] == {"credit_limit": 50, "used_credits": 5}


def test_balance_is_spendable_now_minus_overdraft(api):
    tenant = api.api_key.tenant
    tenant.overdraft_enabled, tenant.overdraft_limit = True, 100
    tenant.save()
    credits_consume(tenant=tenant, user=tenant.owner, amount=40)
    body = api.get(url(tenant)).json()
    assert (body["balance"], body["overdraft"], body["grants"]) == (-40, 40, [])


def test_signed_in_member_reads_the_balance_with_the_session(org, client):
    give(org, 12)
    client.force_login(org.owner)
    assert client.get(url(org)).json()["balance"] == 12


# -- consume ----------------------------------------------------------------


def test_consume_returns_201_with_the_ledger_rows(org, api):
    grant = give(org, 10)

    response = consume(api, org, {"amount": 4, "description": "thumbnail"})

    assert response.status_code == 201
    body = response.json()
    assert (body["consumed"], body["balance"], body["overdraft"]) == (4, 6, 0)
    (tx,) = body["transactions"]
    assert tx | {"type": "deduct", "credits": -4, "credit": str(grant.pk), "description": "thumbnail"} == tx
    assert tx["user"] == str(org.owner.pk) and tx["username"] == org.owner.username
    assert "Idempotent-Replayed" not in response.headers
    assert_invariants(org)


def test_same_key_replays_the_same_response_and_changes_nothing(org, api):
    give(org, 10)
    first = consume(api, org, {"amount": 4, "description": "x"})
    credits_consume(tenant=org, user=org.owner, amount=1)  # the balance moves on meanwhile

    again = consume(api, org, {"amount": 4, "description": "x"})

    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert CreditTransaction.objects.filter(type="deduct").count() == 2
    assert_invariants(org)


def test_same_key_with_a_different_body_is_409(org, api):
    give(org, 10)
    consume(api, org, {"amount": 4})
    assert_error(consume(api, org, {"amount": 5}), 409, "idempotency_conflict")
    assert CreditTransaction.objects.filter(type="deduct").count() == 1


def test_not_enough_credits_is_402_and_writes_nothing(org, api):
    give(org, 3)
    assert_error(consume(api, org, {"amount": 4}), 402, "insufficient_credits")
    assert not CreditTransaction.objects.filter(type="deduct").exists()
    assert not IdempotencyKey.objects.exists()


def test_over_the_member_limit_is_403(org):
    member = add_member(org, credit_limit=5)
    give(org, 100)
    client = key_client(org, member)
    assert consume(client, org, {"amount": 5}, key="a").status_code == 201
    assert_error(consume(client, org, {"amount": 1}, key="b"), 403, "member_credit_limit_exceeded")
    assert TenantMemberCreditLimit.objects.get(tenant=org, user=member).used_credits == 5


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"amount": 0}, "invalid_amount"),
        ({"amount": -3}, "invalid_amount"),
        ({"amount": 2.5}, "invalid_amount"),
        ({"amount": "2.0"}, "invalid_amount"),
        ({"amount": "ten"}, "invalid_amount"),
        ({"amount": True}, "invalid_amount"),
        ({"amount": None}, "null"),
        ({"amount": 2**31}, "invalid_amount"),
        ({}, "required"),
        ({"amount": 1, "description": "x" * 1001}, "max_length"),
    ],
)
def test_bad_amounts_are_400_and_write_nothing(org, api, body, code):
    give(org, 10)
    response = consume(api, org, body)
    assert_error(response, 400, code)
    assert not CreditTransaction.objects.filter(type="deduct").exists()


def test_a_whole_number_as_a_string_is_accepted(org, api):
    give(org, 10)
    response = consume(api, org, {"amount": "3"})
    assert response.status_code == 201 and response.json()["consumed"] == 3


def test_a_form_encoded_body_is_415_and_spends_nothing(org, api):
    give(org, 10)
    response = api.post(url(org, "consume/"), {"amount": "3"}, HTTP_IDEMPOTENCY_KEY="form")
    assert_error(response, 415, "unsupported_media_type")
    assert not CreditTransaction.objects.filter(type="deduct").exists()


@pytest.mark.parametrize(
    ("key", "code"),
    [(None, "idempotency_key_required"), ("  ", "idempotency_key_required"), ("k" * 256, "invalid_idempotency_key")],
)
def test_the_idempotency_key_is_required_and_bounded(org, api, key, code):
    give(org, 10)
    assert_error(consume(api, org, {"amount": 1}, key=key), 400, code)
    assert not CreditTransaction.objects.filter(type="deduct").exists()


def test_overdraft_through_the_api(api):
    tenant = api.api_key.tenant
    tenant.overdraft_enabled, tenant.overdraft_limit = True, 10
    tenant.save()
    give(tenant, 5)
    body = consume(api, tenant, {"amount": 12}).json()
    assert [t["type"] for t in body["transactions"]] == ["deduct", "deduct:overdraft"]
    assert (body["balance"], body["overdraft"]) == (-7, 7)
    assert_error(consume(api, tenant, {"amount": 4}, key="2"), 402, "insufficient_credits")
    assert owed(tenant) == 7


# -- isolation --------------------------------------------------------------

ROUTES = [("get", ""), ("get", "transactions/"), ("get", "grants/"), ("post", "consume/")]


@pytest.mark.parametrize(("method", "tail"), ROUTES)
def test_another_organization_gets_404(org, method, tail):
    give(org, 10)
    outsider_org = make_org()
    session = Client()
    session.force_login(outsider_org.owner)
    foreign_key = key_client(outsider_org, outsider_org.owner)

    for client in (session, foreign_key):
        response = getattr(client, method)(
            url(org, tail), {"amount": 1}, content_type="application/json", HTTP_IDEMPOTENCY_KEY="x"
        )
        assert_error(response, 404, "not_found")
    assert not CreditTransaction.objects.filter(type="deduct").exists()


@pytest.mark.parametrize(("method", "tail"), ROUTES)
def test_no_credentials_get_401_with_a_bearer_challenge(org, method, tail):
    response = getattr(Client(), method)(url(org, tail))
    assert_error(response, 401, "not_authenticated")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_session_posts_need_csrf(org):
    give(org, 10)
    client = Client(enforce_csrf_checks=True)
    client.force_login(org.owner)
    assert_error(consume(client, org, {"amount": 1}), 403, "permission_denied")
    assert not CreditTransaction.objects.filter(type="deduct").exists()


# -- transactions -----------------------------------------------------------


def test_transactions_newest_first_and_paginated(org, api):
    give(org, 1_000, now=1_000)
    for i in range(5):
        credits_consume(tenant=org, user=org.owner, amount=1, description=f"n{i}", now=2_000 + i)

    page = api.get(url(org, "transactions/"), {"page_size": 2}).json()
    assert [t["description"] for t in page["results"]] == ["n4", "n3"]
    page2 = api.get(page["next"]).json()
    assert [t["description"] for t in page2["results"]] == ["n2", "n1"]
    page3 = api.get(page2["next"]).json()
    assert [t["type"] for t in page3["results"]] == ["deduct", "add:purchase"] and page3["next"] is None


def test_transactions_filter_by_type_member_and_time(org, api):
    member = add_member(org)
    give(org, 100, now=1_000)
    credits_consume(tenant=org, user=member, amount=3, now=2_000)
    credits_consume(tenant=org, user=org.owner, amount=4, now=3_000)
    credits_consume(tenant=org, user=member, amount=5, now=4_000)

    def credits(**params):
        return [t["credits"] for t in api.get(url(org, "transactions/"), params).json()["results"]]

    assert credits(type="add:purchase") == [100]
    assert credits(type=["add:purchase", "deduct"], member=str(org.owner.pk)) == [-4, 100]
    assert credits(member=str(member.pk)) == [-5, -3]
    assert credits(created_after=2_000, created_before=4_000) == [-4, -3]
    assert_error(api.get(url(org, "transactions/"), {"type": "steal"}), 400, "invalid_choice")
    assert_error(api.get(url(org, "transactions/"), {"created_after": "soon"}), 400, "invalid")


def test_a_member_sees_only_their_own_transactions(org):
    member = add_member(org)
    give(org, 100)
    credits_consume(tenant=org, user=member, amount=3)
    credits_consume(tenant=org, user=org.owner, amount=4)
    client = key_client(org, member)

    rows = client.get(url(org, "transactions/")).json()["results"]

    assert [(t["user"], t["credits"]) for t in rows] == [(str(member.pk), -3)]
    assert_error(client.get(url(org, "transactions/"), {"member": str(org.owner.pk)}), 403, "permission_denied")


def test_view_all_usage_permission_sees_everyone(org):
    auditor = add_member(org, role="custom", permissions=["view_all_usage"])
    give(org, 100)
    credits_consume(tenant=org, user=org.owner, amount=4)
    rows = key_client(org, auditor).get(url(org, "transactions/")).json()["results"]
    assert sorted(t["credits"] for t in rows) == [-4, 100]


@pytest.mark.parametrize("history", [5, 300])
def test_transactions_list_query_count_does_not_grow(org, api, history, django_assert_max_num_queries):
    members = [add_member(org) for _ in range(10)]
    give(org, 10_000)
    CreditTransaction.objects.bulk_create(
        CreditTransaction(tenant=org, user=members[i % 10], credits=-1, type="deduct", created_at=i)
        for i in range(history)
    )
    api.get(url(org))  # the key's first use records last_used_at; later requests within a minute write nothing
    # key lookup, membership, ledger page (users joined)
    with django_assert_max_num_queries(3):
        response = api.get(url(org, "transactions/"), {"page_size": 200})
    assert response.status_code == 200 and len(response.json()["results"]) == min(history + 1, 200)


@pytest.mark.parametrize("tail", ["transactions/", "grants/"])
@pytest.mark.parametrize("cursor", BAD_CURSORS)
def test_a_forged_cursor_is_a_400_invalid_cursor(org, api, tail, cursor):
    give(org, 10)

    response = api.get(url(org, tail), {"cursor": cursor})

    assert_error(response, 400, "invalid_cursor")
    assert set(response.json()["errors"]) == {"cursor"}


def test_a_cursor_position_at_the_ends_of_bigint_is_a_page(org, api):
    give(org, 10)
    assert len(api.get(url(org, "transactions/"), {"cursor": forged_cursor(f"p={2**63 - 1}")}).json()["results"]) == 1
    assert api.get(url(org, "grants/"), {"cursor": forged_cursor(f"p={-(2**63)}")}).json()["results"] == []


# -- grants -----------------------------------------------------------------


def test_grants_list_every_grant_with_its_state(org, api):
    active = give(org, 10, now=1_000, effective_at=1_000)
    used = give(org, 5, now=2_000, effective_at=2_000)
    credits_consume(tenant=org, user=org.owner, amount=15, now=3_000)
    expired = give(org, 5, now=4_000, effective_at=4_000, expires_at=5_000)
    scheduled = give(org, 5, now=6_000, effective_at=4_000_000_000_000)

    rows = api.get(url(org, "grants/")).json()["results"]

    assert [(r["id"], r["state"]) for r in rows] == [
        (str(scheduled.pk), "scheduled"),
        (str(expired.pk), "expired"),
        (str(used.pk), "used"),
        (str(active.pk), "used"),
    ]
    assert "raw_data" not in rows[0] and "provider_customer_id" not in rows[0]


# -- schema -----------------------------------------------------------------


def test_the_credits_api_is_in_the_openapi_schema(client):
    schema = client.get("/api/schema/", {"format": "json"}).json()
    for path in ["", "consume/", "transactions/", "grants/"]:
        assert f"/api/v1/orgs/{{slug}}/credits/{path}" in schema["paths"]
    consume_op = schema["paths"]["/api/v1/orgs/{slug}/credits/consume/"]["post"]
    assert {p["name"] for p in consume_op["parameters"]} >= {"slug", "Idempotency-Key"}
    assert {"201", "400", "402", "403", "404", "409"} <= set(consume_op["responses"])
    assert {"ApiKey": []} in consume_op["security"]
    assert schema["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"
    assert client.get("/api/docs/").status_code == 200
