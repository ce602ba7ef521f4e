"""The horizontal pod autoscaler's algorithm with fake metrics: replica proposals, tolerance,
missing/unready pods, stabilization and behavior policies; and the controller end to end on the fake API."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from kijabi.client.rest import DEPLOYMENTS, EVENTS
from kijabi.controllers.cluster import podautoscaler
from kijabi.controllers.cluster.podautoscaler import HPAS, Normalizer, convert_desired_with_rules
from kijabi.controllers.cluster.replicacalc import MetricsError, PodMetric, PodMetrics, ReplicaCalculator
from tests.controllers.cluster.fakes import FakeCluster, until

NOW = 1_767_225_600.0 + 10_000


class FakeMetrics:
    def __init__(self, values: Mapping[str, int] | None = None, error: str | None = None) -> None:
        self.values = dict(values or {})
        self.error = error
        self.calls = 0

    async def resource_metric(self, resource: str, namespace: str, selector: str, container: str) -> tuple[PodMetrics, float]:
        self.calls += 1
        if self.error:
            raise MetricsError(self.error)
        return {k: PodMetric(v, NOW - 30, 30.0) for k, v in self.values.items()}, NOW - 30

    async def raw_metric(self, metric: str, namespace: str, selector: str, metric_selector: str) -> tuple[PodMetrics, float]:
        return {k: PodMetric(v) for k, v in self.values.items()}, NOW

    async def object_metric(self, metric: str, namespace: str, described: Mapping[str, Any], metric_selector: str) -> tuple[int, float]:
        return sum(self.values.values()), NOW

    async def external_metric(self, metric: str, namespace: str, metric_selector: str) -> tuple[list[int], float]:
        return list(self.values.values()), NOW


def pod(name: str, *, cpu: str = "100m", phase: str = "Running", ready: bool = True, started: float = NOW - 3600) -> dict[str, Any]:
    from kijabi.machinery.meta import rfc3339

    return {"metadata": {"name": name, "namespace": "ns", "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": cpu}}}]},
            "status": {"phase": phase, "startTime": rfc3339(started),
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                                       "lastTransitionTime": rfc3339(started + 10)}]}}


@pytest.mark.parametrize(("usage", "current", "expected"), [
    ({"a": 100, "b": 100}, 2, 4),        # 100% of request at a 50% target: double
    ({"a": 52, "b": 52}, 2, 2),          # 104%: within the 0.1 tolerance
    ({"a": 10, "b": 10}, 2, 1),          # 20%: 2 * 0.4 rounds up to 1
    ({"a": 200, "b": 100}, 2, 6),        # 150% average: ceil(3.0 * 2)
], ids=["scale-up", "within-tolerance", "scale-down", "uneven"])
async def test_resource_utilization_replicas(usage: dict[str, int], current: int, expected: int) -> None:
    calc = ReplicaCalculator(FakeMetrics(usage))
    pods = [pod("a"), pod("b")]
    replicas, utilization, raw, _ = await calc.resource_replicas(current, 50, "cpu", "ns", "app=web", pods, NOW)
    assert replicas == expected
    assert utilization == sum(usage.values()) * 100 // 200
    assert raw == sum(usage.values()) // 2


async def test_missing_and_unready_pods_are_counted_conservatively() -> None:
    """Scaling up: a pod without metrics counts as using nothing; scaling down: as using its request."""
    calc = ReplicaCalculator(FakeMetrics({"a": 200}))
    up, *_ = await calc.resource_replicas(2, 50, "cpu", "ns", "app=web", [pod("a"), pod("b")], NOW)
    assert up == 4  # (200 + 0) / 200 = 100% -> ratio 2 over 2 pods
    calc = ReplicaCalculator(FakeMetrics({"a": 10}))
    down, *_ = await calc.resource_replicas(2, 50, "cpu", "ns", "app=web", [pod("a"), pod("b")], NOW)
    assert down == 2  # the missing pod at 100% flips the direction: keep 2
    pending = pod("b", phase="Pending")
    calc = ReplicaCalculator(FakeMetrics({"a": 200}))
    replicas, *_ = await calc.resource_replicas(2, 50, "cpu", "ns", "app=web", [pod("a"), pending], NOW)
    assert replicas == 4  # the pending pod counts as 0 on a scale-up


async def test_errors_say_what_upstream_says() -> None:
    calc = ReplicaCalculator(FakeMetrics(error="unable to fetch metrics from resource metrics API: boom"))
    with pytest.raises(MetricsError) as info:
        await calc.resource_replicas(1, 50, "cpu", "ns", "app=web", [pod("a")], NOW)
    assert str(info.value) == "unable to get metrics for resource cpu: unable to fetch metrics from resource metrics API: boom"
    calc = ReplicaCalculator(FakeMetrics({"a": 1}))
    with pytest.raises(MetricsError) as info:
        await calc.resource_replicas(1, 50, "cpu", "ns", "app=other", [pod("a")], NOW)
    assert str(info.value) == "no pods returned by selector while calculating replica count"
    no_request = pod("a")
    no_request["spec"]["containers"][0]["resources"] = {}
    with pytest.raises(MetricsError) as info:
        await calc.resource_replicas(1, 50, "cpu", "ns", "app=web", [no_request], NOW)
    assert str(info.value) == "missing request for cpu in container c of Pod a"


async def test_average_value_and_external_metrics() -> None:
    calc = ReplicaCalculator(FakeMetrics({"a": 300, "b": 300}))
    replicas, usage, _ = await calc.raw_resource_replicas(2, 100, "memory", "ns", "app=web", [pod("a"), pod("b")], NOW)
    assert (replicas, usage) == (6, 300)
    ext = ReplicaCalculator(FakeMetrics({"q1": 3000, "q2": 1000}))
    replicas, usage, _ = await ext.external_per_pod_replicas(2, 1000, "queue", "ns", "")
    assert (replicas, usage) == (4, 2000)


@pytest.mark.parametrize(("current", "desired", "lo", "hi", "expected"), [
    (2, 10, 1, 20, (4, "ScaleUpLimit")),
    (5, 12, 1, 20, (10, "ScaleUpLimit")),
    (5, 12, 1, 8, (8, "TooManyReplicas")),
    (5, 0, 2, 8, (2, "TooFewReplicas")),
    (5, 6, 1, 8, (6, "DesiredWithinRange")),
], ids=["min-scale-up-limit-4", "double", "max", "min", "within"])
def test_convert_desired_without_behavior(current: int, desired: int, lo: int, hi: int, expected: tuple[int, str]) -> None:
    replicas, reason, _ = convert_desired_with_rules(current, desired, lo, hi)
    assert (replicas, reason) == expected


def test_scale_down_is_stabilized_over_the_window() -> None:
    n = Normalizer(300.0)
    conds: list[tuple[str, str, str, str]] = []
    n.record_initial("k", 5, 0.0)
    assert n.normalize("k", 5, 2, 1, 10, 10.0, conds) == 5
    assert conds[0][2] == "ScaleDownStabilized"
    conds.clear()
    assert n.normalize("k", 5, 2, 1, 10, 400.0, conds) == 2  # the old recommendation left the window
    assert conds[0][2] == "ReadyForNewScale"


def test_behavior_policies_limit_the_rate() -> None:
    """scaleUp: at most 2 pods per 60 s; scaleDown: at most 50% per 60 s, no stabilization."""
    n = Normalizer(300.0)
    behavior = {"scaleUp": {"policies": [{"type": "Pods", "value": 2, "periodSeconds": 60}]},
                "scaleDown": {"stabilizationWindowSeconds": 0, "policies": [{"type": "Percent", "value": 50, "periodSeconds": 60}]}}
    conds: list[tuple[str, str, str, str]] = []
    assert n.normalize_with_behaviors("k", 4, 10, 1, 20, behavior, 0.0, conds) == 6
    assert conds[-1][:3] == ("ScalingLimited", "True", "ScaleUpLimit")
    n.store_scale_event("k", behavior, 4, 6, 0.0)
    assert n.normalize_with_behaviors("k", 6, 10, 1, 20, behavior, 30.0, []) == 6  # 2 already added this period
    assert n.normalize_with_behaviors("k", 6, 10, 1, 20, behavior, 61.0, []) == 8
    assert n.normalize_with_behaviors("k", 8, 1, 1, 20, behavior, 200.0, []) == 4
    disabled = {"scaleDown": {"selectPolicy": "Disabled"}}
    assert n.normalize_with_behaviors("d", 8, 1, 1, 20, disabled, 0.0, []) == 8


# -- the controller on the fake API ----------------------------------------------------------------


def deployment(replicas: int) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "ns"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}}},
            "status": {"replicas": replicas}}


def hpa(min_replicas: int = 1, max_replicas: int = 10) -> dict[str, Any]:
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web", "namespace": "ns"},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                     "minReplicas": min_replicas, "maxReplicas": max_replicas,
                     "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization",
                                                                                            "averageUtilization": 50}}}]}}


async def run_hpa(fc: FakeCluster, metrics: FakeMetrics) -> None:
    """The fake server's Scale has no status.selector; a reactor adds it, as the API server does."""
    from kijabi.client.testing import Action, json_response

    def scale(action: Action) -> Any:
        if action.subresource != "scale":
            return None
        d = fc.api.get_object(DEPLOYMENTS, action.name, action.namespace)
        return json_response(200, {"kind": "Scale", "apiVersion": "autoscaling/v1",
                                   "metadata": {"name": action.name, "namespace": action.namespace, "uid": d["metadata"]["uid"]},
                                   "spec": {"replicas": d["spec"]["replicas"]},
                                   "status": {"replicas": d["spec"]["replicas"], "selector": "app=web"}})

    fc.api.prepend_reactor("get", "deployments", scale)
    fc.api.register(HPAS, "HorizontalPodAutoscaler", status=True)
    from kijabi.client.rest import GVR

    fc.api.register(GVR("autoscaling", "v1", "horizontalpodautoscalers"), "HorizontalPodAutoscaler", status=True)
    controller = await fc.build(lambda ctx: podautoscaler.HorizontalController(ctx, metrics))
    await fc.start(controller)


async def test_controller_scales_up_on_high_utilization() -> None:
    async with FakeCluster(extra={"hpa_sync_period": 1.0}) as fc:
        fc.api.seed(DEPLOYMENTS, deployment(2))
        from kijabi.client.rest import PODS

        for name in ("a", "b"):
            p = pod(name)
            p["metadata"]["namespace"] = "ns"
            fc.api.seed(PODS, p)
        fc.api.seed(HPAS, hpa())
        fc.clock.advance(0)
        await run_hpa(fc, FakeMetrics({"a": 100, "b": 100}))
        await until(lambda: fc.api.get_object(DEPLOYMENTS, "web", "ns")["spec"]["replicas"] == 4)
        status = await until(lambda: (fc.api.get_object(HPAS, "web", "ns") or {}).get("status", {}).get("desiredReplicas") == 4
                             and fc.api.get_object(HPAS, "web", "ns")["status"])
        conds = {c["type"]: c for c in status["conditions"]}
        assert conds["AbleToScale"]["reason"] == "SucceededRescale"
        assert conds["ScalingActive"]["message"] == (
            "the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)")
        assert status["currentMetrics"] == [{"type": "Resource", "resource": {"name": "cpu", "current": {
            "averageUtilization": 100, "averageValue": "100m"}}}]
        await until(lambda: any(e["reason"] == "SuccessfulRescale" for e in fc.api.list_objects(EVENTS)))
        event = next(e for e in fc.api.list_objects(EVENTS) if e["reason"] == "SuccessfulRescale")
        assert event["message"] == "New size: 4; reason: cpu resource utilization (percentage of request) above target"


async def test_controller_reports_unavailable_metrics() -> None:
    async with FakeCluster(extra={"hpa_sync_period": 1.0}) as fc:
        fc.api.seed(DEPLOYMENTS, deployment(2))
        fc.api.seed(HPAS, hpa())
        error = ("unable to fetch metrics from resource metrics API: the server could not find the requested resource "
                 "(get pods.metrics.k8s.io)")
        await run_hpa(fc, FakeMetrics(error=error))
        status = await until(lambda: (fc.api.get_object(HPAS, "web", "ns") or {}).get("status", {}).get("conditions")
                             and fc.api.get_object(HPAS, "web", "ns")["status"])
        conds = {c["type"]: c for c in status["conditions"]}
        assert (conds["ScalingActive"]["status"], conds["ScalingActive"]["reason"]) == ("False", "FailedGetResourceMetric")
        assert fc.api.get_object(DEPLOYMENTS, "web", "ns")["spec"]["replicas"] == 2
