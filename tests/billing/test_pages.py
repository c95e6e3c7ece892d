"""The billing pages through real requests, Stripe being the sandbox with no webhook endpoint:
whatever the pages show right after a purchase they learnt by asking Stripe themselves."""

import re

import pytest
import stripe
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.models import Lifetime, Subscription
from billing.services.checkout import checkout_start
from core.time import now_ms
from credits.models import Credit, CreditMode
from credits.selectors import credits_summary
from organizations.models import MemberRole, TenantMember
from organizations.services import tenant_create
from tests.factories import InvoiceFactory, SubscriptionFactory, UserFactory
from tests.html import words
from tests.organizations.conftest import join

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return response.content.decode()


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]] if response.context else []


def billing_url(member, rest: str = "") -> str:
    return f"/o/{member.tenant.slug}/billing/{rest}"


def checkout_forms(html: str) -> list[str]:
    """The price ids of the page's buy buttons (forms posting to a checkout)."""
    forms = re.findall(r'<form method="post" action="/o/[^/]+/billing/checkout/".*?</form>', html, re.S)
    assert all("csrfmiddlewaretoken" in form for form in forms)
    return [re.search(r'name="price" value="([^"]+)"', form).group(1) for form in forms]


@pytest.fixture
def browser(client, owner):
    client.force_login(owner.user)
    client.get(f"/o/{owner.tenant.slug}/")  # the current organization
    return client


@pytest.fixture
def plain_member(owner):
    return join(owner.tenant, role=MemberRole.MEMBER)


def pay(browser, stripe_sandbox, member, price_id: str):
    """Buy through the page: the checkout form, Stripe's page paid, Stripe's redirect back."""
    response = browser.post(billing_url(member, "checkout/"), {"price": price_id})
    assert response.status_code == 302, text(response)
    session_id = response["Location"].rsplit("/", 1)[1]
    assert response["Location"] == f"{stripe_sandbox.url}/checkout/{session_id}"
    stripe_sandbox.complete_checkout(session_id)
    return session_id, browser.get(billing_url(member, "success/"), {"session_id": session_id})


# / (the landing page)


def test_the_landing_page_says_what_keel_does_and_shows_the_plans(client, catalogue):
    html = text(client.get("/"))

    assert "prepaid credits ledger" in words(html)
    assert "$9.00 / month" in words(html) and "$299.00" in html
    assert 'href="/accounts/signup/"' in html and checkout_forms(html) == []


# /pricing/


def test_the_pricing_page_offers_everything_and_sends_visitors_to_sign_up(client, catalogue):
    monthly = text(client.get("/pricing/"))
    yearly = text(client.get("/pricing/", {"billing": "yearly"}))

    assert "Starter" in monthly and "Pro" in monthly and "Credit pack" in monthly and "Lifetime" in monthly
    assert "$9.00 / month" in words(monthly) and "$29.00 / month" in words(monthly) and "$90.00" not in monthly
    assert "$90.00 / year" in words(yearly) and "$290.00 / year" in words(yearly) and "$9.00" not in yearly
    assert "$10.00" in monthly and "$40.00" in monthly and "$299.00" in monthly
    assert checkout_forms(monthly) == []
    assert monthly.count('href="/accounts/signup/?next=/pricing/"') == 6  # free, 2 plans, 2 packs, lifetime


def test_signed_in_the_buy_buttons_post_to_the_current_organizations_checkout(browser, owner, catalogue):
    html = text(browser.get("/pricing/"))

    assert f"Buying for {owner.tenant.name}" in words(html)
    shown = ["keel_starter_monthly", "keel_pro_monthly", "keel_credits_1000", "keel_credits_5000", "keel_lifetime"]
    assert checkout_forms(html) == [catalogue[key] for key in shown]
    assert f'action="/o/{owner.tenant.slug}/billing/checkout/"' in html


def test_a_member_without_the_billing_permission_is_told_to_ask_an_owner(client, plain_member, catalogue):
    client.force_login(plain_member.user)
    client.get(f"/o/{plain_member.tenant.slug}/")

    html = text(client.get("/pricing/"))

    assert checkout_forms(html) == []
    assert f"Ask an owner of {plain_member.tenant.name} to buy this." in words(html)


# /o/<slug>/billing/


def test_the_billing_page_of_a_free_organization_offers_plans_packs_and_the_lifetime_deal(browser, owner, catalogue):
    html = text(browser.get(billing_url(owner)))

    assert "Free plan" in html and "No invoices yet" in html
    assert sorted(checkout_forms(html)) == sorted(catalogue.values())
    assert f'action="/o/{owner.tenant.slug}/billing/portal/"' in html
    assert f'<a href="/o/{owner.tenant.slug}/billing/" aria-current="page">Billing</a>' in html  # the tabs


def test_members_without_the_billing_permission_see_the_plan_and_invoices_but_no_buttons(
    client, plain_member, catalogue
):
    SubscriptionFactory(tenant=plain_member.tenant, status="past_due", provider_price_id=catalogue["keel_pro_monthly"])
    InvoiceFactory(tenant=plain_member.tenant, invoice_pdf="https://files.example/in_1.pdf", raw_data={"number": "N-1"})
    client.force_login(plain_member.user)

    response = client.get(billing_url(plain_member))

    html = text(response)
    assert response.status_code == 200
    assert "<strong>Pro</strong>" in html and "Payment failed" in html and "Ask an owner to update the card" in html
    assert "N-1" in html and 'href="https://files.example/in_1.pdf"' in html
    assert checkout_forms(html) == [] and "<form" not in html.split('<main id="main">')[1]


@pytest.mark.parametrize("rest", ["checkout/", "portal/", "subscription/cancel/", "subscription/reactivate/"])
def test_actions_need_the_billing_permission(client, plain_member, catalogue, rest):
    SubscriptionFactory(tenant=plain_member.tenant)
    client.force_login(plain_member.user)

    response = client.post(billing_url(plain_member, rest), {"price": catalogue["keel_credits_1000"]})

    assert response.status_code == 403
    assert "manage billing" in text(response)
    assert not stripe.checkout.Session.list().data


def test_another_organizations_billing_pages_are_404(client, owner, catalogue, stripe_sandbox):
    mallory = UserFactory()
    tenant_create(owner=mallory, name="Mallory Inc", slug="mallory-inc")
    session = checkout_start(
        member=owner,
        provider_price_id=catalogue["keel_credits_1000"],
        success_url="https://k/s",
        cancel_url="https://k/c",
    )
    stripe_sandbox.complete_checkout(session.id)
    client.force_login(mallory)

    pages = [billing_url(owner), billing_url(owner, f"success/?session_id={session.id}"), billing_url(owner, "cancel/")]

    assert [client.get(page).status_code for page in pages] == [404, 404, 404]
    assert not Credit.objects.filter(tenant=owner.tenant, provider="stripe").exists()


def test_the_past_due_notice_links_to_the_open_invoice_when_known(browser, owner, catalogue):
    SubscriptionFactory(
        tenant=owner.tenant,
        status="past_due",
        raw_data={"latest_invoice": {"status": "open", "hosted_invoice_url": "https://pay.example/in_9"}},
    )

    html = text(browser.get(billing_url(owner)))

    assert 'id="past-due"' in html and '<a href="https://pay.example/in_9">Pay the open invoice</a>' in html


def test_the_billing_page_costs_the_same_queries_for_5_or_60_invoices(browser, owner, catalogue):
    SubscriptionFactory(tenant=owner.tenant, provider_price_id=catalogue["keel_starter_monthly"])
    Lifetime.objects.create(user=owner.user, tenant=owner.tenant, provider_checkout_session_id="cs_x")

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert browser.get(billing_url(owner)).status_code == 200
        return len(queries)

    InvoiceFactory.create_batch(5, tenant=owner.tenant)
    small = count()
    InvoiceFactory.create_batch(55, tenant=owner.tenant)
    large = count()

    assert small == large
    # session, user, membership, subscription, lifetime deal, prices, invoices, the nav's organizations
    assert large <= 8
    assert "Older invoices →" in text(browser.get(billing_url(owner)))


def test_older_invoices_are_a_page_further(browser, owner):
    start = now_ms()
    for n in range(30):  # two on each millisecond: the id breaks the tie
        InvoiceFactory(tenant=owner.tenant, paid_at=start - n // 2, raw_data={"number": f"AE-{n:04d}"})
    html = text(browser.get(billing_url(owner)))
    cursor = re.search(r'href="\?before=([^"#]+)', html).group(1)

    older = text(browser.get(billing_url(owner), {"before": cursor}))

    numbers = [re.findall(r"AE-\d{4}", page) for page in (html, older)]
    assert sorted(numbers[0] + numbers[1]) == [f"AE-{n:04d}" for n in range(30)]
    assert (len(numbers[0]), len(numbers[1])) == (24, 6)
    assert "Older invoices →" not in older


# Buying, and the way back from Stripe


def test_a_paid_pack_shows_its_credits_at_once_without_any_webhook(browser, owner, catalogue, stripe_sandbox):
    before = credits_summary(tenant=owner.tenant, user=owner.user).balance

    session_id, response = pay(browser, stripe_sandbox, owner, catalogue["keel_credits_1000"])

    html = text(response)
    grant = Credit.objects.get(tenant=owner.tenant, provider="stripe")
    assert stripe_sandbox.deliveries() == []  # nothing was delivered: the page did it
    assert (grant.source_id, grant.total_credits, grant.mode) == (session_id, 1000, CreditMode.ONE_TIME_CREDITS)
    assert response.status_code == 200
    assert "<strong>Credit pack</strong>" in html and "<strong>1000</strong> credits added" in html
    assert f'<strong class="stat-value" id="balance">{before + 1000}</strong>' in html
    assert "Thank you: your payment went through." in messages_of(response)

    again = browser.get(billing_url(owner, "success/"), {"session_id": session_id})

    assert again.status_code == 200 and Credit.objects.filter(tenant=owner.tenant, provider="stripe").count() == 1


def test_a_subscription_bought_shows_its_plan_and_credits_at_once(browser, owner, catalogue, stripe_sandbox):
    _session_id, response = pay(browser, stripe_sandbox, owner, catalogue["keel_starter_monthly"])

    html = text(response)
    subscription = Subscription.objects.get(tenant=owner.tenant)
    assert (subscription.status, subscription.plan_id) == ("active", "starter")
    assert "Plan: <strong>starter</strong>, renews on" in html
    assert "<strong>1000</strong> credits added" in html
    assert stripe_sandbox.deliveries() == []


def test_a_lifetime_deal_bought_is_the_plan_and_cannot_be_bought_again(browser, owner, catalogue, stripe_sandbox):
    pay(browser, stripe_sandbox, owner, catalogue["keel_lifetime"])

    page = browser.get(billing_url(owner))
    again = browser.post(billing_url(owner, "checkout/"), {"price": catalogue["keel_lifetime"]}, follow=True)

    assert "lifetime deal, paid $299.00 once" in text(page)
    assert "This organization has the lifetime deal." in text(page)
    assert catalogue["keel_lifetime"] not in checkout_forms(text(page))
    assert "This organization already has the lifetime deal." in messages_of(again)


def test_a_session_of_another_organization_is_404_on_the_success_page(browser, owner, catalogue, stripe_sandbox):
    other = tenant_create(owner=owner.user, name="Second Org")
    theirs = checkout_start(
        member=TenantMember.objects.select_related("tenant", "user").get(tenant=other, user=owner.user),
        provider_price_id=catalogue["keel_credits_1000"],
        success_url="https://k/s",
        cancel_url="https://k/c",
    )
    stripe_sandbox.complete_checkout(theirs.id)

    response = browser.get(billing_url(owner, "success/"), {"session_id": theirs.id})

    assert response.status_code == 404
    assert not Credit.objects.filter(provider="stripe").exists()


@pytest.mark.parametrize("session_id", ["", "nope", "cs_test_doesnotexist", "cs_../../v1/customers"])
def test_the_success_page_is_404_without_a_session_of_stripes(browser, owner, catalogue, session_id):
    assert browser.get(billing_url(owner, "success/"), {"session_id": session_id}).status_code == 404


def test_an_unpaid_session_is_shown_as_processing(browser, owner, catalogue):
    session = checkout_start(
        member=owner,
        provider_price_id=catalogue["keel_credits_1000"],
        success_url="https://k/s",
        cancel_url="https://k/c",
    )

    response = browser.get(billing_url(owner, "success/"), {"session_id": session.id})

    assert response.status_code == 200 and "Payment processing" in text(response)
    assert not Credit.objects.filter(provider="stripe").exists()


def test_coming_back_from_a_canceled_checkout_says_nothing_was_charged(browser, owner):
    response = browser.get(billing_url(owner, "cancel/"), follow=True)

    assert response.redirect_chain == [(billing_url(owner), 302)]
    assert messages_of(response) == ["Checkout canceled: nothing was charged."]


def test_a_price_not_for_sale_is_a_message(browser, owner, catalogue):
    response = browser.post(billing_url(owner, "checkout/"), {"price": "price_gone"}, follow=True)

    assert response.redirect_chain == [(billing_url(owner), 302)]
    assert messages_of(response) == ["That price is not for sale."]


def test_without_stripe_keys_buying_is_a_message(browser, owner, catalogue, settings):
    settings.STRIPE_TEST_SECRET_KEY = ""

    response = browser.post(billing_url(owner, "checkout/"), {"price": catalogue["keel_credits_1000"]}, follow=True)

    assert messages_of(response) == ["Payments are not configured on this site."]


# The subscription: change plan, cancel, reactivate, the portal


@pytest.fixture
def subscribed(browser, owner, catalogue, stripe_sandbox):
    pay(browser, stripe_sandbox, owner, catalogue["keel_starter_monthly"])
    return Subscription.objects.get(tenant=owner.tenant)


def test_a_subscriber_sees_the_renewal_and_the_other_plans_as_upgrades_or_downgrades(
    browser, owner, catalogue, subscribed
):
    html = text(browser.get(billing_url(owner)))

    assert "<strong>Starter</strong>" in html and 'id="plan-renews"' in html and "$9.00 / month" in html
    assert '<span class="badge badge-ok">Your plan</span>' in html
    button = r'name="price" value="([^"]+)">\s*<input type="hidden" name="kind"[^>]*>\s*<button[^>]*>(\w+)'
    rows = dict(re.findall(button, html))
    prices = catalogue
    assert rows[prices["keel_pro_monthly"]] == "Upgrade"
    assert rows[prices["keel_pro_yearly"]] == "Upgrade"
    assert rows[prices["keel_starter_yearly"]] == "Downgrade"  # $7.50 a month
    assert prices["keel_starter_monthly"] not in rows


def test_an_upgrade_through_the_page_shows_the_new_plan_and_its_credits(browser, owner, catalogue, subscribed):
    response = browser.post(billing_url(owner, "checkout/"), {"price": catalogue["keel_pro_monthly"]}, follow=True)

    subscribed.refresh_from_db()
    assert messages_of(response) == ["Upgraded to Pro: the difference is invoiced now, with its credits."]
    assert (subscribed.plan_id, subscribed.provider_price_id) == ("pro", catalogue["keel_pro_monthly"])
    assert "<strong>Pro</strong>" in text(response)
    assert Credit.objects.filter(tenant=owner.tenant, provider="stripe").count() == 2  # the period's, the difference


def test_a_downgrade_through_the_page_waits_for_the_periods_end(browser, owner, catalogue, subscribed):
    response = browser.post(billing_url(owner, "checkout/"), {"price": catalogue["keel_starter_yearly"]}, follow=True)

    subscribed.refresh_from_db()
    assert messages_of(response) == ["Starter starts at the end of the current period; nothing changes until then."]
    assert subscribed.provider_price_id == catalogue["keel_starter_monthly"]


def test_cancel_asks_first_then_ends_at_the_periods_end_and_can_be_undone(browser, owner, subscribed):
    confirm = browser.get(billing_url(owner, "subscription/cancel/"))
    canceled = browser.post(billing_url(owner, "subscription/cancel/"), follow=True)
    subscribed.refresh_from_db()
    ending = (subscribed.status, subscribed.raw_data["cancel_at_period_end"])
    kept = browser.post(billing_url(owner, "subscription/reactivate/"), follow=True)
    subscribed.refresh_from_db()

    assert confirm.status_code == 200 and "Cancel at the end of the period" in text(confirm)
    assert "csrfmiddlewaretoken" in text(confirm)
    assert ending == ("active", True)
    assert messages_of(canceled)[0].startswith("Your subscription is canceled: it stays active, with its credits")
    assert 'id="plan-ends"' in text(canceled) and "Keep my subscription" in text(canceled)
    assert subscribed.raw_data["cancel_at_period_end"] is False
    assert messages_of(kept)[0].startswith("Your subscription continues: it renews on")
    assert 'id="plan-renews"' in text(kept)


def test_cancel_without_a_subscription_says_so(browser, owner):
    response = browser.get(billing_url(owner, "subscription/cancel/"), follow=True)

    assert messages_of(response) == ["This organization has no subscription."]


def test_manage_cards_and_invoices_goes_to_the_portal_of_the_paying_customer(
    browser, owner, subscribed, stripe_sandbox
):
    response = browser.post(billing_url(owner, "portal/"))

    assert response.status_code == 302
    session = stripe_sandbox.store.get(response["Location"].rsplit("/", 1)[1], "billing_portal.session")
    assert session["customer"] == subscribed.provider_customer_id
    assert session["return_url"].endswith(billing_url(owner))


def test_invoices_of_the_subscription_are_listed_with_their_links(browser, owner, subscribed):
    html = text(browser.get(billing_url(owner)))

    [invoice] = subscribed.tenant.invoices.all()
    assert invoice.paid_at <= now_ms()
    assert f'href="{invoice.invoice_pdf}"' in html and f'href="{invoice.hosted_invoice_url}"' in html
    assert "$9.00" in html and "Subscription created" in html
