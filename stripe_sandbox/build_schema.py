"""Build stripe_sandbox/schema.json, the object types of the API version the sandbox serves,
from the TypeScript declarations Stripe generates for its Node library (stripe-node, MIT
licence):

    python -m stripe_sandbox.build_schema path/to/stripe-node/package

`package` is the npm package's folder (`npm pack stripe@22.2.0 && tar xzf stripe-22.2.0.tgz`
gives `package/`); its `cjs/apiVersion.js` names the API version it declares, which must be
the one the sandbox serves. The declarations read are `cjs/resources/**/*.d.ts`,
`cjs/shared.d.ts` and `cjs/lib.d.ts`: a generated subset of TypeScript (interfaces, type
aliases, namespaces, imports) that this module parses with a small tokenizer and a
recursive-descent parser, resolving names the way TypeScript does (namespaces merge within a
file, imports and re-exports are followed).

schema.json keeps only the types reachable from the object kinds the sandbox serves
(KINDS), with a compact encoding that stripe_sandbox/schema.py reads:

- a type expression is a primitive name (`string`, `number`, `boolean`, `decimal` (a
  decimal number sent as a string), `unknown`, `null`, `true`, `void` (never sent) and
  `object` (any object, typed by its own `object` value)), a type name (`Refund`,
  `Refund.DestinationDetails`; every name starts with a capital letter), a JSON list (a
  union), `{"enum": [...]}` (a closed union of string literals), `{"array": T}`,
  `{"list": T}` (`ApiList<T>`), `{"map": T}` (`{[key: string]: T}`) or an interface;
- an interface is `{"fields": {"key": T, "optional_key?": T}}`, plus `"index": T` for an
  index signature; `extends` is flattened;
- `objects` maps an object's `object` value to its type, `deleted` the same for
  `{id, object, deleted: true}` answers, `events` an event type to the type of its
  `data.object`.
"""

import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .build_shapes import RESOURCES

PACKAGE_DIR = Path(__file__).resolve().parent
SCHEMA_PATH = PACKAGE_DIR / "schema.json"

# The object kinds the sandbox serves: those it has example objects for (build_shapes), and
# lists. Each kind's deleted variant is included where Stripe declares one.
KINDS = sorted({name.removeprefix("deleted_") for name in RESOURCES} | {"list"})

# Declarations given a meaning of their own instead of their TypeScript definition.
SPECIAL = {
    ("Decimal.d.ts", "Decimal"): "decimal",  # stripe-node's Decimal class; a string on the wire
    ("lib.d.ts", "ApiList"): "list",
}
# Where the declarations say something Stripe does not send: (type, field) -> (the type to
# use, why). docs/stripe-sandbox.md lists them.
_SELF_DISCOUNT = (
    "stripe-node 22.2.0 declares `discount: Discount` inside a namespace with its own "
    "`Discount` and imports no other, so the field reads as its own container; Stripe sends "
    "a discount object (the OpenAPI spec's `discount`)"
)
CORRECTIONS = {
    ("Checkout.Session.TotalDetails.Breakdown.Discount", "discount"): ("Discount", _SELF_DISCOUNT),
    ("LineItem.Discount", "discount"): ("Discount", _SELF_DISCOUNT),
}
BUILTIN_GENERICS = {"Array", "Partial", "Record"}
PRIMITIVES = {"string", "number", "boolean", "null", "true", "void", "unknown", "any"}


class SchemaBuildError(Exception):
    pass


# Tokens


_TOKEN = re.compile(
    r"""(?P<space>\s+)
    |(?P<comment>/\*.*?\*/|//[^\n]*)
    |(?P<string>'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")
    |(?P<number>\d+(?:\.\d+)?)
    |(?P<name>[A-Za-z_$][\w$]*)
    |(?P<punct>=>|\.\.\.|[{}()\[\]<>;:,?|&=.*!+\-@#`/%^~])""",
    re.VERBOSE | re.DOTALL,
)


def tokenize(text: str) -> list[str]:
    tokens, position = [], 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise SchemaBuildError(f"cannot tokenize at {text[position : position + 40]!r}")
        position = match.end()
        if match.lastgroup not in ("space", "comment"):
            tokens.append(match.group())
    return tokens


# Declarations and scopes


@dataclass
class Link:
    """A name that stands for another: an import, a re-export or `export import A = B.C`."""

    # "module" (file, name), "star" (file: its exports as a namespace), "scope" (name in
    # scopes), "qualified" (names in scopes)
    kind: str
    target: object
    scopes: list = field(default_factory=list)


@dataclass
class External:
    """A declaration in a file that is not parsed (node's own types, stripe-node internals)."""

    file: str
    name: str


@dataclass(eq=False)
class Symbol:
    name: str
    file: "SourceFile"
    path: tuple[str, ...]  # the namespaces it is declared in, then its name
    interfaces: list = field(default_factory=list)  # (members, extends, type params, scopes)
    alias: tuple | None = None  # (tokens, type params, scopes)
    members: dict | None = None  # namespace meaning
    is_class: bool = False

    @property
    def canonical(self) -> str:
        """The type's name in schema.json: its namespaces and name, under the folder's
        namespace for files in a folder (resources/Checkout/Sessions.d.ts: Checkout.Session)."""
        prefix = self.file.namespace
        if prefix and self.path[: len(prefix)] != prefix:
            return ".".join(prefix + self.path)
        return ".".join(self.path)


class SourceFile:
    def __init__(self, root: Path, path: Path):
        self.root = root
        self.path = path
        self.relative = path.relative_to(root).as_posix()
        parts = path.relative_to(root).parts
        self.namespace = tuple(parts[1:-1]) if parts[0] == "resources" else ()
        self.top: dict = {}  # every name visible at the top level
        self.exports: dict = {}


class Parser:
    """Reads one file's statements into Symbols; type expressions are kept as tokens."""

    def __init__(self, source: SourceFile, tokens: list[str]):
        self.source = source
        self.tokens = tokens
        self.at = 0

    def peek(self, offset: int = 0) -> str | None:
        index = self.at + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token != expected):
            raise SchemaBuildError(f"{self.source.relative}: expected {expected!r}, found {token!r}")
        self.at += 1
        return token

    def skip_to_semicolon(self) -> list[str]:
        """Tokens up to the `;` (or the `}` closing the enclosing block) at depth 0."""
        depth, start = 0, self.at
        while (token := self.peek()) is not None:
            if depth == 0 and token == ";":
                taken = self.tokens[start : self.at]
                self.at += 1
                return taken
            if depth == 0 and token == "}":
                return self.tokens[start : self.at]
            if token in "({[":
                depth += 1
            elif token in ")}]":
                depth -= 1
            self.at += 1
        return self.tokens[start:]

    def skip_block(self) -> None:
        while self.peek() != "{":
            self.take()
        depth = 0
        while True:
            token = self.take()
            if token == "{":
                depth += 1
            elif token == "}":
                depth -= 1
                if depth == 0:
                    return

    def parse_file(self) -> None:
        self.parse_body(self.source.top, (), [self.source.top], exports=self.source.exports)

    def parse_body(self, scope: dict, path: tuple, scopes: list, exports: dict | None) -> None:
        """Statements until `}` or the end; `exports` is None inside namespaces (all exported)."""
        while (token := self.peek()) is not None and token != "}":
            exported = False
            while self.peek() in ("export", "declare", "default"):
                exported |= self.take() == "export"
            token = self.peek()
            if token == ";":
                self.take()
            elif token == "import":
                self.parse_import(scope, scopes, exports, exported)
            elif token == "interface":
                self.parse_interface(scope, path, scopes, exports, exported)
            elif token == "type":
                self.parse_alias(scope, path, scopes, exports, exported)
            elif token in ("namespace", "module"):
                self.parse_namespace(scope, path, scopes, exports, exported)
            elif token == "{":
                self.parse_export_list(scope, scopes, exports)
            elif token == "class" or (token == "abstract" and self.peek(1) == "class"):
                if token == "abstract":
                    self.take()
                self.take()
                self.symbol(scope, path, self.take(), exports, exported).is_class = True
                self.skip_block()
            elif token == "enum":
                self.skip_block()
            elif token == "*":  # export * from '...'
                self.skip_to_semicolon()
            else:  # const, let, function, ...
                self.skip_to_semicolon()

    def symbol(self, scope: dict, path: tuple, name: str, exports: dict | None, exported: bool) -> Symbol:
        existing = scope.get(name)
        if not isinstance(existing, Symbol):
            existing = Symbol(name, self.source, path + (name,))
            scope[name] = existing
        if exports is not None and exported:
            exports[name] = existing
        return existing

    def parse_import(self, scope: dict, scopes: list, exports: dict | None, exported: bool) -> None:
        self.take("import")
        if self.peek(1) == "=":  # export import A = B.C;
            name = self.take()
            self.take("=")
            scope[name] = Link("qualified", [t for t in self.skip_to_semicolon() if t != "."], scopes[1:])
            return
        if self.peek() == "type":
            self.take()
        if self.peek() == "*":  # import * as Name from '...'
            self.take("*")
            self.take("as")
            name = self.take()
            self.take("from")
            scope[name] = Link("star", self.resolve_module(self.take()))
            self.skip_to_semicolon()
            return
        if self.peek() != "{":
            self.skip_to_semicolon()
            return
        names = self.parse_name_list()
        self.take("from")
        module = self.resolve_module(self.take())
        self.skip_to_semicolon()
        for local, remote in names:
            scope[local] = Link("module", (module, remote))

    def parse_name_list(self) -> list[tuple[str, str]]:
        self.take("{")
        names = []
        while self.peek() != "}":
            if self.peek() == "type":
                self.take()
            remote = self.take()
            local = remote
            if self.peek() == "as":
                self.take()
                local = self.take()
            names.append((local, remote))
            if self.peek() == ",":
                self.take()
        self.take("}")
        return names

    def parse_export_list(self, scope: dict, scopes: list, exports: dict | None) -> None:
        names = self.parse_name_list()
        module = None
        if self.peek() == "from":
            self.take()
            module = self.resolve_module(self.take())
        self.skip_to_semicolon()
        for exported_name, local in names:
            if module is not None:
                link = Link("module", (module, local))
            else:
                # `export { Session }` in a namespace names the Session of the enclosing scopes.
                link = Link("scope", local, scopes[1:] if exports is None else scopes)
            if exports is None:
                scope[exported_name] = link
            else:
                exports[exported_name] = link

    def resolve_module(self, literal: str) -> str:
        relative = literal[1:-1]
        if not relative.startswith("."):
            return relative  # a package ('http'): never parsed
        target = (self.source.path.parent / relative).resolve()
        return target.with_name(target.name.removesuffix(".js") + ".d.ts").relative_to(self.source.root).as_posix()

    def parse_type_params(self) -> list[str]:
        params = []
        if self.peek() != "<":
            return params
        depth = 0
        while True:
            token = self.take()
            if token == "<":
                depth += 1
                if depth == 1:
                    params.append(self.peek())
            elif token == ">":
                depth -= 1
                if depth == 0:
                    return params
            elif token == "," and depth == 1:
                params.append(self.peek())

    def parse_interface(self, scope, path, scopes, exports, exported) -> None:
        self.take("interface")
        symbol = self.symbol(scope, path, self.take(), exports, exported)
        params = self.parse_type_params()
        extends = []
        if self.peek() == "extends":
            self.take()
            current, depth = [], 0
            while not (depth == 0 and self.peek() == "{"):
                token = self.take()
                depth += token == "<"
                depth -= token == ">"
                if token == "," and depth == 0:
                    extends.append(current)
                    current = []
                else:
                    current.append(token)
            extends.append(current)
        symbol.interfaces.append((self.parse_members(), extends, params, scopes))

    def parse_members(self) -> list:
        """(`name`, optional, tokens), ("[index]", False, tokens) or ("(method)", ...) members."""
        self.take("{")
        members = []
        while self.peek() != "}":
            while self.peek() in ("readonly", "static", "private", "public", "protected") and self.peek(1) not in (
                ":",
                "?",
                "(",
            ):
                self.take()
            token = self.peek()
            if token == "[":
                self.take()
                self.take()  # the key's name
                self.take(":")
                key_type = self.take()
                self.take("]")
                self.take(":")
                members.append(("[index]", key_type, self.skip_to_semicolon()))
                continue
            if token in ("(", "<", "new"):
                self.skip_to_semicolon()
                continue
            name = self.take()
            if name[0] in "'\"":
                name = name[1:-1]
            optional = False
            if self.peek() == "?":
                self.take()
                optional = True
            if self.peek() == ":":
                self.take()
                members.append((name, optional, self.skip_to_semicolon()))
            else:  # a method
                self.skip_to_semicolon()
        self.take("}")
        return members

    def parse_alias(self, scope, path, scopes, exports, exported) -> None:
        self.take("type")
        symbol = self.symbol(scope, path, self.take(), exports, exported)
        params = self.parse_type_params()
        self.take("=")
        symbol.alias = (self.skip_to_semicolon(), params, scopes)

    def parse_namespace(self, scope, path, scopes, exports, exported) -> None:
        self.take()
        names = [self.take()]
        while self.peek() == ".":
            self.take()
            names.append(self.take())
        symbol = self.symbol(scope, path, names[0], exports, exported)
        for name in names[1:]:
            symbol.members = {} if symbol.members is None else symbol.members
            symbol = self.symbol(symbol.members, symbol.path, name, None, True)
        if symbol.members is None:
            symbol.members = {}
        self.take("{")
        self.parse_body(symbol.members, symbol.path, [symbol.members, *scopes], exports=None)
        self.take("}")


# Type expressions


class TypeParser:
    """Parses a member's or alias's tokens into a small AST:
    ("prim", name) ("lit", value) ("ref", [names], [args]) ("union", [..]) ("array", T)
    ("object", members) ("unsupported", text)."""

    def __init__(self, tokens: list[str]):
        self.tokens = tokens
        self.at = 0

    def parse(self):
        try:
            node = self.union()
            if self.at != len(self.tokens):
                raise SchemaBuildError("trailing tokens")
            return node
        except (SchemaBuildError, IndexError):
            return ("unsupported", " ".join(self.tokens))

    def peek(self):
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self, expected=None):
        token = self.tokens[self.at]
        if expected is not None and token != expected:
            raise SchemaBuildError(f"expected {expected}")
        self.at += 1
        return token

    def union(self):
        if self.peek() == "|":
            self.take()
        options = [self.intersection()]
        while self.peek() == "|":
            self.take()
            options.append(self.intersection())
        return options[0] if len(options) == 1 else ("union", options)

    def intersection(self):
        node = self.postfix()
        if self.peek() == "&":
            raise SchemaBuildError("intersection types are not supported")
        return node

    def postfix(self):
        node = self.primary()
        while self.peek() == "[" and self.tokens[self.at + 1] == "]":
            self.at += 2
            node = ("array", node)
        if self.peek() == "[":
            raise SchemaBuildError("indexed access types are not supported")
        return node

    def primary(self):
        token = self.take()
        if token == "(":
            node = self.union()
            self.take(")")
            if self.peek() == "=>":
                raise SchemaBuildError("function types are not supported")
            return node
        if token == "{":
            return self.object_type()
        if token[0] in "'\"":
            return ("lit", token[1:-1])
        if token in PRIMITIVES or token == "false":
            return ("prim", token)
        if token[0].isalpha() or token[0] in "_$":
            if token in ("typeof", "keyof", "import", "infer", "readonly"):
                raise SchemaBuildError(f"{token} types are not supported")
            names = [token]
            while self.peek() == ".":
                self.take()
                names.append(self.take())
            args = []
            if self.peek() == "<":
                self.take()
                args.append(self.union())
                while self.peek() == ",":
                    self.take()
                    args.append(self.union())
                self.take(">")
            return ("ref", names, args)
        raise SchemaBuildError(f"unexpected {token!r}")

    def object_type(self):
        members = []
        while self.peek() != "}":
            if self.peek() == "[":
                self.take("[")
                self.take()
                self.take(":")
                self.take()
                self.take("]")
                self.take(":")
                members.append(("[index]", False, self.until_member_end()))
            else:
                name = self.take()
                optional = self.peek() == "?"
                if optional:
                    self.take()
                self.take(":")
                members.append((name.strip("'\""), optional, self.until_member_end()))
        self.take("}")
        return ("object", members)

    def until_member_end(self) -> list[str]:
        depth, start = 0, self.at
        while True:
            token = self.peek()
            if depth == 0 and token in (";", "}", ","):
                taken = self.tokens[start : self.at]
                if token != "}":
                    self.take()
                return taken
            depth += token in ("(", "{", "[", "<")
            depth -= token in (")", "}", "]", ">")
            self.take()


# Resolution and the reachable schema


class Builder:
    def __init__(self, cjs: Path):
        self.cjs = cjs
        self.files: dict[str, SourceFile] = {}
        paths = [cjs / "shared.d.ts", cjs / "lib.d.ts", *sorted((cjs / "resources").rglob("*.d.ts"))]
        for path in paths:
            source = SourceFile(cjs, path)
            Parser(source, tokenize(path.read_text())).parse_file()
            self.files[source.relative] = source
        self.types: dict[str, object] = {}
        self.owners: dict[str, Symbol] = {}
        self.pending: list[Symbol] = []

    # names

    def deref(self, entry, seen=()):
        if not isinstance(entry, Link):
            return entry
        if id(entry) in seen:
            raise SchemaBuildError(f"circular link {entry}")
        seen = (*seen, id(entry))
        if entry.kind == "module":
            module, name = entry.target
            source = self.files.get(module)
            if source is None:
                return External(module, name)
            return self.deref(source.exports.get(name) or source.top.get(name), seen)
        if entry.kind == "star":
            source = self.files.get(entry.target)
            if source is None:
                return External(entry.target, "*")
            return Symbol("*", source, (), members=source.exports)
        if entry.kind == "scope":
            return self.deref(self.lookup(entry.target, entry.scopes, "any"), seen)
        return self.deref(self.resolve_names(entry.target, entry.scopes), seen)

    @staticmethod
    def has_meaning(symbol, meaning: str) -> bool:
        if isinstance(symbol, External):
            return True
        if meaning == "namespace":
            return symbol.members is not None
        if meaning == "any":
            return True
        return bool(symbol.interfaces or symbol.alias or symbol.is_class)

    def lookup(self, name: str, scopes: list, meaning: str):
        for scope in scopes:
            if name in scope:
                symbol = self.deref(scope[name])
                if symbol is not None and self.has_meaning(symbol, meaning):
                    return symbol
        return None

    def resolve_names(self, names: list[str], scopes: list):
        symbol = self.lookup(names[0], scopes, "namespace" if len(names) > 1 else "type")
        for index, name in enumerate(names[1:], start=1):
            if symbol is None or isinstance(symbol, External) or symbol.members is None:
                return None
            symbol = self.deref(symbol.members.get(name))
            meaning = "namespace" if index < len(names) - 1 else "type"
            if symbol is not None and not self.has_meaning(symbol, meaning):
                return None
        return symbol

    # conversion to schema.json's encoding

    def name_of(self, symbol) -> str:
        """The schema name of a declaration, queued for conversion."""
        if isinstance(symbol, External):
            special = SPECIAL.get((symbol.file, symbol.name))
            if special is None:
                raise SchemaBuildError(f"{symbol.name} (from {symbol.file}) is not parsed")
            return special
        special = SPECIAL.get((symbol.file.relative, symbol.name))
        if special is not None:
            return special
        name = symbol.canonical
        owner = self.owners.setdefault(name, symbol)
        if owner is not symbol:
            raise SchemaBuildError(f"two declarations are named {name}")
        if name not in self.types:
            self.types[name] = None
            self.pending.append(symbol)
        return name

    def convert(self, node, scopes: list, where: str, params: dict | None = None):
        kind = node[0]
        if kind == "prim":
            if node[1] == "any":
                return "unknown"
            if node[1] == "false":
                raise SchemaBuildError(f"{where}: the literal false is not supported")
            return node[1]
        if kind == "lit":
            return {"enum": [node[1]]}
        if kind == "array":
            return {"array": self.convert(node[1], scopes, where, params)}
        if kind == "union":
            return self.union([self.convert(option, scopes, where, params) for option in node[1]])
        if kind == "object":
            return self.interface([(node[1], [], [], scopes)], where, params)
        if kind == "ref":
            return self.reference(node, scopes, where, params)
        raise SchemaBuildError(f"{where}: unsupported type {node[1]!r}")

    @staticmethod
    def union(options: list):
        flat, literals = [], []
        for option in options:
            for member in option if isinstance(option, list) else [option]:
                if isinstance(member, dict) and set(member) == {"enum"}:
                    literals.extend(value for value in member["enum"] if value not in literals)
                elif member not in flat:
                    flat.append(member)
        if literals:
            flat.insert(0, {"enum": literals})
        return flat[0] if len(flat) == 1 else flat

    def reference(self, node, scopes, where, params):
        _, names, args = node
        if params and len(names) == 1 and names[0] in params:
            return params[names[0]]
        symbol = self.resolve_names(names, scopes)
        if symbol is None and len(names) == 1 and names[0] in BUILTIN_GENERICS:
            converted = [self.convert(arg, scopes, where, params) for arg in args]
            if names[0] == "Array":
                return {"array": converted[0]}
            if names[0] == "Record":
                return {"map": converted[1]}
            raise SchemaBuildError(f"{where}: Partial<> outside an event")
        if symbol is None:
            raise SchemaBuildError(f"{where}: cannot resolve {'.'.join(names)}")
        name = self.name_of(symbol)
        if name == "list":
            return {"list": self.convert(args[0], scopes, where, params)}
        if args:
            raise SchemaBuildError(f"{where}: generic {name}<...> is not supported")
        return name

    def interface(self, declarations: list, where: str, params: dict | None = None) -> dict:
        fields, index = {}, None
        for members, extends, _, scopes in declarations:
            for parent in extends:
                inherited = self.convert(TypeParser(parent).parse(), scopes, where, params)
                definition = self.definition(inherited)
                fields.update(definition["fields"])
                index = definition.get("index", index)
            for name, optional, tokens in members:
                converted = self.convert(TypeParser(tokens).parse(), scopes, f"{where}.{name}", params)
                if name == "[index]":
                    index = converted
                    continue
                fields.pop(name, None)
                fields.pop(name + "?", None)
                fields[name + "?" if optional else name] = converted
        result = {"fields": fields}
        if index is not None:
            result["index"] = index
        if not fields and index is not None:
            return {"map": index}
        return result

    def definition(self, name: str) -> dict:
        symbol = self.owners[name]
        return self.interface(symbol.interfaces, name)

    def define(self, symbol: Symbol) -> None:
        name = symbol.canonical
        if symbol.interfaces:
            if any(params for _, _, params, _ in symbol.interfaces):
                raise SchemaBuildError(f"generic interface {name} is not supported")
            self.types[name] = self.interface(symbol.interfaces, name)
        elif symbol.alias is not None:
            tokens, params, scopes = symbol.alias
            if params:
                raise SchemaBuildError(f"generic type {name} is not supported")
            self.types[name] = self.convert(TypeParser(tokens).parse(), scopes, name)
        else:
            raise SchemaBuildError(f"{name} is not a type")

    def drain(self) -> None:
        while self.pending:
            self.define(self.pending.pop())

    # the kinds

    def object_types(self) -> tuple[dict, dict]:
        """Every declared object type by its `object` literal: (live types, deleted types)."""
        live, deleted = {}, {}

        def visit(scope: dict):
            for entry in scope.values():
                if not isinstance(entry, Symbol):
                    continue
                for members, _, _, _ in entry.interfaces:
                    declared = {name: (optional, tokens) for name, optional, tokens in members}
                    object_tokens = declared.get("object", (True, []))[1]
                    if len(object_tokens) != 1 or object_tokens[0][0] != "'":
                        continue
                    kind = object_tokens[0][1:-1]
                    is_deleted = declared.get("deleted") == (False, ["true"])
                    (deleted if is_deleted else live).setdefault(kind, []).append(entry)
                if entry.members:
                    visit(entry.members)

        for source in self.files.values():
            visit(source.top)
        return live, deleted

    def event_objects(self) -> dict:
        """Each event type's data.object declaration, from the typed events of Events.d.ts."""
        events = self.files["resources/Events.d.ts"]
        found = {}
        for name, entry in events.top.items():
            if not (isinstance(entry, Symbol) and entry.interfaces and name.endswith("Event")):
                continue
            members, extends, _, scopes = entry.interfaces[0]
            declared = {member: tokens for member, _, tokens in members}
            if extends != [["EventBase"]] or "type" not in declared or "data" not in declared:
                continue
            data = self.resolve_names([t for t in declared["data"] if t != "."], scopes)
            data_members = {member: tokens for member, _, tokens in data.interfaces[0][0]}
            target = self.resolve_names([t for t in data_members["object"] if t != "."], data.interfaces[0][3])
            found[declared["type"][0][1:-1]] = target
        return found

    def build(self, kinds) -> dict:
        live, deleted = self.object_types()
        objects, deleted_objects = {}, {}
        for kind in kinds:
            if kind in ("list", "event"):
                continue
            symbols = live.get(kind, [])
            if len(symbols) != 1:
                raise SchemaBuildError(f"object kind {kind!r} is declared by {len(symbols)} types")
            objects[kind] = self.name_of(symbols[0])
            if kind in deleted:
                if len(deleted[kind]) != 1:
                    raise SchemaBuildError(f"deleted {kind!r} objects are declared by {len(deleted[kind])} types")
                deleted_objects[kind] = self.name_of(deleted[kind][0])
        self.drain()
        served = set(objects.values())
        events = {}
        for event_type, symbol in sorted(self.event_objects().items()):
            if isinstance(symbol, Symbol) and symbol.canonical in served:
                events[event_type] = symbol.canonical
        events_file = self.files["resources/Events.d.ts"]
        objects["event"] = self.name_of(self.deref(events_file.top["EventBase"]))
        # A list answer holds objects of any kind: ApiList<T> with T checked by each object's own type.
        objects["list"] = "ApiList"
        api_list = self.deref(self.files["lib.d.ts"].exports["ApiList"])
        self.types["ApiList"] = self.interface(api_list.interfaces, "ApiList", {"T": "object"})
        self.drain()
        return {
            "objects": dict(sorted(objects.items())),
            "deleted": dict(sorted(deleted_objects.items())),
            "events": events,
            "types": {name: self.types[name] for name in sorted(self.types)},
        }


def api_version(cjs: Path) -> str:
    match = re.search(r"ApiVersion = '([^']+)'", (cjs / "apiVersion.js").read_text())
    if match is None:
        raise SchemaBuildError("no ApiVersion in cjs/apiVersion.js")
    return match.group(1)


def build(package: Path, kinds=KINDS) -> dict:
    """The schema of the object `kinds` (`object` values) and what they reach."""
    cjs = package / "cjs"
    manifest = json.loads((package / "package.json").read_text())
    licence_lines = (package / "LICENSE").read_text().splitlines()
    copyright_lines = [line.strip() for line in licence_lines if line.lower().startswith("copyright")]
    built = Builder(cjs).build(kinds)
    corrections = {}
    for (type_name, field_name), (replacement, reason) in CORRECTIONS.items():
        fields = built["types"].get(type_name, {}).get("fields", {})
        if field_name in fields and replacement in built["types"]:
            fields[field_name] = replacement
            corrections[f"{type_name}.{field_name}"] = reason
    built["corrections"] = corrections
    return {
        "api_version": api_version(cjs),
        "source": {
            "package": manifest["name"],
            "version": manifest["version"],
            "license": f"{manifest['license']}; " + "; ".join(copyright_lines),
            "files": "cjs/resources/**/*.d.ts, cjs/shared.d.ts, cjs/lib.d.ts",
        },
        **built,
    }


def dumps(schema: dict) -> str:
    """JSON with one line per entry of each map (a type per line), so that a rebuild's diff
    shows what changed."""
    lines = ["{"]
    for position, (key, value) in enumerate(schema.items()):
        comma = "," if position < len(schema) - 1 else ""
        if isinstance(value, dict) and key != "source":
            entries = [
                f"  {json.dumps(name)}: {json.dumps(item, separators=(',', ':'))}" for name, item in value.items()
            ]
            lines.append(f"{json.dumps(key)}: {{\n" + ",\n".join(entries) + f"\n}}{comma}")
        else:
            lines.append(f"{json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}{comma}")
    return "\n".join(lines) + "\n}\n"


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    package = Path(argv[0])
    if not (package / "cjs" / "apiVersion.js").is_file():
        print(f"not a stripe-node package folder: {package}", file=sys.stderr)
        return 1
    schema = build(package)
    SCHEMA_PATH.write_text(dumps(schema))
    print(
        f"wrote {SCHEMA_PATH}: API {schema['api_version']}, {len(schema['types'])} types, "
        f"{SCHEMA_PATH.stat().st_size // 1024} KiB, from {schema['source']['package']} {schema['source']['version']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
