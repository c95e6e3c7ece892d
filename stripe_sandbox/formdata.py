"""Stripe's form encoding (`line_items[0][price]=price_x&metadata[plan]=pro&expand[]=data.product`)
and typed, validating access to the parameters it carries."""

import re
from urllib.parse import parse_qsl

from . import errors

_KEY_PART = re.compile(r"\[([^\]]*)\]")


def parse_form(text: str) -> dict:
    root: dict = {}
    for raw_key, value in parse_qsl(text, keep_blank_values=True):
        _assign(root, _split_key(raw_key), value)
    return _lists_from_indexed_dicts(root)


def _split_key(raw_key: str) -> list[str]:
    head, bracket, rest = raw_key.partition("[")
    if not bracket:
        return [raw_key]
    parts = _KEY_PART.findall("[" + rest)
    return [head, *parts] if "".join(f"[{p}]" for p in parts) == "[" + rest else [raw_key]


def _assign(node: dict, path: list[str], value: str) -> None:
    *parents, last = path
    for part in parents:
        part = part or str(len(node))
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[last or str(len(node))] = value


def _lists_from_indexed_dicts(value):
    if not isinstance(value, dict):
        return value
    converted = {key: _lists_from_indexed_dicts(item) for key, item in value.items()}
    if converted and all(key.isdigit() for key in converted):
        return [converted[key] for key in sorted(converted, key=int)]
    return converted


class Params:
    """Request parameters under one prefix; getters validate and name the offending param
    the way Stripe does (`line_items[0][quantity]`)."""

    def __init__(self, data: dict, prefix: str = ""):
        self.data = data
        self.prefix = prefix

    def name(self, key: str) -> str:
        return f"{self.prefix}[{key}]" if self.prefix else key

    def __contains__(self, key: str) -> bool:
        return key in self.data

    def reject_unknown(self, *allowed: str) -> None:
        for key in self.data:
            if key not in allowed and key != "expand":
                raise errors.unknown_param(self.name(key))

    def raw(self, key: str, default=None):
        return self.data.get(key, default)

    def text(self, key: str, *, required: bool = False, choices=None, default=None) -> str | None:
        value = self.data.get(key)
        if value is None or value == "":
            if required:
                raise errors.missing_param(self.name(key))
            return default
        if not isinstance(value, str):
            raise errors.invalid(f"Invalid string: {value!r}", self.name(key))
        if choices is not None and value not in choices:
            raise errors.invalid(
                f"Invalid {self.name(key)}: must be one of {', '.join(choices)}", self.name(key), "parameter_invalid"
            )
        return value

    def integer(self, key: str, *, required: bool = False, minimum: int | None = None, default=None) -> int | None:
        value = self.data.get(key)
        if value is None or value == "":
            if required:
                raise errors.missing_param(self.name(key))
            return default
        if isinstance(value, bool) or not (isinstance(value, int) or re.fullmatch(r"-?\d+", str(value))):
            raise errors.invalid(f"Invalid integer: {value}", self.name(key), "parameter_invalid_integer")
        number = int(value)
        if minimum is not None and number < minimum:
            raise errors.invalid(
                f"Invalid {self.name(key)}: must be at least {minimum}", self.name(key), "parameter_invalid_integer"
            )
        return number

    def number(self, key: str, *, required: bool = False, default=None) -> float | None:
        """A decimal number (`percent_off=12.5`)."""
        value = self.data.get(key)
        if value is None or value == "":
            if required:
                raise errors.missing_param(self.name(key))
            return default
        if isinstance(value, bool) or not (
            isinstance(value, int | float) or re.fullmatch(r"-?(\d+(\.\d*)?|\.\d+)", str(value))
        ):
            raise errors.invalid(f"Invalid decimal: {value}", self.name(key), "parameter_invalid_decimal")
        return float(value)

    def boolean(self, key: str, *, default=None) -> bool | None:
        value = self.data.get(key)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        if value in ("true", "false"):
            return value == "true"
        raise errors.invalid(f"Invalid boolean: {value}", self.name(key), "parameter_invalid_boolean")

    def nested(self, key: str, *, required: bool = False) -> "Params | None":
        value = self.data.get(key)
        if value is None or value == "":
            if required:
                raise errors.missing_param(self.name(key))
            return None
        if not isinstance(value, dict):
            raise errors.invalid(f"Invalid object: {self.name(key)} must be a hash", self.name(key))
        return Params(value, self.name(key))

    def array(self, key: str, *, required: bool = False) -> list:
        """A list of strings or of Params (for lists of hashes)."""
        value = self.data.get(key)
        if value is None or value == "":
            if required:
                raise errors.missing_param(self.name(key))
            return []
        if isinstance(value, str):
            value = [value]
        if isinstance(value, dict):
            raise errors.invalid(f"Invalid array: {self.name(key)} must be an array", self.name(key))
        return [
            Params(item, f"{self.name(key)}[{index}]") if isinstance(item, dict) else item
            for index, item in enumerate(value)
        ]

    def metadata(self, key: str = "metadata") -> dict[str, str] | None:
        """The metadata update: None when absent; an empty value for a key means "delete it"."""
        value = self.data.get(key)
        if value is None:
            return None
        if value == "":
            return {}
        if not isinstance(value, dict):
            raise errors.invalid("Invalid metadata: must be a hash of strings", self.name(key))
        if len(value) > 50:
            raise errors.invalid("Invalid metadata: at most 50 keys", self.name(key))
        return {str(k): "" if v is None else str(v) for k, v in value.items()}


def merge_metadata(current: dict, update: dict | None) -> dict:
    """Stripe merges metadata updates key by key; an empty string removes a key and an
    empty `metadata=` clears everything."""
    if update is None:
        return current
    merged = dict(current) if update else {}
    for key, value in update.items():
        if value == "":
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged
