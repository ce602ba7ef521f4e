"""Upstream's version defaults for built-in types, applied in place to JSON objects.

Upstream runs these defaulters whenever it decodes an object: on every write, and again on every
object read back from storage. So `default()` must be idempotent (applying it twice changes nothing
more than once) and cheap. Types without upstream defaults are a no-op, and so is any kind this
registry does not know (custom resources default from their CRD schema elsewhere).

One module per API group, each exposing `GROUP` and `DEFAULTERS: {(version, kind): function}`.
Groups with no defaults at all in v1.32: policy (PodDisruptionBudget), coordination (Lease),
events, certificates, node (RuntimeClass); core ConfigMap, ServiceAccount and Event have none either.
Only behaviour enabled by default in v1.32 is applied; defaults behind gates that are off are not.

What defaulting leaves to others: Service cluster IPs, IP families and node ports are allocated by
the apiserver's Service storage; Namespace finalizers, Job selectors and template labels, DaemonSet
template generations and status resets are set by the resources' strategies.
"""

from __future__ import annotations

from typing import Any

from . import (
    admissionregistration,
    apiextensions,
    apiregistration,
    apps,
    autoscaling,
    batch,
    core,
    discovery,
    flowcontrol,
    networking,
    rbac,
    scheduling,
    storage,
)
from ._walk import Defaulter

__all__ = ["Defaulter", "default", "defaulter", "kinds"]

_REGISTRY: dict[tuple[str, str, str], Defaulter] = {}
for _module in (
    core,
    apps,
    batch,
    autoscaling,
    networking,
    rbac,
    storage,
    scheduling,
    discovery,
    admissionregistration,
    flowcontrol,
    apiextensions,
    apiregistration,
):
    for (_version, _kind), _function in _module.DEFAULTERS.items():
        _REGISTRY[(_module.GROUP, _version, _kind)] = _function


def defaulter(group: str, version: str, kind: str) -> Defaulter | None:
    """The defaulting function of one kind (look it up once, call it per object), or None."""
    function = _REGISTRY.get((group, version, kind))
    if function is None and kind.endswith("List"):
        item = _REGISTRY.get((group, version, kind[:-4]))
        if item is not None:
            return _list_defaulter(item)
    return function


def default(group: str, version: str, kind: str, obj: dict[str, Any]) -> None:
    """Apply upstream's defaults for `group/version, Kind=kind` to `obj` in place.

    `group` is "" for the core group. `<Kind>List` objects have each of their items defaulted.
    Nothing happens for kinds without defaults. Never raises on malformed input: wrong types are
    left alone for the decoder and validation to report.
    """
    function = _REGISTRY.get((group, version, kind))
    if function is not None:
        function(obj)
    elif kind.endswith("List"):
        item = _REGISTRY.get((group, version, kind[:-4]))
        if item is not None:
            _default_items(item, obj)


def kinds() -> frozenset[tuple[str, str, str]]:
    """Every (group, version, kind) that has defaults."""
    return frozenset(_REGISTRY)


def _default_items(function: Defaulter, obj: dict[str, Any]) -> None:
    items = obj.get("items")
    if isinstance(items, list):
        for item in items:
            if isinstance(item, dict):
                function(item)


def _list_defaulter(function: Defaulter) -> Defaulter:
    def default_list(obj: dict[str, Any]) -> None:
        _default_items(function, obj)

    return default_list
