"""The policy group: PodDisruptionBudget (upstream kubernetes `pkg/apis/policy/validation`).

Upstream validates only the spec here: a PDB's name gets the generic path-segment check alone.
"""

from __future__ import annotations

from kijabi.machinery import errors as E

from . import meta
from ._util import Ctx, Errs, Obj, Validator, d
from .apps import not_more_than_100_percent, validate_positive_int_or_percent

_EVICTION_POLICIES = ["AlwaysAllow", "IfHealthyBudget"]


def _pdb(obj: Obj, old: Obj | None, ctx: Ctx) -> Errs:
    spec = d(obj.get("spec"))
    errs: Errs = []
    min_available, max_unavailable = spec.get("minAvailable"), spec.get("maxUnavailable")
    if min_available is not None and max_unavailable is not None:
        errs.append(E.invalid_value("spec", spec, "minAvailable and maxUnavailable cannot be both set"))
    for key, value in (("minAvailable", min_available), ("maxUnavailable", max_unavailable)):
        if value is not None:
            errs.extend(validate_positive_int_or_percent(value, f"spec.{key}"))
            errs.extend(not_more_than_100_percent(value, f"spec.{key}"))
    errs.extend(meta.validate_label_selector(spec.get("selector"), "spec.selector"))
    policy = spec.get("unhealthyPodEvictionPolicy")
    if policy is not None and policy not in _EVICTION_POLICIES:
        errs.append(E.not_supported("spec.unhealthyPodEvictionPolicy", policy, _EVICTION_POLICIES))
    return errs


VALIDATORS: dict[str, Validator] = {"PodDisruptionBudget": _pdb}
