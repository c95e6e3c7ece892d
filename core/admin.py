"""Admin helpers shared by every app's admin: dates from epoch ms, readable JSON, one-click links."""

import json

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from core.time import ms_to_datetime


def ms_column(field: str, description: str | None = None):
    """A list/readonly column showing an epoch-millisecond field as a UTC date."""

    @admin.display(description=description or field.replace("_", " "), ordering=field)
    def column(_admin, obj):
        value = ms_to_datetime(getattr(obj, field))
        return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "—"

    column.__name__ = f"{field}_display"
    return column


def json_column(field: str, description: str | None = None):
    """A read-only, indented rendering of a JSON field."""

    @admin.display(description=description or field.replace("_", " "))
    def column(_admin, obj):
        return format_html(
            '<pre style="white-space: pre-wrap; max-height: 40em; overflow: auto">{}</pre>',
            json.dumps(getattr(obj, field), indent=2, sort_keys=True, default=str),
        )

    column.__name__ = f"{field}_pretty"
    return column


def link_column(field: str, description: str | None = None):
    """A link to the change page of the row a foreign key points at."""

    @admin.display(description=description or field.replace("_", " "), ordering=field)
    def column(_admin, obj):
        target = getattr(obj, field)
        if target is None:
            return "—"
        meta = target._meta
        url = reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[target.pk])
        return format_html('<a href="{}">{}</a>', url, target)

    column.__name__ = f"{field}_link"
    return column
