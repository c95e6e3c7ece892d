from django import template

register = template.Library()

SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "cad": "CA$", "aud": "A$", "jpy": "¥", "inr": "₹"}
# Currencies Stripe counts in whole units (https://docs.stripe.com/currencies#zero-decimal).
ZERO_DECIMAL = {
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf",
}  # fmt: skip


@register.filter
def money(amount, currency):
    """`900|money:"usd"` is $9.00: an amount in the currency's smallest unit, for people."""
    if amount in (None, ""):
        return "—"
    currency = (currency or "").lower()
    value = f"{int(amount):,}" if currency in ZERO_DECIMAL else f"{int(amount) / 100:,.2f}"
    symbol = SYMBOLS.get(currency)
    return f"{symbol}{value}" if symbol else f"{value} {currency.upper()}"
