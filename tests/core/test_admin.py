"""Every Keel model has a working admin: list, search, change page; members are kept out."""

import pytest
from django.contrib import admin
from django.urls import reverse

from tests import factories
from tests.two_factor import sign_in_with_code

pytestmark = pytest.mark.django_db

KEEL_APPS = {"accounts", "organizations", "credits", "billing"}
KEEL_MODELS = [model for model in admin.site._registry if model._meta.app_label in KEEL_APPS]


@pytest.fixture
def staff_client(client):
    owner = factories.UserFactory(role="owner")
    client.force_login(owner)
    return client


def test_every_keel_model_is_registered():
    from django.apps import apps

    models = {m for m in apps.get_models() if m._meta.app_label in KEEL_APPS}
    assert models == set(KEEL_MODELS)


@pytest.mark.parametrize("model", KEEL_MODELS, ids=lambda m: m._meta.label)
def test_changelist_search_and_change_page_render(staff_client, one_of_everything, model):
    meta = model._meta
    changelist = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")

    assert staff_client.get(changelist).status_code == 200
    assert staff_client.get(changelist, {"q": "example"}).status_code == 200
    obj = model.objects.first()
    change = staff_client.get(reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk]))
    assert change.status_code == 200


def test_epoch_columns_show_as_dates_and_raw_data_is_readable(staff_client):
    subscription = factories.SubscriptionFactory(current_period_end=1_767_225_600_000, raw_data={"id": "sub_XYZ"})
    url = reverse("admin:billing_subscription_change", args=[subscription.pk])

    page = staff_client.get(url).content.decode()

    assert "2026-01-01 00:00:00 UTC" in page
    assert "&quot;id&quot;: &quot;sub_XYZ&quot;" in page
    assert 'name="raw_data"' not in page  # shown, not editable


def test_list_links_to_the_related_row_in_one_click(staff_client):
    grant = factories.CreditFactory()
    page = staff_client.get(reverse("admin:credits_credit_changelist")).content.decode()
    assert reverse("admin:organizations_tenant_change", args=[grant.tenant.pk]) in page


def test_a_member_cannot_reach_the_admin(client):
    client.force_login(factories.UserFactory(role="member"))
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302
    assert reverse("admin:login") in response.url


def test_an_owner_signs_in_to_the_admin_with_a_password_and_a_code(client):
    # The admin's sign-in page leads to Keel's, which asks for the code after the password.
    boss = factories.UserFactory(username="boss", role="owner")
    assert client.get(reverse("admin:login") + "?next=/admin/")["Location"] == "/accounts/login/?next=%2Fadmin%2F"
    response = sign_in_with_code(client, "BOSS", factories.DEFAULT_PASSWORD, boss.otp_device, next_url="/admin/")
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


@pytest.mark.parametrize("kwargs", [{"status": "disabled"}, {"deleted_at": 1}])
def test_disabled_and_deleted_users_cannot_sign_in(client, kwargs):
    factories.UserFactory(username="gone", role="owner", **kwargs)
    data = {"username": "gone", "password": factories.DEFAULT_PASSWORD, "next": "/admin/"}
    response = client.post(reverse("accounts:login"), data)
    assert response.status_code == 200  # form redisplayed with an error, no second step
    assert not response.wsgi_request.user.is_authenticated


def test_sign_in_with_a_verified_email_but_not_an_unverified_one(client):
    user = factories.UserFactory(username="ada", role="owner", email="ada@example.com")
    factories.UserEmailFactory(user=user, email="ada.unverified@example.com", verified=False)

    ok = client.post(reverse("accounts:login"), {"username": "ADA@example.com", "password": factories.DEFAULT_PASSWORD})
    assert ok.status_code == 302 and ok["Location"] == reverse("accounts:login_two_factor")
    client.logout()
    refused = client.post(
        reverse("accounts:login"), {"username": "ada.unverified@example.com", "password": factories.DEFAULT_PASSWORD}
    )
    assert refused.status_code == 200


def test_staff_cannot_edit_addresses_past_the_account_rules(staff_client):
    user = factories.UserFactory(email="ada@example.com")
    address = user.emails.get()
    url = reverse("admin:accounts_useremail_change", args=[address.pk])

    page = staff_client.get(url).content.decode()
    staff_client.post(url, {"email": "ADA@EXAMPLE.COM", "is_primary": "", "verified": ""})

    address.refresh_from_db()
    assert 'name="email"' not in page
    assert (address.email, address.is_primary, address.verified) == ("ada@example.com", True, True)


def test_a_rows_page_shows_epoch_milliseconds_as_dates_not_numbers(staff_client):
    grant = factories.CreditFactory(expires_at=1_767_225_600_000, effective_at=1_767_139_200_000)

    page = staff_client.get(reverse("admin:credits_credit_change", args=[grant.pk])).content.decode()

    assert "2026-01-01 00:00:00 UTC" in page and "2025-12-31 00:00:00 UTC" in page
    assert "1767225600000" not in page and "1,767,225,600,000" not in page
    assert page.count("2026-01-01 00:00:00 UTC") == 1  # once, not beside a second rendering
