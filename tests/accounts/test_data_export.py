"""'Your data': the user downloads everything Keel holds about them as one JSON file
(docs/accounts.md), theirs only, with no secret in it, at a cost that does not grow with their
organizations."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import EmailType, SignupVia, UserEmailPreference
from core.time import ms_to_datetime, now_ms
from credits.models import CreditTransaction, TransactionType
from organizations.models import MemberRole, Tenant, TenantMember, TenantMemberCreditLimit
from organizations.selectors import invitation_token_hash
from tests import factories

pytestmark = pytest.mark.django_db

EXPORT = "/accounts/export/"
SECTIONS = [
    "format",
    "exported_at",
    "account",
    "emails",
    "email_preferences",
    "linked_accounts",
    "memberships",
    "credit_transactions",
    "api_keys",
    "invoices",
]


def download(client):
    """POST the export; the response and the document it streams (the bytes, then parsed)."""
    response = client.post(EXPORT)
    assert response.status_code == 200, response.content
    body = b"".join(response.streaming_content)
    return response, body, json.loads(body)


def member_of(tenant, user, *, role=MemberRole.MEMBER, credit_limit=-1, used=0, permissions=()):
    TenantMember.objects.create(tenant=tenant, user=user, role=role, permissions=list(permissions))
    TenantMemberCreditLimit.objects.create(tenant=tenant, user=user, credit_limit=credit_limit, used_credits=used)


@pytest.fixture
def world(db):
    """ada owns "ada-home" and is a custom member of olivia's "acme"; bob shares both with her,
    with his own addresses, ledger rows, keys and a Stripe customer."""
    ada = factories.UserFactory(username="ada", email="ada@example.com", first_name="Ada", last_name="Lovelace")
    factories.UserEmailFactory(user=ada, email="ada@gmail.example", via=SignupVia.GOOGLE)
    UserEmailPreference.objects.create(user=ada, email_type=EmailType.MARKETING, subscribed=False)
    factories.UserProviderCustomerFactory(user=ada, customer_id="cus_ada")
    bob = factories.UserFactory(username="bob", email="bob@example.com", first_name="Bob")
    factories.UserProviderCustomerFactory(user=bob, customer_id="cus_bob")
    olivia = factories.UserFactory(username="olivia")

    home = factories.TenantFactory(name="Ada home", slug="ada-home", owner=ada, is_default=True)
    member_of(home, ada, role=MemberRole.OWNER)
    member_of(home, bob, credit_limit=50, used=7)
    acme = factories.TenantFactory(name="Acme", slug="acme", owner=olivia)
    member_of(acme, olivia, role=MemberRole.OWNER)
    member_of(acme, ada, role=MemberRole.CUSTOM, credit_limit=30, used=12, permissions=["view_all_usage"])
    member_of(acme, bob)

    for tenant in (home, acme):
        for who, description in ((ada, "ada's job"), (bob, "bob's job")):
            factories.CreditTransactionFactory(
                credit=factories.CreditFactory(tenant=tenant, user=who), credits=-3, description=description
            )
    key = factories.ApiKeyFactory(tenant=acme, user=ada, name="ada laptop", hashed_key="sha512$$ada-secret-hash")
    factories.ApiKeyFactory(tenant=acme, user=bob, name="bob server", hashed_key="sha512$$bob-secret-hash")
    factories.InvoiceFactory(tenant=home, user=ada, provider_invoice_id="in_home", amount=1900)
    factories.InvoiceFactory(tenant=acme, user=olivia, provider_invoice_id="in_acme", amount=4900)
    factories.TenantInvitationFactory(tenant=home, token=invitation_token_hash("invitation-secret"))
    return {"ada": ada, "bob": bob, "home": home, "acme": acme, "key": key}


def test_the_account_page_offers_the_download_as_a_post(client, world):
    client.force_login(world["ada"])
    page = client.get("/accounts/").content.decode()
    assert f'<form method="post" action="{EXPORT}">' in page and "Download your data (JSON)" in page
    assert client.get(EXPORT).status_code == 200  # the page alone (where a refusal is shown)


def test_the_export_is_one_json_attachment_never_cached(client, world):
    client.force_login(world["ada"])

    response, _, document = download(client)

    today = ms_to_datetime(now_ms()).date().isoformat()
    assert response["Content-Disposition"] == f'attachment; filename="keel-export-ada-{today}.json"'
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]
    assert list(document) == SECTIONS
    assert document["format"] == "keel-export/1"


def test_the_export_holds_every_section_of_the_user(client, world):
    ada = world["ada"]
    client.force_login(ada)

    _, _, document = download(client)

    account = document["account"]
    assert (account["id"], account["username"], account["first_name"], account["last_name"]) == (
        str(ada.pk),
        "ada",
        "Ada",
        "Lovelace",
    )
    assert account["has_password"] is True and account["created_at"] == ada.created_at
    assert [(e["email"], e["verified"], e["primary"]) for e in document["emails"]] == [
        ("ada@example.com", True, True),
        ("ada@gmail.example", True, False),
    ]
    assert document["email_preferences"] == {"marketing": False, "product_updates": True, "payment_receipts": True}
    assert [g["email"] for g in document["linked_accounts"]["google"]] == ["ada@gmail.example"]
    assert [(c["provider"], c["customer_id"]) for c in document["linked_accounts"]["payment_customers"]] == [
        ("stripe", "cus_ada")
    ]
    memberships = {m["organization"]["slug"]: m for m in document["memberships"]}
    assert memberships["ada-home"]["role"] == "owner" and memberships["ada-home"]["organization"]["personal"]
    assert {k: memberships["acme"][k] for k in ("role", "permissions", "credit_limit", "used_credits")} == {
        "role": "custom",
        "permissions": ["view_all_usage"],
        "credit_limit": 30,
        "used_credits": 12,
    }
    assert sorted((t["organization"], t["credits"], t["description"]) for t in document["credit_transactions"]) == [
        ("acme", -3, "ada's job"),
        ("ada-home", -3, "ada's job"),
    ]
    [key] = document["api_keys"]
    assert (key["organization"], key["name"], key["prefix"]) == ("acme", "ada laptop", world["key"].prefix)
    # Invoices of the organizations she owns: her home, not Acme where she is a member.
    [invoice] = document["invoices"]
    assert {k: invoice[k] for k in ("organization", "provider_invoice_id", "amount", "currency", "status")} == {
        "organization": "ada-home",
        "provider_invoice_id": "in_home",
        "amount": 1900,
        "currency": "usd",
        "status": "paid",
    }


def test_nothing_of_anyone_else_and_no_secret(client, world):
    ada = world["ada"]
    client.force_login(ada)

    _, body, _ = download(client)
    text = body.decode()

    # Bob shares both organizations with her: none of his data.
    for his in ("bob", "cus_bob", "bob's job", "bob server", "in_acme", "olivia"):
        assert his not in text, his
    # No password hash, key hash, token or session.
    ada.refresh_from_db()
    for secret in (ada.password, "argon2", "sha512$$", "ada-secret-hash", "invitation-secret", "hashed_key"):
        assert secret not in text, secret
    assert invitation_token_hash("invitation-secret") not in text
    assert client.session.session_key not in text


def test_the_ledger_is_streamed_in_chunks_whole_and_in_order(client, world, monkeypatch):
    ada, home = world["ada"], world["home"]
    credit = factories.CreditFactory(tenant=home, user=ada)
    start = now_ms() - 10_000_000
    CreditTransaction.objects.bulk_create(
        CreditTransaction(
            user=ada, tenant=home, credit=credit, credits=-1, type=TransactionType.DEDUCT, created_at=start + n
        )
        for n in range(1_200)
    )
    monkeypatch.setattr("accounts.exports.CHUNK_ITEMS", 500)
    client.force_login(ada)

    response = client.post(EXPORT)
    chunks = list(response.streaming_content)
    document = json.loads(b"".join(chunks))

    rows = document["credit_transactions"]
    assert len(rows) == 1_202
    assert [r["created_at"] for r in rows] == sorted(r["created_at"] for r in rows)
    # Written 500 rows at a time, not as one block.
    assert sum(chunk.count(b'"type": "deduct"') == 500 for chunk in chunks) == 2


def test_the_query_count_does_not_grow_with_memberships(client, world):
    ada = world["ada"]
    client.force_login(ada)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            download(client)
        return len(captured)

    assert TenantMember.objects.filter(user=ada).count() == 2
    download(client)  # the rate limit's counter exists from now on, as it will for the second count
    small = queries()
    owner = factories.UserFactory(username="owner")
    for n in range(18):
        owned = n % 2 == 0
        tenant = Tenant.objects.create(name=f"Org {n}", slug=f"org-{n}", owner=ada if owned else owner)
        member_of(tenant, ada, role=MemberRole.OWNER if owned else MemberRole.MEMBER, credit_limit=n)
        factories.CreditTransactionFactory(credit=factories.CreditFactory(tenant=tenant, user=ada))
        factories.ApiKeyFactory(tenant=tenant, user=ada)
        factories.InvoiceFactory(tenant=tenant, user=ada)
    assert TenantMember.objects.filter(user=ada).count() == 20

    large = queries()

    assert large == small
    # The session and the user (2); the rate limit's counter in the database cache (12 statements:
    # the add that finds the key and the increment, each with its culling count and savepoint); one query per
    # section read (8: emails, preferences, Google addresses, payment customers, memberships,
    # the ledger on its cursor, keys, invoices).
    assert large <= 22


def test_downloads_are_rate_limited_with_a_clear_message(client, world, settings):
    settings.ACCOUNT_EXPORT_LIMIT_PER_HOUR = 2
    client.force_login(world["ada"])
    download(client)
    download(client)

    refused = client.post(EXPORT)

    assert refused.status_code == 429
    assert "Too many requests. Try again in" in refused.content.decode()
    assert "Content-Disposition" not in refused


def test_signed_out_or_by_get_nothing_is_downloaded(client, world):
    response = client.post(EXPORT)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    client.force_login(world["ada"])
    assert "Content-Disposition" not in client.get(EXPORT)


def test_support_impersonating_the_user_cannot_download_their_data(client, world):
    staff = factories.UserFactory(username="sam", role="owner")
    client.force_login(staff)
    client.post("/admin/accounts/user/impersonate/", {"user_pk": str(world["ada"].pk)})

    refused = client.post(EXPORT)

    assert refused.status_code == 403
    assert "Content-Disposition" not in refused
