"""Two-factor sign-in: turning it on and off, the second step, recovery codes, the staff gate."""

import base64
import re

import pytest
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.services.two_factor import InvalidCode, two_factor_enabled, two_factor_verify
from tests import factories
from tests.accounts.conftest import STRONG_PASSWORD
from tests.two_factor import minutes_pass, sign_in_with_code, totp_code

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
SECOND_STEP = "/accounts/login/two-factor/"
PAGE = "/accounts/two-factor/"


def turn_on(client, user) -> list[str]:
    """Through the pages: begin, scan (read the device), confirm with a code; the recovery codes shown."""
    assert client.post(reverse("accounts:two_factor_setup_begin")).status_code == 302
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    response = client.post(reverse("accounts:two_factor_setup"), {"code": totp_code(device)})
    assert response.status_code == 302 and response["Location"] == PAGE
    page = client.get(PAGE).content.decode()
    return re.findall(r"\b[a-z2-9]{5}-[a-z2-9]{5}\b", page.split('id="recovery-codes-text"')[1].split("</code>")[0])


@pytest.fixture
def ada(member):
    member.set_password(STRONG_PASSWORD)
    member.save()
    return member


@pytest.fixture
def with_two_factor(client, ada):
    """Ada with two-factor on (through the pages), signed out; her device and recovery codes."""
    client.force_login(ada)
    codes = turn_on(client, ada)
    client.logout()
    device = TOTPDevice.objects.get(user=ada, confirmed=True)
    minutes_pass(device)
    return device, codes


def password_step(client, next_url=""):
    data = {"username": "ada", "password": STRONG_PASSWORD}
    if next_url:
        data["next"] = next_url
    return client.post(LOGIN, data)


# --- turning it on ----------------------------------------------------------------------


def test_turning_on_shows_a_qr_code_and_the_secret_and_counts_only_once_a_code_confirms(signed_in, member):
    assert "Turn on two-factor authentication" in signed_in.get(PAGE).content.decode()
    signed_in.post(reverse("accounts:two_factor_setup_begin"))
    device = TOTPDevice.objects.get(user=member)
    assert device.confirmed is False and not two_factor_enabled(user=member)

    setup = signed_in.get(reverse("accounts:two_factor_setup")).content.decode()
    assert reverse("accounts:two_factor_qr") in setup  # an <img> served by the site, no inline script or style
    secret = base64.b32encode(device.bin_key).decode().rstrip("=")
    assert " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)) in setup
    qr = signed_in.get(reverse("accounts:two_factor_qr"))
    assert qr["Content-Type"] == "image/svg+xml" and "no-store" in qr["Cache-Control"]
    assert qr.content.startswith(b"<?xml") and b"<svg" in qr.content and b"<script" not in qr.content

    wrong = signed_in.post(reverse("accounts:two_factor_setup"), {"code": "000000"})
    assert wrong.status_code == 400
    assert "That code is not valid" in wrong.content.decode()
    assert not two_factor_enabled(user=member)

    codes = turn_on_from_setup(signed_in, device)
    assert two_factor_enabled(user=member)
    assert len(codes) == 10 and len(set(codes)) == 10
    # Stored as digests: a reader of the table cannot use them.
    stored = set(StaticToken.objects.filter(device__user=member).values_list("token", flat=True))
    assert len(stored) == 10 and not stored & {c.replace("-", "") for c in codes} and not stored & set(codes)
    # Shown once: the next visit shows how many are left, not the codes.
    again = signed_in.get(PAGE).content.decode()
    assert codes[0] not in again and "Recovery codes left: <strong>10</strong>" in again


def turn_on_from_setup(client, device) -> list[str]:
    response = client.post(reverse("accounts:two_factor_setup"), {"code": totp_code(device)})
    assert response.status_code == 302
    page = client.get(PAGE).content.decode()
    assert "Shown once" in page and 'download="keel-recovery-codes.txt"' in page
    return re.findall(r"\b[a-z2-9]{5}-[a-z2-9]{5}\b", page.split('id="recovery-codes-text"')[1].split("</code>")[0])


def test_the_qr_code_is_only_for_a_setup_in_progress(signed_in):
    assert signed_in.get(reverse("accounts:two_factor_qr")).status_code == 404
    assert signed_in.get(reverse("accounts:two_factor_setup"))["Location"] == PAGE


# --- the second step ----------------------------------------------------------------------


def test_the_password_alone_does_not_sign_in_and_only_the_second_step_and_sign_out_work(client, with_two_factor):
    device, _codes = with_two_factor
    response = password_step(client, next_url="/accounts/emails/")
    assert response.status_code == 302 and response["Location"] == SECOND_STEP
    assert "_auth_user_id" not in client.session
    # Any other page treats the visitor as signed out.
    for path in ("/accounts/", "/accounts/emails/", "/orgs/", "/api/v1/me/"):
        answer = client.get(path)
        assert answer.status_code in (302, 401), path
        if answer.status_code == 302:
            assert answer["Location"].startswith(LOGIN), path
    assert client.get(SECOND_STEP).status_code == 200

    done = client.post(SECOND_STEP, {"code": totp_code(device)})
    assert done.status_code == 302 and done["Location"] == "/accounts/emails/"  # next kept
    assert client.get("/api/v1/me/").json()["username"] == "ada"


def test_signing_out_at_the_second_step_forgets_the_password_step(client, with_two_factor):
    device, _codes = with_two_factor
    password_step(client)
    client.post(reverse("accounts:logout"))
    answer = client.post(SECOND_STEP, {"code": totp_code(device)})
    assert answer.status_code == 302 and answer["Location"] == LOGIN
    assert "_auth_user_id" not in client.session


def test_the_session_key_changes_at_each_step(client, with_two_factor):
    device, _codes = with_two_factor
    client.session.save()  # an anonymous session from before signing in
    before = client.cookies["sessionid"].value
    password_step(client)
    after_password = client.cookies["sessionid"].value
    client.post(SECOND_STEP, {"code": totp_code(device)})
    after_code = client.cookies["sessionid"].value
    assert len({before, after_password, after_code}) == 3


def test_a_wrong_code_is_refused_and_a_totp_code_is_not_accepted_twice(client, with_two_factor):
    device, _codes = with_two_factor
    password_step(client)
    wrong = client.post(SECOND_STEP, {"code": "123456" if totp_code(device) != "123456" else "654321"})
    assert wrong.status_code == 400 and "_auth_user_id" not in client.session
    code = totp_code(device)
    assert client.post(SECOND_STEP, {"code": code}).status_code == 302

    # The same code again, from another browser that knows the password: refused.
    other = client.__class__()
    password_step(other)
    replay = other.post(SECOND_STEP, {"code": code})
    assert replay.status_code == 400 and "_auth_user_id" not in other.session
    # The app's next code is fine.
    assert other.post(SECOND_STEP, {"code": totp_code(device, steps=1)}).status_code == 302


def test_a_recovery_code_works_once(client, with_two_factor):
    _device, codes = with_two_factor
    password_step(client)
    first = client.post(SECOND_STEP, {"code": codes[0].upper().replace("-", " ")})  # as typed from paper
    assert first.status_code == 302
    client.logout()

    password_step(client)
    again = client.post(SECOND_STEP, {"code": codes[0]})
    assert again.status_code == 400 and "_auth_user_id" not in client.session
    assert client.post(SECOND_STEP, {"code": codes[1]}).status_code == 302
    assert "Recovery codes left: <strong>8</strong>" in client.get(PAGE).content.decode()


def test_wrong_codes_are_throttled_per_account(client, with_two_factor, settings):
    device, _codes = with_two_factor
    settings.TWO_FACTOR_FAILURE_LIMIT = 3
    password_step(client)
    for _ in range(3):
        assert client.post(SECOND_STEP, {"code": "99999999"}).status_code == 400
    # Over the limit: even the right code waits (a 429 that says so), from any browser.
    blocked = client.post(SECOND_STEP, {"code": totp_code(device)})
    assert blocked.status_code == 429 and "Try again in" in blocked.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_second_step_expires(client, with_two_factor, settings):
    device, _codes = with_two_factor
    password_step(client)
    session = client.session
    session["accounts_two_factor_pending"]["at"] -= 6 * 60 * 1000
    session.save()
    answer = client.post(SECOND_STEP, {"code": totp_code(device)})
    assert answer.status_code == 302 and answer["Location"] == LOGIN


def test_google_sign_in_asks_for_the_code_too(client, google, member):
    from tests.accounts.test_google import google_sign_in

    device = TOTPDevice.objects.create(user=member, name="app", confirmed=True)
    response = google_sign_in(client, google, email="ada@example.com")
    assert response.status_code == 302 and response["Location"] == SECOND_STEP
    assert "_auth_user_id" not in client.session
    assert client.post(SECOND_STEP, {"code": totp_code(device)}).status_code == 302
    assert client.session["_auth_user_id"] == str(member.pk)


def test_api_keys_are_not_asked_for_a_code(client, member):
    from credits.services import api_key_create

    TOTPDevice.objects.create(user=member, name="app", confirmed=True)
    tenant = factories.TenantFactory(owner=member)
    factories.TenantMemberFactory(tenant=tenant, user=member, role="owner")
    _key, raw = api_key_create(tenant=tenant, user=member, name="script")
    answer = client.get(f"/api/v1/orgs/{tenant.slug}/credits/", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert answer.status_code == 200


# --- recovery codes and turning it off ------------------------------------------------------


def test_regenerating_codes_replaces_the_old_ones(signed_in, member):
    old = turn_on(signed_in, member)
    signed_in.post(reverse("accounts:two_factor_codes"))
    page = signed_in.get(PAGE).content.decode()
    new = re.findall(r"\b[a-z2-9]{5}-[a-z2-9]{5}\b", page.split('id="recovery-codes-text"')[1].split("</code>")[0])
    assert len(new) == 10 and not set(new) & set(old)
    with pytest.raises(InvalidCode):
        two_factor_verify(user=member, code=old[0])
    assert two_factor_verify(user=member, code=new[0]) is not None


def test_turning_off_asks_for_the_password_or_a_code(client, ada):
    client.force_login(ada)
    turn_on(client, ada)
    url = reverse("accounts:two_factor_off")
    refused = client.post(url, {"confirmation": "not my password"})
    assert refused.status_code == 400 and two_factor_enabled(user=ada)
    assert client.post(url, {"confirmation": STRONG_PASSWORD}).status_code == 302
    assert not two_factor_enabled(user=ada)
    assert not StaticToken.objects.filter(device__user=ada).exists()

    turn_on(client, ada)
    device = TOTPDevice.objects.get(user=ada, confirmed=True)
    minutes_pass(device)
    assert client.post(url, {"confirmation": totp_code(device)}).status_code == 302
    assert not two_factor_enabled(user=ada)


def test_deleting_the_account_removes_its_devices(client, ada):
    client.force_login(ada)
    turn_on(client, ada)
    assert client.post(reverse("accounts:delete"), {"password": STRONG_PASSWORD}).status_code == 302
    assert not TOTPDevice.objects.filter(user=ada).exists()
    assert not StaticToken.objects.filter(device__user=ada).exists()


# --- staff and the admin ---------------------------------------------------------------------


def test_staff_without_two_factor_are_sent_to_set_it_up(client):
    boss = factories.UserFactory(username="boss", role="owner", two_factor=False)
    client.force_login(boss)
    response = client.get("/admin/accounts/user/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/two-factor/?next=%2Fadmin%2Faccounts%2Fuser%2F"

    # Setting it up there counts for this session: the admin opens.
    codes = turn_on(client, boss)
    assert codes
    assert client.get("/admin/accounts/user/").status_code == 200


def test_staff_with_two_factor_must_have_verified_it_in_this_session(client):
    boss = factories.UserFactory(username="boss", role="owner", two_factor=False)
    device = TOTPDevice.objects.create(user=boss, name="app", confirmed=True)
    client.force_login(boss)  # a session that never gave a code (e.g. from before turning it on)
    response = client.get("/admin/")
    assert response.status_code == 302 and response["Location"] == "/accounts/reauthenticate/?next=%2Fadmin%2F"
    assert client.get("/admin/").status_code == 302

    page = client.get(response["Location"]).content.decode()
    assert "authenticator app" in page and 'name="password"' not in page
    done = client.post(response["Location"], {"code": totp_code(device), "next": "/admin/"})
    assert done.status_code == 302 and done["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_staff_signing_in_with_both_steps_reach_the_admin(client):
    boss = factories.UserFactory(username="boss", role="owner")
    response = sign_in_with_code(client, "boss", factories.DEFAULT_PASSWORD, boss.otp_device, next_url="/admin/")
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_members_are_unaffected_by_the_admin_gate(client):
    client.force_login(factories.UserFactory(role="member"))
    assert client.get("/admin/")["Location"].startswith("/admin/login/")
    assert client.get("/admin/login/").status_code == 200  # the admin's own "not authorised" page
