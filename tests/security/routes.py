"""Every route of the site, classified, and the two tenants the attack tests use.

`ROUTES` names each URL pattern of config.urls (walked from the resolver, the
admin as one `admin/` prefix) with who may use it:

- PUBLIC: anyone, signed in or not (pages, links carrying their own token,
  Stripe's signed webhooks);
- USER: a signed-in person, about themselves (their account, their list of
  organizations);
- TENANT: a member of the organization the URL names (by slug);
- STAFF: site operators only (the Django admin).

A route that appears in the resolver and not here fails
`test_every_route_is_classified`: whoever adds a route says which kind it is,
and the tenant-isolation matrix (test_isolation_matrix.py) then attacks it.
"""

from django.urls import URLPattern, URLResolver, get_resolver

from credits.services.api_keys import api_key_create
from organizations import services
from organizations.models import InvitationStatus, MemberRole, Tenant, TenantMember
from tests import factories
from tests.organizations.conftest import join

PUBLIC, USER, TENANT, STAFF = "public", "user", "tenant", "staff"

ROUTES = {
    # The site itself
    "": PUBLIC,
    "healthz": PUBLIC,
    "pricing/": PUBLIC,
    "api/schema/": PUBLIC,
    "api/docs/": PUBLIC,
    "admin/": STAFF,
    # Stripe signs these (test_webhooks.py); dj-stripe's own pattern sits behind Keel's guard.
    "stripe/webhook/<uuid:uuid>/": PUBLIC,
    # Signing up and in, and links that carry their own secret
    "accounts/signup/": PUBLIC,
    "accounts/login/": PUBLIC,
    "accounts/logout/": PUBLIC,
    "accounts/password/reset/": PUBLIC,
    "accounts/password/reset/sent/": PUBLIC,
    "accounts/password/reset/<str:uidb64>/<str:token>/": PUBLIC,
    "accounts/verify/<str:token>/": PUBLIC,
    "accounts/unsubscribe/<str:token>/": PUBLIC,
    "accounts/google/login/": PUBLIC,
    "accounts/google/callback/": PUBLIC,
    "invitations/accept/<str:token>/": PUBLIC,
    "api/v1/prices/": PUBLIC,
    # One's own account and organizations
    "accounts/": USER,
    "accounts/password/": USER,
    "accounts/emails/": USER,
    "accounts/emails/<str:email_id>/resend/": USER,
    "accounts/emails/<str:email_id>/primary/": USER,
    "accounts/emails/<str:email_id>/remove/": USER,
    "accounts/email-preferences/": USER,
    "accounts/delete/": USER,
    "accounts/export/": USER,
    # Staff signed in as a user stop it here (the start is in the admin).
    "accounts/impersonation/stop/": USER,
    "orgs/": USER,
    "orgs/new/": USER,
    "orgs/switch/": USER,
    "api/v1/me/": USER,
    "api/v1/me/emails/": USER,
    "api/v1/me/emails/<str:email_id>/": USER,
    "api/v1/me/emails/<str:email_id>/make-primary/": USER,
    "api/v1/me/emails/<str:email_id>/resend-verification/": USER,
    "api/v1/me/email-preferences/": USER,
    "api/v1/orgs/": USER,
    "api/v1/invitations/accept/": USER,
    # One organization's
    "o/<slug:slug>/": TENANT,
    "o/<slug:slug>/settings/": TENANT,
    "o/<slug:slug>/delete/": TENANT,
    "o/<slug:slug>/transfer/": TENANT,
    "o/<slug:slug>/leave/": TENANT,
    "o/<slug:slug>/audit/": TENANT,
    "o/<slug:slug>/members/": TENANT,
    "o/<slug:slug>/members/<uuid:member_id>/": TENANT,
    "o/<slug:slug>/members/<uuid:member_id>/reset-usage/": TENANT,
    "o/<slug:slug>/members/<uuid:member_id>/remove/": TENANT,
    "o/<slug:slug>/invitations/": TENANT,
    "o/<slug:slug>/invitations/<uuid:invitation_id>/resend/": TENANT,
    "o/<slug:slug>/invitations/<uuid:invitation_id>/revoke/": TENANT,
    "o/<slug:slug>/credits/": TENANT,
    "o/<slug:slug>/api-keys/": TENANT,
    "o/<slug:slug>/api-keys/<uuid:api_key_id>/revoke/": TENANT,
    "o/<slug:slug>/billing/": TENANT,
    "o/<slug:slug>/billing/checkout/": TENANT,
    "o/<slug:slug>/billing/portal/": TENANT,
    "o/<slug:slug>/billing/subscription/cancel/": TENANT,
    "o/<slug:slug>/billing/subscription/reactivate/": TENANT,
    "o/<slug:slug>/billing/success/": TENANT,
    "o/<slug:slug>/billing/cancel/": TENANT,
    "api/v1/orgs/<slug:slug>/": TENANT,
    "api/v1/orgs/<slug:slug>/transfer/": TENANT,
    "api/v1/orgs/<slug:slug>/members/": TENANT,
    "api/v1/orgs/<slug:slug>/members/<uuid:member_id>/": TENANT,
    "api/v1/orgs/<slug:slug>/invitations/": TENANT,
    "api/v1/orgs/<slug:slug>/invitations/<uuid:invitation_id>/": TENANT,
    "api/v1/orgs/<slug:slug>/invitations/<uuid:invitation_id>/resend/": TENANT,
    "api/v1/orgs/<slug:slug>/credits/consume/": TENANT,
    "api/v1/orgs/<slug:slug>/credits/": TENANT,
    "api/v1/orgs/<slug:slug>/credits/transactions/": TENANT,
    "api/v1/orgs/<slug:slug>/credits/grants/": TENANT,
    "api/v1/orgs/<slug:slug>/subscription/": TENANT,
    "api/v1/orgs/<slug:slug>/invoices/": TENANT,
    "api/v1/orgs/<slug:slug>/checkout/": TENANT,
    "api/v1/orgs/<slug:slug>/billing-portal/": TENANT,
}

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def resolver_routes() -> set[str]:
    """Every route of config.urls, includes joined; the admin's as its prefix alone."""
    routes: set[str] = set()

    def walk(patterns, prefix: str):
        for entry in patterns:
            text = prefix + str(entry.pattern)
            if isinstance(entry, URLResolver):
                if entry.app_name == "admin":
                    routes.add(text)
                else:
                    walk(entry.url_patterns, text)
            elif isinstance(entry, URLPattern):
                routes.add(text)

    walk(get_resolver().url_patterns, "")
    return routes


def routes_of(kind: str) -> list[str]:
    return sorted(route for route, of in ROUTES.items() if of == kind)


def fill(route: str, **values) -> str:
    path = route
    for name, value in values.items():
        for converter in ("slug", "uuid", "str"):
            path = path.replace(f"<{converter}:{name}>", str(value))
    assert "<" not in path, f"{route}: no value for {path}"
    return "/" + path


class Tenants:
    """Two organizations, A (the attacker's) and B (the victim's), each with one of everything
    a URL can name: a second member, a pending invitation, an API key; B also renamed once, so
    it has an old slug. The attacker owns A: every permission there, none in B."""

    def __init__(self):
        self.a_owner = factories.UserFactory(username="attacker")
        self.a = services.tenant_create(owner=self.a_owner, name="Attacker Org", slug="attacker-org")
        self.b_owner = factories.UserFactory(username="victim")
        self.b = services.tenant_create(owner=self.b_owner, name="Victim Org", slug="victim-old")
        self.b = services.tenant_update(tenant=self.b, actor=None, slug="victim-org")
        self.b_old_slug = "victim-old"
        self.a_member = join(self.a, factories.UserFactory(username="a-member"))
        self.b_member = join(self.b, factories.UserFactory(username="b-member"), credit_limit=50, used_credits=5)
        self.a_invitation = factories.TenantInvitationFactory(tenant=self.a, invited_by=self.a_owner)
        self.b_invitation = factories.TenantInvitationFactory(tenant=self.b, invited_by=self.b_owner)
        self.a_key, self.a_raw_key = api_key_create(tenant=self.a, user=self.a_owner, name="attacker key")
        self.b_key, _ = api_key_create(tenant=self.b, user=self.b_owner, name="victim key")
        factories.CreditFactory(tenant=self.b, user=self.b_owner, total_credits=500)
        factories.CreditFactory(tenant=self.a, user=self.a_owner, total_credits=500)
        assert self.b_invitation.status == InvitationStatus.PENDING

    def ids(self, tenant: str) -> dict[str, str]:
        if tenant == "a":
            return {"member_id": self.a_member.pk, "invitation_id": self.a_invitation.pk, "api_key_id": self.a_key.pk}
        return {"member_id": self.b_member.pk, "invitation_id": self.b_invitation.pk, "api_key_id": self.b_key.pk}

    def body(self) -> dict:
        """Whatever any tenant route reads, aimed at B: would any of them act, it would act on B."""
        return {
            "name": "Hijacked",
            "slug": "hijacked",
            "confirm_name": self.b.name,
            "member": str(self.b_member.pk),
            "member_id": str(self.b_member.pk),
            "role": MemberRole.OWNER,
            "action": "role",
            "credit_limit": 1,
            "reset_used_credits": True,
            "email": "hijack@example.com",
            "amount": 1,
            "description": "hijack",
            "price": "price_any",
        }


def tenant_rows(tenant: Tenant) -> dict:
    """Every row any Keel table holds for `tenant`, to compare before and after an attack."""
    from django.apps import apps

    rows = {"tenant": list(Tenant.objects.filter(pk=tenant.pk).values())}
    for label in ("organizations", "credits", "billing"):
        for model in apps.get_app_config(label).get_models():
            if model is Tenant:
                continue
            tenant_fields = [f.name for f in model._meta.get_fields() if f.many_to_one and f.related_model is Tenant]
            for name in tenant_fields:
                rows[f"{model._meta.label}.{name}"] = sorted(
                    model.objects.filter(**{name: tenant}).values(), key=lambda row: str(row["id"])
                )
    rows["members"] = sorted(
        TenantMember.objects.filter(tenant=tenant).values("user__username", "role", "updated_at"),
        key=lambda row: row["user__username"],
    )
    return rows
