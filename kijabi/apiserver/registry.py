"""Assembling the registry of built-in resources: schema and strategy per resource."""

from __future__ import annotations

from kijabi.apiserver.resources import Registry, builtin_resources
from kijabi.apiserver.strategies import strategy_class
from kijabi.machinery import schema


def build_registry() -> Registry:
    defs = schema.builtin()
    resources = builtin_resources()
    for r in resources:
        r.schema = defs.for_kind(r.group, r.version, r.kind)
        r.strategy = strategy_class(r.group, r.version, r.plural)(r)
    return Registry(resources)
