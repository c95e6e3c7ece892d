"""The whole journey of an organization, in Chromium only: sign up, verify the email, create an
organization, invite a member who signs up and joins, buy a credit pack and a subscription on
the Stripe sandbox's hosted checkout page, create an API key, spend credits through the API,
and see the balance. The database and the outbox are read for assertions, never written."""

import re

import pytest
import requests
from djstripe import models as djstripe
from playwright.sync_api import Page, expect

from accounts.models import UserEmail
from billing.models import EventProblem, Subscription
from credits.models import Credit, CreditMode
from credits.selectors import credits_summary
from organizations.models import Tenant, TenantMember, TenantMemberCreditLimit
from tests.browser.helpers import last_email_to, link_in, sign_in_with_form, sign_out

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

OWNER = {"username": "grace", "email": "grace@example.com", "password": "violet-anchor-meadow-42"}
MEMBER = {"username": "alan", "email": "alan@example.com", "password": "quiet-harbour-lantern-17"}
ORG = "Hopper Labs"
SLUG = "hopper-labs"


def fill_sign_up(page: Page, account: dict) -> None:
    expect(page.get_by_role("heading", name="Create your account")).to_be_visible()
    page.get_by_label("Username").fill(account["username"])
    page.get_by_label("Email").fill(account["email"])
    page.get_by_label("Password").fill(account["password"])
    page.get_by_role("button", name="Create account", exact=False).first.click()


def pay_on_stripe(page: Page, stripe_sandbox, amount: str) -> None:
    """On the sandbox's hosted checkout page: the test card that succeeds, then Stripe's redirect back."""
    page.wait_for_url(re.compile(re.escape(f"{stripe_sandbox.url}/checkout/cs_") + r"\w+$"))
    expect(page.get_by_role("heading", name=f"Pay {amount}")).to_be_visible()
    page.get_by_label("Card", exact=True).select_option(label="4242 4242 4242 4242 (succeeds)")
    page.get_by_role("button", name="Pay", exact=True).click()
    page.wait_for_url(re.compile(re.escape(f"/o/{SLUG}/billing/success/?session_id=cs_") + r"\w+$"))
    expect(page.get_by_role("heading", name="Thank you")).to_be_visible()


def test_sign_up_invite_buy_and_spend_credits_through_the_api(new_page, shop, stripe_sandbox, site):
    page = new_page()

    # Sign up: signed in at once, and the verification link in the outbox. The live server
    # runs in this process, so what its thread sends lands in the test's mail.outbox.
    page.goto("/")
    page.get_by_role("banner").get_by_role("link", name="Sign up").click()
    fill_sign_up(page, OWNER)
    expect(page.get_by_text(f"We sent a verification link to {OWNER['email']}")).to_be_visible()
    verify = link_in(last_email_to(OWNER["email"]), "/accounts/verify/")

    page.goto(verify)
    expect(page.get_by_text(f"{OWNER['email']} is verified.")).to_be_visible()
    assert UserEmail.objects.get(email=OWNER["email"]).verified

    # A new organization, from the header's link; it becomes the current one.
    page.get_by_role("link", name="New organization").click()
    page.get_by_label("Name").fill(ORG)
    page.get_by_role("button", name="Create").click()
    expect(page).to_have_url(f"{site}/o/{SLUG}/")
    expect(page.get_by_role("heading", name=ORG)).to_be_visible()

    # Invite a member with a credit limit.
    page.get_by_role("link", name="Invite someone").click()
    page.get_by_label("Email").fill(MEMBER["email"])
    page.get_by_label("Credit limit").fill("500")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_text(f"Invitation sent to {MEMBER['email']}.")).to_be_visible()
    expect(page.get_by_role("cell", name=MEMBER["email"])).to_be_visible()
    accept = link_in(last_email_to(MEMBER["email"]), "/invitations/accept/")

    # The member: signed out, opens the link and creates an account from it. The sign-up form
    # comes with the invited address filled in, and signing up with it joins at once: the link's
    # token proved the address.
    sign_out(page)
    page.goto(accept)
    expect(page.get_by_role("heading", name=f"Join {ORG}")).to_be_visible()
    page.get_by_role("link", name="Create an account").click()
    expect(page.get_by_label("Email")).to_have_value(MEMBER["email"])
    fill_sign_up(page, MEMBER)
    expect(page).to_have_url(f"{site}/o/{SLUG}/")
    expect(page.get_by_text(f"Welcome to “{ORG}”.")).to_be_visible()
    assert UserEmail.objects.get(email=MEMBER["email"]).verified
    tenant = Tenant.objects.get(slug=SLUG)
    joined = TenantMember.objects.get(tenant=tenant, user__username=MEMBER["username"])
    assert joined.role == "member"
    assert TenantMemberCreditLimit.objects.get(tenant=tenant, user=joined.user).credit_limit == 500

    # The owner again: the organization chosen in the switcher, a credit pack from /pricing/.
    sign_out(page)
    sign_in_with_form(page, OWNER["username"], OWNER["password"])
    page.get_by_role("combobox", name="Organization", exact=True).select_option(label=ORG)
    page.get_by_role("button", name="Switch").click()
    page.get_by_role("banner").get_by_role("link", name="Pricing").click()
    expect(page.get_by_text(f"Buying for {ORG}")).to_be_visible()
    page.get_by_role("article").filter(has_text="$10.00").get_by_role("button", name="Buy credits").click()
    pay_on_stripe(page, stripe_sandbox, "$10.00")
    expect(page.locator("#granted")).to_contain_text("1000 credits added")

    # ...and a subscription from the organization's billing page.
    page.get_by_role("link", name="Billing", exact=True).first.click()
    expect(page).to_have_url(f"{site}/o/{SLUG}/billing/")
    page.get_by_role("row").filter(has_text="$9.00 / month").get_by_role("button", name="Subscribe").click()
    pay_on_stripe(page, stripe_sandbox, "$9.00")
    expect(page.locator("#plan")).to_contain_text("starter")

    # The sandbox's webhooks reached the live server too, and changed nothing more: one
    # grant per purchase, whichever of the page and the webhook applied it first.
    stripe_sandbox.wait_for_deliveries(timeout=30)
    grants = Credit.objects.filter(tenant=tenant, provider="stripe")
    assert sorted((g.mode, g.total_credits) for g in grants) == [
        (CreditMode.ONE_TIME_CREDITS, 1000),
        (CreditMode.SUBSCRIPTION, 1000),
    ]
    assert Subscription.objects.get(tenant=tenant).status == "active"
    assert not EventProblem.objects.exists()
    assert djstripe.WebhookEventTrigger.objects.exclude(processed=True).count() == 0
    page.goto(f"/o/{SLUG}/billing/")
    expect(page.locator("#plan")).to_contain_text("Starter")

    # An API key, read from the page that shows it once.
    page.goto(f"/o/{SLUG}/api-keys/")
    page.get_by_label("Name").fill("journey worker")
    page.get_by_role("button", name="Create key").click()
    key = page.locator("#new-key").inner_text().strip()
    assert key.startswith("keel_"), key

    # Spend through the API, idempotently (docs/api.md).
    consume = f"{site}/api/v1/orgs/{SLUG}/credits/consume/"
    headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": "journey-render-1"}
    body = {"amount": 42, "description": "render #1"}
    first = requests.post(consume, json=body, headers=headers, timeout=10)
    again = requests.post(consume, json=body, headers=headers, timeout=10)
    assert first.status_code == 201, first.text
    assert (first.json()["consumed"], first.json()["balance"]) == (42, 2000 - 42)
    assert again.status_code == 201 and again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == first.json()
    assert credits_summary(tenant=tenant, user=None).balance == 2000 - 42

    # The credits page shows the new balance and the API's spending.
    page.get_by_role("navigation").get_by_role("link", name="Credits", exact=True).first.click()
    expect(page).to_have_url(f"{site}/o/{SLUG}/credits/")
    expect(page.locator("#balance")).to_have_text("1958")
    expect(page.get_by_role("cell", name="render #1")).to_be_visible()

    # The organization's dashboard draws its usage chart. The dashboard is being built on
    # another branch (wt-dash): until it lands on /o/<slug>/ with <canvas id="usage-chart">,
    # this last step fails, and only it.
    page.goto(f"/o/{SLUG}/")
    expect(page.locator("canvas#usage-chart")).to_be_visible(timeout=5_000)
