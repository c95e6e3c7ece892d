"""Keyset paging of pages (the ledger, the audit log): newest first, by (created_at, id)."""

import uuid


def cursor_parse(value: str | None) -> tuple[int, uuid.UUID] | None:
    """`<created_at>.<id>` of the last row seen, else None: keyset paging costs the same on
    page 1 and page 1000."""
    created_at, _, row_id = (value or "").partition(".")
    if not created_at.isdigit():
        return None
    try:
        return int(created_at), uuid.UUID(row_id)
    except ValueError:
        return None


def cursor_of(row) -> str:
    return f"{row.created_at}.{row.pk}"
