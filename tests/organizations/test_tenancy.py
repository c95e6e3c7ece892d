"""Tenant resolution, the current organization in the session, and the nav that shows it."""

import pytest
from django.http import Http404
from django.test import RequestFactory

from organizations import services
from organizations.tenancy import SESSION_KEY, TenantMoved, resolve_tenant
from tests import factories
from tests.organizations.conftest import join

pytestmark = pytest.mark.django_db


def page_request(user, path="/o/acme/"):
    request = RequestFactory().get(path)
    request.user = user
    request.session = {}
    return request


def test_resolve_gives_the_membership_and_remembers_it(owner, org):
    request = page_request(owner)

    member = resolve_tenant(request, "acme")

    assert (member.tenant_id, member.user_id, member.role) == (org.pk, owner.pk, "owner")
    assert request.session[SESSION_KEY] == str(org.pk)


def test_non_members_deleted_organizations_and_anonymous_get_404(owner, org, outsider):
    from django.contrib.auth.models import AnonymousUser

    with pytest.raises(Http404):
        resolve_tenant(page_request(outsider), "acme")
    with pytest.raises(Http404):
        resolve_tenant(page_request(AnonymousUser()), "acme")
    org.deleted_at = 1
    org.save()
    with pytest.raises(Http404):
        resolve_tenant(page_request(owner), "acme")


def test_a_former_slug_raises_a_redirect_for_pages(owner, org, owner_member):
    services.tenant_update(tenant=org, actor=owner_member, slug="acme-corp")

    with pytest.raises(TenantMoved) as moved:
        resolve_tenant(page_request(owner, "/o/acme/members/?page=3"), "acme")

    assert moved.value.location == "/o/acme-corp/members/?page=3"


def test_former_slugs_redirect_other_apps_pages_too(client, owner, org, owner_member):
    """Any page that resolves its tenant through resolve_tenant gets the redirect (here, credits' usage page)."""
    services.tenant_update(tenant=org, actor=owner_member, slug="acme-corp")
    client.force_login(owner)

    response = client.get("/o/acme/credits/")

    assert response.status_code == 302 and response["Location"] == "/o/acme-corp/credits/"


def test_nav_shows_the_current_organization_and_the_others(client, owner, org):
    second = factories.TenantFactory(name="Beta Org", slug="beta")
    join(second, owner)
    client.force_login(owner)

    client.get("/o/beta/")
    page = client.get("/orgs/").content.decode()

    # One list of every organization the user is in, the current one selected.
    assert '<option value="beta" title="Beta Org" selected>Beta Org</option>' in page
    assert '<option value="acme" title="Acme">Acme</option>' in page
    assert 'href="/orgs/new/">New organization</a>' in page


def test_the_personal_organization_is_current_until_another_is_chosen(client, owner):
    services.tenant_create(owner=owner, name="Another")
    personal = services.tenant_create_default(user=owner)
    client.force_login(owner)

    page = client.get("/", follow=True).content.decode()

    option = f'<option value="{personal.slug}" title="{personal.name}" selected>{personal.name}</option>'
    assert option in page.replace("&#x27;", "'")


def test_a_user_without_organizations_sees_no_switcher(client):
    loner = factories.UserFactory()
    client.force_login(loner)

    page = client.get("/", follow=True).content.decode()

    assert 'class="org-switcher"' not in page
    assert 'href="/orgs/"' in page
