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
`last_used_at` is written at most once a minute. The same query loads the
key's user, its organization and the user's membership there (`LEFT JOIN`:
none if the user left), kept as `api_key.membership` so that
`resolve_tenant` needs no second query for the key's own organization.
"""

import functools

from django.contrib.auth import get_user_model
from django.db import connection
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from core.db import hot_cursor
from credits.models import ApiKey
from credits.services.api_keys import api_key_split, api_key_touch, api_key_verify
from organizations.models import Tenant, TenantMember

User = get_user_model()

API_PREFIX = "api/v1/"
ORG_ROUTE_PREFIX = "api/v1/orgs/"


class InvalidApiKey(exceptions.AuthenticationFailed):
    default_detail = "Invalid, revoked or disabled API key."
    default_code = "invalid_api_key"


class ApiKeyNotAllowed(exceptions.AuthenticationFailed):
    default_detail = "An API key works only inside its organization: /api/v1/orgs/{slug}/..."
    default_code = "api_key_not_allowed"


# api_keys, its user and its organization, and the user's membership there (LEFT JOIN: none if
# the user left). Raw SQL: building this join with the ORM cost more than running it.
_JOINED = (
    (ApiKey, "k", ""),
    (User, "u", "JOIN {table} u ON u.id = k.user_id"),
    (Tenant, "t", "JOIN {table} t ON t.id = k.tenant_id"),
    (TenantMember, "m", "LEFT JOIN {table} m ON m.tenant_id = k.tenant_id AND m.user_id = k.user_id"),
)


@functools.cache
def _key_query() -> tuple[str, list]:
    """The SQL and, per model, (model, attnames, index of the primary key, converters): built once per process."""
    qn = connection.ops.quote_name
    columns, shapes = [], []
    for model, alias, _join in _JOINED:
        fields = model._meta.concrete_fields
        columns += [f"{alias}.{qn(field.column)}" for field in fields]
        # Only the fields whose values need converting from what psycopg returns (JSON here).
        converters = [
            (index, field, converters)
            for index, field in enumerate(fields)
            if (converters := connection.ops.get_db_converters(field.cached_col) + field.get_db_converters(connection))
        ]
        names = [field.attname for field in fields]
        shapes.append((model, names, names.index(model._meta.pk.attname), converters))
    joins = " ".join(join.format(table=qn(model._meta.db_table)) for model, _alias, join in _JOINED[1:])
    sql = (
        f"SELECT {', '.join(columns)} FROM {qn(ApiKey._meta.db_table)} k {joins}"
        " WHERE k.prefix = %s AND k.revoked_at IS NULL"
    )
    return sql, shapes


# The related objects the query loaded, cached on the instances as `select_related` would
# (through the fields' caches: the ids are the join's own, so the descriptors' checks are moot).
_CACHES = (
    (ApiKey._meta.get_field("user"), "key", "user"),
    (ApiKey._meta.get_field("tenant"), "key", "tenant"),
    (TenantMember._meta.get_field("user"), "member", "user"),
    (TenantMember._meta.get_field("tenant"), "member", "tenant"),
)


def _live_key_with_membership(prefix: str) -> ApiKey | None:
    """The live key by prefix, with `user`, `tenant` and `membership` (or None), in one query."""
    sql, shapes = _key_query()
    with hot_cursor() as cursor:
        cursor.execute(sql, [prefix])
        row = cursor.fetchone()
        db = cursor.db
    if row is None:
        return None
    instances, start = [], 0
    for model, names, pk_index, converters in shapes:
        values = list(row[start : start + len(names)])
        start += len(names)
        if values[pk_index] is None:  # no membership row (the LEFT JOIN)
            instances.append(None)
            continue
        for index, field, field_converters in converters:
            for converter in field_converters:
                values[index] = converter(values[index], field.cached_col, db)
        instances.append(model.from_db(db.alias, names, values))
    api_key, user, tenant, member = instances
    objects = {"key": api_key, "member": member, "user": user, "tenant": tenant}
    for field, owner, related in _CACHES:
        if objects[owner] is not None:
            field.set_cached_value(objects[owner], objects[related])
    api_key.membership = member
    return api_key


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
        api_key = _live_key_with_membership(prefix)
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
