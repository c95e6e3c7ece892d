"""Codes an authenticator app would show, for the tests of two-factor sign-in and re-authentication."""

import time

from django.db import models
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice


def totp_code(device: TOTPDevice, *, steps: int = 0) -> str:
    """The code `device`'s app shows now (or `steps` time steps of 30 s later)."""
    device.refresh_from_db()
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + steps * device.step
    return f"{totp.token():0{device.digits}d}"


def sign_in_with_code(client, username: str, password: str, device: TOTPDevice, *, next_url: str = ""):
    """Both steps of signing in; the second step's response."""
    data = {"username": username, "password": password}
    if next_url:
        data["next"] = next_url
    first = client.post("/accounts/login/", data)
    assert first.status_code == 302 and first["Location"] == "/accounts/login/two-factor/", first
    return client.post("/accounts/login/two-factor/", {"code": totp_code(device)})


def minutes_pass(device: TOTPDevice) -> None:
    """As if the device's last accepted code was minutes ago: its current code is new again."""
    TOTPDevice.objects.filter(pk=device.pk).update(last_t=models.F("last_t") - 10)
