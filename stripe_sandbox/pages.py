"""What the customer's browser sees: the hosted checkout page, the billing portal, hosted
invoices (HTML and PDF) and charge receipts. Plain HTML forms, no JavaScript."""

from datetime import UTC, datetime
from html import escape

from . import discounts, errors, flows
from .objects import money
from .payment_objects import DECLINED_CARD, SUCCEEDING_CARD, card_number_from_input
from .server import Response

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 34rem; margin: 3rem auto; padding: 0 1rem; color: #1a1f36; }
h1 { font-size: 1.4rem; } .muted { color: #697386; } .error { color: #c0123c; font-weight: 600; }
table { width: 100%; border-collapse: collapse; margin: 1rem 0; } td { padding: .35rem 0; }
td.amount { text-align: right; } tr.total td { border-top: 1px solid #e3e8ee; font-weight: 600; }
label { display: block; margin: .6rem 0 .2rem; } input, select { width: 100%; padding: .4rem; }
button { margin-top: 1rem; padding: .55rem 1.2rem; } form.inline { display: inline; }
.badge { background: #f6f8fa; border: 1px solid #e3e8ee; border-radius: 4px; padding: 0 .4rem; font-size: .8rem; }
"""


def _page(title: str, body: str, status: int = 200) -> Response:
    return Response.html(
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body><p class=muted><span class=badge>Stripe sandbox</span> "
        f"test mode</p>{body}</body></html>",
        status,
    )


def _date(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, tz=UTC).strftime("%Y-%m-%d")


# Hosted checkout


def checkout_page(ctx, session_id: str, error: str | None = None, status: int = 200) -> Response:
    session = ctx.store.get(session_id, "checkout.session")
    if session["status"] != "open":
        return _page("Checkout", f"<h1>This checkout session is {escape(session['status'])}.</h1>")
    currency = session["currency"]
    rows = "".join(
        f"<tr><td>{escape(item['description'])} × {item['quantity']}</td>"
        f"<td class=amount>{money(item['amount_subtotal'], item['currency'])}</td></tr>"
        for item in flows.checkout_items(ctx.store, session)
    )
    customer = ctx.store.find(session["customer"], "customer") if session["customer"] else None
    email = session["customer_email"] or (customer or {}).get("email") or ""
    renews = " per period" if session["mode"] == "subscription" else ""
    error_html = f"<p class=error>{escape(error)}</p>" if error else ""
    return _page(
        "Checkout",
        f"<h1>Pay {money(session['amount_total'], currency)}{renews}</h1>{error_html}"
        f"<table>{rows}{_discount_row(ctx, session)}<tr class=total><td>Total</td>"
        f"<td class=amount>{money(session['amount_total'], currency)}</td></tr></table>"
        f"{_promotion_code_form(session)}"
        f"<form method=post action='/checkout/{escape(session_id)}/pay'>"
        f"<label for=email>Email</label><input id=email name=email type=email value='{escape(email)}'>"
        "<label for=name>Name on card</label><input id=name name=name value='Test Customer'>"
        "<label for=card>Card</label><select id=card name=card>"
        f"<option value={SUCCEEDING_CARD}>4242 4242 4242 4242 (succeeds)</option>"
        f"<option value={DECLINED_CARD}>4000 0000 0000 0002 (declined)</option></select>"
        "<button type=submit>Pay</button></form>"
        f"<form method=post action='/checkout/{escape(session_id)}/cancel'><button type=submit>Cancel</button></form>",
        status,
    )


def _discount_row(ctx, session: dict) -> str:
    discount = discounts.session_discount(ctx.store, session)
    if discount is None:
        return ""
    promotion_code = (
        ctx.store.find(discount["promotion_code"], "promotion_code") if discount["promotion_code"] else None
    )
    coupon = ctx.store.discount_details[discount["id"]]["coupon"]
    label = promotion_code["code"] if promotion_code else coupon["name"] or coupon["id"]
    amount = money(session["total_details"]["amount_discount"], session["currency"])
    return f"<tr class=discount><td>Discount ({escape(label)})</td><td class=amount>−{amount}</td></tr>"


def _promotion_code_form(session: dict) -> str:
    if not session["allow_promotion_codes"]:
        return ""
    return (
        f"<form method=post action='/checkout/{escape(session['id'])}/promotion_code'>"
        "<label for=promotion_code>Promotion code</label>"
        "<input id=promotion_code name=promotion_code value='' autocomplete=off>"
        "<button type=submit>Apply</button></form>"
    )


def apply_promotion_code(ctx, session_id: str) -> Response:
    session = ctx.store.get(session_id, "checkout.session")
    code = ctx.params.text("promotion_code")
    if not code:
        return checkout_page(ctx, session_id, "Enter a promotion code.", 400)
    try:
        discounts.apply_promotion_code(ctx, session, code)
    except errors.StripeError as error:
        return checkout_page(ctx, session_id, error.body["message"], error.status)
    return Response.redirect(f"/checkout/{session_id}")


def pay_checkout(ctx, session_id: str) -> Response:
    session = ctx.store.get(session_id, "checkout.session")
    card_number = card_number_from_input(ctx.params.text("card"))
    if card_number is None:
        return checkout_page(ctx, session_id, "Your card number is incorrect.", 402)
    try:
        discounts.complete_checkout(
            ctx, session, card_number=card_number, email=ctx.params.text("email"), name=ctx.params.text("name")
        )
    except errors.StripeError as error:
        return checkout_page(ctx, session_id, error.body["message"], error.status)
    if session["success_url"]:
        return Response.redirect(session["success_url"].replace("{CHECKOUT_SESSION_ID}", session_id))
    return _page("Checkout", "<h1>Payment complete.</h1>")


def cancel_checkout(ctx, session_id: str) -> Response:
    # Stripe leaves an abandoned session open until it expires; the sandbox expires it when
    # the customer cancels, so checkout.session.expired follows, as the API helper does.
    session = ctx.store.get(session_id, "checkout.session")
    if session["status"] == "open":
        flows.expire_checkout(ctx, session)
    if session["cancel_url"]:
        return Response.redirect(session["cancel_url"].replace("{CHECKOUT_SESSION_ID}", session_id))
    return _page("Checkout", "<h1>Checkout canceled.</h1>")


# Billing portal


def portal_page(ctx, portal_session_id: str) -> Response:
    session = ctx.store.get(portal_session_id, "billing_portal.session")
    subscriptions = ctx.store.all(
        "subscription", lambda sub: sub["customer"] == session["customer"] and sub["status"] != "canceled"
    )
    blocks = [_portal_subscription(portal_session_id, sub) for sub in subscriptions]
    back = f"<p><a href='{escape(session['return_url'])}'>Return to the site</a></p>" if session["return_url"] else ""
    return _page("Billing", "<h1>Your subscriptions</h1>" + ("".join(blocks) or "<p>None.</p>") + back)


def _portal_subscription(portal_session_id: str, subscription: dict) -> str:
    item = subscription["items"]["data"][0]
    price = item["price"]
    action = f"/billing_portal/{escape(portal_session_id)}/subscriptions/{escape(subscription['id'])}"
    if subscription["cancel_at_period_end"]:
        state = f"Cancels on {_date(subscription['cancel_at'])}"
        buttons = f"<form class=inline method=post action='{action}/resume'><button>Keep subscription</button></form>"
    else:
        state = f"Renews on {_date(item['current_period_end'])}"
        buttons = (
            f"<form class=inline method=post action='{action}/cancel'>"
            "<input type=hidden name=when value=period_end><button>Cancel at period end</button></form> "
            f"<form class=inline method=post action='{action}/cancel'>"
            "<input type=hidden name=when value=now><button>Cancel now</button></form>"
        )
    return (
        f"<section><p><strong>{money(price['unit_amount'] * item['quantity'], price['currency'])} / "
        f"{escape(price['recurring']['interval'])}</strong> <span class=badge>{escape(subscription['status'])}</span>"
        f"<br><span class=muted>{state}</span></p>{buttons}</section>"
    )


def _portal_subscription_of(ctx, portal_session_id: str, subscription_id: str) -> dict:
    session = ctx.store.get(portal_session_id, "billing_portal.session")
    subscription = ctx.store.get(subscription_id, "subscription")
    if subscription["customer"] != session["customer"]:
        raise errors.no_such("subscription", subscription_id)
    return subscription


def portal_cancel(ctx, portal_session_id: str, subscription_id: str) -> Response:
    subscription = _portal_subscription_of(ctx, portal_session_id, subscription_id)
    at_period_end = ctx.params.text("when", choices=("now", "period_end"), default="period_end") == "period_end"
    flows.cancel_subscription(ctx, subscription, at_period_end=at_period_end)
    return Response.redirect(f"/billing_portal/{portal_session_id}")


def portal_resume(ctx, portal_session_id: str, subscription_id: str) -> Response:
    flows.resume_subscription(ctx, _portal_subscription_of(ctx, portal_session_id, subscription_id))
    return Response.redirect(f"/billing_portal/{portal_session_id}")


# Invoices and receipts


def _invoice_lines(invoice: dict) -> list[tuple[str, str]]:
    return [
        (
            f"{line['description']} ({_date(line['period']['start'])} to {_date(line['period']['end'])})",
            money(line["amount"], line["currency"]),
        )
        for line in invoice["lines"]["data"]
    ]


def invoice_page(ctx, invoice_id: str) -> Response:
    invoice = ctx.store.get(invoice_id, "invoice")
    rows = "".join(
        f"<tr><td>{escape(text)}</td><td class=amount>{amount}</td></tr>" for text, amount in _invoice_lines(invoice)
    )
    return _page(
        f"Invoice {invoice['number']}",
        f"<h1>Invoice {escape(invoice['number'] or invoice_id)}</h1>"
        f"<p>Status: <strong>{escape(invoice['status'])}</strong></p><table>{rows}"
        f"<tr class=total><td>Total</td><td class=amount>{money(invoice['total'], invoice['currency'])}</td></tr>"
        f"</table><p><a href='/invoices/{escape(invoice_id)}/pdf'>Download PDF</a></p>",
    )


def invoice_pdf(ctx, invoice_id: str) -> Response:
    invoice = ctx.store.get(invoice_id, "invoice")
    lines = [f"Invoice {invoice['number'] or invoice_id}", f"Status: {invoice['status']}", ""]
    lines += [f"{text}   {amount}" for text, amount in _invoice_lines(invoice)]
    lines += ["", f"Total: {money(invoice['total'], invoice['currency'])}"]
    return Response(200, _pdf(lines), "application/pdf")


def receipt_page(ctx, charge_id: str) -> Response:
    charge = ctx.store.get(charge_id, "charge")
    refunded = (
        f"<p>Refunded: {money(charge['amount_refunded'], charge['currency'])}</p>" if charge["amount_refunded"] else ""
    )
    return _page(
        "Receipt",
        f"<h1>Receipt</h1><p>{money(charge['amount'], charge['currency'])} paid on {_date(charge['created'])} "
        f"with card ending {charge['payment_method_details']['card']['last4']}.</p>{refunded}",
    )


def _pdf_string(text: str) -> bytes:
    escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return escaped.encode("latin-1", "replace")


def _pdf(lines: list[str]) -> bytes:
    """A one-page PDF showing `lines` in Helvetica."""
    shown = b"\n".join(b"(%s) Tj T*" % _pdf_string(line) for line in lines)
    content = b"BT /F1 12 Tf 16 TL 56 780 Td\n%s\nET" % shown
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    document = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(document))
        document += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(document)
    document += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    document += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    document += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(document)


ROUTES = [
    ("GET", "/checkout/{session_id}", checkout_page),
    ("POST", "/checkout/{session_id}/pay", pay_checkout),
    ("POST", "/checkout/{session_id}/promotion_code", apply_promotion_code),
    ("POST", "/checkout/{session_id}/cancel", cancel_checkout),
    ("GET", "/billing_portal/{portal_session_id}", portal_page),
    ("POST", "/billing_portal/{portal_session_id}/subscriptions/{subscription_id}/cancel", portal_cancel),
    ("POST", "/billing_portal/{portal_session_id}/subscriptions/{subscription_id}/resume", portal_resume),
    ("GET", "/invoices/{invoice_id}", invoice_page),
    ("GET", "/invoices/{invoice_id}/pdf", invoice_pdf),
    ("GET", "/receipts/{charge_id}", receipt_page),
]
