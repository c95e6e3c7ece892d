"""The one Stripe API version the sandbox serves.

Stripe answers each request in the version it names (`Stripe-Version`), else the
account's default. The sandbox implements one version: its objects, parameters and
events are this version's (`2026-05-27.dahlia`, dj-stripe 2.11's default), so a request
for another version is refused rather than answered in shapes it did not ask for.
"""

API_VERSION = "2026-05-27.dahlia"


def unsupported(version: str) -> str:
    """Why `version` is refused."""
    return (
        f"Invalid Stripe API version: {version}. The Stripe sandbox serves API version {API_VERSION} only: "
        f"set stripe.api_version = '{API_VERSION}' (or send `Stripe-Version: {API_VERSION}`, or no Stripe-Version)."
    )
