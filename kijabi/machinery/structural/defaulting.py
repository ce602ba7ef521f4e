"""Structural defaulting of custom resources (apiextensions `schema/defaulting.Default`).

A property's `default` is set when the property is missing, or when it is null and the property is
not `nullable`. The walk then continues into every present value: properties by their schema, map
values by the `additionalProperties` schema and list items by `items`, where a null map value or list
item that is not nullable is replaced by that schema's default (or stays null without one). Defaults
are deep copies, so later changes to the object never touch the schema. Pruning runs first upstream,
so a default is never pruned away here.
"""

from __future__ import annotations

from typing import Any

from .nodes import MISSING, Node

__all__ = ["default", "json_copy"]


def json_copy(v: Any) -> Any:
    """A deep copy of a decoded JSON value."""
    t = type(v)
    if t is dict:
        return {k: json_copy(x) for k, x in v.items()}
    if t is list:
        return [json_copy(x) for x in v]
    return v


def _default_of(s: Node) -> Any:
    return None if s.default is MISSING else json_copy(s.default)


def default(x: Any, s: Node | None) -> None:
    """Apply the defaults of `s` to `x` in place."""
    if s is None:
        return
    t = type(x)
    if t is dict:
        props = s.props
        for k, p in props.items():
            if p.default is MISSING:
                continue
            if k not in x or (x[k] is None and not p.nullable):
                x[k] = json_copy(p.default)
        ap = s.ap
        for k, v in x.items():
            prop = props.get(k)
            if prop is not None:
                if v is not None:
                    default(v, prop)
            elif ap is not None:
                apn = ap if isinstance(ap, Node) else None
                if v is None and apn is not None and not apn.nullable:
                    v = x[k] = _default_of(apn)
                if v is not None:
                    default(v, apn)
    elif t is list:
        items = s.items
        for i, v in enumerate(x):
            if v is None and items is not None and not items.nullable:
                v = x[i] = _default_of(items)
            if v is not None:
                default(v, items)
