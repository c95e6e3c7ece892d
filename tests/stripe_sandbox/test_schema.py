"""Stripe's published object types for the API version the sandbox serves (schema.json, from
stripe-node's declarations), the checks against them, and the checks of everything served."""

import copy
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import stripe

from stripe_sandbox import StripeSandbox, build_schema, schema
from stripe_sandbox.build_shapes import RESOURCES
from stripe_sandbox.shapes import template
from stripe_sandbox.version import API_VERSION

REPO_ROOT = Path(__file__).resolve().parents[2]


def problems(obj, expected: str | None = None) -> list[tuple[str, str]]:
    return [(deviation.path, deviation.rule) for deviation in schema.deviations(obj, expected)]


@pytest.fixture
def refund() -> dict:
    """A refund by hand, with every key this API version requires and nothing else."""
    obj = {
        "id": "re_1",
        "object": "refund",
        "amount": 500,
        "balance_transaction": "txn_1",
        "charge": "ch_1",
        "created": 1767225600,
        "currency": "usd",
        "destination_details": {
            "card": {
                "reference": "74633455067421829360741",
                "reference_status": "available",
                "reference_type": "acquirer_reference_number",
                "type": "refund",
            },
            "type": "card",
        },
        "metadata": {},
        "payment_intent": "pi_1",
        "reason": None,
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": "succeeded",
        "transfer_reversal": None,
    }
    assert problems(obj) == []
    return obj


def test_the_schema_describes_the_served_api_version_and_every_kind_the_sandbox_has():
    built = schema.schema()

    assert built["api_version"] == API_VERSION == "2026-05-27.dahlia"
    assert (built["source"]["package"], built["source"]["version"]) == ("stripe", "22.2.0")
    assert built["source"]["license"].startswith("MIT; Copyright")
    for name in RESOURCES:
        kind = name.removeprefix("deleted_")
        assert kind in (built["deleted"] if name.startswith("deleted_") else built["objects"]), name
    for kind in ("test_helpers.test_clock", "invoiceitem", "subscription_schedule", "coupon", "promotion_code"):
        assert built["objects"][kind] in built["types"]
    for kind in ("discount", "tax_rate"):
        assert built["objects"][kind] in built["types"]
    assert built["deleted"]["test_helpers.test_clock"] == "TestHelpers.DeletedTestClock"
    assert (built["objects"]["list"], built["objects"]["event"]) == ("ApiList", "EventBase")
    assert built["events"]["customer.subscription.updated"] == "Subscription"
    assert schema.SCHEMA_PATH.stat().st_size < 1_000_000


def test_an_object_with_the_versions_keys_has_no_deviations(refund):
    expanded = dict(refund, balance_transaction=template("balance_transaction"), metadata={"any key": "a string"})
    deleted = {"id": "cus_1", "object": "customer", "deleted": True}

    assert problems(expanded) == []
    assert problems(deleted) == []
    assert problems({"error": {"type": "invalid_request_error", "message": "No such customer"}}) == []


@pytest.mark.parametrize(
    ("change", "path", "rule"),
    [
        (lambda r: r.update(customer="cus_1"), "$.customer", "unknown key"),
        (lambda r: r.pop("amount"), "$.amount", "missing key"),
        (lambda r: r.update(amount=None), "$.amount", "null"),
        (
            lambda r: r["destination_details"]["card"].update(reference=None),
            "$.destination_details.card.reference",
            "null",
        ),
        (lambda r: r.update(amount="100"), "$.amount", "type"),
        (lambda r: r.update(metadata={"order": 7}), "$.metadata.order", "type"),
        (lambda r: r.update(reason="changed_my_mind"), "$.reason", "enum"),
        (lambda r: r.update(object="refunds"), "$", "kind"),
        (lambda r: r.update(charge={"id": "re_1", "object": "refund"}), "$.charge", "expandable"),
        (
            lambda r: r.update(balance_transaction=dict(template("balance_transaction"), amount=None)),
            "$.balance_transaction.amount",
            "null",
        ),
    ],
    ids=[
        "unknown key",
        "missing key",
        "bad null",
        "bad nested null",
        "bad type",
        "bad index signature value",
        "bad enum",
        "unknown kind",
        "bad expandable",
        "bad expanded object",
    ],
)
def test_each_kind_of_problem_is_caught(refund, change, path, rule):
    change(refund)

    assert problems(refund) == [(path, rule)]


def test_a_deviation_names_where_it_is_the_field_and_the_problem(refund):
    listing = {"object": "list", "data": [dict(refund, customer="cus_1")], "has_more": False, "url": "/v1/refunds"}

    [deviation] = schema.deviations(listing)

    assert (deviation.path, deviation.field, deviation.rule) == ("$.data[0].customer", "Refund.customer", "unknown key")
    assert str(deviation) == "$.data[0].customer (Refund.customer): unknown key: Refund does not declare 'customer'"


def test_lists_have_stripes_list_shape_and_every_item_its_own_type(refund):
    subscription = template("subscription")
    item = dict(template("subscription_item"), quantity="1")
    subscription["items"] = {"object": "list", "data": [item], "has_more": False, "url": "/v1/subscription_items"}
    listing = {"object": "list", "data": [refund, {"object": "no_such_kind"}], "url": 1}

    assert problems(subscription) == [("$.items.data[0].quantity", "type")]
    assert problems(listing) == [("$.data[1]", "kind"), ("$.url", "type"), ("$.has_more", "missing key")]


def test_keys_declared_never_sent_and_decimal_strings():
    customer = dict(template("customer"), deleted=False)
    price = template("price")

    assert problems(customer) == [("$.deleted", "unknown key")]
    assert problems(dict(price, unit_amount_decimal="12.5")) == []
    assert problems(dict(price, unit_amount_decimal="twelve")) == [("$.unit_amount_decimal", "type")]


def test_an_event_is_checked_as_an_envelope_around_an_object_of_the_kind_its_type_carries(refund):
    event = dict(template("event"), type="refund.updated", data={"object": refund})
    previous = {"metadata": {"note": None}, "status": "pending"}

    assert problems(event) == []
    assert problems(dict(event, data={"object": refund, "previous_attributes": previous})) == []
    assert problems(dict(event, data={"object": refund, "previous_attributes": {"refunded": False}})) == [
        ("$.data.previous_attributes.refunded", "unknown key")
    ]
    assert problems(dict(event, data={"object": refund, "previous_attributes": {"amount": "1"}})) == [
        ("$.data.previous_attributes.amount", "type")
    ]
    assert problems(dict(event, data={"object": dict(refund, customer=None)})) == [
        ("$.data.object.customer", "unknown key")
    ]
    assert problems(dict(event, type="charge.refunded")) == [("$.data.object", "event")]
    assert problems(dict(event, type="refund.exploded")) == [("$.type", "enum"), ("$.type", "event")]
    assert problems(dict(event, data={"object": refund, "extra": 1}, webhook=True)) == [
        ("$.webhook", "unknown key"),
        ("$.data.extra", "unknown key"),
    ]


def test_the_allowed_deviations_are_the_ones_the_docs_list():
    text = (REPO_ROOT / "docs" / "stripe-sandbox.md").read_text()
    section = text.split("### Allowed deviations", 1)[1].split("\n#", 1)[0]
    rows = re.findall(r"^\| `([^`]+)` \| ([a-z ]+) \| (.+?) \|$", section, re.M)

    assert "| field | rule | reason |" in section
    assert {(field, rule): reason for field, rule, reason in rows} == schema.ALLOWED


def test_what_the_sandbox_serves_is_checked_responses_lists_expansions_events_and_webhooks(
    stripe_sandbox, subscription, webhook_receiver
):
    endpoint = stripe.WebhookEndpoint.create(url=webhook_receiver.url, enabled_events=["customer.updated"])
    customer = subscription.customer
    stripe_sandbox.store.objects[customer]["invented"] = 1

    stripe.Customer.retrieve(customer)
    stripe.Customer.list()
    stripe.Subscription.retrieve(subscription.id, expand=["customer"])
    stripe.Customer.modify(customer, name="Ada")
    stripe_sandbox.wait_for_deliveries()
    found = stripe_sandbox.deviations(clear=True)
    event = stripe.Event.list(type="customer.updated", limit=1).data[0]
    stripe_sandbox.deviations(clear=True)  # that list carries the invented key too

    assert [(served.source, served.kind, served.deviation.path) for served in found] == [
        (f"GET /v1/customers/{customer}", "customer", "$.invented"),
        ("GET /v1/customers", "list", "$.data[0].invented"),
        (f"GET /v1/subscriptions/{subscription.id}", "subscription", "$.customer.invented"),
        (f"event customer.updated {event.id}", "event", "$.data.object.invented"),
        (f"webhook customer.updated {event.id} to {endpoint.id}", "event", "$.data.object.invented"),
        (f"POST /v1/customers/{customer}", "customer", "$.invented"),
    ]
    assert {served.deviation.problem for served in found} == {"unknown key: Customer does not declare 'invented'"}


def test_the_fixture_fails_a_test_in_which_the_sandbox_served_a_deviation(tmp_path):
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "conftest.py").write_text(
        "from stripe_sandbox import testing\n\n"
        "stripe_sandbox_server = testing.stripe_sandbox_server\n"
        "stripe_sandbox = testing.stripe_sandbox\n"
    )
    (tmp_path / "test_served.py").write_text(
        textwrap.dedent(
            """
            import stripe

            def test_serves_an_invented_key(stripe_sandbox):
                customer = stripe.Customer.create(email="ada@example.com")
                stripe_sandbox.store.objects[customer.id]["invented"] = 1
                stripe.Customer.retrieve(customer.id)

            def test_serves_stripes_shapes(stripe_sandbox):
                stripe.Customer.retrieve(stripe.Customer.create(email="ada@example.com").id)
            """
        )
    )

    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:django", "-c", "pytest.ini"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )

    # The fixture asserts after the test: an error in its teardown fails the test (and the run).
    assert run.returncode == 1, run.stdout + run.stderr
    assert "2 passed, 1 error" in run.stdout
    assert "ERROR at teardown of test_serves_an_invented_key" in run.stdout
    assert "ERROR at teardown of test_serves_stripes_shapes" not in run.stdout
    assert re.search(
        r"\$\.invented in a customer from GET /v1/customers/cus_\w+: unknown key: Customer does not declare 'invented'",
        run.stdout,
    )


def test_the_sandbox_validates_only_the_api_version_of_its_schema():
    with pytest.raises(ValueError, match="2026-05-27.dahlia"):
        StripeSandbox(api_version="2024-06-20", validate=True)


# build_schema: the subset of TypeScript stripe-node's declarations use

DECLARATIONS = {
    "cjs/apiVersion.js": "exports.ApiVersion = '2099-01-01.test';\n",
    "package.json": '{"name": "stripe", "version": "0.0.1", "license": "MIT"}',
    "LICENSE": "Copyright (C) 2013 Stripe, Inc.\n\nPermission is hereby granted...\n",
    "cjs/shared.d.ts": """
        export { Decimal } from './Decimal.js';
        export interface Metadata {
            [name: string]: string;
        }
        export type Emptyable<T> = null | '' | T;
    """,
    "cjs/lib.d.ts": """
        export interface ApiList<T> {
            object: 'list';
            data: Array<T>;
            has_more: boolean;
            url: string;
        }
    """,
    "cjs/resources/Widgets.d.ts": """
        import { StripeResource } from '../StripeResource.js';
        import { Gadget } from './Gadgets/index.js';
        import * as Gadgets from './Gadgets/index.js';
        import { Metadata, Decimal, Emptyable } from '../shared.js';
        import { ApiList } from '../lib.js';
        export declare class WidgetResource extends StripeResource {
            /**
             * Retrieves a widget; a comment with 'quotes', {braces}; and https://links.
             */
            retrieve(id: string, params?: WidgetCreateParams): Promise<Widget>;
        }
        export interface Widget {
            id: string;
            object: 'widget';
            deleted?: void;
            gadget: string | Gadget | null;
            other_gadget?: string | Gadgets.Gadget;
            metadata: Metadata;
            parts: ApiList<Widget.Part>;
            price: Decimal | null;
            size: Widget.Size;
            tags: Array<string>;
        }
        export declare namespace Widget {
            interface Part {
                name: string;
                colours: {
                    [key: string]: number;
                };
            }
            type Size = 'large' | 'small';
        }
        export interface DeletedWidget {
            id: string;
            object: 'widget';
            deleted: true;
        }
        export interface WidgetCreateParams {
            name?: Emptyable<string>;
        }
    """,
    "cjs/resources/Gadgets/Gadgets.d.ts": """
        export interface Gadget {
            id: string;
            object: 'gadgets.gadget';
            kind: Gadgets.Gadget.Kind;
        }
        export declare namespace Gadgets {
            namespace Gadget {
                type Kind = 'sprocket';
            }
            interface GadgetCreateParams {
                kind: string;
            }
        }
    """,
    "cjs/resources/Gadgets/index.d.ts": """
        import { Gadgets as GadgetsNamespace0, Gadget } from './Gadgets.js';
        export { Gadget } from './Gadgets.js';
        export declare class Gadgets {
            private readonly stripe;
        }
        export declare namespace Gadgets {
            export import GadgetCreateParams = GadgetsNamespace0.GadgetCreateParams;
            export { Gadget };
        }
    """,
    "cjs/resources/Events.d.ts": """
        import { Widget } from './Widgets.js';
        export interface EventBase {
            id: string;
            object: 'event';
            data: Event.Data;
            type: Event.Type;
        }
        export declare namespace Event {
            interface Data {
                object: Data.Object;
                previous_attributes?: Data.PreviousAttributes;
            }
            type Type = 'widget.created';
            namespace Data {
                interface Object {
                }
                interface PreviousAttributes {
                }
            }
        }
        export type Event = WidgetCreatedEvent;
        export interface WidgetCreatedEvent extends EventBase {
            type: 'widget.created';
            data: WidgetCreatedEvent.Data;
        }
        export declare namespace WidgetCreatedEvent {
            interface Data extends Event.Data {
                object: Widget;
                previous_attributes?: Partial<Widget>;
            }
        }
    """,
}


def write_package(root: Path, files: dict) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(text))
    return root


def test_build_schema_reads_the_declarations_into_the_types_the_kinds_reach(tmp_path):
    built = build_schema.build(write_package(tmp_path, DECLARATIONS), kinds=["widget", "list"])
    types = built["types"]

    assert built["api_version"] == "2099-01-01.test"
    assert built["source"]["license"] == "MIT; Copyright (C) 2013 Stripe, Inc."
    assert built["objects"] == {"event": "EventBase", "list": "ApiList", "widget": "Widget"}
    assert (built["deleted"], built["events"]) == ({"widget": "DeletedWidget"}, {"widget.created": "Widget"})
    assert types["Widget"] == {
        "fields": {
            "id": "string",
            "object": {"enum": ["widget"]},
            "deleted?": "void",
            "gadget": ["string", "Gadgets.Gadget", "null"],
            "other_gadget?": ["string", "Gadgets.Gadget"],
            "metadata": "Metadata",
            "parts": {"list": "Widget.Part"},
            "price": ["decimal", "null"],
            "size": "Widget.Size",
            "tags": {"array": "string"},
        }
    }
    assert types["Widget.Part"] == {"fields": {"name": "string", "colours": {"map": "number"}}}
    assert (types["Widget.Size"], types["Gadgets.Gadget.Kind"]) == (
        {"enum": ["large", "small"]},
        {"enum": ["sprocket"]},
    )
    assert types["Metadata"] == {"map": "string"}
    assert types["ApiList"]["fields"]["data"] == {"array": "object"}
    assert types["EventBase"]["fields"]["data"] == "Event.Data"
    assert "WidgetCreateParams" not in types and "Gadgets.GadgetCreateParams" not in types
    assert json.loads(build_schema.dumps(built)) == built


def test_build_schema_refuses_what_it_cannot_read_rather_than_guess(tmp_path):
    files = copy.deepcopy(DECLARATIONS)
    files["cjs/resources/Widgets.d.ts"] = files["cjs/resources/Widgets.d.ts"].replace(
        "tags: Array<string>;", "tags: Array<string> & Metadata;"
    )

    with pytest.raises(build_schema.SchemaBuildError, match="Widget.tags"):
        build_schema.build(write_package(tmp_path, files), kinds=["widget"])
    with pytest.raises(build_schema.SchemaBuildError, match="'gizmo' is declared by 0 types"):
        build_schema.build(tmp_path, kinds=["gizmo"])
