"""A user's own data as one JSON document (docs/accounts.md, "Your data").

The document is written as it is read, section by section: `user_export_chunks` yields text
that a streaming response sends on. Sections are `section(*, user) -> (name, data)`: the
account's own below, then every dotted path in `settings.KEEL_ACCOUNT_EXPORT_SECTIONS` (the
apps above accounts: memberships, consumption, API keys, invoices), which accounts cannot
import. `data` is anything JSON can hold; a section that can be long (the ledger rows) gives an
iterator instead of a list, written item by item, so the export never holds it all in memory.

What never goes in: the password hash, API key hashes, tokens and secrets of any kind, other
people's data (a membership's organization is named, its other members are not).
"""

import json
from collections.abc import Iterable, Iterator
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.utils.module_loading import import_string

from accounts.models import SignupVia, User, UserEmail, UserProviderCustomer
from accounts.selectors import email_preferences_get
from core.time import now_ms

FORMAT = "keel-export/1"
# Items of an iterated section sent per chunk: few chunks, bounded memory.
CHUNK_ITEMS = 500


def _account(*, user: User) -> tuple[str, dict]:
    return "account", {
        "id": str(user.pk),
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "avatar_url": user.avatar_url,
        "role": user.role,
        "status": user.status,
        "has_password": user.has_usable_password(),
        "created_at": user.created_at,
        "updated_at": user.updated_at,
        "last_login": user.last_login,
    }


def _emails(*, user: User) -> tuple[str, list]:
    rows = UserEmail.objects.filter(user=user).order_by("-is_primary", "email")
    return "emails", [
        {"email": e.email, "verified": e.verified, "primary": e.is_primary, "via": e.via, "created_at": e.created_at}
        for e in rows
    ]


def _email_preferences(*, user: User) -> tuple[str, dict]:
    return "email_preferences", email_preferences_get(user=user)


def _linked_accounts(*, user: User) -> tuple[str, dict]:
    """Google (the addresses it signed up or linked, as Keel keeps no other Google id) and the
    payment provider's customer ids. No token: Keel stores none."""
    google = UserEmail.objects.filter(user=user, via=SignupVia.GOOGLE).order_by("email")
    customers = UserProviderCustomer.objects.filter(user=user).order_by("provider")
    return "linked_accounts", {
        "google": [{"email": e.email, "linked_at": e.created_at} for e in google],
        "payment_customers": [
            {"provider": c.provider, "customer_id": c.customer_id, "created_at": c.created_at} for c in customers
        ],
    }


ACCOUNT_SECTIONS = (_account, _emails, _email_preferences, _linked_accounts)


def user_export_sections(*, user: User) -> Iterator[tuple[str, Any]]:
    """Every section, in order, each read when it is reached."""
    for section in ACCOUNT_SECTIONS:
        yield section(user=user)
    for path in settings.KEEL_ACCOUNT_EXPORT_SECTIONS:
        yield import_string(path)(user=user)


def _dumps(value) -> str:
    return json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False)


def _array(items: Iterable) -> Iterator[str]:
    batch: list[str] = []
    first = True
    yield "["
    for item in items:
        batch.append(_dumps(item))
        if len(batch) == CHUNK_ITEMS:
            yield ("" if first else ",") + ",".join(batch)
            first, batch = False, []
    if batch:
        yield ("" if first else ",") + ",".join(batch)
    yield "]"


def user_export_chunks(*, user: User) -> Iterator[str]:
    """The JSON document, in pieces."""
    yield "{" + f'"format": {_dumps(FORMAT)}, "exported_at": {now_ms()}'
    for name, data in user_export_sections(user=user):
        yield f", {_dumps(name)}: "
        if data is None or isinstance(data, (dict, list, tuple, str, int, float, bool)):
            yield _dumps(data)
        else:
            yield from _array(data)
    yield "}\n"
