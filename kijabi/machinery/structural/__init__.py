"""Structural-schema mechanics: decoding checks, unknown fields, pruning, defaulting, validation.

A request body is a decoded JSON dict; these functions answer what upstream's decoders and the
apiextensions machinery would do with it, with upstream's exact messages. They take a
`kijabi.machinery.schema.Schema`. Built-in types (`schema.builtin()`) get Go typed-decoding
semantics; custom resource schemas (`schema.from_openapi_v3`, a CRD version's `openAPIV3Schema`)
get apiextensions' structural semantics. Everything is pure and runs in time proportional to the
object.

On a write, in upstream's order::

    type_errors, unknown = check(obj, schema)          # one walk
    if type_errors: 400  decode_failure(kind, version, type_errors[0])
    if unknown:     fieldValidation=Strict -> 400  strict_failure(kind, version, unknown)
                    fieldValidation=Warn   -> one Warning header per entry
    prune(obj, schema)                                 # drop what the Go struct (or CRD) does not know
    apply_defaults(obj, schema)                        # custom resources
    ...
    validate(obj, schema, old=old_or_MISSING)          # custom resources: 422 field errors

Modules: `typed` (built-in decoding), `pruning`, `defaulting`, `validation` (kube-openapi),
`schemacheck` (a CRD's own schema), `formats`, `nodes` (prepared CRD schema nodes).
"""

from __future__ import annotations

from typing import Any

from kijabi.machinery.errors import FieldError
from kijabi.machinery.schema import Schema

from ._go import go_quote
from .defaulting import default as _default
from .nodes import MISSING, node_for
from .pruning import custom_decode_errors, prune_custom
from .schemacheck import check_structural
from .typed import TypedWalk
from .validation import MetaValidator, validate_custom

__all__ = [
    "MISSING",
    "MetaValidator",
    "apply_defaults",
    "check",
    "check_structural",
    "decode_errors",
    "decode_failure",
    "is_custom",
    "prune",
    "strict_failure",
    "unknown_fields",
    "validate",
]


def is_custom(schema: Schema) -> bool:
    """Whether `schema` is a CRD schema (`schema.from_openapi_v3`) rather than a built-in type."""
    return getattr(schema, "_resolver", None) is None


def _format_unknown(paths: list[str], custom: bool) -> list[str]:
    # Typed decoding quotes the path (strconv.Quote); apiextensions formats it with %s.
    if custom:
        return [f'unknown field "{p}"' for p in paths]
    return [f"unknown field {go_quote(p)}" for p in paths]


def check(obj: dict[str, Any], schema: Schema) -> tuple[list[str], list[str]]:
    """Decode errors and unknown fields of `obj`, in one walk, with upstream's precedence.

    Returns `(type_errors, unknown)`. `type_errors[0]` is what upstream reports (400); when there is
    one, `unknown` is empty, as upstream reports no strict errors then. `unknown` holds
    `unknown field "spec.foo"` entries in upstream's order (document order for built-in types; for
    custom resources metadata first, then the sorted pruned paths, then embedded metadata). Nothing
    is modified.
    """
    if is_custom(schema):
        root = node_for(schema)
        errs = custom_decode_errors(obj, root)
        if errs:
            return errs, []
        return [], _format_unknown(prune_custom(obj, root, remove=False), True)
    walk = TypedWalk(track=True)
    walk.run(obj, schema)
    if walk.errors:
        return walk.errors, []
    return [], _format_unknown(walk.unknown, False)


def decode_errors(obj: dict[str, Any], schema: Schema) -> list[str]:
    """Type errors Go's decoder reports for `obj`: either every mismatch in document order (upstream
    reports the first), or a single error from a type that aborts decoding (Quantity, IntOrString,
    Time). For custom resources: metadata that does not decode as ObjectMeta, or an embedded resource
    with a non-string apiVersion/kind or undecodable metadata."""
    if is_custom(schema):
        return custom_decode_errors(obj, node_for(schema))
    walk = TypedWalk(track=False)
    walk.run(obj, schema)
    return walk.errors


def unknown_fields(obj: dict[str, Any], schema: Schema) -> list[str]:
    """`unknown field "<path>"` for every field the schema does not know, in upstream's order.

    Built-in types: document order, at most 100 (sigs.k8s.io/json's limit); `any` nodes
    (RawExtension, FieldsV1) are opaque. Custom resources: the paths `prune` would remove.
    """
    if is_custom(schema):
        return _format_unknown(prune_custom(obj, node_for(schema), remove=False), True)
    walk = TypedWalk(track=True)
    walk.run(obj, schema)
    return _format_unknown(walk.unknown, False)


def prune(obj: dict[str, Any], schema: Schema, *, preserve_unknown_fields: bool = False) -> list[str]:
    """Remove unknown fields from `obj` in place; returns the removed paths (unquoted).

    Custom resources get apiextensions' coercion (see `pruning`): metadata pruned as ObjectMeta,
    structural pruning honouring x-kubernetes-preserve-unknown-fields and embedded resources, nulls
    that are neither nullable nor defaulted dropped. `preserve_unknown_fields` is the CRD's legacy
    `spec.preserveUnknownFields: true`. Built-in types lose what their Go struct would not keep.
    """
    if is_custom(schema):
        return prune_custom(
            obj, node_for(schema), remove=True, preserve_unknown_fields=preserve_unknown_fields
        )
    walk = TypedWalk(track=True, remove=True)
    walk.run(obj, schema)
    return walk.unknown


def apply_defaults(obj: dict[str, Any], schema: Schema) -> None:
    """Apply a CRD schema's `default`s to `obj` in place (no-op for built-in types, whose defaults
    live in their strategies)."""
    if is_custom(schema):
        _default(obj, node_for(schema))


def validate(
    obj: Any,
    schema: Schema,
    *,
    path: str = "",
    old: Any = MISSING,
    validate_meta: MetaValidator | None = None,
) -> list[FieldError]:
    """Validate a custom resource against its CRD schema (see `validation`); [] for built-in types.

    `path` prefixes field paths (upstream validates the status subresource with `status`). With
    `old`, CRD validation ratcheting ignores errors in unchanged parts. `validate_meta` validates the
    metadata of embedded resources like ObjectMeta (`ValidateObjectMeta`, path-segment names).
    """
    if not is_custom(schema):
        return []
    return validate_custom(obj, node_for(schema), path=path, old=old, validate_meta=validate_meta)


def decode_failure(kind: str, version: str, error: str) -> str:
    """The 400 message for a body that does not decode (apiserver `transformDecodeError`)."""
    return f'{kind} in version "{version}" cannot be handled as a {kind}: {error}'


def strict_failure(kind: str, version: str, unknown: list[str]) -> str:
    """The 400 message for `fieldValidation=Strict` with unknown fields."""
    return decode_failure(kind, version, "strict decoding error: " + ", ".join(unknown))
