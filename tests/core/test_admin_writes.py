"""The admin writes nothing through model forms: every registered admin and inline is read-only
(outside a short whitelist), and what staff change goes through actions and forms that call
the services, with the services' refusals shown as messages or form errors."""

import html

import pytest
from axes.models import AccessAttempt
from django.contrib import admin
from django.contrib.auth.models import Group
from django.contrib.messages import get_messages
from django.test import Client, RequestFactory
from django.urls import resolve, reverse
from djstripe import models as djstripe_models

from accounts.models import User
from credits.errors import MemberCreditLimitExceeded
from credits.models import ApiKey
from credits.services import api_key_create, credits_consume
from organizations.models import Tenant, TenantMember, TenantMemberCreditLimit, TenantSlug
from tests import factories
from tests.credits.helpers import add_member, give, make_org

pytestmark = pytest.mark.django_db

# The writes that stay, each for a reason no Keel service can take over.
WHITELIST = {
    # axes' own unlock: deleting a user's failed attempts (what `axes_reset_username` does).
    ("axes.AccessAttempt", "delete"),
    # dj-stripe's forms create/update the endpoint in Stripe first, then store Stripe's answer
    # (the signing secret exists only in the creation's response).
    ("djstripe.WebhookEndpoint", "add"),
    ("djstripe.WebhookEndpoint", "change"),
}

REGISTERED = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)
MEMBERS = "/admin/organizations/tenantmember/"
LIMITS = "/admin/organizations/tenantmembercreditlimit/"


@pytest.fixture
def operator():
    return factories.UserFactory(username="boss", role="owner")


@pytest.fixture
def staff(operator):
    client = Client()
    client.force_login(operator)
    return client


def superuser_request(user):
    request = RequestFactory().get("/admin/")
    request.user = user
    return request


def writes(model_admin, request, obj, *, inline: bool = False) -> set[str]:
    allowed = set()
    add = model_admin.has_add_permission(request, obj) if inline else model_admin.has_add_permission(request)
    if add:
        allowed.add("add")
    if model_admin.has_change_permission(request, obj):
        allowed.add("change")
    if model_admin.has_delete_permission(request, obj):
        allowed.add("delete")
    return allowed


# --- every admin, every inline -----------------------------------------------------------------


@pytest.mark.parametrize(("model", "model_admin"), REGISTERED, ids=[m._meta.label for m, _ in REGISTERED])
def test_no_admin_or_inline_adds_changes_or_deletes(operator, one_of_everything, model, model_admin):
    request = superuser_request(operator)
    label = model._meta.label
    obj = model_admin.get_queryset(request).first()

    for candidate in {None, obj}:
        assert model_admin.has_view_permission(request, candidate), f"{label}: staff must still see it"
        allowed = writes(model_admin, request, candidate)
        assert allowed <= {w for m, w in WHITELIST if m == label}, f"{label} allows {allowed}"
        for inline in model_admin.get_inline_instances(request, candidate):
            allowed = writes(inline, request, candidate, inline=True)
            assert not allowed, f"inline {type(inline).__name__} on {label} allows {allowed}"


def test_the_whitelist_is_exactly_what_is_allowed(operator, staff):
    request = superuser_request(operator)
    for label, write in WHITELIST:
        model_admin = next(a for m, a in REGISTERED if m._meta.label == label)
        assert write in writes(model_admin, request, None), f"{label} {write}: stale whitelist entry"
    # dj-stripe's endpoint form still renders (it talks to Stripe only when submitted).
    assert staff.get(reverse("admin:djstripe_webhookendpoint_add")).status_code == 200


def test_inlines_on_existing_rows_are_checked(operator, one_of_everything):
    """The walk above meets the inlines that matter (not an empty loop)."""
    request = superuser_request(operator)
    user_admin = admin.site.get_model_admin(User)
    tenant_admin = admin.site.get_model_admin(Tenant)
    user_inlines = user_admin.get_inline_instances(request, User.objects.first())
    tenant_inlines = tenant_admin.get_inline_instances(request, Tenant.objects.first())
    assert {type(i).__name__ for i in user_inlines} == {
        "UserEmailInline",
        "UserEmailPreferenceInline",
        "MembershipInline",
    }
    assert {type(i).__name__ for i in tenant_inlines} == {"TenantMemberInline", "TenantInvitationInline"}


def test_groups_and_unused_third_party_admins_are_gone():
    assert not admin.site.is_registered(Group)
    for model in (djstripe_models.Transfer, djstripe_models.Payout, djstripe_models.IdempotencyKey):
        assert not admin.site.is_registered(model)
    from axes.models import AccessFailureLog, AccessLog

    assert not admin.site.is_registered(AccessLog) and not admin.site.is_registered(AccessFailureLog)


def test_dj_stripe_admins_have_no_actions_and_no_action_url(operator):
    request = superuser_request(operator)
    for model, model_admin in REGISTERED:
        if model._meta.app_label == "djstripe":
            assert model_admin.get_actions(request) == {}, model._meta.label
    # dj-stripe's action URL ran any method of its view by name (`_cancel` a subscription in Stripe).
    for path in (
        "/admin/djstripe/subscription/action/_cancel/subscription/",
        "/admin/djstripe/customer/action/_sync_all_instances/customer/",
    ):
        assert resolve(path).url_name != "djstripe_custom_action"


@pytest.mark.parametrize(
    "model",
    [m for m, _ in REGISTERED if m._meta.app_label in {"djstripe", "axes"}],
    ids=lambda m: m._meta.label,
)
def test_third_party_lists_still_render(staff, model):
    meta = model._meta
    assert staff.get(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")).status_code == 200


def test_staff_unlock_a_locked_out_user_by_deleting_the_attempts(staff, settings):
    factories.UserFactory(username="ada")
    visitor = Client()
    login = reverse("accounts:login")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        visitor.post(login, {"username": "ada", "password": "wrong password!"})
    assert visitor.post(login, {"username": "ada", "password": factories.DEFAULT_PASSWORD}).status_code == 429
    attempt = AccessAttempt.objects.get()

    staff.post(
        reverse("admin:axes_accessattempt_changelist"),
        {"action": "delete_selected", "_selected_action": [attempt.pk], "post": "yes"},
    )

    assert not AccessAttempt.objects.exists()
    assert visitor.post(login, {"username": "ada", "password": factories.DEFAULT_PASSWORD}).status_code == 302


# --- the credit-limit deletion that let a member limited to 5 credits consume 50 ---------------


def test_a_member_credit_limit_cannot_be_deleted_in_the_admin(staff):
    org = make_org()
    give(org, 100)
    member = add_member(org, credit_limit=5)
    limit = TenantMemberCreditLimit.objects.get(tenant=org, user=member)

    delete_page = staff.post(
        reverse("admin:organizations_tenantmembercreditlimit_delete", args=[limit.pk]), {"post": "yes"}
    )
    bulk = staff.post(LIMITS, {"action": "delete_selected", "_selected_action": [limit.pk], "post": "yes"}, follow=True)

    assert delete_page.status_code == 403
    assert "No action selected." in bulk.content.decode()
    assert TenantMemberCreditLimit.objects.filter(pk=limit.pk, credit_limit=5).exists()
    with pytest.raises(MemberCreditLimitExceeded):
        credits_consume(tenant=org, user=member, amount=50)


# --- memberships -------------------------------------------------------------------------------


def membership(tenant, user) -> TenantMember:
    return TenantMember.objects.get(tenant=tenant, user=user)


def act(staff, url, action, objects, **data):
    """Submit an action's own page (the second POST of a confirmed action)."""
    fields = {f"keel-{k}": v for k, v in data.items()}
    return staff.post(
        url,
        {"action": action, "_selected_action": [o.pk for o in objects], "_keel_apply": "1", **fields},
        follow=True,
    )


def page_text(response) -> str:
    return html.unescape(response.content.decode())


def messages_of(response) -> str:
    """The admin messages the (followed) response showed, one per line."""
    return "\n".join(str(m) for m in get_messages(response.wsgi_request))


def test_change_role_shows_a_form_first_then_calls_the_service(staff):
    org = make_org()
    member = membership(org, add_member(org))

    form = staff.post(MEMBERS, {"action": "change_role", "_selected_action": [member.pk], "index": 0})
    assert form.status_code == 200 and 'name="keel-role"' in form.content.decode()
    assert membership(org, member.user).role == "member"  # choosing the action wrote nothing

    response = act(staff, MEMBERS, "change_role", [member], role="custom", permissions=["view_all_usage"])

    member.refresh_from_db()
    assert (member.role, member.permissions) == ("custom", ["view_all_usage"])
    assert "Changed the role of 1 member(s)." in messages_of(response)


def test_demoting_the_last_owner_is_refused_and_the_others_still_change(staff):
    lonely = make_org(slug="lonely")
    owner = membership(lonely, lonely.owner)
    other = make_org(slug="other")
    promoted = membership(other, add_member(other, username="pat"))

    response = act(staff, MEMBERS, "change_role", [owner, promoted], role="member")

    text = messages_of(response)
    assert f"{lonely.owner.username} in lonely: An organization must keep at least one owner" in text
    assert "Changed the role of 1 member(s)." in text
    assert membership(lonely, lonely.owner).role == "owner"
    assert membership(other, promoted.user).role == "member"


def test_demoting_both_owners_at_once_keeps_one(staff):
    org = make_org(slug="two-owners")
    first = membership(org, org.owner)
    second = membership(org, add_member(org, role="owner"))

    response = act(staff, MEMBERS, "change_role", [first, second], role="member")

    roles = sorted(TenantMember.objects.filter(tenant=org).values_list("role", flat=True))
    assert roles == ["member", "owner"]
    assert "must keep at least one owner" in messages_of(response)


def test_change_role_form_errors_change_nothing(staff):
    org = make_org()
    member = membership(org, add_member(org))

    response = staff.post(
        MEMBERS,
        {"action": "change_role", "_selected_action": [member.pk], "_keel_apply": "1", "keel-role": "emperor"},
    )

    assert response.status_code == 400
    assert "Select a valid choice." in response.content.decode()
    assert membership(org, member.user).role == "member"


def test_change_role_from_the_membership_page(staff):
    org = make_org()
    member = membership(org, add_member(org))
    url = reverse("admin:organizations_tenantmember_action", args=[member.pk, "change_role"])

    change_page = staff.get(reverse("admin:organizations_tenantmember_change", args=[member.pk])).content.decode()
    shown = staff.get(url)
    assert url in change_page
    assert shown.status_code == 200 and '<option value="member" selected>' in shown.content.decode()
    assert membership(org, member.user).role == "member"  # a GET never writes

    response = staff.post(url, {"_keel_apply": "1", "keel-role": "owner"})

    assert response.status_code == 302 and response.url == reverse(
        "admin:organizations_tenantmember_change", args=[member.pk]
    )
    assert membership(org, member.user).role == "owner"


def test_an_object_url_runs_only_confirmed_actions(staff):
    org = make_org()
    member = membership(org, add_member(org))
    for action in ("delete_selected", "no_such_action"):
        url = reverse("admin:organizations_tenantmember_action", args=[member.pk, action])
        assert staff.post(url, {"_keel_apply": "1", "post": "yes"}).status_code == 404
    assert TenantMember.objects.filter(pk=member.pk).exists()


def test_remove_from_organization_ends_the_membership_and_its_api_keys(staff):
    org = make_org()
    user = add_member(org, username="leaving")
    api_key, _raw = api_key_create(tenant=org, user=user, name="ci")
    member = membership(org, user)

    response = act(staff, MEMBERS, "remove_members", [member])

    assert "Removed 1 member(s) from their organization." in messages_of(response)
    assert not TenantMember.objects.filter(pk=member.pk).exists()
    assert not TenantMemberCreditLimit.objects.filter(tenant=org, user=user).exists()
    assert ApiKey.objects.get(pk=api_key.pk).revoked_at is not None


def test_remove_from_the_membership_page_returns_to_the_list(staff):
    org = make_org()
    member = membership(org, add_member(org))
    url = reverse("admin:organizations_tenantmember_action", args=[member.pk, "remove_members"])

    assert staff.get(url).status_code == 200 and TenantMember.objects.filter(pk=member.pk).exists()
    response = staff.post(url, {"_keel_apply": "1"})

    assert response.status_code == 302 and response.url == reverse("admin:organizations_tenantmember_changelist")
    assert not TenantMember.objects.filter(pk=member.pk).exists()


def test_removing_the_last_owner_or_from_a_personal_organization_is_refused(staff):
    shared = make_org(slug="shared")
    last_owner = membership(shared, shared.owner)
    personal = make_org(slug="personal", is_default=True)
    creator = membership(personal, personal.owner)
    add_member(personal, role="owner")  # not the last owner: the personal rule alone refuses

    response = act(staff, MEMBERS, "remove_members", [last_owner, creator])

    text = messages_of(response)
    assert "in shared: An organization must keep at least one owner" in text
    assert "in personal: This is your personal organization" in text
    assert "Removed" not in text
    assert TenantMember.objects.filter(pk__in=[last_owner.pk, creator.pk]).count() == 2


def test_the_user_page_cannot_change_or_delete_a_membership(staff):
    org = make_org()
    user = add_member(org, role="owner")
    member = membership(org, user)
    url = reverse("admin:accounts_user_change", args=[user.pk])

    page = staff.get(url).content.decode()
    response = staff.post(
        url,
        {
            "username": user.username,
            "memberships-TOTAL_FORMS": 1,
            "memberships-INITIAL_FORMS": 1,
            "memberships-0-id": member.pk,
            "memberships-0-user": user.pk,
            "memberships-0-role": "member",
            "memberships-0-DELETE": "on",
        },
    )

    assert 'name="memberships-0-role"' not in page and "memberships-0-DELETE" not in page
    assert reverse("admin:organizations_tenantmember_action", args=[member.pk, "change_role"]) in page
    assert response.status_code == 403
    assert membership(org, user).role == "owner"


def test_the_tenant_page_lists_members_with_their_actions_and_edits_none(staff):
    org = make_org()
    member = membership(org, add_member(org))
    page = staff.get(reverse("admin:organizations_tenant_change", args=[org.pk])).content.decode()

    assert reverse("admin:organizations_tenantmember_action", args=[member.pk, "remove_members"]) in page
    assert 'name="members-0-role"' not in page and "members-0-DELETE" not in page


# --- member credit limits ----------------------------------------------------------------------


def test_set_credit_limit_calls_the_service(staff):
    org = make_org()
    give(org, 100)
    user = add_member(org)
    row = TenantMemberCreditLimit.objects.get(tenant=org, user=user)

    response = act(staff, LIMITS, "set_credit_limit", [row], credit_limit=5)

    assert "Set the credit limit of 1 member(s)." in messages_of(response)
    assert TenantMemberCreditLimit.objects.get(pk=row.pk).credit_limit == 5
    with pytest.raises(MemberCreditLimitExceeded):
        credits_consume(tenant=org, user=user, amount=6)

    act(staff, LIMITS, "set_credit_limit", [row], credit_limit=-1)
    assert TenantMemberCreditLimit.objects.get(pk=row.pk).credit_limit == -1


@pytest.mark.parametrize(
    ("value", "message"),
    [("-5", "Ensure this value is greater than or equal to -1."), ("lots", "Enter a whole number.")],
)
def test_a_bad_credit_limit_is_a_form_error(staff, value, message):
    org = make_org()
    row = TenantMemberCreditLimit.objects.get(tenant=org, user=add_member(org, credit_limit=7))

    response = staff.post(
        LIMITS,
        {"action": "set_credit_limit", "_selected_action": [row.pk], "_keel_apply": "1", "keel-credit_limit": value},
    )

    assert response.status_code == 400
    text = page_text(response)
    assert text.index(message) > text.index('class="form-row errors"')
    assert TenantMemberCreditLimit.objects.get(pk=row.pk).credit_limit == 7


def test_a_limit_the_service_refuses_is_a_message(staff):
    org = make_org(slug="acme")
    user = add_member(org, credit_limit=7, username="ivy")
    row = TenantMemberCreditLimit.objects.get(tenant=org, user=user)

    response = act(staff, LIMITS, "set_credit_limit", [row], credit_limit=2**31)

    assert "ivy in acme: The credit limit is a whole number of credits, or -1 for unlimited." in messages_of(response)
    assert TenantMemberCreditLimit.objects.get(pk=row.pk).credit_limit == 7


def test_reset_used_credits_calls_the_service(staff):
    org = make_org()
    give(org, 100)
    user = add_member(org, credit_limit=10)
    credits_consume(tenant=org, user=user, amount=8)
    row = TenantMemberCreditLimit.objects.get(tenant=org, user=user)

    page = staff.get(reverse("admin:organizations_tenantmembercreditlimit_action", args=[row.pk, "reset_used_credits"]))
    assert page.status_code == 200 and TenantMemberCreditLimit.objects.get(pk=row.pk).used_credits == 8
    act(staff, LIMITS, "reset_used_credits", [row])

    assert TenantMemberCreditLimit.objects.get(pk=row.pk).used_credits == 0
    credits_consume(tenant=org, user=user, amount=10)


def test_a_limit_row_without_a_membership_is_reported_and_left_alone(staff):
    org = make_org()
    stray = factories.TenantMemberCreditLimitFactory(tenant=org, credit_limit=3)
    kept = TenantMemberCreditLimit.objects.get(tenant=org, user=org.owner)

    response = act(staff, LIMITS, "set_credit_limit", [stray, kept], credit_limit=9)

    text = messages_of(response)
    assert f"{stray.user.username} in {org.slug}: 0/3: no longer a member." in text
    assert "Set the credit limit of 1 member(s)." in text
    assert TenantMemberCreditLimit.objects.get(pk=stray.pk).credit_limit == 3
    assert TenantMemberCreditLimit.objects.get(pk=kept.pk).credit_limit == 9


def test_set_credit_limit_from_the_membership_page(staff):
    org = make_org()
    user = add_member(org, credit_limit=4)
    url = reverse("admin:organizations_tenantmember_action", args=[membership(org, user).pk, "set_credit_limit"])

    assert 'value="4"' in staff.get(url).content.decode()
    staff.post(url, {"_keel_apply": "1", "keel-credit_limit": 12})

    assert TenantMemberCreditLimit.objects.get(tenant=org, user=user).credit_limit == 12


# --- organizations -----------------------------------------------------------------------------


def edit_url(tenant) -> str:
    return reverse("admin:organizations_tenant_edit", args=[tenant.pk])


def test_edit_name_slug_and_logo_through_the_service(staff):
    org = make_org(name="Acme", slug="acme")

    form = staff.get(edit_url(org))
    response = staff.post(
        edit_url(org), {"name": " Acme Two ", "slug": "acme-two", "logo_url": "https://example.com/logo.png"}
    )

    assert form.status_code == 200 and 'value="acme"' in form.content.decode()
    assert edit_url(org) in staff.get(reverse("admin:organizations_tenant_change", args=[org.pk])).content.decode()
    assert response.status_code == 302
    org.refresh_from_db()
    assert (org.name, org.slug, org.logo_url) == ("Acme Two", "acme-two", "https://example.com/logo.png")
    assert TenantSlug.objects.filter(tenant=org, slug="acme").exists()  # old links keep working


@pytest.mark.parametrize(
    ("slug", "message"),
    [("admin", "is reserved"), ("taken", "is already taken"), ("Not A Slug!", "lowercase letters")],
)
def test_the_services_refusals_show_on_the_slug_field(staff, slug, message):
    make_org(slug="taken")
    org = make_org(name="Acme", slug="acme")

    response = staff.post(edit_url(org), {"name": "Renamed", "slug": slug, "logo_url": ""})

    assert response.status_code == 400
    text = page_text(response)
    assert message in text
    assert text.index(message) > text.index('class="form-row errors"')  # on the field, not above the form
    org.refresh_from_db()
    assert (org.name, org.slug) == ("Acme", "acme")


def test_a_deleted_organization_cannot_be_edited(staff):
    org = make_org(name="Gone", slug="gone", deleted_at=1)

    response = staff.post(edit_url(org), {"name": "Back", "slug": "back", "logo_url": ""}, follow=True)

    assert "This organization is deleted" in messages_of(response)
    org.refresh_from_db()
    assert (org.name, org.slug) == ("Gone", "gone")


# --- users -------------------------------------------------------------------------------------


def test_the_user_page_is_read_only_and_the_profile_form_calls_the_service(staff):
    user = factories.UserFactory(username="ada", first_name="Ada")
    change = reverse("admin:accounts_user_change", args=[user.pk])
    edit = reverse("admin:accounts_user_edit", args=[user.pk])

    refused = staff.post(change, {"username": "hacked", "role": "owner"})
    response = staff.post(edit, {"username": "ada-l", "first_name": "Augusta", "last_name": "King", "avatar_url": ""})

    assert refused.status_code == 403
    assert response.status_code == 302
    user.refresh_from_db()
    assert (user.username, user.first_name, user.last_name, user.role) == ("ada-l", "Augusta", "King", "member")


def test_a_taken_username_is_a_form_error(staff):
    factories.UserFactory(username="grace")
    user = factories.UserFactory(username="ada")

    response = staff.post(
        reverse("admin:accounts_user_edit", args=[user.pk]),
        {"username": "grace", "first_name": "", "last_name": "", "avatar_url": ""},
    )

    assert response.status_code == 400 and 'class="form-row errors"' in response.content.decode()
    assert User.objects.get(pk=user.pk).username == "ada"


def test_email_preferences_are_shown_not_edited(staff):
    preference = factories.UserEmailPreferenceFactory(subscribed=True)
    url = reverse("admin:accounts_useremailpreference_change", args=[preference.pk])

    assert staff.get(url).status_code == 200
    assert staff.post(url, {"subscribed": ""}).status_code == 403
    preference.refresh_from_db()
    assert preference.subscribed is True
