"""Template filters every app uses; a builtin (settings.TEMPLATES), so no `{% load %}` is needed."""

from django import template

from core.time import ms_to_datetime

register = template.Library()


@register.filter
def ms_datetime(value):
    """An epoch-millisecond timestamp as an aware datetime (then use |date as usual)."""
    return ms_to_datetime(value) if value not in (None, "") else None
