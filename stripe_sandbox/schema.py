"""Checks JSON bodies against Stripe's published object types for the API version the sandbox
serves (schema.json, built by build_schema.py from stripe-node's TypeScript declarations).

    deviations(obj) -> [Deviation(path, problem, field), ...]

`obj` is anything the API answers: an object (typed by its `object` value, `deleted: true`
answers by the Deleted* types), a list, an event or an error. The rules, each the first
word(s) of a deviation's `problem`:

- `unknown key`: a key the type does not declare (or declares `void`: never sent);
- `missing key`: a key the type requires (declared without `?`) is absent;
- `null`: null where the type is not nullable;
- `type`: the wrong JSON type (a number for a string, an object for an array, ...);
- `enum`: a string outside a closed union of literals (types declared `string` are open);
- `expandable`: a field that takes an id or an expanded object (`string | Charge`) holds
  an object of another kind;
- `kind`: an object whose `object` value the schema has no type for;
- `event`: an event whose `data.object` is not the kind its type carries.

`ApiList<T>` is `{object: "list", data: [T], has_more, url}`; an index signature
(`{[key: string]: T}`, e.g. metadata) takes any key with a T value. An event's envelope is
checked against the Event type, its `data.object` against the type the event's type
carries (which must be the one its `object` value names), and the keys of
`data.previous_attributes` must be fields of that type (their values are checked with every
key optional, as nested hashes show only what changed, and null allowed, the old value of a
key that was not set). Error answers (`{"error": {...}}`) are not checked: stripe-node
declares no type for them (its StripeRawError is the client's own, not the API's).

`field` names the declaring type and key of a deviation (`Refund.customer`), the same
wherever the object appears (a response, a list, an expanded field, an event); ALLOWED
lists the deviations the sandbox keeps on purpose, by (field, rule).
"""

import json
import re
from functools import cache
from pathlib import Path
from typing import NamedTuple

SCHEMA_PATH = Path(__file__).resolve().parent / "schema.json"

# Deviations from the schema the sandbox keeps on purpose: (field, rule) -> reason. Keep it
# short; docs/stripe-sandbox.md has the same table (a test compares them).
ALLOWED: dict[tuple[str, str], str] = {
    ("Invoice.id", "missing key"): (
        "the invoice in an `invoice.upcoming` event (the only invoice served without one): "
        'Stripe\'s event reference says it "will not have an invoice ID"'
    ),
}

_DECIMAL = re.compile(r"-?\d+(\.\d+)?")
_JSON_TYPES = (
    (bool, "boolean"),
    (int, "number"),
    (float, "number"),
    (str, "string"),
    (list, "array"),
    (dict, "object"),
)


class Deviation(NamedTuple):
    path: str  # where in the checked body: $.data[0].refunds
    problem: str  # "<rule>: <detail>"
    field: str  # the declaring type and key: Charge.refunds

    @property
    def rule(self) -> str:
        return self.problem.split(":", 1)[0]

    @property
    def allowed(self) -> bool:
        return (self.field, self.rule) in ALLOWED

    def __str__(self) -> str:
        return f"{self.path} ({self.field}): {self.problem}"


@cache
def schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text())


def type_of(obj: dict) -> str | None:
    """The name of the type an object's `object` value (and `deleted: true`) names."""
    kind = obj.get("object")
    if not isinstance(kind, str):
        return None
    if obj.get("deleted") is True and kind in schema()["deleted"]:
        return schema()["deleted"][kind]
    return schema()["objects"].get(kind)


def deviations(obj, expected: str | None = None) -> list[Deviation]:
    """Every way `obj` differs from its type (`expected`, a type name, or the one its
    `object` value names)."""
    if isinstance(obj, dict) and "error" in obj and "object" not in obj and expected is None:
        return []
    return _Checker().value(obj, expected or "object", "$", "(root)", partial=False)


def _json_type(value) -> str:
    if value is None:
        return "null"
    for python_type, name in _JSON_TYPES:
        if isinstance(value, python_type):
            return name
    return type(value).__name__


class _Checker:
    def __init__(self):
        self.types = schema()["types"]

    def report(self, path: str, field: str, problem: str) -> list[Deviation]:
        return [Deviation(path, problem, field)]

    # type expressions

    def members(self, expr) -> list:
        """A union's members, named unions (aliases) unfolded; interfaces stay whole."""
        if isinstance(expr, list):
            return [member for option in expr for member in self.members(option)]
        if isinstance(expr, str) and expr[0].isupper():
            definition = self.types.get(expr)
            if definition is None:
                raise KeyError(f"type {expr} is not in schema.json")
            if isinstance(definition, list) or (isinstance(definition, str) and definition[0].isupper()):
                return self.members(definition)
        return [expr]

    def resolved(self, expr):
        """A named type's definition (kept named when it is an interface, for messages)."""
        while isinstance(expr, str) and expr[0].isupper():
            definition = self.types[expr]
            if isinstance(definition, dict) and "fields" in definition:
                return expr, definition
            expr = definition
        return None, expr

    def accepts(self, expr, value) -> bool:
        """Whether `expr` (one union member) is of `value`'s JSON type."""
        name, definition = self.resolved(expr)
        json_type = _json_type(value)
        if isinstance(definition, str):
            return {
                "string": json_type == "string",
                "decimal": json_type == "string",
                "number": json_type == "number",
                "boolean": json_type == "boolean",
                "true": json_type == "boolean",
                "unknown": True,
                "object": json_type == "object",
                "null": value is None,
                "void": False,
            }[definition]
        if "enum" in definition:
            return json_type == "string"
        if "array" in definition:
            return json_type == "array"
        return json_type == "object"  # fields, list, map

    @staticmethod
    def describe(expr) -> str:
        if isinstance(expr, str):
            return expr
        if isinstance(expr, list):
            return " | ".join(_Checker.describe(member) for member in expr)
        if "enum" in expr:
            return " | ".join(repr(value) for value in expr["enum"])
        for key in ("array", "list", "map"):
            if key in expr:
                return f"{key} of {_Checker.describe(expr[key])}"
        return "object"

    def value(self, value, expr, path: str, field: str, partial: bool) -> list[Deviation]:
        options = self.members(expr)
        if value is None:
            # In previous_attributes a null is also the old value of a key that was unset.
            if partial or "null" in options or "unknown" in options:
                return []
            return self.report(path, field, f"null: {field} is not nullable ({self.describe(expr)})")
        candidates = [option for option in options if option != "null" and self.accepts(option, value)]
        if not candidates:
            return self.report(path, field, f"type: expected {self.describe(expr)}, got {_json_type(value)}")
        if isinstance(value, str):
            return self.string(value, candidates, path, field)
        if isinstance(value, dict):
            return self.object_value(value, candidates, options, path, field, partial)
        return self.fewest(value, candidates, path, field, partial)

    def fewest(self, value, candidates: list, path: str, field: str, partial: bool) -> list[Deviation]:
        """The deviations from the union member `value` fits best."""
        best = None
        for candidate in candidates:
            found = self.single(value, candidate, path, field, partial)
            if not found:
                return []
            if best is None or len(found) < len(best):
                best = found
        return best

    def string(self, value: str, candidates: list, path: str, field: str) -> list[Deviation]:
        allowed = []
        for candidate in candidates:
            _, definition = self.resolved(candidate)
            if definition in ("string", "unknown"):
                return []
            if definition == "decimal":
                if _DECIMAL.fullmatch(value):
                    return []
                continue
            allowed.extend(definition["enum"])
        if value in allowed:
            return []
        if not allowed:
            return self.report(path, field, f"type: {value!r} is not a decimal number")
        shown = ", ".join(repr(option) for option in allowed[:12]) + (", ..." if len(allowed) > 12 else "")
        return self.report(path, field, f"enum: {value!r} is not one of {shown}")

    def object_kinds(self, expr) -> list[str]:
        """The `object` values an object type declares (none for hashes that are not objects)."""
        _, definition = self.resolved(expr)
        if not isinstance(definition, dict) or "fields" not in definition:
            return []
        declared = definition["fields"].get("object")
        return declared["enum"] if isinstance(declared, dict) and "enum" in declared else []

    def object_value(self, value: dict, candidates: list, options: list, path, field, partial) -> list[Deviation]:
        """A hash: an object type chosen by its `object` (and `deleted`) value when the field
        takes objects (an expandable field, a union of objects), else the member it fits."""
        if "unknown" in candidates:
            return []
        if "object" in candidates:
            return self.dispatch(value, path, field, partial)
        typed = [candidate for candidate in candidates if self.object_kinds(candidate)]
        if typed and "object" in value:
            matching = [candidate for candidate in typed if value["object"] in self.object_kinds(candidate)]
            own = type_of(value)
            matching.sort(key=lambda candidate: self.resolved(candidate)[0] != own)
            if matching:
                return self.single(value, matching[0], path, field, partial)
            if len(typed) == len(candidates):
                expected = " or ".join(f"{self.resolved(candidate)[0]}" for candidate in typed)
                got = f"a {value['object']!r} object"
                if "string" in options:
                    return self.report(path, field, f"expandable: expected an id or an expanded {expected}, got {got}")
                return self.report(path, field, f"type: expected {expected}, got {got}")
        untyped = [candidate for candidate in candidates if candidate not in typed] if "object" in value else []
        return self.fewest(value, untyped or candidates, path, field, partial)

    def single(self, value, expr, path: str, field: str, partial: bool) -> list[Deviation]:
        name, definition = self.resolved(expr)
        if definition == "object":
            return self.dispatch(value, path, field, partial)
        if isinstance(definition, str):
            if definition == "true" and value is not True:
                return self.report(path, field, f"type: expected true, got {value!r}")
            return []
        if "array" in definition:
            return [
                deviation
                for index, element in enumerate(value)
                for deviation in self.value(element, definition["array"], f"{path}[{index}]", field, partial)
            ]
        if "map" in definition:
            return [
                deviation
                for key, element in value.items()
                for deviation in self.value(element, definition["map"], f"{path}.{key}", field, partial)
            ]
        if "list" in definition:
            return self.interface(value, "ApiList", self.types["ApiList"], path, partial, item=definition["list"])
        return self.interface(value, name or field, definition, path, partial)

    def interface(self, value: dict, name: str, definition: dict, path, partial, item=None) -> list[Deviation]:
        declared = {}
        for key, expr in definition["fields"].items():
            optional = key.endswith("?")
            declared[key.removesuffix("?")] = (expr, optional)
        if item is not None:
            declared["data"] = ({"array": item}, False)
        found = []
        for key, element in value.items():
            field, where = f"{name}.{key}", f"{path}.{key}"
            if key not in declared:
                if "index" in definition:
                    found += self.value(element, definition["index"], where, field, partial)
                else:
                    found += self.report(where, field, f"unknown key: {name} does not declare {key!r}")
            elif declared[key][0] == "void":
                found += self.report(where, field, f"unknown key: {name} declares {key!r} as never sent")
            else:
                found += self.value(element, declared[key][0], where, field, partial)
        if not partial:
            for key, (expr, optional) in declared.items():
                if not optional and expr != "void" and key not in value:
                    found += self.report(f"{path}.{key}", f"{name}.{key}", f"missing key: {name} requires {key!r}")
        return found

    # objects typed by their own `object` value

    def dispatch(self, value: dict, path: str, field: str, partial: bool) -> list[Deviation]:
        kind = value.get("object")
        if kind == "event":
            return self.event(value, path, partial)
        name = type_of(value)
        if name is None:
            return self.report(path, field, f"kind: the schema has no type for object {kind!r}")
        return self.single(value, name, path, field, partial)

    def event(self, event: dict, path: str, partial: bool) -> list[Deviation]:
        """The envelope against the Event type; `data.object` against the type the event's
        type carries (and its own `object` value names), `previous_attributes` against the
        same type with every key optional."""
        name = schema()["objects"]["event"]
        definition = self.types[name]
        envelope = {"fields": {key: expr for key, expr in definition["fields"].items() if key != "data"}}
        found = self.interface(
            {key: value for key, value in event.items() if key != "data"}, name, envelope, path, partial
        )
        data_name, data_definition = self.resolved(definition["fields"]["data"])
        data, data_path = event.get("data"), f"{path}.data"
        if "data" not in event:
            return found + self.report(data_path, f"{name}.data", f"missing key: {name} requires 'data'")
        if not isinstance(data, dict):
            return found + self.value(data, data_name, data_path, f"{name}.data", partial)
        shell = {key: {} for key in data}  # the declared keys; their values are checked below
        found += self.interface(shell, data_name, data_definition, data_path, partial)
        snapshot = data.get("object")
        if "object" in data and not isinstance(snapshot, dict):
            return found + self.report(f"{data_path}.object", f"{data_name}.object", "type: expected an object")
        if snapshot is None:
            return found
        carried = schema()["events"].get(event.get("type"))
        object_path, object_field = f"{data_path}.object", f"{data_name}.object"
        if carried is None:
            if isinstance(event.get("type"), str):
                found += self.report(
                    f"{path}.type", f"{name}.type", f"event: the schema has no object type for {event['type']!r}"
                )
            return found + self.dispatch(snapshot, object_path, object_field, partial)
        if type_of(snapshot) != carried:
            return found + self.report(
                object_path,
                object_field,
                f"event: {event['type']} carries {carried} objects, got {snapshot.get('object')!r}",
            )
        found += self.value(snapshot, carried, object_path, object_field, partial)
        previous = data.get("previous_attributes")
        if previous is not None:
            previous_path = f"{data_path}.previous_attributes"
            if not isinstance(previous, dict):
                return found + self.report(previous_path, f"{data_name}.previous_attributes", "type: expected object")
            found += self.interface(previous, carried, self.types[carried], previous_path, partial=True)
        return found
