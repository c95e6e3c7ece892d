import pytest


@pytest.mark.django_db
def test_home_page_renders(client):
    response = client.get("/")
    assert response.status_code == 200
    assert b"Keel" in response.content


@pytest.mark.django_db
def test_seed_demo_is_rerunnable_and_prints_the_password():
    from io import StringIO

    from django.core.management import call_command

    from billing.models import Price
    from organizations.models import Tenant

    out = StringIO()
    call_command("seed_demo", password="first-password-1", stdout=out)
    call_command("seed_demo", password="second-password-2", stdout=out)

    assert "second-password-2" in out.getvalue()
    assert Tenant.objects.filter(slug="demo").count() == 1
    # Prices come from Stripe (or the sandbox) through sync_prices, never from demo data.
    assert not Price.objects.exists()
    from django.conf import settings

    from credits.models import Credit

    assert Credit.objects.get(tenant__slug="demo", mode="free").total_credits == settings.FREE_PLAN_CREDITS
    from django.contrib.auth import authenticate

    assert authenticate(username="demo", password="second-password-2").is_staff


@pytest.mark.django_db
def test_home_page_sends_a_signed_in_user_to_their_organization_dashboard(client, tenant):
    client.force_login(tenant.owner)

    response = client.get("/")

    assert response.status_code == 302 and response["Location"] == f"/o/{tenant.slug}/"
    page = client.get(response["Location"]).content.decode()
    assert f"/o/{tenant.slug}/credits/" in page
    assert tenant.name in page


@pytest.mark.django_db
def test_home_page_invites_visitors_to_sign_up(client):
    assert "/accounts/signup/" in client.get("/").content.decode()


@pytest.mark.django_db
def test_api_docs_page_loads_swagger_ui_from_this_site_not_a_cdn(client):
    page = client.get("/api/docs/").content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in page
    assert "cdn.jsdelivr.net" not in page
    assert client.get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js").status_code == 200
