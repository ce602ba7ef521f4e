"""Per-resource strategies: only what differs from `kijabi.apiserver.strategy.Strategy`."""

from __future__ import annotations

from kijabi.apiserver.crd import CRDStrategy
from kijabi.apiserver.strategies import core, reviews, workloads
from kijabi.apiserver.strategies.conversion import EventsV1Strategy, HPAv1Strategy
from kijabi.apiserver.strategy import Strategy

# A version-specific entry (group, version, plural) wins over the group-wide one.
VERSIONED: dict[tuple[str, str, str], type[Strategy]] = {
    ("events.k8s.io", "v1", "events"): EventsV1Strategy,
    ("autoscaling", "v1", "horizontalpodautoscalers"): HPAv1Strategy,
}

STRATEGIES: dict[tuple[str, str], type[Strategy]] = {
    **core.STRATEGIES,
    **workloads.STRATEGIES,
    **reviews.STRATEGIES,
    ("apiextensions.k8s.io", "customresourcedefinitions"): CRDStrategy,
}


def strategy_class(group: str, version: str, plural: str) -> type[Strategy]:
    return VERSIONED.get((group, version, plural)) or STRATEGIES.get((group, plural), Strategy)
