"""The Google OpenID Connect client (Authlib), built from settings.

Discovery (`GOOGLE_OIDC_METADATA_URL`) gives the endpoints and the JWKS; Authlib
keeps state and nonce in the session, exchanges the code, and validates the ID
token (RS256 signature, issuer, audience, expiry, nonce). Tests point the
metadata URL at a local provider that signs real tokens.
"""

from authlib.integrations.django_client import OAuth
from django.conf import settings

_clients: dict[tuple[str, str, str], object] = {}


def google_enabled() -> bool:
    return bool(settings.GOOGLE_CLIENT_ID and settings.GOOGLE_CLIENT_SECRET)


def google_client():
    """One client per configuration, so discovery and keys are fetched once per process."""
    key = (settings.GOOGLE_CLIENT_ID, settings.GOOGLE_CLIENT_SECRET, settings.GOOGLE_OIDC_METADATA_URL)
    client = _clients.get(key)
    if client is None:
        oauth = OAuth()
        oauth.register(
            name="google",
            client_id=settings.GOOGLE_CLIENT_ID,
            client_secret=settings.GOOGLE_CLIENT_SECRET,
            server_metadata_url=settings.GOOGLE_OIDC_METADATA_URL,
            client_kwargs={"scope": "openid email profile", "default_timeout": 10},
        )
        client = _clients[key] = oauth.create_client("google")
    return client
