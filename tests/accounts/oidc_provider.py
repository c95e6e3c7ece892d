"""A local OpenID Connect provider that stands in for Google in tests.

A real HTTP server on a free port, in a thread: discovery document, JWKS,
an authorize endpoint that redirects back with a code, and a token endpoint
that checks the client's credentials and returns an ID token signed RS256 with
a real RSA key. Keel's code talks to it exactly as it would to Google (Authlib
over `requests`); nothing of ours is patched.

Knobs for the unhappy paths: `claims` (what the next ID token says), `nonce`
(replace the nonce the client sent), `signing_key` (sign with a key the JWKS
does not publish), `audience`. For a real browser, `consent_page = True` makes
the authorize endpoint answer with an HTML page whose "Continue" button the
user clicks, as on Google's account chooser, instead of redirecting at once.
"""

import base64
import json
import secrets
import threading
import time
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlparse

from joserfc import jwt
from joserfc.jwk import RSAKey

CLIENT_ID = "keel-test-client.apps.example.com"
CLIENT_SECRET = "keel-test-secret"


class OIDCProvider:
    def __init__(self):
        self.key = RSAKey.generate_key(2048, parameters={"kid": "test-key-1", "use": "sig", "alg": "RS256"})
        self.reset()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def reset(self) -> None:
        self.claims: dict = {}
        self.nonce: str | None = None
        self.signing_key: RSAKey | None = None
        self.audience: str | None = None
        self.consent_page = False
        self.codes: dict[str, dict] = {}
        self.token_requests: list[dict] = []

    # --- lifecycle -----------------------------------------------------------------
    def start(self) -> "OIDCProvider":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def issuer(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def metadata_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    # --- what the endpoints serve ---------------------------------------------------
    def metadata(self) -> dict:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "scopes_supported": ["openid", "email", "profile"],
        }

    def jwks(self) -> dict:
        return {"keys": [self.key.as_dict(private=False)]}

    def authorize(self, query: dict) -> tuple[int, dict]:
        """Consent is implicit: redirect straight back with a fresh code."""
        if query.get("client_id") != CLIENT_ID or query.get("response_type") != "code":
            return 400, {}
        code = secrets.token_urlsafe(16)
        self.codes[code] = {"nonce": query.get("nonce"), "redirect_uri": query["redirect_uri"]}
        location = f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query.get('state', '')})}"
        return 302, {"Location": location}

    def consent(self, query: dict) -> str:
        """The page a browser sees before being sent back: the request's parameters, a button."""
        email = escape(str(self.claims.get("email", "your Google account")))
        hidden = "".join(
            f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">' for name, value in query.items()
        )
        return (
            '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign in with Google</title>'
            '<meta name="viewport" content="width=device-width, initial-scale=1"></head>'
            f"<body><main><h1>Choose an account</h1><p>to continue to Keel (test provider)</p>"
            f'<form method="get" action="/authorize/consent">{hidden}'
            f'<button type="submit">Continue as {email}</button></form></main></body></html>'
        )

    def token(self, form: dict, authorization: str) -> tuple[int, dict]:
        self.token_requests.append(form)
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        if authorization.startswith("Basic "):
            client_id, _, client_secret = base64.b64decode(authorization[6:]).decode().partition(":")
        if (client_id, client_secret) != (CLIENT_ID, CLIENT_SECRET):
            return 401, {"error": "invalid_client"}
        grant = self.codes.pop(form.get("code", ""), None)  # codes work once
        if grant is None or grant["redirect_uri"] != form.get("redirect_uri"):
            return 400, {"error": "invalid_grant"}
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": "google-sub-" + secrets.token_hex(4),
            "aud": self.audience or CLIENT_ID,
            "iat": now,
            "exp": now + 600,
            "nonce": self.nonce if self.nonce is not None else grant["nonce"],
            **self.claims,
        }
        key = self.signing_key or self.key
        id_token = jwt.encode({"alg": "RS256", "kid": "test-key-1"}, claims, key)
        return 200, {
            "access_token": secrets.token_urlsafe(16),
            "token_type": "Bearer",
            "expires_in": 3600,
            "id_token": id_token,
        }

    # --- HTTP plumbing ---------------------------------------------------------------
    def _handler(self):
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def _send(self, status: int, body: dict | None = None, headers: dict | None = None):
                payload = json.dumps(body or {}).encode()
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _send_html(self, html: str):
                payload = html.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self):
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                if url.path == "/.well-known/openid-configuration":
                    self._send(200, provider.metadata())
                elif url.path == "/jwks":
                    self._send(200, provider.jwks())
                elif url.path == "/authorize" and provider.consent_page:
                    self._send_html(provider.consent(query))
                elif url.path in ("/authorize", "/authorize/consent"):
                    status, headers = provider.authorize(query)
                    self._send(status, headers=headers)
                else:
                    self._send(404)

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                if urlparse(self.path).path == "/token":
                    status, body = provider.token(form, self.headers.get("Authorization", ""))
                    self._send(status, body)
                else:
                    self._send(404)

        return Handler
