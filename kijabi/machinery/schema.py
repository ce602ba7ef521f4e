"""Structural schemas: the type information every generic mechanism reads.

Built-in types come from upstream's OpenAPI definitions (shipped by the PyPI package
`kubernetes-validate`, which keeps the `x-kubernetes-*` extensions); custom resources from their CRD's
`openAPIV3Schema`. Both become the same tree of `Schema` nodes, so strategic merge patch, server-side
apply, validation, defaulting and pruning never care where a type came from.

Node kinds:
    object          fixed `properties` (a struct)
    map             `additionalProperties` only (map[string]T); `values` is the element schema
    array           `items`
    string, integer, number, boolean
    int-or-string   x-kubernetes-int-or-string (IntOrString)
    quantity        resource.Quantity (string or number on the wire)
    any             no type information: anything goes (x-kubernetes-preserve-unknown-fields, RawExtension)

Nodes are built lazily and cached per definition name, so `$ref` cycles (JSONSchemaProps) are fine.
"""

from __future__ import annotations

import functools
import importlib.util
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

DEFINITIONS_VERSION = "v1.32.0-local"

_SPECIAL = {
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": "int-or-string",
    "io.k8s.apimachinery.pkg.api.resource.Quantity": "quantity",
    "io.k8s.apimachinery.pkg.runtime.RawExtension": "any",
    "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1": "any",
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON": "any",
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrArray": "any",
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrBool": "any",
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaPropsOrStringArray": "any",
}


class Schema:
    """One node of a structural schema. Read-only after construction."""

    __slots__ = (
        "_items",
        "_properties",
        "_raw_items",
        "_raw_properties",
        "_raw_values",
        "_resolver",
        "_values",
        "default",
        "description",
        "embedded_resource",
        "enum",
        "format",
        "kind",
        "list_map_keys",
        "list_type",
        "map_type",
        "max_items",
        "max_length",
        "maximum",
        "min_items",
        "min_length",
        "minimum",
        "name",
        "nullable",
        "patch_merge_key",
        "patch_strategy",
        "pattern",
        "preserve_unknown_fields",
        "raw",
        "required",
        "unions",
        "validations",
    )

    def __init__(self, raw: Mapping[str, Any], resolver: _Resolver | None, name: str = "") -> None:
        self.raw = raw
        self.name = name
        self._resolver = resolver
        self.description: str = raw.get("description", "")
        typ = raw.get("type")
        nullable = bool(raw.get("nullable", False))
        if isinstance(typ, list):
            nullable = nullable or "null" in typ
            rest = [t for t in typ if t != "null"]
            typ = rest[0] if rest else None
        self.nullable = nullable
        self.format: str = raw.get("format", "")
        self.preserve_unknown_fields = bool(raw.get("x-kubernetes-preserve-unknown-fields", False))
        self.embedded_resource = bool(raw.get("x-kubernetes-embedded-resource", False))
        self._raw_properties: Mapping[str, Any] | None = raw.get("properties")
        additional = raw.get("additionalProperties")
        self._raw_values: Mapping[str, Any] | None = additional if isinstance(additional, Mapping) else None
        self._raw_items: Mapping[str, Any] | None = raw.get("items") if isinstance(raw.get("items"), Mapping) else None
        if raw.get("x-kubernetes-int-or-string") or name == "io.k8s.apimachinery.pkg.util.intstr.IntOrString":
            kind = "int-or-string"
        elif name in _SPECIAL:
            kind = _SPECIAL[name]
        elif typ == "object" or (typ is None and (self._raw_properties or self._raw_values)):
            if self._raw_properties is not None or self._raw_values is None:
                kind = "object" if (self._raw_properties or not self.preserve_unknown_fields) else "any"
                if self._raw_properties is None and self._raw_values is None and typ == "object":
                    kind = "any" if self.preserve_unknown_fields else "map-any"
            else:
                kind = "map"
        elif typ == "array":
            kind = "array"
        elif typ in ("string", "integer", "number", "boolean"):
            kind = typ
        else:
            kind = "any"
        if kind == "map-any":
            # `type: object` with neither properties nor additionalProperties: an empty struct in
            # built-in types; in CRDs (structural) only valid with preserve-unknown-fields.
            kind = "object"
        self.kind: str = kind
        self.list_type: str | None = raw.get("x-kubernetes-list-type")
        self.list_map_keys: tuple[str, ...] = tuple(raw.get("x-kubernetes-list-map-keys", ()))
        self.map_type: str | None = raw.get("x-kubernetes-map-type")
        self.patch_strategy: str | None = raw.get("x-kubernetes-patch-strategy")
        self.patch_merge_key: str | None = raw.get("x-kubernetes-patch-merge-key")
        self.required: tuple[str, ...] = tuple(raw.get("required", ()))
        self.enum: list[Any] | None = raw.get("enum")
        self.default: Any = raw.get("default")
        self.pattern: str | None = raw.get("pattern")
        self.minimum: float | None = raw.get("minimum")
        self.maximum: float | None = raw.get("maximum")
        self.min_length: int | None = raw.get("minLength")
        self.max_length: int | None = raw.get("maxLength")
        self.min_items: int | None = raw.get("minItems")
        self.max_items: int | None = raw.get("maxItems")
        self.unions: list[Any] = raw.get("x-kubernetes-unions", [])
        self.validations: list[Any] = raw.get("x-kubernetes-validations", [])
        self._properties: dict[str, Schema] | None = None
        self._items: Schema | None = None
        self._values: Schema | None = None

    def __repr__(self) -> str:
        return f"Schema({self.name or self.kind})"

    # -- children -----------------------------------------------------------------------------------

    def _child(self, raw: Mapping[str, Any]) -> Schema:
        return _node(raw, self._resolver)

    @property
    def properties(self) -> dict[str, Schema]:
        if self._properties is None:
            self._properties = {k: self._child(v) for k, v in (self._raw_properties or {}).items()}
        return self._properties

    def field(self, name: str) -> Schema | None:
        """The schema of property `name` of an object, or of any value of a map; None if unknown."""
        if self.kind == "object":
            return self.properties.get(name)
        if self.kind == "map":
            return self.values
        return None

    @property
    def items(self) -> Schema | None:
        if self._items is None and self._raw_items is not None:
            self._items = self._child(self._raw_items)
        return self._items

    @property
    def values(self) -> Schema | None:
        if self._values is None and self._raw_values is not None:
            self._values = self._child(self._raw_values)
        return self._values

    # -- list semantics (SMP and SSA read these) ---------------------------------------------------

    @property
    def strategies(self) -> frozenset[str]:
        """The patch strategies of this field: subset of {'merge', 'retainKeys', 'replace'}."""
        return frozenset(s for s in (self.patch_strategy or "").split(",") if s)


class _Resolver:
    """Resolves `#/$defs/NAME` references against one definitions document, caching nodes."""

    def __init__(self, defs: Mapping[str, Any]) -> None:
        self.defs = defs
        self.cache: dict[str, Schema] = {}

    def get(self, name: str) -> Schema:
        node = self.cache.get(name)
        if node is None:
            node = Schema(self.defs[name], self, name)
            self.cache[name] = node
        return node


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _node(raw: Mapping[str, Any], resolver: _Resolver | None) -> Schema:
    ref = raw.get("$ref")
    if ref is None and "allOf" in raw and len(raw["allOf"]) == 1 and "$ref" in raw["allOf"][0]:
        ref = raw["allOf"][0]["$ref"]
    if ref is not None and resolver is not None:
        target = resolver.get(_ref_name(ref))
        extra = {k: v for k, v in raw.items() if k not in ("$ref", "allOf")}
        if not extra or set(extra) <= {"description"}:
            return target
        # A property that refers to a type and adds its own extensions (merge keys, list types).
        merged = dict(target.raw)
        merged.update(extra)
        return Schema(merged, resolver, target.name)
    if "oneOf" in raw and "type" not in raw:
        kinds = {t for alt in raw["oneOf"] for t in _types(alt)}
        if kinds == {"string", "integer"}:
            return Schema({**raw, "x-kubernetes-int-or-string": True}, resolver)
        if kinds == {"string", "number"}:
            return Schema(raw, resolver, "io.k8s.apimachinery.pkg.api.resource.Quantity")
    return Schema(raw, resolver)


def _types(raw: Mapping[str, Any]) -> set[str]:
    t = raw.get("type")
    if isinstance(t, list):
        return {x for x in t if x != "null"}
    return {t} if isinstance(t, str) else set()


class Definitions:
    """Upstream's named type definitions, and the index from group/version/kind to definition."""

    def __init__(self, defs: Mapping[str, Any]) -> None:
        self._resolver = _Resolver(defs)
        self.names = defs
        self.by_gvk: dict[tuple[str, str, str], str] = {}
        for name, raw in defs.items():
            for gvk in raw.get("x-kubernetes-group-version-kind", ()):
                self.by_gvk.setdefault((gvk["group"], gvk["version"], gvk["kind"]), name)

    def get(self, name: str) -> Schema:
        return self._resolver.get(name)

    def for_kind(self, group: str, version: str, kind: str) -> Schema | None:
        name = self.by_gvk.get((group, version, kind))
        return self.get(name) if name else None


@functools.cache
def builtin() -> Definitions:
    """The v1.32 definitions of every built-in type (loaded once per process)."""
    # Only the package's data files: importing it would load jsonschema and its dependencies.
    spec = importlib.util.find_spec("kubernetes_validate")
    if spec is None or spec.origin is None:
        raise RuntimeError("the kubernetes-validate package (the upstream schemas) is not installed")
    base = Path(spec.origin).parent / "kubernetes-json-schema" / DEFINITIONS_VERSION
    with open(base / "_definitions.json", "rb") as f:
        doc = json.load(f)
    return Definitions(doc["$defs"])


def from_openapi_v3(raw: Mapping[str, Any]) -> Schema:
    """A schema from a CRD version's `openAPIV3Schema` (no `$ref`s; metadata is ObjectMeta)."""
    return Schema(raw, None)
