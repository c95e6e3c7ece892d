"""Injection: every name and description a person can choose, shown on every page and in every
email, is escaped; nothing chosen reaches an email header unflattened.

The names (user names, the organization's, a member's, an API key's, ledger descriptions, a
staff grant's reason, plan names and descriptions from Stripe) are set to markup; every page
a member can open (every GET of the route list, routes.py) must show it escaped, never as
markup, and every email (HTML part) the same; subjects are one line whatever a name holds.
"""

import re

import pytest
from django.core import mail
from django.test import Client

from accounts.emails import email_send
from billing.emails import payment_failed_send, receipt_send
from credits.services.api_keys import api_key_create
from organizations import services
from organizations.models import MemberRole
from tests import factories
from tests.organizations.conftest import join, membership
from tests.security.routes import PUBLIC, TENANT, USER, fill, routes_of

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(2)>'
ATTR = "' onmouseover='alert(3)"
HEADER = "Acme\r\nBcc: victim@evil.example"
MARKUP = [SCRIPT, IMG]
# What must never appear in a page or an HTML email: the markup, as markup.
DANGEROUS = ["<script>alert(1)", "<img src=x onerror", "onmouseover='alert(3)"]


@pytest.fixture
def world():
    owner = factories.UserFactory(username="ada", first_name=SCRIPT, last_name=IMG)
    org = services.tenant_create(owner=owner, name=f"{SCRIPT}{IMG}", slug="acme")
    teammate = factories.UserFactory(username="bob", first_name=IMG, last_name=ATTR)
    member = join(org, teammate, role=MemberRole.MEMBER)
    api_key_create(tenant=org, user=owner, name=f"{SCRIPT}{ATTR}")
    credit = factories.CreditFactory(tenant=org, user=owner, total_credits=100)
    factories.CreditTransactionFactory(credit=credit, description=f"{SCRIPT} job {IMG}")
    factories.TenantInvitationFactory(tenant=org, invited_by=owner, email="ivy@example.com")
    factories.PriceFactory(
        product_name=f"Pro {SCRIPT}",
        product_description=f"All of it {IMG}",
        metadata={"plan_id": "pro", "credits": "1000", "kind": "subscription"},
        active=True,
    )
    factories.SubscriptionFactory(tenant=org, user=owner, plan_id="pro")
    return {"owner": owner, "org": org, "member": member}


def pages(world) -> dict[str, str]:
    client = Client()
    client.force_login(world["owner"])
    ids = {"member_id": world["member"].pk}
    found = {}
    for route in routes_of(TENANT) + routes_of(USER) + routes_of(PUBLIC):
        if route.startswith(("api/", "stripe/")) or "<str:" in route or "invitation_id" in route:
            continue
        if "api_key_id" in route:
            continue
        url = fill(route, slug="acme", **ids)
        response = client.get(url)
        if response.status_code == 200 and response["Content-Type"].startswith("text/html"):
            found[url] = response.content.decode()
    return found


def test_every_page_shows_chosen_names_escaped(world):
    shown = pages(world)

    assert len(shown) >= 18, sorted(shown)  # the sweep reached the pages
    for url, html in shown.items():
        for bad in DANGEROUS:
            assert bad not in html, f"{url}: {bad!r} unescaped"
    everything = "\n".join(shown.values())
    # And the names are on the pages, escaped: the sweep saw them.
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in everything
    assert "&quot;&gt;&lt;img src=x onerror=alert(2)&gt;" in everything
    assert "&#x27; onmouseover=&#x27;alert(3)" in everything


def test_the_member_page_and_the_dashboard_chart_escape_names(world):
    client = Client()
    client.force_login(world["owner"])

    detail = client.get(f"/o/acme/members/{world['member'].pk}/").content.decode()
    dashboard = client.get("/o/acme/").content.decode()

    assert "&quot;&gt;&lt;img src=x" in detail
    chart = re.search(r'<script id="usage-chart-data" type="application/json">(.*?)</script>', dashboard, re.S)
    assert chart and "<" not in chart.group(1)  # json_script escapes <, > and &


def assert_clean(message):
    assert "\r" not in message.subject and "\n" not in message.subject, message.subject
    assert message.bcc == [] and message.cc == []
    headers = message.message().as_string().split("\n\n", 1)[0]
    # A folded header line starts with a space; a new header at the start of a line.
    assert not re.search(r"^(bcc|cc|to):", headers.split("\nTo:", 1)[1], re.M | re.I), headers
    for html, _type in message.alternatives:
        for bad in DANGEROUS:
            assert bad not in html, f"{message.subject}: {bad!r} in the HTML part"


def test_invitation_emails_escape_names_and_keep_headers_whole(world, django_capture_on_commit_callbacks):
    org, owner = world["org"], world["owner"]
    services.tenant_update(tenant=org, actor=None, name=f"{HEADER}{SCRIPT}")
    org.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        services.invitation_create(
            tenant=org, actor=membership(org, owner), invited_by=owner, email="newcomer@example.com"
        )

    (message,) = mail.outbox
    assert_clean(message)
    assert message.to == ["newcomer@example.com"]
    assert "Bcc: victim@evil.example" in message.subject  # flattened into the subject, not a header
    assert "&lt;script&gt;" in message.alternatives[0][0]


def test_billing_emails_escape_names_and_keep_headers_whole(world, django_capture_on_commit_callbacks):
    org, owner = world["org"], world["owner"]
    org.name = HEADER + IMG
    invoice = {"amount_paid": 1900, "amount_due": 1900, "currency": "usd", "hosted_invoice_url": ""}
    with django_capture_on_commit_callbacks(execute=True):
        receipt_send(
            user=owner, tenant=org, invoice=invoice, plan_name=f"Pro\r\nBcc: x@evil.example{SCRIPT}", credits=1
        )
        payment_failed_send(tenant=org, invoice=invoice)

    assert len(mail.outbox) == 2
    for message in mail.outbox:
        assert_clean(message)
        assert message.to == [owner.email]


def test_any_email_subject_is_one_line(world, django_capture_on_commit_callbacks):
    """The announcement's subject is typed by staff: the one template whose subject is free text."""
    with django_capture_on_commit_callbacks(execute=True):
        email_send(
            to=world["owner"].email,
            user=world["owner"],
            template="announcement",
            email_type="product_updates",
            context={"subject": f"News\r\nBcc: all@evil.example\n\n{SCRIPT}", "message": f"{SCRIPT}\r\nBcc: x"},
        )

    (message,) = mail.outbox
    assert_clean(message)
    assert message.to == [world["owner"].email]
