"""Checking a CRD version's `openAPIV3Schema` (apiextensions `validateCustomResourceDefinitionValidation`).

`check_structural(raw, path)` returns the field errors a v1 CRD create gets for its schema, in
upstream's order:

1. with a status subresource, only some keywords are allowed at the root (first offender only);
2. `nullable` may not be true at the root;
3. the structural-schema rules (`schema.ValidateStructural`: every node has a type unless it is
   int-or-string or preserves unknown fields, arrays have items, value validations (allOf/anyOf/oneOf/
   not) may not carry types or other structural words and may only name properties the structural
   part has, the root metadata may only restrict name and generateName...), sorted by message;
4. only when those pass: every `default` must validate against its schema and must not contain
   fields pruning would remove (`defaulting.ValidateDefaults`);
5. the OpenAPI-schema rules (`ValidateCustomResourceDefinitionOpenAPISchema`: supported types, no
   `$ref`/`id`/definitions..., additionalProperties and properties are exclusive, defaults forbidden
   in metadata, list/map type extensions, map-list keys, rule/message shape of x-kubernetes-validations);
6. only when nothing else failed: schemas that cannot be converted at all (`NewStructural` errors).

Known gaps: CEL rules are not compiled or costed, `x-kubernetes-validations[].fieldPath` is not
resolved, and defaults inside resource metadata are not validated.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kijabi.machinery import errors as E
from kijabi.machinery.errors import FieldError

from ._go import go_equal
from ._invariants import conversion_error, structural_errors
from ._raw import Raw, as_dict, is_true, p_child, p_index, p_key, props_of
from ._schema_rules import Ctx, openapi_schema_errors
from .defaulting import json_copy
from .nodes import Node
from .pruning import meta_walk, prune_tree
from .validation import embedded_errors, validate_openapi

__all__ = ["check_structural"]

_META = ("metadata", "kind", "apiVersion")
_STATUS_ALLOWED = (
    "Description Type Format Title Maximum ExclusiveMaximum Minimum ExclusiveMinimum MaxLength MinLength "
    "Pattern MaxItems MinItems UniqueItems MultipleOf Required Items Properties ExternalDocs Example "
    "XPreserveUnknownFields XValidations"
)
# JSONSchemaProps fields in Go struct order, with the Go names the status-subresource rule prints.
_STRUCT_ORDER = [
    ("id", "ID"),
    ("$schema", "Schema"),
    ("$ref", "Ref"),
    ("description", "Description"),
    ("type", "Type"),
    ("format", "Format"),
    ("title", "Title"),
    ("default", "Default"),
    ("maximum", "Maximum"),
    ("exclusiveMaximum", "ExclusiveMaximum"),
    ("minimum", "Minimum"),
    ("exclusiveMinimum", "ExclusiveMinimum"),
    ("maxLength", "MaxLength"),
    ("minLength", "MinLength"),
    ("pattern", "Pattern"),
    ("maxItems", "MaxItems"),
    ("minItems", "MinItems"),
    ("uniqueItems", "UniqueItems"),
    ("multipleOf", "MultipleOf"),
    ("enum", "Enum"),
    ("maxProperties", "MaxProperties"),
    ("minProperties", "MinProperties"),
    ("required", "Required"),
    ("items", "Items"),
    ("allOf", "AllOf"),
    ("oneOf", "OneOf"),
    ("anyOf", "AnyOf"),
    ("not", "Not"),
    ("properties", "Properties"),
    ("additionalProperties", "AdditionalProperties"),
    ("patternProperties", "PatternProperties"),
    ("dependencies", "Dependencies"),
    ("additionalItems", "AdditionalItems"),
    ("definitions", "Definitions"),
    ("externalDocs", "ExternalDocs"),
    ("example", "Example"),
    ("nullable", "Nullable"),
    ("x-kubernetes-preserve-unknown-fields", "XPreserveUnknownFields"),
    ("x-kubernetes-embedded-resource", "XEmbeddedResource"),
    ("x-kubernetes-int-or-string", "XIntOrString"),
    ("x-kubernetes-list-map-keys", "XListMapKeys"),
    ("x-kubernetes-list-type", "XListType"),
    ("x-kubernetes-map-type", "XMapType"),
    ("x-kubernetes-validations", "XValidations"),
]


# -- 4. ValidateDefaults ---------------------------------------------------------------------------


def _coerce_error(x: Any, s: Node | None, path: str, embedded_root: bool) -> FieldError | None:
    """objectmeta.Coerce without dropping: typemeta must be strings, metadata must decode."""
    if s is None:
        return None
    t = type(x)
    if t is dict:
        embedded = embedded_root or s.embedded
        for k, v in x.items():
            if embedded:
                if k in ("apiVersion", "kind") and not isinstance(v, str):
                    return E.invalid_value(p_child(path, k), v, "must be a string")
                if k == "metadata":
                    walk = meta_walk(v, track=False, remove=False)
                    if walk.errors:
                        return E.invalid_value(p_child(path, "metadata"), v, walk.errors[0])
            p = s.props.get(k)
            if p is not None:
                problem = _coerce_error(v, p, p_child(path, k), False)
            elif s.ap is not None:
                problem = _coerce_error(v, s.ap_node, p_key(path, k), False)
            else:
                problem = None
            if problem is not None:
                return problem
    elif t is list:
        for i, v in enumerate(x):
            problem = _coerce_error(v, s.items, p_index(path, i), False)
            if problem is not None:
                return problem
    return None


def _defaults(s: Raw | None, path: str, embedded_root: bool, inside_meta: bool) -> list[FieldError]:
    if s is None:
        return []
    errs: list[FieldError] = []
    embedded = embedded_root or is_true(s, "x-kubernetes-embedded-resource")
    if embedded:
        inside_meta = False
    default = s.get("default")
    if default is not None and not inside_meta:
        node = Node(s)
        dpath = p_child(path, "default")
        pruned = json_copy(default)
        prune_tree(pruned, node, "", [], True, embedded)
        if not go_equal(pruned, default):
            errs.append(E.invalid_value(dpath, default, "must not have unknown fields"))
        problem = _coerce_error(default, node, dpath, embedded)
        if problem is not None:
            errs.append(problem)
        else:
            meta_errs: list[FieldError] = []
            embedded_errors(default, node, dpath, meta_errs, None, embedded_root=embedded)
            if meta_errs:
                errs += meta_errs
            else:
                errs += validate_openapi(default, node, path=dpath, crd=False)
    errs += _defaults(as_dict(s.get("items")), p_child(path, "items"), False, inside_meta)
    for k, sub in props_of(s).items():
        sub_inside = inside_meta or (embedded and k in _META)
        errs += _defaults(as_dict(sub), p_key(p_child(path, "properties"), k), False, sub_inside)
    return errs


# -- 1. status subresource -------------------------------------------------------------------------


def _status_root(raw: Raw, path: str) -> list[FieldError]:
    for key, _go_name in _STRUCT_ORDER:
        v = raw.get(key)
        if v is None or v is False or v == "":
            continue
        if key == "type":
            if v != "object":
                detail = 'only "object" is allowed as the type at the root of the schema if the status subresource is enabled'
                return [E.invalid_value(p_child(path, "type"), v, detail)]
            continue
        if _go_name not in _STATUS_ALLOWED.split():
            detail = f"only [{_STATUS_ALLOWED}] fields are allowed at the root of the schema if the status subresource is enabled"
            return [E.invalid_value(path, dict(raw), detail)]
    return []


def check_structural(
    raw: Raw,
    path: str,
    *,
    status_subresource: bool = False,
    allow_defaults: bool = True,
    require_structural: bool = True,
) -> list[FieldError]:
    """The field errors a v1 CRD version gets for its `openAPIV3Schema` `raw` at field path `path`.

    `status_subresource` enables the root keyword restriction that applies when the version has a
    status subresource. `allow_defaults=False` and `require_structural=False` reproduce the relaxed
    checks upstream applies to an update that keeps a legacy non-structural schema.
    """
    if not isinstance(raw, Mapping):
        return [E.invalid_value(path, raw, "must be an object")]
    errs: list[FieldError] = []
    if status_subresource:
        errs += _status_root(raw, path)
    if raw.get("nullable") is True:
        errs.append(E.forbidden_field(p_child(path, "nullable"), "nullable cannot be true at the root"))
    init_errs: list[FieldError] = []
    if require_structural:
        problem = conversion_error(raw)
        if problem is not None:
            init_errs.append(E.invalid_value(path, "", problem))
        else:
            structural = structural_errors(raw, path)
            if structural:
                errs += structural
            else:
                errs += _defaults(raw, path, True, False)
    errs += openapi_schema_errors(raw, path, Ctx(allow_defaults), True)
    if not errs and init_errs:
        errs += init_errs
    return errs
