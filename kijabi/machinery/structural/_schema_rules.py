"""The OpenAPI-schema rules apiextensions applies to a CRD schema
(`ValidateCustomResourceDefinitionOpenAPISchema`), without the CEL compilation and cost checks.

Supported types only, no `$ref`/`id`/`definitions`/`dependencies`/`patternProperties`/
`additionalItems`/`uniqueItems`, properties and additionalProperties are exclusive, no defaults in the
root's metadata/apiVersion/kind or in additionalProperties under resource metadata, embedded
resources not inside resource metadata, consistent x-kubernetes-list-type / list-map-keys / map-type,
map-list keys required or defaulted and not nullable, and the shape of x-kubernetes-validations rules.
Children are visited before a node's own extension rules, as upstream appends them.
"""

from __future__ import annotations

from collections.abc import Mapping

from kijabi.machinery import errors as E
from kijabi.machinery.errors import FieldError

from ._raw import Raw, as_dict, as_list, has_default, is_true, p_child, p_index, p_key, props_of, type_of

__all__ = ["Ctx", "openapi_schema_errors"]

_META = ("metadata", "kind", "apiVersion")
_V3_TYPES = ["array", "boolean", "integer", "number", "object", "string"]
_REASONS = ["FieldValueDuplicate", "FieldValueForbidden", "FieldValueInvalid", "FieldValueRequired"]


# -- ValidateCustomResourceDefinitionOpenAPISchema -------------------------------------------------


class Ctx:
    __slots__ = ("allow_defaults", "inside_meta", "reason")

    def __init__(self, allow_defaults: bool, reason: str = "", inside_meta: bool = False) -> None:
        self.allow_defaults = allow_defaults
        self.reason = reason
        self.inside_meta = inside_meta

    def forbid_defaults(self, reason: str) -> Ctx:
        return Ctx(False, reason, self.inside_meta)

    def in_meta(self) -> Ctx:
        return Ctx(self.allow_defaults, self.reason, True)


def _standard(s: Raw, path: str, ctx: Ctx) -> list[FieldError]:
    errs: list[FieldError] = []
    typ = type_of(s)
    if typ and typ not in _V3_TYPES:
        errs.append(E.not_supported(p_child(path, "type"), typ, _V3_TYPES))
    if has_default(s) and not ctx.allow_defaults:
        detail = "must not be set" + (" " + ctx.reason if ctx.reason else "")
        errs.append(E.forbidden_field(p_child(path, "default"), detail))
    if s.get("id"):
        errs.append(E.forbidden_field(p_child(path, "id"), "id is not supported"))
    if s.get("additionalItems") is not None:
        errs.append(E.forbidden_field(p_child(path, "additionalItems"), "additionalItems is not supported"))
    if s.get("patternProperties"):
        errs.append(
            E.forbidden_field(p_child(path, "patternProperties"), "patternProperties is not supported")
        )
    if s.get("definitions"):
        errs.append(E.forbidden_field(p_child(path, "definitions"), "definitions is not supported"))
    if s.get("dependencies") is not None:
        errs.append(E.forbidden_field(p_child(path, "dependencies"), "dependencies is not supported"))
    if s.get("$ref") is not None:
        errs.append(E.forbidden_field(p_child(path, "$ref"), "$ref is not supported"))
    if typ == "null":
        errs.append(
            E.forbidden_field(
                p_child(path, "type"), "type cannot be set to null, use nullable as an alternative"
            )
        )
    items = s.get("items")
    if isinstance(items, list) and items:
        errs.append(
            E.forbidden_field(p_child(path, "items"), "items must be a schema object and not an array")
        )
    if ctx.inside_meta and is_true(s, "x-kubernetes-embedded-resource"):
        errs.append(
            E.forbidden_field(
                p_child(path, "x-kubernetes-embedded-resource"), "must not be used inside of resource meta"
            )
        )
    return errs


def _has_newlines(s: str) -> bool:
    return "\n" in s or "\r" in s


def _go_trim(s: str) -> str:
    return s.strip(
        " \t\n\v\f\r\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
    )


def openapi_schema_errors(s: Raw | None, path: str, ctx: Ctx, is_root: bool) -> list[FieldError]:
    if s is None:
        return []
    errs = _standard(s, path, ctx)
    if s.get("uniqueItems") is True:
        errs.append(
            E.forbidden_field(
                p_child(path, "uniqueItems"),
                "uniqueItems cannot be set to true since the runtime complexity becomes quadratic",
            )
        )
    props = props_of(s)
    ap = s.get("additionalProperties")
    if ap is not None:
        if props and (ap is False or isinstance(ap, Mapping)):
            errs.append(
                E.forbidden_field(
                    p_child(path, "additionalProperties"),
                    "additionalProperties and properties are mutual exclusive",
                )
            )
        sub_ctx = (
            ctx.forbid_defaults("inside additionalProperties applying to object metadata")
            if ctx.inside_meta
            else ctx
        )
        errs += openapi_schema_errors(as_dict(ap), p_child(path, "additionalProperties"), sub_ctx, False)
    embedded = is_true(s, "x-kubernetes-embedded-resource")
    for k, sub in props.items():
        sub_ctx = ctx
        if (is_root or embedded) and k in _META:
            sub_ctx = sub_ctx.in_meta()
            if is_root:
                sub_ctx = sub_ctx.forbid_defaults(f"in top-level {k}")
        errs += openapi_schema_errors(as_dict(sub), p_key(p_child(path, "properties"), k), sub_ctx, False)
    errs += openapi_schema_errors(as_dict(s.get("not")), p_child(path, "not"), ctx, False)
    for key in ("allOf", "oneOf", "anyOf"):
        for i, sub in enumerate(as_list(s.get(key))):
            errs += openapi_schema_errors(as_dict(sub), p_index(p_child(path, key), i), ctx, False)
    defs = s.get("definitions")
    if isinstance(defs, Mapping):
        for k, sub in defs.items():
            errs += openapi_schema_errors(as_dict(sub), p_key(p_child(path, "definitions"), k), ctx, False)
    items = s.get("items")
    if isinstance(items, Mapping):
        errs += openapi_schema_errors(items, p_child(path, "items"), ctx, False)
    elif isinstance(items, list):
        for i, sub in enumerate(items):
            errs += openapi_schema_errors(as_dict(sub), p_index(p_child(path, "items"), i), ctx, False)
    deps = s.get("dependencies")
    if isinstance(deps, Mapping):
        for k, sub in deps.items():
            errs += openapi_schema_errors(as_dict(sub), p_key(p_child(path, "dependencies"), k), ctx, False)
    if s.get("x-kubernetes-preserve-unknown-fields") is False:
        errs.append(
            E.invalid_value(
                p_child(path, "x-kubernetes-preserve-unknown-fields"), False, "must be true or undefined"
            )
        )
    errs += _extension_rules(s, path)
    return errs


def _extension_rules(s: Raw, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    typ = type_of(s)
    map_type = s.get("x-kubernetes-map-type")
    if map_type is not None and typ != "object":
        detail = "must be object if x-kubernetes-map-type is specified"
        errs.append(
            E.required(p_child(path, "type"), detail)
            if not typ
            else E.invalid_value(p_child(path, "type"), typ, detail)
        )
    if map_type is not None and map_type not in ("atomic", "granular"):
        errs.append(E.not_supported(p_child(path, "x-kubernetes-map-type"), map_type, ["atomic", "granular"]))
    list_type = s.get("x-kubernetes-list-type")
    items_raw = s.get("items")
    items = as_dict(items_raw)
    if list_type is not None and typ != "array":
        detail = "must be array if x-kubernetes-list-type is specified"
        errs.append(
            E.required(p_child(path, "type"), detail)
            if not typ
            else E.invalid_value(p_child(path, "type"), typ, detail)
        )
    elif list_type == "set" and items is not None:
        detail = "must be atomic as item of a list with x-kubernetes-list-type=set"
        item_list_type = items.get("x-kubernetes-list-type")
        if type_of(items) == "array":
            if item_list_type is not None and item_list_type != "atomic":
                errs.append(
                    E.invalid_value(
                        p_child(p_child(path, "items"), "x-kubernetes-list-type"), item_list_type, detail
                    )
                )
        elif type_of(items) == "object":
            if items.get("x-kubernetes-map-type") != "atomic":
                shown = item_list_type if item_list_type is not None else "null"
                errs.append(
                    E.invalid_value(p_child(p_child(path, "items"), "x-kubernetes-map-type"), shown, detail)
                )
    if list_type is not None and list_type not in ("atomic", "set", "map"):
        errs.append(
            E.not_supported(p_child(path, "x-kubernetes-list-type"), list_type, ["atomic", "set", "map"])
        )
    keys = [k for k in as_list(s.get("x-kubernetes-list-map-keys"))]
    if keys:
        detail = "must be map if x-kubernetes-list-map-keys is non-empty"
        if list_type is None:
            errs.append(E.required(p_child(path, "x-kubernetes-list-type"), detail))
        elif list_type != "map":
            errs.append(E.invalid_value(p_child(path, "x-kubernetes-list-type"), list_type, detail))
    if list_type == "map":
        if not keys:
            errs.append(
                E.required(
                    p_child(path, "x-kubernetes-list-map-keys"),
                    "must not be empty if x-kubernetes-list-type is map",
                )
            )
        if items_raw is None:
            errs.append(
                E.required(p_child(path, "items"), "must have a schema if x-kubernetes-list-type is map")
            )
        if isinstance(items_raw, list):
            errs.append(
                E.invalid_value(
                    p_child(path, "items"),
                    items_raw,
                    "must only have a single schema if x-kubernetes-list-type is map",
                )
            )
        if items is not None and type_of(items) != "object":
            errs.append(
                E.invalid_value(
                    p_child(p_child(path, "items"), "type"),
                    type_of(items),
                    "must be object if parent array's x-kubernetes-list-type is map",
                )
            )
        if items is not None and type_of(items) == "object":
            seen: set[str] = set()
            item_props = props_of(items)
            for k in keys:
                sub = as_dict(item_props.get(k))
                if sub is not None:
                    if type_of(sub) in ("array", "object"):
                        errs.append(
                            E.invalid_value(
                                p_child(p_key(p_child(p_child(path, "items"), "properties"), k), "type"),
                                type_of(items),
                                "must be a scalar type if parent array's x-kubernetes-list-type is map",
                            )
                        )
                else:
                    errs.append(
                        E.invalid_value(
                            p_child(path, "x-kubernetes-list-map-keys"),
                            keys,
                            "entries must all be names of item properties",
                        )
                    )
                if k in seen:
                    errs.append(
                        E.invalid_value(
                            p_child(path, "x-kubernetes-list-map-keys"),
                            keys,
                            "must not contain duplicate entries",
                        )
                    )
                seen.add(k)
    if items is not None and list_type in ("set", "map"):
        if items.get("nullable") is True:
            errs.append(
                E.forbidden_field(
                    p_child(p_child(path, "items"), "nullable"),
                    f"cannot be nullable when x-kubernetes-list-type is {list_type}",
                )
            )
        if list_type == "map":
            required = set(as_list(items.get("required")))
            item_props = props_of(items)
            for k in keys:
                sub = as_dict(item_props.get(k))
                if sub is None:
                    continue
                kpath = p_key(p_child(p_child(path, "items"), "properties"), k)
                if k not in required and not has_default(sub):
                    errs.append(
                        E.required(
                            p_child(kpath, "default"),
                            "this property is in x-kubernetes-list-map-keys, so it must have a default or be a required property",
                        )
                    )
                if sub.get("nullable") is True:
                    errs.append(
                        E.forbidden_field(
                            p_child(kpath, "nullable"),
                            "this property is in x-kubernetes-list-map-keys, so it cannot be nullable",
                        )
                    )
    for i, rule in enumerate(as_list(s.get("x-kubernetes-validations"))):
        if not isinstance(rule, Mapping):
            continue
        rpath = p_index(p_child(path, "x-kubernetes-validations"), i)
        text = rule.get("rule") or ""
        message = rule.get("message") or ""
        message_expr = rule.get("messageExpression") or ""
        trimmed_rule, trimmed_msg = _go_trim(text), _go_trim(message)
        if not trimmed_rule:
            errs.append(E.required(p_child(rpath, "rule"), "rule is not specified"))
        elif message and not trimmed_msg:
            errs.append(
                E.invalid_value(p_child(rpath, "message"), message, "message must be non-empty if specified")
            )
        elif _has_newlines(trimmed_msg):
            errs.append(
                E.invalid_value(p_child(rpath, "message"), message, "message must not contain line breaks")
            )
        elif _has_newlines(trimmed_rule) and not trimmed_msg:
            errs.append(
                E.required(
                    p_child(rpath, "message"), "message must be specified if rule contains line breaks"
                )
            )
        if message_expr and not _go_trim(message_expr):
            errs.append(
                E.required(
                    p_child(rpath, "messageExpression"), "messageExpression must be non-empty if specified"
                )
            )
        reason = rule.get("reason")
        if reason is not None and reason not in _REASONS:
            errs.append(E.not_supported(p_child(rpath, "reason"), reason, _REASONS))
        field_path = rule.get("fieldPath") or ""
        if field_path and not _go_trim(field_path):
            errs.append(
                E.invalid_value(
                    p_child(rpath, "fieldPath"), field_path, "fieldPath must be non-empty if specified"
                )
            )
        if _has_newlines(field_path):
            errs.append(
                E.invalid_value(
                    p_child(rpath, "fieldPath"), field_path, "fieldPath must not contain line breaks"
                )
            )
    return errs
