"""Per-resource strategies: only what differs from `kijabi.apiserver.strategy.Strategy`."""

from __future__ import annotations

from kijabi.apiserver.crd import CRDStrategy
from kijabi.apiserver.strategies import core, reviews, workloads
from kijabi.apiserver.strategy import Strategy

STRATEGIES: dict[tuple[str, str], type[Strategy]] = {
    **core.STRATEGIES,
    **workloads.STRATEGIES,
    **reviews.STRATEGIES,
    ("apiextensions.k8s.io", "customresourcedefinitions"): CRDStrategy,
}


def strategy_class(group: str, plural: str) -> type[Strategy]:
    return STRATEGIES.get((group, plural), Strategy)
