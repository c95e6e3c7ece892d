"""Every main page through `check_page` (tests/browser/checks.py) at desktop and phone width,
light and dark: no horizontal overflow, no serious or critical axe violation, no console
error or failed request, and a screenshot of each (`make screenshots` keeps them in
docs/screenshots/).

The data is what a busy organization has: a 255-character name in the switcher, members
with roles and limits, pending invitations, an API key, purchases through the Stripe
sandbox (a paid invoice, a live subscription, a pack) and spending in the ledger. Each
page at each variant is a subtest, so one run reports every page that fails, with all its
problems.
"""

from dataclasses import dataclass

import pytest
import stripe

from accounts.models import EmailType
from accounts.tokens import unsubscribe_token_make
from billing import links
from billing.services import invoice_paid
from billing.services.checkout import checkout_start
from billing.services.fulfilment import checkout_session_fulfil
from credits.services import api_key_create, credits_consume, credits_grant_free
from organizations.models import MemberRole, Permission, TenantMember
from organizations.services import invitation_create, tenant_create
from tests.browser.checks import check_pages, icon_problems, recorder_of
from tests.browser.helpers import last_email_to, link_in, sign_in
from tests.factories import UserEmailFactory, UserFactory
from tests.organizations.conftest import join

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# 255 characters, the most a name may have (organizations.forms.OrganizationForm).
LONG_NAME = (
    "The Analytical Engine Manufacturing Company for the Computation of Bernoulli Numbers, Astronomical "
    "Tables, Logarithms and Every Other Series that Charles Babbage and Ada Lovelace Imagined, "
    "Incorporated in the City of London in 1843 and Still Trading Today"
)
assert len(LONG_NAME) == 255
SLUG = "analytical-engines"
VARIANTS = [("desktop", "light"), ("desktop", "dark"), ("phone", "light"), ("phone", "dark")]


@dataclass
class World:
    owner: object
    member: TenantMember
    invitation_url: str
    unsubscribe_url: str


def buy(stripe_sandbox, member: TenantMember, price_id: str) -> None:
    """A purchase as the success page applies it: the sandbox's checkout paid, then fulfilled."""
    result = checkout_start(
        member=member,
        provider_price_id=price_id,
        success_url=links.checkout_success_url(member.tenant),
        cancel_url=links.checkout_cancel_url(member.tenant),
    )
    stripe_sandbox.complete_checkout(result.id)
    if checkout_session_fulfil(result.id) == "subscription":
        invoice_paid(stripe.checkout.Session.retrieve(result.id).invoice)


@pytest.fixture
def world(site, catalogue, stripe_sandbox) -> World:
    owner = UserFactory(username="ada", first_name="Ada", last_name="Lovelace", email="ada@example.com")
    UserEmailFactory(user=owner, email="ada.lovelace@analytical-engines.example", verified=True)
    UserEmailFactory(user=owner, email="countess@lovelace.example", verified=False)
    tenant_create(owner=owner, name="Ada's organization", is_default=True)
    credits_grant_free(user=owner)
    tenant = tenant_create(owner=owner, name=LONG_NAME, slug=SLUG)
    owner_member = TenantMember.objects.select_related("tenant", "user").get(tenant=tenant, user=owner)

    people = [
        join(tenant, UserFactory(username="charles", first_name="Charles", last_name="Babbage"), role=MemberRole.OWNER),
        join(tenant, UserFactory(username="mary", first_name="Mary", last_name="Somerville"), credit_limit=2500),
        join(
            tenant,
            UserFactory(username="augustus", first_name="Augustus", last_name="De Morgan"),
            role=MemberRole.CUSTOM,
            permissions=[Permission.MANAGE_INVITATIONS, Permission.VIEW_ALL_USAGE],
            credit_limit=10_000,
        ),
        join(tenant, UserFactory(username="luigi", first_name="Luigi", last_name="Menabrea")),
    ]

    buy(stripe_sandbox, owner_member, catalogue["keel_starter_monthly"])
    buy(stripe_sandbox, owner_member, catalogue["keel_credits_5000"])
    for number, (spender, amount) in enumerate([(owner, 120), (people[1].user, 45), (people[2].user, 300)] * 3):
        credits_consume(
            tenant=tenant, user=spender, amount=amount, description=f"Bernoulli numbers, table {number + 1}"
        )
    api_key_create(tenant=tenant, user=owner, name="Nightly export to the Difference Engine")

    for email, role, limit in [
        ("florence.nightingale@example.com", MemberRole.MEMBER, 500),
        ("john.herschel@royal-astronomical-society.example.org", MemberRole.CUSTOM, -1),
        ("michael.faraday@royal-institution.example", MemberRole.OWNER, -1),
    ]:
        invitation_create(
            tenant=tenant,
            actor=owner_member,
            invited_by=owner,
            email=email,
            role=role,
            permissions=[Permission.MANAGE_BILLING] if role == MemberRole.CUSTOM else None,
            credit_limit=limit,
        )

    # Ada invited to someone else's organization: the acceptance page, ready to accept.
    babbage = UserFactory(username="babbage", first_name="Charles", last_name="Babbage")
    other = tenant_create(owner=babbage, name="Babbage & Sons, Calculating Machines")
    invitation_create(tenant=other, actor=None, invited_by=babbage, email="ada@example.com", credit_limit=1000)

    return World(
        owner=owner,
        member=people[1],
        invitation_url=link_in(last_email_to("ada@example.com"), "/invitations/accept/"),
        unsubscribe_url=f"/accounts/unsubscribe/{unsubscribe_token_make(user=owner, email_type=EmailType.MARKETING)}/",
    )


def signed_out_pages(world: World) -> list[tuple[str, str]]:
    return [
        ("landing", "/"),
        ("pricing", "/pricing/"),
        ("signup", "/accounts/signup/"),
        ("login", "/accounts/login/"),
        ("password-reset", "/accounts/password/reset/"),
        ("invitation-signed-out", world.invitation_url),
        ("unsubscribe", world.unsubscribe_url),
    ]


def signed_in_pages(world: World) -> list[tuple[str, str]]:
    org = f"/o/{SLUG}"
    return [
        # The overview first: it makes the long-named organization the current one.
        ("org-overview", f"{org}/"),
        ("home", "/"),
        ("pricing-signed-in", "/pricing/"),
        ("credits", f"{org}/credits/"),
        ("members", f"{org}/members/"),
        ("member-detail", f"{org}/members/{world.member.pk}/"),
        ("invitations", f"{org}/invitations/"),
        ("api-keys", f"{org}/api-keys/"),
        ("billing", f"{org}/billing/"),
        ("org-settings", f"{org}/settings/"),
        ("audit-log", f"{org}/audit/"),
        ("org-list", "/orgs/"),
        ("org-create", "/orgs/new/"),
        ("profile", "/accounts/"),
        ("emails", "/accounts/emails/"),
        ("preferences", "/accounts/email-preferences/"),
        ("password", "/accounts/password/"),
        ("two-factor", "/accounts/two-factor/"),
        ("reauthenticate", "/accounts/reauthenticate/?next=/accounts/password/"),
        ("delete-account", "/accounts/delete/"),
        ("invitation", world.invitation_url),
    ]


def test_every_page_passes_the_page_checks(new_page, world, subtests):
    # One context per variant, all showing the same page at each step: axe runs in the four
    # renderers at once, and the data is built once.
    pages = [new_page(viewport, scheme) for viewport, scheme in VARIANTS]

    def check(name: str, path: str, status: int = 200) -> None:
        # Each page waits for its response only; they then load and lay out side by side.
        for page in pages:
            response = page.goto(path, wait_until="commit")
            assert response is not None and response.status == status, f"{path}: HTTP {response and response.status}"
        finishers = check_pages(pages, name, expect_status=status if status != 200 else None)
        for page, finish in finishers.items():
            with subtests.test(msg=f"{name} {recorder_of(page).variant.label}"):
                finish()

    for name, path in signed_out_pages(world):
        check(name, path)
    with subtests.test(msg="icon"):
        problems = icon_problems(pages[0])
        assert not problems, "\n".join(problems)
    for page in pages:
        sign_in(page, world.owner)
    for name, path in signed_in_pages(world):
        check(name, path)
    check("not-found", f"/o/{SLUG}/no-such-page/", status=404)
