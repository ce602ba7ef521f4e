#!/usr/bin/env python3
"""Generate kijabi/machinery/protobuf/messages.json, the field table of Kubernetes' protobuf encoding.

What it reads (upstream is the specification; none of it is copied into the repository):

* the `generated.proto` files of every group/version listed in `API_PACKAGES` below, for the wire
  facts: message names, field numbers, scalar types, `repeated`, `map<K, V>`;
* the Go sources of the same packages, for the JSON facts the .proto files do not carry: a field's
  JSON name (the `json:"..."` tag; it differs from the proto name in a few places, e.g.
  `BoundObjectReference.uID` is JSON `uid`, `JSONSchemaProps.ref` is `$ref`), `omitempty`, whether the
  Go field is a pointer, and whether an embedded struct is inlined into its parent's JSON
  (`Probe.handler`, `Volume.volumeSource`, `EphemeralContainer.ephemeralContainerCommon`, ...);
* `register.go` of each package, for the group name and the kinds registered in it.

It then cross-checks every message against the OpenAPI definitions shipped by kubernetes-validate
(the same data kijabi.machinery.schema reads) and prints any JSON field name that does not match.

How to regenerate (release 1.32; any checkout or bare clone works, files are read with `git show`):

    git clone --bare https://github.com/kubernetes/api                    /tmp/api.git
    git clone --bare https://github.com/kubernetes/apimachinery           /tmp/apimachinery.git
    git clone --bare https://github.com/kubernetes/apiextensions-apiserver /tmp/apiextensions.git
    .venv/bin/python tools/gen_proto_table.py --rev v0.32.4 \\
        --api /tmp/api.git --apimachinery /tmp/apimachinery.git --apiextensions /tmp/apiextensions.git

Paths read: k8s.io/api `<group>/<version>/{generated.proto,*.go}`; k8s.io/apimachinery
`pkg/apis/meta/v1`, `pkg/runtime`, `pkg/util/intstr`, `pkg/api/resource`; k8s.io/apiextensions-apiserver
`pkg/apis/apiextensions/v1`.

Output format (one message per line, so diffs stay readable)::

    {"source": {...},
     "groups": {"<proto package>": "<apiVersion>", ...},
     "kinds": {"<apiVersion>": ["Deployment", ...], ...},      # kinds registered per group version
     "meta": {"everywhere": [...], "unversioned": [...]},     # meta/v1 kinds added to every group version
     "wrappers": ["<message>", ...],                          # named Go slices, JSON is a plain list
     "messages": {"<fully qualified message>": [[number, json_name, type, label, flags], ...], ...}}

`type` is a proto scalar type name or a fully qualified message name; `label` is "" (singular), "r"
(repeated) or "m:<key type>" (a map; `type` is then the value type); `flags` holds "p" (a Go pointer:
present on the wire only when set), "e" (JSON `omitempty`) and "i" (embedded struct inlined in JSON).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# (repository option, package directory) for every group/version the table covers.
API_PACKAGES: list[tuple[str, str]] = [
    ("api", gv)
    for gv in (
        "core/v1",
        "apps/v1",
        "batch/v1",
        "autoscaling/v1",
        "autoscaling/v2",
        "policy/v1",
        "rbac/v1",
        "coordination/v1",
        "discovery/v1",
        "events/v1",
        "networking/v1",
        "storage/v1",
        "scheduling/v1",
        "node/v1",
        "admissionregistration/v1",
        "authorization/v1",
        "authentication/v1",
        "certificates/v1",
        "flowcontrol/v1",
    )
] + [
    ("apimachinery", "pkg/apis/meta/v1"),
    ("apimachinery", "pkg/runtime"),
    ("apimachinery", "pkg/util/intstr"),
    ("apimachinery", "pkg/api/resource"),
    ("apiextensions", "pkg/apis/apiextensions/v1"),
]

META_PACKAGE = "k8s.io.apimachinery.pkg.apis.meta.v1"
SCALARS = {
    "string", "bytes", "bool", "int32", "int64", "uint32", "uint64", "sint32", "sint64",
    "fixed32", "fixed64", "sfixed32", "sfixed64", "double", "float",
}  # fmt: skip
# Messages whose JSON form is not an object with their fields (custom MarshalJSON in Go).
CUSTOM_JSON = {
    "k8s.io.apimachinery.pkg.apis.meta.v1.Time",
    "k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime",
    "k8s.io.apimachinery.pkg.apis.meta.v1.Duration",
    "k8s.io.apimachinery.pkg.apis.meta.v1.FieldsV1",
    "k8s.io.apimachinery.pkg.util.intstr.IntOrString",
    "k8s.io.apimachinery.pkg.api.resource.Quantity",
    "k8s.io.apimachinery.pkg.api.resource.QuantityValue",
    "k8s.io.apimachinery.pkg.runtime.RawExtension",
    "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.JSON",
    "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrArray",
    "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrBool",
    "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrStringArray",
}
OUTPUT = Path(__file__).resolve().parent.parent / "kijabi" / "machinery" / "protobuf" / "messages.json"


# --- reading sources -------------------------------------------------------------------------------


class Tree:
    """Files of one repository at one revision: a git directory read with `git show`, or a checkout."""

    def __init__(self, path: Path, rev: str | None) -> None:
        self.path = path
        self.rev = rev

    def _git(self, *args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(self.path), *args], check=True, capture_output=True, text=True
        ).stdout

    def read(self, name: str) -> str:
        if self.rev is None:
            return (self.path / name).read_text()
        return self._git("show", f"{self.rev}:{name}")

    def listdir(self, directory: str) -> list[str]:
        if self.rev is None:
            return sorted(p.name for p in (self.path / directory).iterdir() if p.is_file())
        out = self._git("ls-tree", "--name-only", f"{self.rev}", directory.rstrip("/") + "/")
        return sorted(line.rsplit("/", 1)[-1] for line in out.splitlines())

    def describe(self) -> str:
        """The revision read, with its commit when it is a git revision (no local paths)."""
        if self.rev is None:
            return "working tree"
        return f"{self.rev} ({self._git('rev-parse', f'{self.rev}^{{commit}}').strip()})"


# --- the .proto subset -----------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<line>//[^\n]*)
  | (?P<block>/\*.*?\*/)
  | (?P<str>"(?:[^"\\]|\\.)*")
  | (?P<word>[A-Za-z_.][A-Za-z0-9_.]*)
  | (?P<num>-?[0-9]+)
  | (?P<sym>[{}<>=;,\[\]()])
    """,
    re.VERBOSE | re.DOTALL,
)


@dataclass
class ProtoField:
    number: int
    name: str
    type: str  # as written; resolved later
    label: str  # "optional" | "required" | "repeated" | "map"
    key_type: str = ""


@dataclass
class ProtoMessage:
    full_name: str
    package: str
    fields: list[ProtoField] = field(default_factory=list)
    nullable: bool = False  # `+protobuf.nullable=true` in its comment: a Go named slice


class ProtoSyntaxError(Exception):
    pass


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise ProtoSyntaxError(f"unexpected character {text[pos]!r} at offset {pos}")
        pos = m.end()
        kind = m.lastgroup or ""
        if kind == "ws":
            continue
        out.append((kind, m.group()))
    return out


class ProtoParser:
    """A parser for the proto2 subset of Kubernetes' generated.proto files."""

    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.i = 0
        self.comment = ""  # comment text since the previous statement
        self.package = ""
        self.messages: list[ProtoMessage] = []

    def _peek(self) -> tuple[str, str]:
        while self.i < len(self.toks) and self.toks[self.i][0] in ("line", "block"):
            self.comment += self.toks[self.i][1] + "\n"
            self.i += 1
        return self.toks[self.i] if self.i < len(self.toks) else ("eof", "")

    def _next(self) -> str:
        kind, value = self._peek()
        if kind == "eof":
            raise ProtoSyntaxError("unexpected end of file")
        self.i += 1
        return value

    def _expect(self, value: str) -> None:
        got = self._next()
        if got != value:
            raise ProtoSyntaxError(f"expected {value!r}, got {got!r}")

    def _skip_statement(self) -> None:
        while self._next() != ";":
            pass

    def parse(self) -> list[ProtoMessage]:
        while self._peek()[0] != "eof":
            word = self._next()
            if word in ("syntax", "import", "option"):
                self._skip_statement()
            elif word == "package":
                self.package = self._next()
                self._expect(";")
            elif word == "message":
                self._message(self.package)
            else:
                raise ProtoSyntaxError(f"unsupported top-level statement {word!r}")
            self.comment = ""
        return self.messages

    def _message(self, scope: str) -> None:
        comment, self.comment = self.comment, ""
        name = self._next()
        msg = ProtoMessage(f"{scope}.{name}", self.package, nullable="+protobuf.nullable=true" in comment)
        self.messages.append(msg)
        self._expect("{")
        while True:
            word = self._next()
            if word == "}":
                break
            if word == "message":
                self._message(msg.full_name)
            elif word in ("option", "reserved"):
                self._skip_statement()
            elif word == "map":
                self._expect("<")
                key = self._next()
                self._expect(",")
                value = self._next()
                self._expect(">")
                msg.fields.append(self._field_rest("map", value, key))
            elif word in ("optional", "required", "repeated"):
                msg.fields.append(self._field_rest(word, self._next()))
            else:
                raise ProtoSyntaxError(f"unsupported statement {word!r} in message {msg.full_name}")
            self.comment = ""

    def _field_rest(self, label: str, typ: str, key: str = "") -> ProtoField:
        name = self._next()
        self._expect("=")
        number = int(self._next())
        if self._peek()[1] == "[":  # field options such as [packed = true]; not used by Kubernetes
            while self._next() != "]":
                pass
        self._expect(";")
        return ProtoField(number, name, typ, label, key)


def resolve(type_name: str, scope: str, known: set[str]) -> str:
    """Resolve a type reference the way protoc does: innermost scope first, outward."""
    if type_name in SCALARS:
        return type_name
    if type_name.startswith("."):
        if type_name[1:] in known:
            return type_name[1:]
        raise ProtoSyntaxError(f"unknown type {type_name}")
    parts = scope.split(".")
    while parts:
        candidate = ".".join([*parts, type_name])
        if candidate in known:
            return candidate
        parts.pop()
    if type_name in known:
        return type_name
    raise ProtoSyntaxError(f"unknown type {type_name} (in {scope})")


# --- the Go sources --------------------------------------------------------------------------------

_STRUCT = re.compile(r"^type (\w+) struct \{(.*?)^\}", re.MULTILINE | re.DOTALL)
_EMPTY_STRUCT = re.compile(r"^type (\w+) struct\s*\{\s*\}", re.MULTILINE)
_DEFINED = re.compile(r"^type (\w+) ([\w.]+)\s*$", re.MULTILINE)
_GO_FIELD = re.compile(r"^\s*(?:(\w+)\s+)?([^\s`]+)\s+`([^`]*)`")
_TAG = re.compile(r'(\w+):"([^"]*)"')


@dataclass
class GoField:
    json_name: str
    omitempty: bool
    pointer: bool
    inline: bool


def go_structs(tree: Tree, directory: str) -> tuple[dict[str, dict[int, GoField]], dict[str, str]]:
    """Structs of a Go package: {struct: {protobuf field number: GoField}}, and defined types `type X pkg.Y`."""
    structs: dict[str, dict[int, GoField]] = {}
    defined: dict[str, str] = {}
    for name in tree.listdir(directory):
        if not name.endswith(".go") or name.endswith("_test.go") or name.startswith("zz_generated"):
            continue
        if name in ("generated.pb.go", "types_swagger_doc_generated.go"):
            continue
        text = tree.read(f"{directory}/{name}")
        for m in _EMPTY_STRUCT.finditer(text):
            structs.setdefault(m.group(1), {})
        for m in _DEFINED.finditer(text):
            defined[m.group(1)] = m.group(2)
        for m in _STRUCT.finditer(text):
            fields: dict[int, GoField] = {}
            for line in m.group(2).splitlines():
                if line.lstrip().startswith("//"):
                    continue
                fm = _GO_FIELD.match(line)
                if fm is None:
                    continue
                go_name, go_type, tag = fm.groups()
                tags = dict(_TAG.findall(tag))
                wire = tags.get("protobuf", "-").split(",")
                if len(wire) < 2 or not wire[1].isdigit():  # no tag, or `protobuf:"-"`
                    continue
                number = int(wire[1])
                json_tag = tags.get("json")
                if json_tag is None:  # no json tag: Go uses the field name
                    json_name = go_name or go_type.lstrip("*").rsplit(".", 1)[-1]
                    opts: list[str] = []
                else:
                    json_name, *opts = json_tag.split(",")
                embedded = go_name is None
                inline = json_name == "" and (embedded or "inline" in opts)
                fields[number] = GoField(json_name, "omitempty" in opts, go_type.startswith("*"), inline)
            structs[m.group(1)] = fields
    return structs, defined


_GROUP = re.compile(r'^const GroupName = "([^"]*)"', re.MULTILINE)
_KNOWN = re.compile(r"&(\w+)\{\}")


def _block(text: str, start: str, opening: str) -> str:
    """The text from `start` to the bracket that closes the first `opening` bracket at or after it."""
    closing = {"(": ")", "{": "}"}[opening]
    i = text.index(opening, text.index(start))
    depth = 0
    for k in range(i, len(text)):
        if text[k] == opening:
            depth += 1
        elif text[k] == closing:
            depth -= 1
            if depth == 0:
                return text[i : k + 1]
    raise ValueError(f"unbalanced block at {start!r}")


# --- building the table ----------------------------------------------------------------------------


@dataclass
class Package:
    repo: str
    directory: str
    proto_package: str = ""
    api_version: str = ""  # "" for packages that are not an API group version
    kinds: list[str] = field(default_factory=list)


def build(trees: dict[str, Tree]) -> tuple[dict[str, Any], list[str]]:
    messages: dict[str, ProtoMessage] = {}
    go: dict[str, tuple[dict[str, dict[int, GoField]], dict[str, str]]] = {}
    packages: list[Package] = []
    meta_everywhere: list[str] = []
    meta_unversioned: list[str] = []
    for repo, directory in API_PACKAGES:
        tree = trees[repo]
        parser = ProtoParser(tree.read(f"{directory}/generated.proto"))
        for msg in parser.parse():
            messages[msg.full_name] = msg
        pkg = Package(repo, directory, parser.package)
        go[parser.package] = go_structs(tree, directory)
        register = tree.read(f"{directory}/register.go") if "register.go" in tree.listdir(directory) else ""
        group = _GROUP.search(register)
        if group is None and repo == "api":
            raise SystemExit(f"{directory}/register.go: no GroupName")
        if group is not None:
            version = directory.rsplit("/", 1)[-1]
            pkg.api_version = f"{group.group(1)}/{version}" if group.group(1) else version
            if parser.package == META_PACKAGE:
                meta_everywhere = ["WatchEvent", *_KNOWN.findall(_block(register, "var optionsTypes", "{"))]
                meta_unversioned = _KNOWN.findall(
                    _block(register, "scheme.AddUnversionedTypes(Unversioned", "(")
                )
                pkg.kinds = [*meta_everywhere, *_KNOWN.findall(_block(register, "func AddMetaToScheme", "{"))]
            else:
                pkg.kinds = _KNOWN.findall(_block(register, "func addKnownTypes", "{"))
        packages.append(pkg)

    known = set(messages)
    warnings: list[str] = []
    table: dict[str, list[list[Any]]] = {}
    for full_name, msg in messages.items():
        short = full_name[len(msg.package) + 1 :]
        structs, defined = go[msg.package]
        go_fields = structs.get(short)
        if go_fields is None and short in defined:  # `type List metav1.List`
            target = defined[short].rsplit(".", 1)[-1]
            go_fields = go[META_PACKAGE][0].get(target)
        if go_fields is None and not msg.nullable and full_name not in CUSTOM_JSON:
            warnings.append(f"{full_name}: no Go struct found; JSON facts default to the proto names")
        rows: list[list[Any]] = []
        for f in sorted(msg.fields, key=lambda f: f.number):
            typ = resolve(f.type, full_name, known)
            label = {"repeated": "r", "map": f"m:{f.key_type}"}.get(f.label, "")
            gf = (go_fields or {}).get(f.number)
            if gf is None:
                if go_fields is not None and full_name not in CUSTOM_JSON:
                    warnings.append(f"{full_name}.{f.name} = {f.number}: no Go field with this number")
                gf = GoField(f.name, False, False, False)
            flags = ("p" if gf.pointer else "") + ("e" if gf.omitempty else "") + ("i" if gf.inline else "")
            rows.append([f.number, gf.json_name, typ, label, flags])
        table[full_name] = rows

    wrappers = sorted(name for name, msg in messages.items() if msg.nullable)
    for name in wrappers:
        rows = table[name]
        if len(rows) != 1 or rows[0][0] != 1 or rows[0][3] != "r":
            raise SystemExit(f"{name}: a nullable wrapper must be exactly `repeated T items = 1`")
    for pkg in packages:
        missing = [k for k in pkg.kinds if f"{pkg.proto_package}.{k}" not in messages]
        pkg.kinds = [k for k in pkg.kinds if k not in missing]
        if missing and pkg.proto_package != META_PACKAGE:
            warnings.append(f"{pkg.api_version}: registered kinds without a message: {missing}")

    data = {
        "source": {
            "repositories": {
                "api": "https://github.com/kubernetes/api",
                "apimachinery": "https://github.com/kubernetes/apimachinery",
                "apiextensions": "https://github.com/kubernetes/apiextensions-apiserver",
            },
            "revisions": {name: tree.describe() for name, tree in trees.items()},
            "generator": "tools/gen_proto_table.py",
        },
        "groups": {p.proto_package: p.api_version for p in packages if p.api_version},
        "kinds": {p.api_version: p.kinds for p in packages if p.api_version},
        "meta": {"everywhere": meta_everywhere, "unversioned": meta_unversioned},
        "wrappers": wrappers,
        "messages": dict(sorted(table.items())),
    }
    return data, warnings


# --- cross-check against the OpenAPI definitions ---------------------------------------------------


def json_names(table: dict[str, list[list[Any]]], name: str) -> set[str]:
    out: set[str] = set()
    for _num, json_name, typ, _label, flags in table[name]:
        if "i" in flags:
            out |= json_names(table, typ)
        else:
            out.add(json_name)
    return out


def cross_check(data: dict[str, Any]) -> list[str]:
    try:
        import kubernetes_validate
    except ImportError:
        return ["kubernetes-validate is not installed: cross-check skipped"]
    base = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema" / "v1.32.0-local"
    defs = json.loads((base / "_definitions.json").read_text())["$defs"]
    table = data["messages"]
    problems = []
    compared = 0
    for name in table:
        if name in CUSTOM_JSON or name in data["wrappers"]:
            continue
        openapi = "io.k8s." + name.removeprefix("k8s.io.").replace(
            "apiextensions_apiserver", "apiextensions-apiserver"
        )
        if openapi not in defs:
            continue
        compared += 1
        props = set(defs[openapi].get("properties", {}))
        ours = json_names(table, name)
        extra = ours - props
        missing = props - ours - {"apiVersion", "kind"}
        if extra or missing:
            problems.append(f"{name}: not in OpenAPI {sorted(extra)}, only in OpenAPI {sorted(missing)}")
    print(f"cross-check: {compared} messages compared with the OpenAPI definitions", file=sys.stderr)
    return problems


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    ap.add_argument("--api", type=Path, required=True, help="k8s.io/api: git dir or checkout")
    ap.add_argument(
        "--apimachinery", type=Path, required=True, help="k8s.io/apimachinery: git dir or checkout"
    )
    ap.add_argument("--apiextensions", type=Path, required=True, help="k8s.io/apiextensions-apiserver")
    ap.add_argument("--rev", default="v0.32.4", help="git revision to read; '' reads checkouts as they are")
    ap.add_argument("--output", type=Path, default=OUTPUT)
    args = ap.parse_args()
    rev = args.rev or None
    trees = {
        "api": Tree(args.api, rev),
        "apimachinery": Tree(args.apimachinery, rev),
        "apiextensions": Tree(args.apiextensions, rev),
    }
    data, warnings = build(trees)
    for w in warnings + cross_check(data):
        print("warning:", w, file=sys.stderr)
    lines = ["{"]
    for key in ("source", "groups", "kinds", "meta", "wrappers"):
        lines.append(f"{json.dumps(key)}: {json.dumps(data[key], separators=(',', ':'))},")
    lines.append('"messages": {')
    items = list(data["messages"].items())
    for i, (name, rows) in enumerate(items):
        sep = "," if i < len(items) - 1 else ""
        lines.append(f"{json.dumps(name)}: {json.dumps(rows, separators=(',', ':'))}{sep}")
    lines.append("}}")
    args.output.write_text("\n".join(lines) + "\n")
    print(f"wrote {args.output} ({len(items)} messages)", file=sys.stderr)


if __name__ == "__main__":
    main()
