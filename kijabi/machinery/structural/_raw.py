"""Reading a raw CRD schema (JSONSchemaProps as decoded JSON) and building upstream field paths."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Raw = Mapping[str, Any]


def p_child(path: str, name: str) -> str:
    """`field.Path.Child`: `a.b`."""
    return f"{path}.{name}" if path else name


def p_key(path: str, key: str) -> str:
    """`field.Path.Key`: `a[b]` (map keys are not quoted)."""
    return f"{path}[{key}]"


def p_index(path: str, i: int) -> str:
    """`field.Path.Index`: `a[0]`."""
    return f"{path}[{i}]"


def as_dict(v: Any) -> Raw | None:
    return v if isinstance(v, Mapping) else None


def props_of(s: Raw) -> Raw:
    p = s.get("properties")
    return p if isinstance(p, Mapping) else {}


def as_list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else []


def type_of(s: Raw) -> str:
    t = s.get("type")
    return t if isinstance(t, str) else ""


def is_true(s: Raw, key: str) -> bool:
    return s.get(key) is True


def has_default(s: Raw) -> bool:
    return s.get("default") is not None
