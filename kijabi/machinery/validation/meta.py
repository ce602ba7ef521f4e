"""Names, labels, annotations, label selectors and ObjectMeta: the rules every object shares.

Upstream sources (behaviour and messages): apimachinery `pkg/util/validation/validation.go`
(name formats), `pkg/api/validation/{objectmeta,generic}.go` and `path/name.go` (ObjectMeta and
name rules), `pkg/apis/meta/v1/validation` (labels, selectors, managedFields), and the core
additions in kubernetes `pkg/apis/core/validation` (kube finalizer names).

The `is_*` functions return upstream's error strings (empty list = valid). A `NameFn` takes
`(name, prefix)`; `prefix=True` checks a generateName, where a trailing '-' is allowed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from kijabi.machinery import errors as E

from ._util import Errs, d, go_string_slice, lst, nonnegative, s, sem_equal

NameFn = Callable[[str, bool], list[str]]

# --- name formats (apimachinery pkg/util/validation) ----------------------------------------------

_QNAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_QNAME_MSG = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
_LABEL_VALUE_FMT = "(" + _QNAME_FMT + ")?"
_LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character"
)
_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character"
)
_DNS1123_SUBDOMAIN_FMT = _DNS1123_LABEL_FMT + "(\\." + _DNS1123_LABEL_FMT + ")*"
_DNS1123_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character"
)
_DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
_DNS1035_LABEL_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
    "start with an alphabetic character, and end with an alphanumeric character"
)
_WILDCARD_FMT = "\\*\\." + _DNS1123_SUBDOMAIN_FMT
_WILDCARD_MSG = (
    "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must "
    "consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character"
)
_CONFIG_KEY_FMT = "[-._a-zA-Z0-9]+"
_CONFIG_KEY_MSG = "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"
_C_IDENT_FMT = "[A-Za-z_][A-Za-z0-9_]*"
_C_IDENT_MSG = (
    "a valid C identifier must start with alphabetic character or '_', followed by a string of "
    "alphanumeric characters or '_'"
)
_PERCENT_FMT = "[0-9]+%"
_PERCENT_MSG = "a valid percent string must be a numeric string followed by an ending '%'"
_HEADER_FMT = "[-A-Za-z0-9]+"
_HEADER_MSG = "a valid HTTP header must consist of alphanumeric characters or '-'"

_QNAME_RE = re.compile(_QNAME_FMT)
_LABEL_VALUE_RE = re.compile(_LABEL_VALUE_FMT)
_DNS1123_LABEL_RE = re.compile(_DNS1123_LABEL_FMT)
_DNS1123_SUBDOMAIN_RE = re.compile(_DNS1123_SUBDOMAIN_FMT)
_DNS1035_LABEL_RE = re.compile(_DNS1035_LABEL_FMT)
_WILDCARD_RE = re.compile(_WILDCARD_FMT)
_CONFIG_KEY_RE = re.compile(_CONFIG_KEY_FMT)
_C_IDENT_RE = re.compile(_C_IDENT_FMT)
_PERCENT_RE = re.compile(_PERCENT_FMT)
_HEADER_RE = re.compile(_HEADER_FMT)
_PORT_NAME_CHARS_RE = re.compile("[-a-z0-9]+")
_HAS_LETTER_RE = re.compile("[a-z]")


def regex_error(msg: str, fmt: str, *examples: str) -> str:
    """Upstream RegexError: `msg (e.g. 'a',  or 'b', regex used for validation is 'fmt')`."""
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    text = msg + " (e.g. "
    for i, example in enumerate(examples):
        if i:
            text += " or "
        text += f"'{example}', "
    return text + f"regex used for validation is '{fmt}')"


def max_len_error(n: int) -> str:
    return f"must be no more than {n} characters"


def inclusive_range_error(lo: int, hi: int) -> str:
    return f"must be between {lo} and {hi}, inclusive"


EMPTY_ERROR = "must be non-empty"


def _blen(text: str) -> int:
    """Length in bytes, as Go's len() counts."""
    return len(text) if text.isascii() else len(text.encode())


@lru_cache(maxsize=4096)
def _dns1123_subdomain(value: str) -> tuple[str, ...]:
    errs: list[str] = []
    if _blen(value) > 253:
        errs.append(max_len_error(253))
    if not _DNS1123_SUBDOMAIN_RE.fullmatch(value):
        errs.append(regex_error(_DNS1123_SUBDOMAIN_MSG, _DNS1123_SUBDOMAIN_FMT, "example.com"))
    return tuple(errs)


@lru_cache(maxsize=4096)
def _dns1123_label(value: str) -> tuple[str, ...]:
    errs: list[str] = []
    if _blen(value) > 63:
        errs.append(max_len_error(63))
    if not _DNS1123_LABEL_RE.fullmatch(value):
        if _DNS1123_SUBDOMAIN_RE.fullmatch(value):
            errs.append("must not contain dots")
        else:
            errs.append(regex_error(_DNS1123_LABEL_MSG, _DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return tuple(errs)


@lru_cache(maxsize=4096)
def _dns1035_label(value: str) -> tuple[str, ...]:
    errs: list[str] = []
    if _blen(value) > 63:
        errs.append(max_len_error(63))
    if not _DNS1035_LABEL_RE.fullmatch(value):
        errs.append(regex_error(_DNS1035_LABEL_MSG, _DNS1035_LABEL_FMT, "my-name", "abc-123"))
    return tuple(errs)


@lru_cache(maxsize=4096)
def _qualified_name(value: str) -> tuple[str, ...]:
    if len(value) <= 63 and "/" not in value and _QNAME_RE.fullmatch(value):
        return ()
    errs: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part " + EMPTY_ERROR)
        else:
            errs.extend("prefix part " + m for m in _dns1123_subdomain(prefix))
    else:
        return (
            "a qualified name "
            + regex_error(_QNAME_MSG, _QNAME_FMT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
        )
    if not name:
        errs.append("name part " + EMPTY_ERROR)
    elif _blen(name) > 63:
        errs.append("name part " + max_len_error(63))
    if not _QNAME_RE.fullmatch(name):
        errs.append("name part " + regex_error(_QNAME_MSG, _QNAME_FMT, "MyName", "my.name", "123-abc"))
    return tuple(errs)


@lru_cache(maxsize=4096)
def _label_value(value: str) -> tuple[str, ...]:
    errs: list[str] = []
    if _blen(value) > 63:
        errs.append(max_len_error(63))
    if not _LABEL_VALUE_RE.fullmatch(value):
        errs.append(regex_error(_LABEL_VALUE_MSG, _LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return tuple(errs)


def is_dns1123_subdomain(value: str) -> list[str]:
    """RFC 1123 subdomain (most object names): ≤253 characters, lower case, '-' and '.'."""
    return list(_dns1123_subdomain(value))


def is_dns1123_label(value: str) -> list[str]:
    """RFC 1123 label (namespaces, container names): ≤63 characters, lower case and '-'."""
    return list(_dns1123_label(value))


def is_dns1035_label(value: str) -> list[str]:
    """RFC 1035 label (Service names): like a 1123 label but starting with a letter."""
    return list(_dns1035_label(value))


def is_qualified_name(value: str) -> list[str]:
    """Label and annotation keys: `[prefix/]name`, prefix a DNS subdomain, name ≤63 characters."""
    return list(_qualified_name(value))


def is_valid_label_value(value: str) -> list[str]:
    """Label values: empty, or ≤63 alphanumerics with '-', '_', '.' inside."""
    return list(_label_value(value))


def is_wildcard_dns1123_subdomain(value: str) -> list[str]:
    errs: list[str] = []
    if _blen(value) > 253:
        errs.append(max_len_error(253))
    if not _WILDCARD_RE.fullmatch(value):
        errs.append(regex_error(_WILDCARD_MSG, _WILDCARD_FMT, "*.example.com"))
    return errs


def _chdir_prefix(value: str) -> list[str]:
    if value == ".":
        return ["must not be '.'"]
    if value == "..":
        return ["must not be '..'"]
    if value.startswith(".."):
        return ["must not start with '..'"]
    return []


def is_config_map_key(value: str) -> list[str]:
    """ConfigMap and Secret data keys."""
    errs: list[str] = []
    if _blen(value) > 253:
        errs.append(max_len_error(253))
    if not _CONFIG_KEY_RE.fullmatch(value):
        errs.append(regex_error(_CONFIG_KEY_MSG, _CONFIG_KEY_FMT, "key.name", "KEY_NAME", "key-name"))
    errs.extend(_chdir_prefix(value))
    return errs


def is_c_identifier(value: str) -> list[str]:
    if not _C_IDENT_RE.fullmatch(value):
        return [regex_error(_C_IDENT_MSG, _C_IDENT_FMT, "my_name", "MY_NAME", "MyName")]
    return []


def is_valid_percent(value: str) -> list[str]:
    if not _PERCENT_RE.fullmatch(value):
        return [regex_error(_PERCENT_MSG, _PERCENT_FMT, "1%", "93%")]
    return []


def is_http_header_name(value: str) -> list[str]:
    if not _HEADER_RE.fullmatch(value):
        return [regex_error(_HEADER_MSG, _HEADER_FMT, "X-Header-Name")]
    return []


def is_valid_port_num(port: int) -> list[str]:
    return [] if 1 <= port <= 65535 else [inclusive_range_error(1, 65535)]


def is_valid_port_name(port: str) -> list[str]:
    """IANA service names: ≤15 characters of [-a-z0-9], at least one letter, no '--', no edge '-'."""
    errs: list[str] = []
    if len(port) > 15:
        errs.append(max_len_error(15))
    if not _PORT_NAME_CHARS_RE.fullmatch(port):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not _HAS_LETTER_RE.search(port):
        errs.append("must contain at least one letter (a-z)")
    if "--" in port:
        errs.append("must not contain consecutive hyphens")
    if port and (port[0] == "-" or port[-1] == "-"):
        errs.append("must not begin or end with a hyphen")
    return errs


def is_relaxed_env_var_name(value: str) -> list[str]:
    """Env var names with RelaxedEnvironmentVariableValidation (on in 1.32): printable ASCII but '='."""
    errs: list[str] = []
    if not value:
        errs.append("environment variable name " + EMPTY_ERROR)
    for ch in value:
        if not (" " <= ch <= "~") or ch == "=":
            errs.append(
                "a valid environment variable name must consist only of printable ASCII characters other than '='"
            )
            break
    return errs


def is_valid_path_segment_name(name: str) -> list[str]:
    """Any object name: it must be usable as one URL path segment."""
    if name in (".", ".."):
        return [f"may not be '{name}'"]
    return [f"may not contain '{c}'" for c in ("/", "%") if c in name]


# --- name rules per resource (ValidateNameFunc) ---------------------------------------------------


def _mask_trailing_dash(name: str) -> str:
    # Upstream replaces the last *two* characters by "a" (it slices len-2); kept for fidelity.
    if len(name) > 1 and name.endswith("-"):
        return name[:-2] + "a"
    return name


def name_is_dns_subdomain(name: str, prefix: bool) -> list[str]:
    return list(_dns1123_subdomain(_mask_trailing_dash(name) if prefix else name))


def name_is_dns_label(name: str, prefix: bool) -> list[str]:
    return list(_dns1123_label(_mask_trailing_dash(name) if prefix else name))


def name_is_dns1035_label(name: str, prefix: bool) -> list[str]:
    return list(_dns1035_label(_mask_trailing_dash(name) if prefix else name))


def name_is_path_segment(name: str, prefix: bool) -> list[str]:
    if prefix:
        return [f"may not contain '{c}'" for c in ("/", "%") if c in name]
    return is_valid_path_segment_name(name)


# --- labels, annotations, selectors ---------------------------------------------------------------

TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024


def validate_label_name(key: str, path: str) -> Errs:
    return [E.invalid_value(path, key, m) for m in _qualified_name(key)]


def validate_labels(labels: Any, path: str) -> Errs:
    """Every key a qualified name, every value a label value; errors sit on the map's path."""
    errs: Errs = []
    for key, value in d(labels).items():
        if _qualified_name(key):
            errs.extend(E.invalid_value(path, key, m) for m in _qualified_name(key))
        v = s(value)
        if v and _label_value(v):
            errs.extend(E.invalid_value(path, v, m) for m in _label_value(v))
    return errs


def validate_annotations(annotations: Any, path: str) -> Errs:
    """Keys are qualified names (checked lower-cased); keys plus values total at most 256 KiB."""
    errs: Errs = []
    total = 0
    for key, value in d(annotations).items():
        msgs = _qualified_name(key.lower())
        errs.extend(E.invalid_value(path, key, m) for m in msgs)
        total += _blen(key) + _blen(s(value))
    if total > TOTAL_ANNOTATION_SIZE_LIMIT:
        errs.append(E.too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT))
    return errs


def validate_label_selector(sel: Any, path: str, *, allow_invalid_label_value: bool = False) -> Errs:
    """A metav1.LabelSelector: matchLabels as labels; each matchExpression's operator, key and values."""
    errs: Errs = []
    if not isinstance(sel, dict):
        return errs
    errs.extend(validate_labels(sel.get("matchLabels"), f"{path}.matchLabels"))
    for i, expr in enumerate(lst(sel.get("matchExpressions"))):
        expr = d(expr)
        p = f"{path}.matchExpressions[{i}]"
        op = s(expr.get("operator"))
        values = lst(expr.get("values"))
        if op in ("In", "NotIn"):
            if not values:
                errs.append(E.required(f"{p}.values", "must be specified when `operator` is 'In' or 'NotIn'"))
        elif op in ("Exists", "DoesNotExist"):
            if values:
                errs.append(
                    E.forbidden_field(
                        f"{p}.values", "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"
                    )
                )
        else:
            errs.append(E.invalid_value(f"{p}.operator", op, "not a valid selector operator"))
        errs.extend(validate_label_name(s(expr.get("key")), f"{p}.key"))
        if not allow_invalid_label_value:
            for j, value in enumerate(values):
                errs.extend(E.invalid_value(f"{p}.values[{j}]", value, m) for m in _label_value(s(value)))
    return errs


class Selector:
    """A converted label selector (upstream LabelSelectorAsSelector): matching plus `empty`."""

    __slots__ = ("empty", "requirements")

    def __init__(self, requirements: list[tuple[str, str, tuple[str, ...]]], empty: bool) -> None:
        self.requirements = requirements
        self.empty = empty

    def matches(self, labels: Mapping[str, Any]) -> bool:
        if self.empty:
            return True
        if not self.requirements:
            return False  # the "nothing" selector of a nil LabelSelector
        for key, op, values in self.requirements:
            present = key in labels
            if op == "In" and not (present and labels[key] in values):
                return False
            if op == "NotIn" and present and labels[key] in values:
                return False
            if op == "Exists" and not present:
                return False
            if op == "DoesNotExist" and present:
                return False
        return True


NOTHING = Selector([], empty=False)
EVERYTHING = Selector([], empty=True)


def selector_from(sel: Any) -> Selector | None:
    """The selector a LabelSelector denotes, or None where upstream's conversion fails (bad
    operator, key or value): nil selects nothing, an empty selector selects everything."""
    if sel is None:
        return NOTHING
    if not isinstance(sel, dict):
        return None
    match_labels = d(sel.get("matchLabels"))
    exprs = lst(sel.get("matchExpressions"))
    if not match_labels and not exprs:
        return EVERYTHING
    reqs: list[tuple[str, str, tuple[str, ...]]] = []
    for key, value in match_labels.items():
        if _qualified_name(key) or _label_value(s(value)):
            return None
        reqs.append((key, "In", (value,)))
    for expr in exprs:
        expr = d(expr)
        key, op, values = s(expr.get("key")), s(expr.get("operator")), tuple(lst(expr.get("values")))
        if _qualified_name(key):
            return None
        if op in ("In", "NotIn"):
            if not values or any(not isinstance(v, str) or _label_value(v) for v in values):
                return None
        elif op in ("Exists", "DoesNotExist"):
            if values:
                return None
        else:
            return None
        reqs.append((key, op, values))
    return Selector(reqs, empty=False)


# --- ObjectMeta -----------------------------------------------------------------------------------

_STANDARD_FINALIZERS = frozenset({"kubernetes", "orphan", "foregroundDeletion"})
_BANNED_OWNERS = frozenset({("", "v1", "Event")})


def _split_api_version(api_version: str) -> tuple[str, str]:
    """(group, version) as schema.ParseGroupVersion reads it; ('', '') when it does not parse."""
    if not api_version:
        return "", ""
    if api_version.count("/") == 0:
        return "", api_version
    if api_version.count("/") == 1:
        group, version = api_version.split("/")
        return group, version
    return "", ""


def validate_owner_references(refs: Any, path: str) -> Errs:
    errs: Errs = []
    first_controller = ""
    refs = lst(refs)
    for ref in refs:
        ref = d(ref)
        group, version = _split_api_version(s(ref.get("apiVersion")))
        kind = s(ref.get("kind"))
        if not version:
            errs.append(
                E.invalid_value(f"{path}.apiVersion", s(ref.get("apiVersion")), "version must not be empty")
            )
        if not kind:
            errs.append(E.invalid_value(f"{path}.kind", kind, "kind must not be empty"))
        if not s(ref.get("name")):
            errs.append(E.invalid_value(f"{path}.name", s(ref.get("name")), "name must not be empty"))
        if not s(ref.get("uid")):
            errs.append(E.invalid_value(f"{path}.uid", s(ref.get("uid")), "uid must not be empty"))
        if (group, version, kind) in _BANNED_OWNERS:
            errs.append(
                E.invalid_value(
                    path, ref, f"{group}/{version}, Kind={kind} is disallowed from being an owner"
                )
            )
        if ref.get("controller") is True:
            current = f"{kind}/{s(ref.get('name'))}"
            if first_controller:
                errs.append(
                    E.invalid_value(
                        path,
                        refs,
                        "Only one reference can have Controller set to true. "
                        f'Found "true" in references for {first_controller} and {current}',
                    )
                )
            else:
                first_controller = current
    return errs


def validate_finalizers(finalizers: Any, path: str, *, kube: bool = True) -> Errs:
    """Qualified names; not both orphan and foregroundDeletion; with `kube`, names without a '/'
    must be standard ones (the core API's extra rule, used by every built-in type)."""
    errs: Errs = []
    finalizers = lst(finalizers)
    for f in finalizers:
        errs.extend(E.invalid_value(path, f, m) for m in _qualified_name(s(f)))
    if "orphan" in finalizers and "foregroundDeletion" in finalizers:
        errs.append(
            E.invalid_value(path, finalizers, "finalizer orphan and foregroundDeletion cannot be both set")
        )
    if kube:
        for i, f in enumerate(finalizers):
            if "/" not in s(f) and f not in _STANDARD_FINALIZERS:
                errs.append(
                    E.invalid_value(
                        f"{path}[{i}]",
                        f,
                        "name is neither a standard finalizer name nor is it fully qualified",
                    )
                )
    return errs


def validate_field_manager(manager: str, path: str) -> Errs:
    errs: Errs = []
    if len(manager) > 128:
        errs.append(E.too_long(path, 128))
    if not manager.isprintable():
        offset = 0
        for ch in manager:
            if not ch.isprintable():
                errs.append(
                    E.invalid_value(
                        path, manager, f"invalid character U+{ord(ch):04X} (at position {offset})"
                    )
                )
            offset += len(ch.encode())
    return errs


def validate_managed_fields(entries: Any, path: str) -> Errs:
    errs: Errs = []
    for i, entry in enumerate(lst(entries)):
        entry = d(entry)
        p = f"{path}[{i}]"
        if entry.get("operation") not in ("Apply", "Update"):
            errs.append(
                E.invalid_value(f"{p}.operation", s(entry.get("operation")), "must be `Apply` or `Update`")
            )
        fields_type = s(entry.get("fieldsType"))
        if fields_type and fields_type != "FieldsV1":
            errs.append(E.invalid_value(f"{p}.fieldsType", fields_type, "must be `FieldsV1`"))
        errs.extend(validate_field_manager(s(entry.get("manager")), f"{p}.manager"))
        if len(s(entry.get("subresource"))) > 256:
            errs.append(E.too_long(f"{p}.subresource", 256))
    return errs


def validate_object_meta(
    md: Any, namespaced: bool, name_fn: NameFn, path: str = "metadata", *, kube_finalizers: bool = True
) -> Errs:
    """ObjectMeta on create (upstream ValidateObjectMetaAccessor, plus the core finalizer rule)."""
    md = d(md)
    errs: Errs = []
    generate_name = s(md.get("generateName"))
    if generate_name:
        errs.extend(
            E.invalid_value(f"{path}.generateName", generate_name, m) for m in name_fn(generate_name, True)
        )
    name = s(md.get("name"))
    if not name:
        errs.append(E.required(f"{path}.name", "name or generateName is required"))
    else:
        errs.extend(E.invalid_value(f"{path}.name", name, m) for m in name_fn(name, False))
    namespace = s(md.get("namespace"))
    if namespaced:
        if not namespace:
            errs.append(E.required(f"{path}.namespace"))
        else:
            errs.extend(E.invalid_value(f"{path}.namespace", namespace, m) for m in _dns1123_label(namespace))
    elif namespace:
        errs.append(E.forbidden_field(f"{path}.namespace", "not allowed on this type"))
    nonnegative(md.get("generation"), f"{path}.generation", errs)
    if md.get("labels"):
        errs.extend(validate_labels(md["labels"], f"{path}.labels"))
    if md.get("annotations"):
        errs.extend(validate_annotations(md["annotations"], f"{path}.annotations"))
    if md.get("ownerReferences"):
        errs.extend(validate_owner_references(md["ownerReferences"], f"{path}.ownerReferences"))
    if md.get("finalizers"):
        errs.extend(validate_finalizers(md["finalizers"], f"{path}.finalizers", kube=kube_finalizers))
    if md.get("managedFields"):
        errs.extend(validate_managed_fields(md["managedFields"], f"{path}.managedFields"))
    return errs


def validate_object_meta_update(
    new: Any, old: Any, path: str = "metadata", *, kube_finalizers: bool = True
) -> Errs:
    """ObjectMeta on update: immutable identity fields, no new finalizers while deleting, and the
    create-time rules for labels, annotations, owner references and managed fields."""
    new, old = d(new), d(old)
    errs: Errs = []
    if old.get("deletionTimestamp"):
        added = sorted(set(map(str, lst(new.get("finalizers")))) - set(map(str, lst(old.get("finalizers")))))
        if added:
            errs.append(
                E.forbidden_field(
                    f"{path}.finalizers",
                    "no new finalizers can be added if the object is being deleted, found new finalizers "
                    + go_string_slice(added),
                )
            )
    if not s(new.get("resourceVersion")):
        errs.append(E.invalid_value(f"{path}.resourceVersion", "", "must be specified for an update"))
    new_gen = new.get("generation") or 0
    old_gen = old.get("generation") or 0
    if isinstance(new_gen, int) and isinstance(old_gen, int) and new_gen < old_gen:
        errs.append(E.invalid_value(f"{path}.generation", new_gen, "must not be decremented"))
    for key, zero in (
        ("name", ""),
        ("namespace", ""),
        ("uid", ""),
        ("creationTimestamp", None),
        ("deletionTimestamp", None),
        ("deletionGracePeriodSeconds", None),
    ):
        a, b = new.get(key, zero), old.get(key, zero)
        if a != b and not sem_equal(a, b):
            errs.append(E.invalid_value(f"{path}.{key}", a if a is not None else zero, "field is immutable"))
    if new.get("labels"):
        errs.extend(validate_labels(new["labels"], f"{path}.labels"))
    if new.get("annotations"):
        errs.extend(validate_annotations(new["annotations"], f"{path}.annotations"))
    if new.get("ownerReferences"):
        errs.extend(validate_owner_references(new["ownerReferences"], f"{path}.ownerReferences"))
    if new.get("managedFields"):
        errs.extend(validate_managed_fields(new["managedFields"], f"{path}.managedFields"))
    if kube_finalizers:
        for i, f in enumerate(lst(new.get("finalizers"))):
            if "/" not in s(f) and f not in _STANDARD_FINALIZERS:
                errs.append(
                    E.invalid_value(
                        f"{path}.finalizers[{i}]",
                        f,
                        "name is neither a standard finalizer name nor is it fully qualified",
                    )
                )
    return errs


def validate_template_labels_annotations(md: Any, path: str) -> Errs:
    """Labels and annotations of an embedded template's metadata (pod templates)."""
    md = d(md)
    errs: Errs = []
    if md.get("labels"):
        errs.extend(validate_labels(md["labels"], f"{path}.labels"))
    if md.get("annotations"):
        errs.extend(validate_annotations(md["annotations"], f"{path}.annotations"))
    return errs
