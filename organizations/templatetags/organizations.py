from django import template

from organizations.models import Permission

register = template.Library()


@register.filter
def permission_labels(values) -> str:
    """A custom member's permissions as people read them: "See all usage, Manage API keys"."""
    labels = dict(Permission.choices)
    return ", ".join(labels.get(value, value) for value in values or [])
