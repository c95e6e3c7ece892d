import re

import pytest
from django.test import Client

from credits.models import ApiKey, CreditTransaction
from credits.services import api_key_create, credits_consume
from tests import factories
from tests.credits.helpers import add_member, give, make_org
from tests.html import words

pytestmark = pytest.mark.django_db


def signed_in(user, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def usage_url(tenant) -> str:
    return f"/o/{tenant.slug}/credits/"


def keys_url(tenant) -> str:
    return f"/o/{tenant.slug}/api-keys/"


# -- usage page -------------------------------------------------------------


def test_usage_page_shows_balance_grants_and_own_transactions(org):
    member = add_member(org, credit_limit=20, username="mia")
    give(org, 50)
    credits_consume(tenant=org, user=member, amount=7, description="mine")
    credits_consume(tenant=org, user=org.owner, amount=3, description="the owner's")

    page = signed_in(member).get(usage_url(org))

    assert page.status_code == 200
    html = page.content.decode()
    assert '<strong class="stat-value" id="balance">40</strong>' in html
    assert "7 credits used by you here" in words(html) and "Your limit is 20." in html
    assert "mine" in html and "the owner&#x27;s" not in html


def test_view_all_usage_sees_everyone_and_members_table(org):
    member = add_member(org, username="mia")
    auditor = add_member(org, role="custom", permissions=["view_all_usage"])
    give(org, 50)
    credits_consume(tenant=org, user=member, amount=7, description="mia's job")

    html = signed_in(auditor).get(usage_url(org)).content.decode()

    assert "mia&#x27;s job" in html and "<h2>Usage by member</h2>" in html and 'title="mia">mia</span>' in html


def test_usage_page_pages_through_history(org):
    give(org, 1_000, now=1_000)
    for i in range(60):
        credits_consume(tenant=org, user=org.owner, amount=1, description=f"job-{i:02d}", now=2_000 + i // 2)
    client = signed_in(org.owner)

    first = client.get(usage_url(org)).content.decode()
    cursor = re.search(r'href="\?before=([^"#]+)', first).group(1)
    second = client.get(usage_url(org), {"before": cursor}).content.decode()

    seen = re.findall(r"job-\d\d", first) + re.findall(r"job-\d\d", second)
    assert sorted(seen) == [f"job-{i:02d}" for i in range(60)]  # none skipped or repeated at ties
    assert "Older" not in second
    assert client.get(usage_url(org), {"before": "garbage.not-a-uuid"}).status_code == 200


def test_usage_page_filters_by_type_member_and_dates_and_keeps_them_when_paging(org):
    mia = add_member(org, username="mia")
    give(org, 1_000, now=1_000)
    day = 86_400_000
    credits_consume(tenant=org, user=mia, amount=3, description="mia-day-0", now=2_000)
    credits_consume(tenant=org, user=org.owner, amount=4, description="owner-day-1", now=2_000 + day)
    for i in range(55):
        credits_consume(tenant=org, user=mia, amount=1, description=f"mia-day-2-{i:02d}", now=2_000 + 2 * day + i)
    client = signed_in(org.owner)

    consumption = client.get(usage_url(org), {"type": "deduct"}).content.decode()
    mias = client.get(usage_url(org), {"member": str(mia.pk), "until": "1970-01-02"}).content.decode()
    day_1 = client.get(usage_url(org), {"since": "1970-01-02", "until": "1970-01-02"}).content.decode()

    assert "mia-day-2-54" in consumption and "Purchase" not in words(consumption.split("<tbody>")[-1])
    assert "mia-day-0" in mias and "owner-day-1" not in mias and "mia-day-2" not in mias
    assert "Showing the transactions of mia" in words(mias)
    assert "owner-day-1" in day_1 and "mia-day-0" not in day_1 and "mia-day-2" not in day_1
    older = re.search(r'href="\?([^"#]*before=[^"#]+)', consumption).group(1)
    assert "type=deduct" in older  # the next page keeps the filter


def test_a_bad_filter_says_what_is_wrong_keeps_what_was_typed_and_lists_nothing(org):
    give(org, 10, now=1_000)
    client = signed_in(org.owner)

    response = client.get(usage_url(org), {"type": "nonsense", "since": "2026-05-02", "until": "2026-05-01"})

    html = response.content.decode()
    assert response.status_code == 400
    assert "Select a valid choice" in html and "The end date must be on or after the start date." in html
    assert 'value="2026-05-02"' in html and "<tbody>" not in html.split('id="transactions"')[1]


def test_usage_page_is_404_for_outsiders_and_asks_anonymous_to_sign_in(org):
    assert signed_in(make_org().owner).get(usage_url(org)).status_code == 404
    response = Client().get(usage_url(org))
    assert response.status_code == 302 and "/accounts/login/" in response.url


def queries_for(client, path, pin) -> int:
    client.get(path)  # warm: session, caches
    with pin as captured:
        assert client.get(path).status_code == 200
    return len(captured)


# session, user, membership, usage (grants, overdraft, own limit, ledger page, members) + 2 for the layout
USAGE_PAGE_MAX_QUERIES = 9 + 2


def test_usage_page_query_count_does_not_grow_with_history_or_members(org, django_assert_max_num_queries):
    for _ in range(5):
        give(org, 100)
    client = signed_in(org.owner)
    small = queries_for(client, usage_url(org), django_assert_max_num_queries(USAGE_PAGE_MAX_QUERIES))

    members = [add_member(org) for _ in range(30)]
    for _ in range(20):
        give(org, 100)
    CreditTransaction.objects.bulk_create(
        CreditTransaction(tenant=org, user=members[i % 30], credits=-1, type="deduct", created_at=i) for i in range(500)
    )
    large = queries_for(client, usage_url(org), django_assert_max_num_queries(USAGE_PAGE_MAX_QUERIES))
    assert large == small


# -- API keys page ----------------------------------------------------------


def test_owner_creates_a_key_sees_it_once_and_it_works(org):
    client = signed_in(org.owner)
    give(org, 10)
    created = client.post(keys_url(org), {"name": "billing worker", "once": "9c1e6f1a-6c55-4d1e-9a7b-2f6f9f9e0b11"})
    shown = client.get(created.headers["Location"])

    # Post/redirect/get: the key is shown by the page the creation redirects to, once.
    assert created.status_code == 303
    assert shown.status_code == 200 and shown.headers["Cache-Control"] == "no-store"
    raw_key = re.search(r'<code id="new-key"[^>]*>([^<]+)</code>', shown.content.decode()).group(1)
    api_key = ApiKey.objects.get()
    assert (api_key.name, api_key.user_id, api_key.tenant_id) == ("billing worker", org.owner.pk, org.pk)
    listing = client.get(keys_url(org)).content.decode()
    assert f"keel_{api_key.prefix}" in listing and raw_key not in listing and "never" in listing
    assert 'href="/api/docs/"' in shown.content.decode()  # the key comes with the API's documentation
    api = Client(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    assert api.get(f"/api/v1/orgs/{org.slug}/credits/").json()["balance"] == 10


def test_reloading_or_resubmitting_the_key_form_creates_no_second_key(org):
    client = signed_in(org.owner)
    form = {"name": "worker", "once": "1f0c5a52-3d0e-4c8a-8f8b-6b1d2a7e9c00"}
    created = client.post(keys_url(org), form)

    reloaded = client.get(created.headers["Location"])
    reloaded_again = client.get(created.headers["Location"])
    resubmitted = client.post(keys_url(org), form)  # the browser's "resend the form"

    assert ApiKey.objects.count() == 1
    assert 'id="new-key"' in reloaded.content.decode()
    assert 'id="new-key"' not in reloaded_again.content.decode()
    assert resubmitted.status_code == 303
    assert 'id="new-key"' not in client.get(resubmitted.headers["Location"]).content.decode()


def test_a_key_needs_a_name(org):
    response = signed_in(org.owner).post(keys_url(org), {"name": "  "})
    assert response.status_code == 400
    assert 'class="errorlist' in response.content.decode()
    assert not ApiKey.objects.exists()


def test_revoking_a_key_from_the_page(org):
    api_key, raw_key = api_key_create(tenant=org, user=org.owner, name="old")
    client = signed_in(org.owner)

    response = client.post(f"{keys_url(org)}{api_key.pk}/revoke/")

    assert response.status_code == 302
    assert ApiKey.objects.get().revoked_at is not None
    assert Client(HTTP_AUTHORIZATION=f"Bearer {raw_key}").get(f"/api/v1/orgs/{org.slug}/credits/").status_code == 401
    assert "revoked" in client.get(keys_url(org)).content.decode()


def test_plain_members_cannot_manage_keys_but_permitted_ones_can(org):
    plain = add_member(org)
    manager = add_member(org, role="custom", permissions=["manage_api_keys"])
    api_key, _ = api_key_create(tenant=org, user=org.owner, name="owner's")

    assert signed_in(plain).get(keys_url(org)).status_code == 403
    assert signed_in(plain).post(keys_url(org), {"name": "x"}).status_code == 403
    assert signed_in(plain).post(f"{keys_url(org)}{api_key.pk}/revoke/").status_code == 403
    assert ApiKey.objects.filter(revoked_at__isnull=True).count() == 1
    assert signed_in(manager).post(keys_url(org), {"name": "mine"}).status_code == 303
    assert ApiKey.objects.filter(user=manager).count() == 1


def test_a_key_manager_revokes_members_keys_and_their_own_but_not_the_owners(org):
    manager = add_member(org, role="custom", permissions=["manage_api_keys"])
    member = add_member(org)
    owners, _ = api_key_create(tenant=org, user=org.owner, name="owner's")
    members, _ = api_key_create(tenant=org, user=member, name="member's")
    own, _ = api_key_create(tenant=org, user=manager, name="mine")
    client = signed_in(manager)

    page = client.get(keys_url(org)).content.decode()
    refused = client.post(f"{keys_url(org)}{owners.pk}/revoke/")

    assert f"{owners.pk}/revoke/" not in page
    assert "an owner's key" in page
    assert f"{members.pk}/revoke/" in page and f"{own.pk}/revoke/" in page
    assert refused.status_code == 403 and "Only an owner can revoke" in refused.content.decode()
    assert client.post(f"{keys_url(org)}{members.pk}/revoke/").status_code == 302
    assert client.post(f"{keys_url(org)}{own.pk}/revoke/").status_code == 302
    assert set(ApiKey.objects.filter(revoked_at__isnull=True).values_list("pk", flat=True)) == {owners.pk}
    assert signed_in(org.owner).post(f"{keys_url(org)}{owners.pk}/revoke/").status_code == 302


def test_another_organizations_key_is_404_to_revoke(org):
    other = make_org()
    foreign, _ = api_key_create(tenant=other, user=other.owner, name="theirs")
    assert signed_in(org.owner).post(f"{keys_url(org)}{foreign.pk}/revoke/").status_code == 404
    assert signed_in(org.owner).get(keys_url(other)).status_code == 404
    assert ApiKey.objects.get().revoked_at is None


def test_key_forms_need_csrf(org):
    client = signed_in(org.owner, enforce_csrf_checks=True)
    assert client.post(keys_url(org), {"name": "x"}).status_code == 403
    assert not ApiKey.objects.exists()


# session, user, membership (twice: page and layout), keys with their users + 2 for the layout
KEYS_PAGE_MAX_QUERIES = 5 + 2


def test_keys_page_query_count_does_not_grow(org, django_assert_max_num_queries):
    api_key_create(tenant=org, user=org.owner, name="first")
    client = signed_in(org.owner)
    small = queries_for(client, keys_url(org), django_assert_max_num_queries(KEYS_PAGE_MAX_QUERIES))
    for i in range(60):
        api_key_create(tenant=org, user=add_member(org) if i % 2 else org.owner, name=f"k{i}")
    large = queries_for(client, keys_url(org), django_assert_max_num_queries(KEYS_PAGE_MAX_QUERIES))
    assert large == small


def test_signup_through_the_hook_gives_free_credits():
    """The sign-up hooks, as accounts runs them: default organization, then free credits."""
    from django.conf import settings
    from django.utils.module_loading import import_string

    user = factories.UserFactory()
    for hook in settings.KEEL_SIGNUP_HOOKS:
        import_string(hook)(user=user)

    tenant = user.created_tenants.get(is_default=True)
    html = signed_in(user).get(usage_url(tenant)).content.decode()
    assert f'<strong class="stat-value" id="balance">{settings.FREE_PLAN_CREDITS}</strong>' in html
