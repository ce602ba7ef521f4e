"""The structural-schema rules of a CRD schema (apiextensions `schema.ValidateStructural`) and the
conversion errors of `schema.NewStructural`.

Every node needs a type unless it is int-or-string or preserves unknown fields; arrays need items;
additionalProperties is not allowed at the root or next to an embedded resource; value validations
(allOf/anyOf/oneOf/not) may not use types, defaults, descriptions or x-kubernetes extensions, and the
root's value validations may only name properties the structural part declares; the root metadata
may restrict nothing but name and generateName. Errors are sorted by their text, as upstream does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kijabi.machinery import errors as E
from kijabi.machinery.errors import FieldError

from ._raw import Raw, as_dict, as_list, is_true, p_child, p_index, p_key, props_of, type_of
from ._regex import GoRegexError, compile_go

__all__ = ["conversion_error", "structural_errors"]

_ROOT, _ITEM, _FIELD = range(3)


# -- NewStructural ------------------------------------------------------------------------------

_UNSUPPORTED = (
    ("id", "id"),
    ("$schema", "schema"),
    ("$ref", "$ref"),
    ("patternProperties", "patternProperties"),
    ("dependencies", "dependencies"),
    ("additionalItems", "additionalItems"),
    ("definitions", "definitions"),
)


def conversion_error(s: Raw, nested: bool = False) -> str | None:
    for key, word in _UNSUPPORTED:
        v = s.get(key)
        if key == "additionalItems":
            present = v is not None
        else:
            present = bool(v)
        if present:
            return f"OpenAPIV3Schema '{word}' is not supported"
    for key in ("not",):
        sub = as_dict(s.get(key))
        if sub is not None and (problem := conversion_error(sub, True)):
            return problem
    for key in ("allOf", "anyOf", "oneOf"):
        for sub in as_list(s.get(key)):
            if isinstance(sub, Mapping) and (problem := conversion_error(sub, True)):
                return problem
    if s.get("x-kubernetes-preserve-unknown-fields") is False:
        return "internal error: 'x-kubernetes-preserve-unknown-fields' must be true or undefined"
    items = s.get("items")
    if isinstance(items, list) and items:
        return "OpenAPIV3Schema 'items' must be a schema, but is an array"
    if isinstance(items, Mapping) and (problem := conversion_error(items, nested)):
        return problem
    for sub in props_of(s).values():
        if isinstance(sub, Mapping) and (problem := conversion_error(sub, nested)):
            return problem
    ap = as_dict(s.get("additionalProperties"))
    if ap is not None and (problem := conversion_error(ap, nested)):
        return problem
    return None


# -- ValidateStructural -------------------------------------------------------------------------


def _is_int_or_string_pattern(any_of: Any) -> bool:
    if not isinstance(any_of, list) or len(any_of) != 2:
        return False
    want = ("integer", "string")
    for branch, typ in zip(any_of, want, strict=True):
        if not isinstance(branch, Mapping):
            return False
        rest = {k: v for k, v in branch.items() if not _zero_nested(k, v)}
        if rest != {"type": typ}:
            return False
    return True


def _zero_nested(key: str, v: Any) -> bool:
    """Whether a keyword leaves a NestedValueValidation at its zero value."""
    if v is None or v is False or v == "":
        return True
    if key in ("enum", "allOf", "anyOf", "oneOf") and v == []:
        return True
    return key in ("example", "externalDocs")


def _value_validation(
    s: Raw, skip_any_of: bool, skip_first_all_of_any_of: bool, path: str
) -> list[FieldError]:
    errs: list[FieldError] = []
    if not skip_any_of:
        for i, sub in enumerate(as_list(s.get("anyOf"))):
            errs += _nested(as_dict(sub), False, False, p_index(p_child(path, "anyOf"), i))
    for i, sub in enumerate(as_list(s.get("allOf"))):
        skip = skip_first_all_of_any_of and i == 0
        errs += _nested(as_dict(sub), skip, False, p_index(p_child(path, "allOf"), i))
    for i, sub in enumerate(as_list(s.get("oneOf"))):
        errs += _nested(as_dict(sub), False, False, p_index(p_child(path, "oneOf"), i))
    errs += _nested(as_dict(s.get("not")), False, False, p_child(path, "not"))
    pattern = s.get("pattern")
    if isinstance(pattern, str) and pattern:
        try:
            compile_go(pattern)
        except GoRegexError as exc:
            detail = f"must be a valid regular expression, but isn't: {exc}"
            errs.append(E.invalid_value(p_child(path, "pattern"), pattern, detail))
    return errs


_NESTED_FORBIDDEN = (
    ("default", "must be undefined to be structural"),
    ("title", "must be empty to be structural"),
    ("description", "must be empty to be structural"),
    ("nullable", "must be false to be structural"),
    ("x-kubernetes-preserve-unknown-fields", "must be false to be structural"),
    ("x-kubernetes-embedded-resource", "must be false to be structural"),
    ("x-kubernetes-int-or-string", "must be false to be structural"),
    ("x-kubernetes-list-map-keys", "must be empty to be structural"),
    ("x-kubernetes-list-type", "must be undefined to be structural"),
    ("x-kubernetes-map-type", "must be undefined to be structural"),
    ("x-kubernetes-validations", "must be empty to be structural"),
)


def _nested(v: Raw | None, skip_any_of: bool, skip_all_of_any_of: bool, path: str) -> list[FieldError]:
    if v is None:
        return []
    errs = _value_validation(v, skip_any_of, skip_all_of_any_of, path)
    errs += _nested(as_dict(v.get("items")), False, False, p_child(path, "items"))
    for k, sub in props_of(v).items():
        errs += _nested(as_dict(sub), False, False, p_key(p_child(path, "properties"), k))
    if type_of(v):
        errs.append(E.forbidden_field(p_child(path, "type"), "must be empty to be structural"))
    ap = v.get("additionalProperties")
    if isinstance(ap, Mapping) or ap is True:
        errs.append(
            E.forbidden_field(p_child(path, "additionalProperties"), "must be undefined to be structural")
        )
    for key, detail in _NESTED_FORBIDDEN:
        value = v.get(key)
        if key in ("default", "x-kubernetes-list-type", "x-kubernetes-map-type"):
            bad = value is not None
        else:
            bad = bool(value)
        if bad:
            errs.append(E.forbidden_field(p_child(path, key), detail))
    if "metadata" in props_of(v):
        errs.append(
            E.forbidden_field(
                p_key(p_child(path, "properties"), "metadata"), "must not be specified in a nested context"
            )
        )
    return errs


_METADATA_ZERO_OK = frozenset(("type", "default", "properties", "example", "externalDocs"))


def _metadata_has_more(m: Raw) -> bool:
    """Whether the root `metadata` schema sets anything besides type, default, name and generateName."""
    props = props_of(m)
    names = set(props)
    if names and not (names <= {"name", "generateName"}):
        return True
    for key, v in m.items():
        if key in _METADATA_ZERO_OK:
            continue
        if key in ("additionalProperties", "items", "not") and v is not None:
            return True
        if v is None or v is False or v == "":
            continue
        if key in ("enum", "allOf", "anyOf", "oneOf") and v == []:
            continue
        return True
    return False


def _invariants(s: Raw | None, lvl: int, path: str) -> list[FieldError]:
    if s is None:
        return []
    errs: list[FieldError] = []
    typ = type_of(s)
    items = as_dict(s.get("items"))
    if typ == "array" and items is None:
        errs.append(E.required(p_child(path, "items"), "must be specified"))
    errs += _invariants(items, _ITEM, p_child(path, "items"))
    props = props_of(s)
    for k, sub in props.items():
        errs += _invariants(as_dict(sub), _FIELD, p_key(p_child(path, "properties"), k))
    ap = s.get("additionalProperties")
    if ap is not None:
        if lvl == _ROOT:
            errs.append(
                E.forbidden_field(p_child(path, "additionalProperties"), "must not be used at the root")
            )
        if isinstance(ap, Mapping):
            errs += _invariants(ap, _FIELD, p_child(path, "additionalProperties"))
    int_or_string = is_true(s, "x-kubernetes-int-or-string")
    preserve = is_true(s, "x-kubernetes-preserve-unknown-fields")
    embedded = is_true(s, "x-kubernetes-embedded-resource")
    if int_or_string and preserve:
        errs.append(
            E.invalid_value(
                p_child(path, "x-kubernetes-preserve-unknown-fields"),
                True,
                "must be false if x-kubernetes-int-or-string is true",
            )
        )
    if int_or_string and embedded:
        errs.append(
            E.invalid_value(
                p_child(path, "x-kubernetes-embedded-resource"),
                True,
                "must be false if x-kubernetes-int-or-string is true",
            )
        )
    all_of = as_list(s.get("allOf"))
    skip_any_of = _is_int_or_string_pattern(s.get("anyOf"))
    skip_first = (
        bool(all_of) and isinstance(all_of[0], Mapping) and _is_int_or_string_pattern(all_of[0].get("anyOf"))
    )
    errs += _value_validation(s, skip_any_of, skip_first, path)
    check_metadata = lvl == _ROOT or embedded
    if embedded and typ != "object":
        detail = "must be object if x-kubernetes-embedded-resource is true"
        if not typ:
            errs.append(E.required(p_child(path, "type"), detail))
        else:
            errs.append(E.invalid_value(p_child(path, "type"), typ, detail))
    elif not typ and not int_or_string and not preserve:
        detail = {
            _ROOT: "must not be empty at the root",
            _ITEM: "must not be empty for specified array items",
            _FIELD: "must not be empty for specified object fields",
        }[lvl]
        errs.append(E.required(p_child(path, "type"), detail))
    if embedded and ap is not None:
        errs.append(
            E.forbidden_field(
                p_child(path, "additionalProperties"),
                "must not be used if x-kubernetes-embedded-resource is set",
            )
        )
    if lvl == _ROOT and typ and typ != "object":
        errs.append(E.invalid_value(p_child(path, "type"), typ, "must be object at the root"))
    for name in ("kind", "apiVersion"):
        sub = as_dict(props.get(name))
        if sub is not None and check_metadata and type_of(sub) != "string":
            errs.append(
                E.invalid_value(
                    p_child(p_key(p_child(path, "properties"), name), "type"), type_of(sub), "must be string"
                )
            )
    meta = as_dict(props.get("metadata"))
    if meta is not None:
        mpath = p_key(p_child(path, "properties"), "metadata")
        if check_metadata and type_of(meta) != "object":
            errs.append(E.invalid_value(p_child(mpath, "type"), type_of(meta), "must be object"))
        if lvl == _ROOT and _metadata_has_more(meta):
            errs.append(
                E.forbidden_field(
                    mpath,
                    "must not specify anything other than name and generateName, but metadata is implicitly specified",
                )
            )
    if embedded and not preserve and not props:
        errs.append(
            E.required(
                p_child(path, "properties"),
                "must not be empty if x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields",
            )
        )
    return errs


def _completeness(v: Raw | None, s: Raw | None, spath: str, vpath: str, nested: bool) -> list[FieldError]:
    """validateValueValidationCompleteness / validateNestedValueValidationCompleteness."""
    if v is None:
        return []
    if s is None:
        return [E.required(spath, f"because it is defined in {vpath}")]
    errs: list[FieldError] = []
    errs += _completeness(as_dict(v.get("not")), s, spath, p_child(vpath, "not"), True)
    for key in ("allOf", "anyOf", "oneOf"):
        for i, sub in enumerate(as_list(v.get(key))):
            errs += _completeness(as_dict(sub), s, spath, p_index(p_child(vpath, key), i), True)
    if nested:
        errs += _completeness(
            as_dict(v.get("items")),
            as_dict(s.get("items")),
            p_child(spath, "items"),
            p_child(vpath, "items"),
            True,
        )
        sprops = props_of(s)
        for k, sub in props_of(v).items():
            sp = p_key(p_child(spath, "properties"), k)
            vp = p_key(p_child(vpath, "properties"), k)
            target = as_dict(sprops.get(k))
            if target is None:
                errs.append(E.required(sp, f"because it is defined in {vp}"))
            else:
                errs += _completeness(as_dict(sub), target, sp, vp, True)
    return errs


def structural_errors(raw: Raw, path: str) -> list[FieldError]:
    errs = _invariants(raw, _ROOT, path)
    errs += _completeness(raw, raw, path, path, False)
    errs.sort(key=str)
    return errs
