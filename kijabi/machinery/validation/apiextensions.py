"""The apiextensions.k8s.io group: CustomResourceDefinition (upstream apiextensions-apiserver
`pkg/apis/apiextensions/validation/validation.go`), without the structural-schema and CEL checks.

Error paths use the internal field names, as upstream's do: the v1 `conversion.webhook.clientConfig`
is reported as `spec.conversion.webhookClientConfig`, a printer column's `jsonPath` as `JSONPath`.
The create rules expect `status.storedVersions` to hold the storage version already (the CRD
strategy's PrepareForCreate sets it).
"""

from __future__ import annotations

from typing import Any

from kijabi.machinery import errors as E

from . import _webhook, meta
from ._util import Ctx, Errs, Obj, Validator, d, immutable, lst, s

_COLUMN_TYPES = "boolean,date,integer,number,string"
_COLUMN_FORMATS = "byte,date,date-time,double,float,int32,int64,password"
_APPROVAL = "api-approved.kubernetes.io"


def _names(names: Obj, path: str) -> Errs:
    errs: Errs = []
    for key in ("plural", "singular"):
        value = s(names.get(key))
        msgs = meta.is_dns1035_label(value)
        if value and msgs:
            errs.append(E.invalid_value(f"{path}.{key}", value, ",".join(msgs)))
    for key in ("kind", "listKind"):
        value = s(names.get(key))
        msgs = meta.is_dns1035_label(value.lower())
        if value and msgs:
            errs.append(
                E.invalid_value(
                    f"{path}.{key}",
                    value,
                    "may have mixed case, but should otherwise match: " + ",".join(msgs),
                )
            )
    for i, short in enumerate(lst(names.get("shortNames"))):
        msgs = meta.is_dns1035_label(s(short))
        if msgs:
            errs.append(E.invalid_value(f"{path}.shortNames[{i}]", short, ",".join(msgs)))
    kind = s(names.get("kind"))
    if kind and kind == s(names.get("listKind")):
        errs.append(E.invalid_value(f"{path}.listKind", kind, "kind and listKind may not be the same"))
    for i, category in enumerate(lst(names.get("categories"))):
        msgs = meta.is_dns1035_label(s(category))
        if msgs:
            errs.append(E.invalid_value(f"{path}.categories[{i}]", category, ",".join(msgs)))
    return errs


def _simple_json_path(text: str, path: str) -> Errs:
    if not text:
        return [E.invalid_value(path, text, "must not be empty")]
    if text[0] != ".":
        return [E.invalid_value(path, text, "must be a simple json path starting with .")]
    return []


def _subresources(sub: Any, path: str) -> Errs:
    scale = d(sub).get("scale")
    if scale is None:
        return []
    scale = d(scale)
    errs: Errs = []
    for key, prefix, where in (
        ("specReplicasPath", (".spec.",), ".spec"),
        ("statusReplicasPath", (".status.",), ".status"),
    ):
        value = s(scale.get(key))
        p = f"{path}.scale.{key}"
        if not value:
            errs.append(E.required(p))
            continue
        path_errs = _simple_json_path(value, p)
        if path_errs:
            errs.extend(path_errs)
        elif not value.startswith(prefix):
            errs.append(E.invalid_value(p, value, f"should be a json path under {where}"))
    selector = s(scale.get("labelSelectorPath"))
    if selector:
        p = f"{path}.scale.labelSelectorPath"
        path_errs = _simple_json_path(selector, p)
        if path_errs:
            errs.extend(path_errs)
        elif not selector.startswith((".spec.", ".status.")):
            errs.append(E.invalid_value(p, selector, "should be a json path under either .spec or .status"))
    return errs


def _column(col: Obj, path: str) -> Errs:
    errs: Errs = []
    if not s(col.get("name")):
        errs.append(E.required(f"{path}.name"))
    kind = s(col.get("type"))
    if not kind:
        errs.append(E.required(f"{path}.type", f"must be one of {_COLUMN_TYPES}"))
    elif kind not in _COLUMN_TYPES.split(","):
        errs.append(E.invalid_value(f"{path}.type", kind, f"must be one of {_COLUMN_TYPES}"))
    fmt = s(col.get("format"))
    if fmt and fmt not in _COLUMN_FORMATS.split(","):
        errs.append(E.invalid_value(f"{path}.format", fmt, f"must be one of {_COLUMN_FORMATS}"))
    json_path = s(col.get("jsonPath"))
    if not json_path:
        errs.append(E.required(f"{path}.JSONPath"))
    else:
        errs.extend(_simple_json_path(json_path, f"{path}.JSONPath"))
    return errs


def _deprecation_warning(version: Obj) -> list[str]:
    warning = version.get("deprecationWarning")
    if not version.get("deprecated") and warning is not None:
        return ["can only be set for deprecated versions"]
    if warning is None:
        return []
    text = s(warning)
    out: list[str] = []
    if len(text) > 256:
        out.append("must be <= 256 characters long")
    if not text:
        out.append("must not be an empty string")
    for i, ch in enumerate(text):
        if not ch.isprintable():
            out.append(
                f"must only contain printable UTF-8 characters; non-printable character found at index {i}"
            )
            break
    return out


def _has_default(schema: Any) -> bool:
    if isinstance(schema, dict):
        return "default" in schema or any(_has_default(v) for v in schema.values())
    if isinstance(schema, list):
        return any(_has_default(v) for v in schema)
    return False


def _review_versions(versions: list[Any], path: str) -> Errs:
    if not versions:
        return [E.required(path)]
    errs: Errs = []
    seen: set[str] = set()
    for i, version in enumerate(versions):
        if s(version) in seen:
            errs.append(E.invalid_value(f"{path}[{i}]", version, "duplicate version"))
            continue
        seen.add(s(version))
        errs.extend(E.invalid_value(f"{path}[{i}]", version, m) for m in meta.is_dns1035_label(s(version)))
    if not seen & {"v1", "v1beta1"}:
        errs.append(E.invalid_value(path, versions, "must include at least one of v1, v1beta1"))
    return errs


def _conversion(spec: Obj) -> Errs:
    conversion = spec.get("conversion")
    if conversion is None:
        return []
    conversion = d(conversion)
    errs: Errs = []
    strategy = s(conversion.get("strategy"))
    if (
        strategy != "None"
        and conversion.get("strategy") is not None
        and spec.get("preserveUnknownFields") is True  # v1: a plain bool, absent means false
    ):
        errs.append(
            E.invalid_value(
                "spec.conversion.strategy", strategy, "must be None if spec.preserveUnknownFields is true"
            )
        )
    if not strategy:
        errs.append(E.required("spec.conversion.strategy"))
    elif strategy not in ("None", "Webhook"):
        errs.append(E.not_supported("spec.conversion.strategy", strategy, ["None", "Webhook"]))
    webhook = conversion.get("webhook")
    client_config = d(webhook).get("clientConfig") if webhook is not None else None
    review_versions = lst(d(webhook).get("conversionReviewVersions"))
    if strategy == "Webhook":
        if client_config is None:
            errs.append(
                E.required("spec.conversion.webhookClientConfig", "required when strategy is set to Webhook")
            )
        else:
            errs.extend(_webhook.validate_client_config(client_config, "spec.conversion.webhookClientConfig"))
        errs.extend(_review_versions(review_versions, "spec.conversion.conversionReviewVersions"))
    else:
        if client_config is not None:
            errs.append(
                E.forbidden_field(
                    "spec.conversion.webhookClientConfig",
                    "should not be set when strategy is not set to Webhook",
                )
            )
        if review_versions:
            errs.append(
                E.forbidden_field(
                    "spec.conversion.conversionReviewVersions",
                    "should not be set when strategy is not set to Webhook",
                )
            )
    return errs


def _approval(obj: Obj, old: Obj | None) -> Errs:
    group = s(d(obj.get("spec")).get("group"))
    if not (group in ("k8s.io", "kubernetes.io") or group.endswith((".k8s.io", ".kubernetes.io"))):
        return []

    def state(annotations: Any) -> tuple[str, str]:
        value = s(d(annotations).get(_APPROVAL))
        if not value:
            return (
                "missing",
                f'protected groups must have approval annotation "{_APPROVAL}", see https://github.com/kubernetes/enhancements/pull/1111',
            )
        if value.startswith("unapproved"):
            return "bypassed", ""
        scheme, sep, rest = value.partition("://")
        if sep and scheme and rest.split("/", 1)[0]:
            return "approved", ""
        return "invalid", (
            f'protected groups must have approval annotation "{_APPROVAL}" with either a URL or a reason starting with '
            '"unapproved", see https://github.com/kubernetes/enhancements/pull/1111'
        )

    annotations = d(obj.get("metadata")).get("annotations")
    new_state, reason = state(annotations)
    if old is not None and state(d(old.get("metadata")).get("annotations"))[0] == new_state:
        return []
    path = f"metadata.annotations[{_APPROVAL}]"
    if new_state == "missing":
        return [E.required(path, reason)]
    if new_state == "invalid":
        return [E.invalid_value(path, s(d(annotations).get(_APPROVAL)), reason)]
    return []


def _crd_spec(spec: Obj) -> Errs:
    errs: Errs = []
    group = s(spec.get("group"))
    if not group:
        errs.append(E.required("spec.group"))
    elif meta.is_dns1123_subdomain(group):
        errs.append(E.invalid_value("spec.group", group, ",".join(meta.is_dns1123_subdomain(group))))
    elif len(group.split(".")) < 2:
        errs.append(E.invalid_value("spec.group", group, "should be a domain with at least one dot"))
    scope = s(spec.get("scope"))
    if not scope:
        errs.append(E.required("spec.scope"))
    elif scope not in ("Cluster", "Namespaced"):
        errs.append(E.not_supported("spec.scope", scope, ["Cluster", "Namespaced"]))
    versions = [d(v) for v in lst(spec.get("versions"))]
    for i, version in enumerate(versions):
        if d(version.get("schema")).get("openAPIV3Schema") is None:
            errs.append(E.required(f"spec.versions[{i}].schema.openAPIV3Schema", "schemas are required"))
    if spec.get("preserveUnknownFields") is True and any(_has_default(v.get("schema")) for v in versions):
        errs.append(
            E.invalid_value(
                "spec.preserveUnknownFields", True, "must be false in order to use defaults in the schema"
            )
        )
    storage_count = 0
    names: set[str] = set()
    unique = True
    for i, version in enumerate(versions):
        name = s(version.get("name"))
        storage_count += version.get("storage") is True
        if name in names:
            unique = False
        names.add(name)
        msgs = meta.is_dns1035_label(name)
        if msgs:
            errs.append(E.invalid_value(f"spec.versions[{i}].name", name, ",".join(msgs)))
        p = f"spec.versions[{i}]"
        errs.extend(
            E.invalid_value(f"{p}.deprecationWarning", version.get("deprecationWarning"), m)
            for m in _deprecation_warning(version)
        )
        errs.extend(_subresources(version.get("subresources"), f"{p}.subresources"))
        for j, col in enumerate(lst(version.get("additionalPrinterColumns"))):
            errs.extend(_column(d(col), f"{p}.additionalPrinterColumns[{j}]"))
    if not unique:
        errs.append(
            E.invalid_value("spec.versions", spec.get("versions"), "must contain unique version names")
        )
    if storage_count != 1:
        errs.append(
            E.invalid_value(
                "spec.versions",
                spec.get("versions"),
                "must have exactly one version marked as storage version",
            )
        )
    names_obj = d(spec.get("names"))
    for key in ("plural", "singular", "kind", "listKind"):
        if not s(names_obj.get(key)):
            errs.append(E.required(f"spec.names.{key}"))
    errs.extend(_names(names_obj, "spec.names"))
    errs.extend(_conversion(spec))
    return errs


def _stored_versions(obj: Obj) -> Errs:
    stored = lst(d(obj.get("status")).get("storedVersions"))
    path = "status.storedVersions"
    if not stored:
        return [E.invalid_value(path, stored, "must have at least one stored version")]
    errs: Errs = []
    remaining = {s(v): i for i, v in enumerate(stored)}
    for version in lst(d(obj.get("spec")).get("versions")):
        name = s(d(version).get("name"))
        if d(version).get("storage") is True and name not in remaining:
            errs.append(E.invalid_value(path, stored, f"must have the storage version {name}"))
        remaining.pop(name, None)
    errs.extend(
        E.invalid_value(f"{path}[{i}]", v, "must appear in spec.versions") for v, i in remaining.items()
    )
    return errs


def _established(obj: Obj) -> bool:
    return any(
        d(c).get("type") == "Established" and d(c).get("status") == "True"
        for c in lst(d(obj.get("status")).get("conditions"))
    )


def _crd(obj: Obj, old: Obj | None, ctx: Ctx) -> Errs:
    spec = d(obj.get("spec"))
    names = d(spec.get("names"))
    required_name = f"{s(names.get('plural'))}.{s(spec.get('group'))}"

    def name_fn(name: str, prefix: bool) -> list[str]:
        msgs = meta.name_is_dns_subdomain(name, prefix)
        if name != required_name:
            msgs.append('must be spec.names.plural+"."+spec.group')
        return msgs

    if old is None:
        errs = meta.validate_object_meta(obj.get("metadata"), False, name_fn, kube_finalizers=False)
    else:
        errs = meta.validate_object_meta_update(
            obj.get("metadata"), old.get("metadata"), kube_finalizers=False
        )
    errs.extend(_crd_spec(spec))
    if old is not None:
        old_spec = d(old.get("spec"))
        if _established(old):
            immutable(spec.get("scope"), old_spec.get("scope"), "spec.scope", errs)
            immutable(names.get("kind"), d(old_spec.get("names")).get("kind"), "spec.names.kind", errs)
        immutable(spec.get("group"), old_spec.get("group"), "spec.group", errs)
        immutable(names.get("plural"), d(old_spec.get("names")).get("plural"), "spec.names.plural", errs)
    errs.extend(_names(d(d(obj.get("status")).get("acceptedNames")), "status.acceptedNames"))
    errs.extend(_stored_versions(obj))
    errs.extend(_approval(obj, old))
    old_preserve = d(old.get("spec")).get("preserveUnknownFields") if old is not None else None
    if old_preserve is not True and spec.get("preserveUnknownFields") is True:
        errs.append(
            E.invalid_value(
                "spec.preserveUnknownFields",
                True,
                "cannot set to true, set x-kubernetes-preserve-unknown-fields to true in spec.versions[*].schema instead",
            )
        )
    return errs


VALIDATORS: dict[str, Validator] = {"CustomResourceDefinition": _crd}
