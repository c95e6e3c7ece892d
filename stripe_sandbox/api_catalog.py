"""`/v1` routes for the account and the catalogue: customers, products, prices, payment
methods and balance transactions."""

import re

from . import errors, flows
from .formdata import Params, merge_metadata
from .listing import list_endpoint
from .objects import deleted_object, list_object, new_price, new_product

ADDRESS_FIELDS = ("city", "country", "line1", "line2", "postal_code", "state")
CUSTOMER_TEXT_FIELDS = ("email", "name", "phone", "description")
CUSTOMER_PARAMS = (*CUSTOMER_TEXT_FIELDS, "address", "preferred_locales", "metadata", "invoice_settings")
PRODUCT_TEXT_FIELDS = ("name", "description", "url", "unit_label", "statement_descriptor")
PRODUCT_PARAMS = (*PRODUCT_TEXT_FIELDS, "active", "metadata", "images")
INTERVALS = ("day", "week", "month", "year")
TAX_BEHAVIORS = ("exclusive", "inclusive", "unspecified")


def retrieve_account(ctx, account_id: str | None = None) -> dict:
    ctx.params.reject_unknown()
    if account_id not in (None, ctx.store.account_id):
        raise errors.no_such("account", account_id)
    return ctx.store.objects[ctx.store.account_id]


def list_connected_accounts(ctx) -> dict:
    ctx.params.reject_unknown("limit", "starting_after", "ending_before", "created")
    return list_object([], "/v1/accounts")


def live_customer(ctx, customer_id: str, param: str = "id") -> dict:
    customer = ctx.store.get(customer_id, "customer", param=param)
    if customer.get("deleted"):
        raise errors.no_such("customer", customer_id, param)
    return customer


def _customer_fields(params: Params) -> dict:
    fields = {key: params.text(key) for key in CUSTOMER_TEXT_FIELDS if key in params}
    if "address" in params:
        address = params.nested("address")
        if address is not None:
            address.reject_unknown(*ADDRESS_FIELDS)
            fields["address"] = {key: address.text(key) for key in ADDRESS_FIELDS}
        else:
            fields["address"] = None
    if "preferred_locales" in params:
        fields["preferred_locales"] = params.array("preferred_locales")
    return fields


def _set_default_payment_method(ctx, customer: dict, params: Params) -> None:
    settings = params.nested("invoice_settings")
    if settings is None:
        return
    settings.reject_unknown("default_payment_method")
    payment_method_id = settings.text("default_payment_method")
    if payment_method_id:
        param = settings.name("default_payment_method")
        payment_method = ctx.store.get(payment_method_id, "payment_method", param=param, status=400)
        if payment_method["customer"] != customer["id"]:
            raise errors.invalid(
                f"The customer does not have a payment method with the ID {payment_method_id}. "
                "The payment method must be attached to the customer.",
                param,
            )
    customer["invoice_settings"]["default_payment_method"] = payment_method_id


def create_customer(ctx) -> dict:
    params = ctx.params
    params.reject_unknown(*CUSTOMER_PARAMS, "payment_method", "test_clock")
    clock_id = params.text("test_clock")
    if clock_id:
        ctx.store.get(clock_id, "test_helpers.test_clock", param="test_clock", status=400)
    customer = flows.create_customer(
        ctx, **_customer_fields(params), metadata=params.metadata() or {}, test_clock=clock_id
    )
    if params.text("payment_method"):
        payment_method = flows.attach_payment_method(ctx, params.text("payment_method"), customer, "payment_method")
        settings = params.nested("invoice_settings")
        if settings and settings.text("default_payment_method") == params.text("payment_method"):
            # `pm_card_visa` in both places means the card the first one just created.
            settings.data["default_payment_method"] = payment_method["id"]
    with ctx.store.updating(customer, "customer.updated", ctx.request):
        _set_default_payment_method(ctx, customer, params)
    return customer


def retrieve_customer(ctx, customer_id: str) -> dict:
    ctx.params.reject_unknown()
    # A deleted customer is still retrievable, as `{"id", "object", "deleted": true}`.
    return ctx.store.get(customer_id, "customer")


def update_customer(ctx, customer_id: str) -> dict:
    params = ctx.params
    params.reject_unknown(*CUSTOMER_PARAMS)
    customer = live_customer(ctx, customer_id)
    with ctx.store.updating(customer, "customer.updated", ctx.request):
        customer.update(_customer_fields(params))
        customer["metadata"] = merge_metadata(customer["metadata"], params.metadata())
        _set_default_payment_method(ctx, customer, params)
    return customer


def delete_customer(ctx, customer_id: str) -> dict:
    ctx.params.reject_unknown()
    customer = live_customer(ctx, customer_id)
    for subscription in ctx.store.all("subscription", lambda sub: sub["customer"] == customer_id):
        if subscription["status"] not in flows.ENDED_STATUSES:
            flows.cancel_subscription(ctx, subscription, at_period_end=False)
    ctx.store.objects[customer_id] = deleted_object(customer)
    ctx.store.emit("customer.deleted", customer, ctx.request)
    return ctx.store.objects[customer_id]


def list_customers(ctx) -> dict:
    email = ctx.params.text("email")
    return list_endpoint(
        ctx,
        "customer",
        "/v1/customers",
        filters=("email",),
        where=lambda c: not c.get("deleted") and (email is None or c["email"] == email),
    )


def _product_fields(params: Params) -> dict:
    fields = {key: params.text(key) for key in PRODUCT_TEXT_FIELDS if key in params}
    if "active" in params:
        fields["active"] = params.boolean("active")
    if "images" in params:
        fields["images"] = params.array("images")
    return fields


def create_product(ctx) -> dict:
    params = ctx.params
    params.reject_unknown(*PRODUCT_PARAMS, "id")
    params.text("name", required=True)
    fields = _product_fields(params)
    if params.text("id"):
        if ctx.store.find(params.text("id")):
            raise errors.invalid("Product already exists.", "id", "resource_already_exists")
        fields["id"] = params.text("id")
    product = new_product(ctx.store, **fields, metadata=params.metadata() or {})
    ctx.store.emit("product.created", product, ctx.request)
    return product


def retrieve_product(ctx, product_id: str) -> dict:
    ctx.params.reject_unknown()
    return ctx.store.get(product_id, "product")


def update_product(ctx, product_id: str) -> dict:
    params = ctx.params
    params.reject_unknown(*PRODUCT_PARAMS, "default_price")
    product = ctx.store.get(product_id, "product")
    with ctx.store.updating(product, "product.updated", ctx.request):
        product.update(_product_fields(params))
        product["metadata"] = merge_metadata(product["metadata"], params.metadata())
        if "default_price" in params:
            price_id = params.text("default_price")
            if price_id:
                price = ctx.store.get(price_id, "price", param="default_price", status=400)
                if price["product"] != product_id:
                    raise errors.invalid(f"The price {price_id} does not belong to this product.", "default_price")
            product["default_price"] = price_id
        product["updated"] = ctx.store.now()
    return product


def delete_product(ctx, product_id: str) -> dict:
    ctx.params.reject_unknown()
    product = ctx.store.get(product_id, "product")
    if ctx.store.all("price", lambda price: price["product"] == product_id):
        raise errors.invalid("This product cannot be deleted because it has one or more user-created prices.")
    ctx.store.remove(product_id)
    ctx.store.emit("product.deleted", product, ctx.request)
    return deleted_object(product)


def list_products(ctx) -> dict:
    active = ctx.params.boolean("active")
    ids = ctx.params.array("ids")
    return list_endpoint(
        ctx,
        "product",
        "/v1/products",
        filters=("active", "ids"),
        where=lambda p: (active is None or p["active"] == active) and (not ids or p["id"] in ids),
    )


def list_product_features(ctx, product_id: str) -> dict:
    ctx.store.get(product_id, "product")
    ctx.params.reject_unknown("limit", "starting_after", "ending_before")
    return list_object([], f"/v1/products/{product_id}/features")


def create_price(ctx) -> dict:
    params = ctx.params
    params.reject_unknown(
        "product",
        "product_data",
        "currency",
        "unit_amount",
        "recurring",
        "nickname",
        "lookup_key",
        "transfer_lookup_key",
        "metadata",
        "active",
        "tax_behavior",
        "billing_scheme",
    )
    params.text("billing_scheme", choices=("per_unit",))
    currency = params.text("currency", required=True).lower()
    if not re.fullmatch(r"[a-z]{3}", currency):
        raise errors.invalid(f"Invalid currency: {currency}", "currency")
    unit_amount = params.integer("unit_amount", required=True, minimum=0)
    recurring = _recurring(params.nested("recurring"))
    product = _price_product(ctx, params)
    lookup_key = params.text("lookup_key")
    if lookup_key:
        _claim_lookup_key(ctx, lookup_key, transfer=params.boolean("transfer_lookup_key", default=False))
    price = new_price(
        ctx.store,
        unit_amount=unit_amount,
        recurring=recurring,
        active=params.boolean("active", default=True),
        currency=currency,
        lookup_key=lookup_key,
        metadata=params.metadata() or {},
        nickname=params.text("nickname"),
        product=product["id"],
        tax_behavior=params.text("tax_behavior", choices=TAX_BEHAVIORS, default="unspecified"),
    )
    ctx.store.emit("price.created", price, ctx.request)
    return price


def _recurring(recurring: Params | None) -> dict | None:
    if recurring is None:
        return None
    recurring.reject_unknown("interval", "interval_count", "usage_type")
    interval = recurring.text("interval", required=True, choices=INTERVALS)
    count = recurring.integer("interval_count", default=1, minimum=1)
    if count > {"day": 365, "week": 52, "month": 12, "year": 3}[interval]:
        raise errors.invalid("The maximum billing frequency is one year.", recurring.name("interval_count"))
    return {
        "interval": interval,
        "interval_count": count,
        "usage_type": recurring.text("usage_type", choices=("licensed",), default="licensed"),
    }


def _price_product(ctx, params: Params) -> dict:
    product_data = params.nested("product_data")
    if product_data is not None:
        product_data.reject_unknown("name", "active", "metadata", "unit_label", "statement_descriptor")
        product = new_product(
            ctx.store,
            name=product_data.text("name", required=True),
            active=product_data.boolean("active", default=True),
            metadata=product_data.metadata() or {},
        )
        ctx.store.emit("product.created", product, ctx.request)
        return product
    product_id = params.text("product", required=True)
    return ctx.store.get(product_id, "product", param="product", status=400)


def _claim_lookup_key(ctx, lookup_key: str, *, transfer: bool) -> None:
    for holder in ctx.store.all("price", lambda price: price["lookup_key"] == lookup_key):
        if not transfer:
            raise errors.invalid(
                f"A price ({holder['id']}) already uses that lookup key.", "lookup_key", "lookup_key_already_exists"
            )
        with ctx.store.updating(holder, "price.updated", ctx.request):
            holder["lookup_key"] = None


def retrieve_price(ctx, price_id: str) -> dict:
    ctx.params.reject_unknown()
    return ctx.store.get(price_id, "price")


def update_price(ctx, price_id: str) -> dict:
    params = ctx.params
    params.reject_unknown("active", "metadata", "nickname", "lookup_key", "transfer_lookup_key", "tax_behavior")
    price = ctx.store.get(price_id, "price")
    with ctx.store.updating(price, "price.updated", ctx.request):
        if "active" in params:
            price["active"] = params.boolean("active")
        if "nickname" in params:
            price["nickname"] = params.text("nickname")
        if "tax_behavior" in params:
            price["tax_behavior"] = params.text("tax_behavior", choices=TAX_BEHAVIORS)
        if "lookup_key" in params:
            lookup_key = params.text("lookup_key")
            if lookup_key and lookup_key != price["lookup_key"]:
                _claim_lookup_key(ctx, lookup_key, transfer=params.boolean("transfer_lookup_key", default=False))
            price["lookup_key"] = lookup_key
        price["metadata"] = merge_metadata(price["metadata"], params.metadata())
    return price


def list_prices(ctx) -> dict:
    params = ctx.params
    active = params.boolean("active")
    product = params.text("product")
    price_type = params.text("type", choices=("one_time", "recurring"))
    currency = params.text("currency")
    lookup_keys = params.array("lookup_keys")
    recurring = params.nested("recurring")
    interval = recurring.text("interval", choices=INTERVALS) if recurring else None
    return list_endpoint(
        ctx,
        "price",
        "/v1/prices",
        filters=("active", "product", "type", "currency", "lookup_keys", "recurring"),
        where=lambda p: (
            (active is None or p["active"] == active)
            and (product is None or p["product"] == product)
            and (price_type is None or p["type"] == price_type)
            and (currency is None or p["currency"] == currency)
            and (not lookup_keys or p["lookup_key"] in lookup_keys)
            and (interval is None or (p["recurring"] or {}).get("interval") == interval)
        ),
    )


def retrieve_payment_method(ctx, payment_method_id: str) -> dict:
    ctx.params.reject_unknown()
    return ctx.store.get(payment_method_id, "payment_method")


def list_payment_methods(ctx, customer_id: str | None = None) -> dict:
    customer_id = customer_id or ctx.params.text("customer")
    if customer_id:
        live_customer(ctx, customer_id, "customer")
    ctx.params.text("type", choices=("card",))
    url = f"/v1/customers/{customer_id}/payment_methods" if customer_id else "/v1/payment_methods"
    return list_endpoint(
        ctx,
        "payment_method",
        url,
        filters=("customer", "type", "allow_redisplay"),
        where=lambda pm: customer_id is None or pm["customer"] == customer_id,
    )


def attach_payment_method(ctx, payment_method_id: str) -> dict:
    ctx.params.reject_unknown("customer")
    customer = live_customer(ctx, ctx.params.text("customer", required=True), "customer")
    return flows.attach_payment_method(ctx, payment_method_id, customer, "payment_method")


def detach_payment_method(ctx, payment_method_id: str) -> dict:
    ctx.params.reject_unknown()
    payment_method = ctx.store.get(payment_method_id, "payment_method")
    if payment_method["customer"] is None:
        raise errors.invalid(
            "The payment method you provided is not attached to a customer so detachment is impossible."
        )
    customer = ctx.store.get(payment_method["customer"], "customer")
    payment_method["customer"] = None
    if customer["invoice_settings"]["default_payment_method"] == payment_method_id:
        with ctx.store.updating(customer, "customer.updated", ctx.request):
            customer["invoice_settings"]["default_payment_method"] = None
    ctx.store.emit("payment_method.detached", payment_method, ctx.request)
    return payment_method


def list_customer_sources(ctx, customer_id: str) -> dict:
    live_customer(ctx, customer_id)
    ctx.params.reject_unknown("object", "limit", "starting_after", "ending_before")
    return list_object([], f"/v1/customers/{customer_id}/sources")


def retrieve_balance_transaction(ctx, transaction_id: str) -> dict:
    ctx.params.reject_unknown()
    return ctx.store.get(transaction_id, "balance_transaction")


def list_balance_transactions(ctx) -> dict:
    source = ctx.params.text("source")
    kind = ctx.params.text("type")
    return list_endpoint(
        ctx,
        "balance_transaction",
        "/v1/balance_transactions",
        filters=("source", "type"),
        where=lambda t: (source is None or t["source"] == source) and (kind is None or t["type"] == kind),
    )


ROUTES = [
    ("GET", "/v1/account", retrieve_account),
    ("GET", "/v1/accounts", list_connected_accounts),
    ("GET", "/v1/accounts/{account_id}", retrieve_account),
    ("POST", "/v1/customers", create_customer),
    ("GET", "/v1/customers", list_customers),
    ("GET", "/v1/customers/{customer_id}", retrieve_customer),
    ("POST", "/v1/customers/{customer_id}", update_customer),
    ("DELETE", "/v1/customers/{customer_id}", delete_customer),
    ("GET", "/v1/customers/{customer_id}/payment_methods", list_payment_methods),
    ("GET", "/v1/customers/{customer_id}/sources", list_customer_sources),
    ("POST", "/v1/products", create_product),
    ("GET", "/v1/products", list_products),
    ("GET", "/v1/products/{product_id}", retrieve_product),
    ("POST", "/v1/products/{product_id}", update_product),
    ("DELETE", "/v1/products/{product_id}", delete_product),
    ("GET", "/v1/products/{product_id}/features", list_product_features),
    ("POST", "/v1/prices", create_price),
    ("GET", "/v1/prices", list_prices),
    ("GET", "/v1/prices/{price_id}", retrieve_price),
    ("POST", "/v1/prices/{price_id}", update_price),
    ("GET", "/v1/payment_methods", list_payment_methods),
    ("GET", "/v1/payment_methods/{payment_method_id}", retrieve_payment_method),
    ("POST", "/v1/payment_methods/{payment_method_id}/attach", attach_payment_method),
    ("POST", "/v1/payment_methods/{payment_method_id}/detach", detach_payment_method),
    ("GET", "/v1/balance_transactions", list_balance_transactions),
    ("GET", "/v1/balance_transactions/{transaction_id}", retrieve_balance_transaction),
]
