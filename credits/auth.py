"""API-key authentication for DRF: `Authorization: Bearer keel_<prefix>.<secret>`.

A key acts as its user inside its organization only:

* `request.auth` is the `ApiKey`; `organizations.tenancy.resolve_tenant`
  reads its `tenant_id` and answers 404 for any other organization;
* on other API routes (`/api/v1/me/`, `/api/v1/orgs/`, ...) a key is refused
  (`api_key_not_allowed`): account settings and the list of organizations are
  for people signed in, not for scripts holding a key;
* a revoked key, or one whose user is disabled or deleted, stops working on the
  next request (the user is loaded with the key every time).

One indexed lookup by prefix and a SHA-512 comparison per request;
`last_used_at` is written at most once a minute.
"""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from credits.models import ApiKey
from credits.services.api_keys import api_key_split, api_key_touch, api_key_verify

API_PREFIX = "api/v1/"
ORG_ROUTE_PREFIX = "api/v1/orgs/"


class InvalidApiKey(exceptions.AuthenticationFailed):
    default_detail = "Invalid, revoked or disabled API key."
    default_code = "invalid_api_key"


class ApiKeyNotAllowed(exceptions.AuthenticationFailed):
    default_detail = "An API key works only inside its organization: /api/v1/orgs/{slug}/..."
    default_code = "api_key_not_allowed"


class ApiKeyAuthentication(BaseAuthentication):
    keyword = b"bearer"

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            return None  # not ours: let session authentication try
        if len(parts) != 2:
            raise InvalidApiKey("Send the key as: Authorization: Bearer <key>.")
        try:
            raw_key = parts[1].decode("ascii")
        except UnicodeDecodeError as exc:
            raise InvalidApiKey() from exc
        split = api_key_split(raw_key)
        if split is None:
            raise InvalidApiKey()
        prefix, raw_key = split
        api_key = ApiKey.objects.select_related("user").filter(prefix=prefix, revoked_at__isnull=True).first()
        if api_key is None or not api_key_verify(api_key=api_key, raw_key=raw_key) or not api_key.user.is_active:
            raise InvalidApiKey()
        match = getattr(request._request, "resolver_match", None)
        route = match.route if match is not None else ""
        if not (route.startswith(ORG_ROUTE_PREFIX) and "slug" in match.kwargs):
            if route.startswith(API_PREFIX):
                raise ApiKeyNotAllowed()
            return None  # public pages such as the schema: the key is simply not used
        api_key_touch(api_key=api_key)
        return api_key.user, api_key

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "credits.auth.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An organization API key (`keel_<prefix>.<secret>`), created on the organization's "
            "API keys page. It acts as its user inside that organization only.",
        }
