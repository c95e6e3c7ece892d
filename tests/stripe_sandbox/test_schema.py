"""build_schema: Stripe's published object types for the API version the sandbox serves
(schema.json), read from the subset of TypeScript stripe-node's declarations use."""

import copy
import json
import textwrap
from pathlib import Path

import pytest

from stripe_sandbox import build_schema

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
