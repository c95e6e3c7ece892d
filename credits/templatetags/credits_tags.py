from django import template

register = template.Library()


@register.filter
def signed(value):
    """+5 / -5 for ledger amounts."""
    return f"{value:+d}" if isinstance(value, int) else value
