"""Small helpers for walking JSON objects the way Go's typed defaulters see them.

Go distinguishes struct *values* (always present, so their defaults always appear) from pointers
(nil means absent, so nothing below them is defaulted). `struct()` and `pointer()` make that choice
explicit at each step. Both tolerate wrong JSON types by defaulting nothing visible: type errors are
reported by the decoder, which runs first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from kijabi.machinery.quantity import resource_list_value, resource_text

Obj = dict[str, Any]
Defaulter = Callable[[Obj], None]


def struct(obj: Obj, key: str) -> Obj:
    """`obj[key]`, created empty when absent or null (a Go struct value, which always exists)."""
    value = obj.get(key)
    if isinstance(value, dict):
        return value
    if value is None:
        value = obj[key] = {}
        return value
    return {}


def pointer(obj: Obj, key: str) -> Obj | None:
    """`obj[key]` when it is an object, else None (a nil Go pointer: nothing to default below it)."""
    value = obj.get(key)
    return value if isinstance(value, dict) else None


def each(obj: Obj, key: str) -> Iterator[Obj]:
    """The objects in the list `obj[key]` (nothing when absent)."""
    value = obj.get(key)
    if isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                yield item


def resource_list(obj: Obj, key: str) -> None:
    """Round every quantity of the ResourceList `obj[key]` up to milli units, in canonical text."""
    values = obj.get(key)
    if isinstance(values, dict) and values:
        for name, raw in values.items():
            rounded = resource_text(raw) if type(raw) is str else resource_list_value(raw)
            if rounded is not raw:
                values[name] = rounded


def resources(obj: Obj, key: str) -> None:
    """The limits and requests of the ResourceRequirements `obj[key]`."""
    value = obj.get(key)
    if isinstance(value, dict):
        resource_list(value, "limits")
        resource_list(value, "requests")
