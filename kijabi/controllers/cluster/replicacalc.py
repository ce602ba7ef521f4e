"""How many replicas the horizontal pod autoscaler proposes for one metric (upstream
pkg/controller/podautoscaler/replica_calculator.go), and the metrics APIs it reads.

The calculator is pure over its inputs: pods (from the autoscaler's pod cache) and metric values from a
`MetricsClient`. Values are integers in milli-units, as upstream. A ratio within the tolerance (0.1) of
1 keeps the current count. For resource metrics, pods are grouped first: deleted and failed pods are
ignored, pending pods and (for cpu) pods still starting count as unready, pods without a metric as
missing; when the ratio says "scale up", missing and unready pods count as using nothing, when it says
"scale down" missing pods count as using their full request (or the target), and a change of direction
caused by that keeps the current count.

`RestMetricsClient` reads metrics.k8s.io (resource metrics), custom.metrics.k8s.io (pods and object
metrics) and external.metrics.k8s.io; errors carry upstream's texts (`unable to fetch metrics from
resource metrics API: the server could not find the requested resource (get pods.metrics.k8s.io)`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

from kijabi.client.errors import APIError, ClientError, NotFound
from kijabi.client.rest import Client
from kijabi.controllers.cluster._base import get_condition, timestamp
from kijabi.machinery import labels
from kijabi.machinery.quantity import from_json


class MetricsError(Exception):
    """A metric could not be read or used; the message is what upstream reports."""


@dataclass(frozen=True)
class PodMetric:
    value: int  # milli-units
    timestamp: float = 0.0
    window: float = 0.0


PodMetrics = dict[str, PodMetric]


class MetricsClient(Protocol):
    async def resource_metric(self, resource: str, namespace: str, selector: str, container: str) -> tuple[PodMetrics, float]: ...

    async def raw_metric(self, metric: str, namespace: str, selector: str, metric_selector: str) -> tuple[PodMetrics, float]: ...

    async def object_metric(self, metric: str, namespace: str, described: Mapping[str, Any], metric_selector: str) -> tuple[int, float]: ...

    async def external_metric(self, metric: str, namespace: str, metric_selector: str) -> tuple[list[int], float]: ...


def _api_error_text(exc: BaseException, what: str) -> str:
    if isinstance(exc, NotFound):
        return f"the server could not find the requested resource (get {what})"
    if isinstance(exc, APIError):
        return exc.message
    return str(exc)


def _milli(raw: Any) -> int:
    return from_json(raw).milli_value()


class RestMetricsClient:
    """Metrics from the aggregated metrics APIs of the cluster."""

    def __init__(self, client: Client) -> None:
        self.client = client

    async def resource_metric(self, resource: str, namespace: str, selector: str, container: str) -> tuple[PodMetrics, float]:
        path = f"/apis/metrics.k8s.io/v1beta1/namespaces/{quote(namespace, safe='')}/pods"
        try:
            body = await self.client.request("GET", path, query=[("labelSelector", selector)] if selector else [])
        except ClientError as exc:
            raise MetricsError(f"unable to fetch metrics from resource metrics API: {_api_error_text(exc, 'pods.metrics.k8s.io')}") from None
        items = (body or {}).get("items") or []
        if not items:
            raise MetricsError("no metrics returned from resource metrics API")
        out: PodMetrics = {}
        for m in items:
            name = (m.get("metadata") or {}).get("name", "")
            total = 0
            containers = m.get("containers") or []
            missing = not containers
            found_container = not container
            for c in containers:
                if container and c.get("name") != container:
                    continue
                found_container = True
                usage = (c.get("usage") or {}).get(resource)
                if usage is None:
                    missing = True
                    break
                total += _milli(usage)
            if missing or not found_container:
                continue
            out[name] = PodMetric(total, timestamp(m.get("timestamp")) or 0.0, _duration(m.get("window")))
        first = items[0]
        return out, timestamp(first.get("timestamp")) or 0.0

    async def raw_metric(self, metric: str, namespace: str, selector: str, metric_selector: str) -> tuple[PodMetrics, float]:
        path = f"/apis/custom.metrics.k8s.io/v1beta2/namespaces/{quote(namespace, safe='')}/pods/*/{quote(metric, safe='')}"
        query = [("labelSelector", selector)] if selector else []
        if metric_selector:
            query.append(("metricLabelSelector", metric_selector))
        try:
            body = await self.client.request("GET", path, query=query)
        except ClientError as exc:
            raise MetricsError(f"unable to fetch metrics from custom metrics API: {_api_error_text(exc, 'pods.custom.metrics.k8s.io')}") from None
        items = (body or {}).get("items") or []
        if not items:
            raise MetricsError("no metrics returned from custom metrics API")
        out: PodMetrics = {}
        for m in items:
            name = (m.get("describedObject") or {}).get("name", "")
            out[name] = PodMetric(_milli(m.get("value", "0")), timestamp(m.get("timestamp")) or 0.0,
                                  float(m.get("windowSeconds") or 0))
        return out, timestamp(items[0].get("timestamp")) or 0.0

    async def object_metric(self, metric: str, namespace: str, described: Mapping[str, Any], metric_selector: str) -> tuple[int, float]:
        kind = str(described.get("kind", ""))
        api_version = str(described.get("apiVersion", ""))
        try:
            r = await self.client.resource_for(api_version, kind)
            resource = f"{r.resource}.{r.group}" if r.group else r.resource
        except ClientError:
            resource = kind.lower() + "s"
        path = (f"/apis/custom.metrics.k8s.io/v1beta2/namespaces/{quote(namespace, safe='')}/{resource}/"
                f"{quote(str(described.get('name', '')), safe='')}/{quote(metric, safe='')}")
        query = [("metricLabelSelector", metric_selector)] if metric_selector else []
        try:
            body = await self.client.request("GET", path, query=query)
        except ClientError as exc:
            raise MetricsError(f"unable to fetch metrics from custom metrics API: {_api_error_text(exc, resource + '.custom.metrics.k8s.io')}") from None
        items = (body or {}).get("items") if isinstance(body, dict) and "items" in body else [body]
        if not items or not isinstance(items[0], Mapping):
            raise MetricsError("no metrics returned from custom metrics API")
        return _milli(items[0].get("value", "0")), timestamp(items[0].get("timestamp")) or 0.0

    async def external_metric(self, metric: str, namespace: str, metric_selector: str) -> tuple[list[int], float]:
        path = f"/apis/external.metrics.k8s.io/v1beta1/namespaces/{quote(namespace, safe='')}/{quote(metric, safe='')}"
        query = [("labelSelector", metric_selector)] if metric_selector else []
        try:
            body = await self.client.request("GET", path, query=query)
        except ClientError as exc:
            raise MetricsError(f"unable to fetch metrics from external metrics API: {_api_error_text(exc, metric + '.external.metrics.k8s.io')}") from None
        items = (body or {}).get("items") or []
        if not items:
            raise MetricsError("no metrics returned from external metrics API")
        return [_milli(i.get("value", "0")) for i in items], timestamp(items[0].get("timestamp")) or 0.0


def _duration(raw: Any) -> float:
    """A Go duration string as metrics.k8s.io writes it ("30s", "1m0s")."""
    if not isinstance(raw, str) or not raw:
        return 0.0
    total, num = 0.0, ""
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch.isdigit() or ch == ".":
            num += ch
            i += 1
            continue
        unit = "ms" if raw[i:i + 2] == "ms" else ch
        i += len(unit)
        total += float(num or 0) * units.get(unit, 0.0)
        num = ""
    return total


# -- the calculator ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tolerances:
    scale_down: float = 0.1
    scale_up: float = 0.1

    def within(self, ratio: float) -> bool:
        return (1.0 - self.scale_down) <= ratio <= (1.0 + self.scale_up)


def _pod_name(pod: Mapping[str, Any]) -> str:
    return str((pod.get("metadata") or {}).get("name", ""))


def group_pods(pods: Sequence[Mapping[str, Any]], metrics: PodMetrics, resource: str, now: float,
               cpu_initialization_period: float, initial_readiness_delay: float) -> tuple[int, set[str], set[str], set[str]]:
    """(ready count, unready, missing, ignored) pod names (upstream groupPods)."""
    ready = 0
    unready: set[str] = set()
    missing: set[str] = set()
    ignored: set[str] = set()
    for pod in pods:
        name = _pod_name(pod)
        status = pod.get("status") or {}
        phase = status.get("phase")
        if (pod.get("metadata") or {}).get("deletionTimestamp") or phase == "Failed":
            ignored.add(name)
            continue
        if phase == "Pending":
            unready.add(name)
            continue
        metric = metrics.get(name)
        if metric is None:
            missing.add(name)
            continue
        if resource == "cpu":
            cond = get_condition(status.get("conditions"), "Ready")
            start = timestamp(status.get("startTime"))
            if cond is None or start is None:
                is_unready = True
            else:
                transition = timestamp(cond.get("lastTransitionTime")) or 0.0
                if start + cpu_initialization_period > now:
                    is_unready = cond.get("status") == "False" or metric.timestamp < transition + metric.window
                else:
                    is_unready = cond.get("status") == "False" and start + initial_readiness_delay > transition
            if is_unready:
                unready.add(name)
                continue
        ready += 1
    return ready, unready, missing, ignored


def pod_requests(pods: Sequence[Mapping[str, Any]], container: str, resource: str) -> dict[str, int]:
    """Milli-requests of `resource` per pod (one container's when `container` is set)."""
    out: dict[str, int] = {}
    for pod in pods:
        total = 0
        for c in (pod.get("spec") or {}).get("containers") or []:
            if container and c.get("name") != container:
                continue
            raw = ((c.get("resources") or {}).get("requests") or {}).get(resource)
            if raw is None:
                raise MetricsError(f"missing request for {resource} in container {c.get('name')} of Pod {_pod_name(pod)}")
            total += _milli(raw)
        out[_pod_name(pod)] = total
    return out


def utilization_ratio(metrics: PodMetrics, requests: Mapping[str, int], target: int) -> tuple[float, int, int]:
    """(ratio to the target utilization, utilization %, average raw value) (GetResourceUtilizationRatio)."""
    metrics_total = requests_total = entries = 0
    for name, m in metrics.items():
        if name not in requests:
            continue
        metrics_total += m.value
        requests_total += requests[name]
        entries += 1
    if requests_total == 0:
        raise MetricsError("no metrics returned matched known pods")
    current = int(metrics_total * 100 / requests_total)
    return current / target, current, metrics_total // entries


def usage_ratio(metrics: PodMetrics, target: int) -> tuple[float, int]:
    """(ratio to the target average, average) (GetMetricUsageRatio)."""
    total = sum(m.value for m in metrics.values())
    average = int(total / len(metrics))
    return average / target, average


class ReplicaCalculator:
    def __init__(self, metrics: MetricsClient, *, tolerances: Tolerances = Tolerances(), cpu_initialization_period: float = 300.0,
                 initial_readiness_delay: float = 30.0) -> None:
        self.metrics = metrics
        self.tolerances = tolerances
        self.cpu_initialization_period = cpu_initialization_period
        self.initial_readiness_delay = initial_readiness_delay

    @staticmethod
    def _select(pods: Sequence[Mapping[str, Any]], selector: str) -> list[Mapping[str, Any]]:
        sel = labels.parse(selector)
        return [p for p in pods if sel.matches((p.get("metadata") or {}).get("labels"))]

    async def resource_replicas(self, current: int, target_utilization: int, resource: str, namespace: str, selector: str,
                                pods: Sequence[Mapping[str, Any]], now: float, container: str = "") -> tuple[int, int, int, float]:
        """(replicas, utilization %, raw average, metrics timestamp) for a utilization target."""
        try:
            metrics, ts = await self.metrics.resource_metric(resource, namespace, selector, container)
        except MetricsError as exc:
            raise MetricsError(f"unable to get metrics for resource {resource}: {exc}") from None
        pods = self._select(pods, selector)
        if not pods:
            raise MetricsError("no pods returned by selector while calculating replica count")
        ready, unready, missing, ignored = group_pods(pods, metrics, resource, now, self.cpu_initialization_period,
                                                      self.initial_readiness_delay)
        metrics = {k: v for k, v in metrics.items() if k not in ignored and k not in unready}
        if not metrics:
            raise MetricsError("did not receive metrics for targeted pods (pods might be unready)")
        requests = pod_requests(pods, container, resource)
        ratio, utilization, raw = utilization_ratio(metrics, requests, target_utilization)
        scale_up_with_unready = bool(unready) and ratio > 1.0
        if not scale_up_with_unready and not missing:
            if self.tolerances.within(ratio):
                return current, utilization, raw, ts
            return math.ceil(ratio * ready), utilization, raw, ts
        if missing:
            if ratio < 1.0:
                fallback = max(100, target_utilization)
                for name in missing:
                    metrics[name] = PodMetric(requests.get(name, 0) * fallback // 100)
            elif ratio > 1.0:
                for name in missing:
                    metrics[name] = PodMetric(0)
        if scale_up_with_unready:
            for name in unready:
                metrics[name] = PodMetric(0)
        new_ratio, _, _ = utilization_ratio(metrics, requests, target_utilization)
        if self.tolerances.within(new_ratio) or (ratio < 1.0 < new_ratio) or (ratio > 1.0 > new_ratio):
            return current, utilization, raw, ts
        replicas = math.ceil(new_ratio * len(metrics))
        if (new_ratio < 1.0 and replicas > current) or (new_ratio > 1.0 and replicas < current):
            return current, utilization, raw, ts
        return replicas, utilization, raw, ts

    def plain_metric_replicas(self, metrics: PodMetrics, current: int, target: int, pods: Sequence[Mapping[str, Any]],
                              resource: str, now: float) -> tuple[int, int]:
        """(replicas, average usage) for an average-value target (calcPlainMetricReplicas)."""
        if not pods:
            raise MetricsError("no pods returned by selector while calculating replica count")
        ready, unready, missing, ignored = group_pods(pods, metrics, resource, now, self.cpu_initialization_period,
                                                      self.initial_readiness_delay)
        metrics = {k: v for k, v in metrics.items() if k not in ignored and k not in unready}
        if not metrics:
            raise MetricsError("did not receive metrics for targeted pods (pods might be unready)")
        ratio, usage = usage_ratio(metrics, target)
        scale_up_with_unready = bool(unready) and ratio > 1.0
        if not scale_up_with_unready and not missing:
            if self.tolerances.within(ratio):
                return current, usage
            return math.ceil(ratio * ready), usage
        if missing:
            for name in missing:
                metrics[name] = PodMetric(target if ratio < 1.0 else 0)
        if scale_up_with_unready:
            for name in unready:
                metrics[name] = PodMetric(0)
        new_ratio, _ = usage_ratio(metrics, target)
        if self.tolerances.within(new_ratio) or (ratio < 1.0 < new_ratio) or (ratio > 1.0 > new_ratio):
            return current, usage
        replicas = math.ceil(new_ratio * len(metrics))
        if (new_ratio < 1.0 and replicas > current) or (new_ratio > 1.0 and replicas < current):
            return current, usage
        return replicas, usage

    async def raw_resource_replicas(self, current: int, target: int, resource: str, namespace: str, selector: str,
                                    pods: Sequence[Mapping[str, Any]], now: float, container: str = "") -> tuple[int, int, float]:
        try:
            metrics, ts = await self.metrics.resource_metric(resource, namespace, selector, container)
        except MetricsError as exc:
            raise MetricsError(f"unable to get metrics for resource {resource}: {exc}") from None
        replicas, usage = self.plain_metric_replicas(metrics, current, target, self._select(pods, selector), resource, now)
        return replicas, usage, ts

    async def metric_replicas(self, current: int, target: int, metric: str, namespace: str, selector: str,
                              metric_selector: str, pods: Sequence[Mapping[str, Any]], now: float) -> tuple[int, int, float]:
        try:
            metrics, ts = await self.metrics.raw_metric(metric, namespace, selector, metric_selector)
        except MetricsError as exc:
            raise MetricsError(f"unable to get metric {metric}: {exc}") from None
        replicas, usage = self.plain_metric_replicas(metrics, current, target, self._select(pods, selector), "", now)
        return replicas, usage, ts

    def ratio_replicas(self, current: int, ratio: float, pods: Sequence[Mapping[str, Any]], selector: str) -> int:
        """getUsageRatioReplicaCount: from a ratio, scaled by the ready pods (or to 0/n from zero)."""
        if current == 0:
            return math.ceil(ratio)
        if self.tolerances.within(ratio):
            return current
        selected = self._select(pods, selector)
        if not selected:
            raise MetricsError("unable to calculate ready pods: no pods returned by selector while calculating replica count")
        ready = sum(1 for p in selected if (p.get("status") or {}).get("phase") == "Running"
                    and (get_condition((p.get("status") or {}).get("conditions"), "Ready") or {}).get("status") == "True")
        return math.ceil(ratio * ready)

    async def object_replicas(self, current: int, target: int, metric: str, namespace: str, described: Mapping[str, Any],
                              selector: str, metric_selector: str, pods: Sequence[Mapping[str, Any]]) -> tuple[int, int, float]:
        try:
            usage, ts = await self.metrics.object_metric(metric, namespace, described, metric_selector)
        except MetricsError as exc:
            raise MetricsError(f"unable to get metric {metric}: {described.get('kind')} on {namespace} {described.get('name')}/{exc}") from None
        return self.ratio_replicas(current, usage / target, pods, selector), usage, ts

    async def object_per_pod_replicas(self, status_replicas: int, target_average: int, metric: str, namespace: str,
                                      described: Mapping[str, Any], metric_selector: str) -> tuple[int, int, float]:
        try:
            usage, ts = await self.metrics.object_metric(metric, namespace, described, metric_selector)
        except MetricsError as exc:
            raise MetricsError(f"unable to get metric {metric}: {described.get('kind')} on {namespace} {described.get('name')}/{exc}") from None
        replicas = status_replicas
        ratio = usage / (target_average * replicas) if replicas else math.inf
        if not self.tolerances.within(ratio):
            replicas = math.ceil(usage / target_average)
        average = math.ceil(usage / status_replicas) if status_replicas else usage
        return replicas, average, ts

    async def external_replicas(self, current: int, target: int, metric: str, namespace: str, metric_selector: str,
                                selector: str, pods: Sequence[Mapping[str, Any]]) -> tuple[int, int, float]:
        try:
            values, ts = await self.metrics.external_metric(metric, namespace, metric_selector)
        except MetricsError as exc:
            raise MetricsError(f"unable to get external metric {namespace}/{metric}/{metric_selector}: {exc}") from None
        usage = sum(values)
        return self.ratio_replicas(current, usage / target, pods, selector), usage, ts

    async def external_per_pod_replicas(self, status_replicas: int, target_average: int, metric: str, namespace: str,
                                        metric_selector: str) -> tuple[int, int, float]:
        try:
            values, ts = await self.metrics.external_metric(metric, namespace, metric_selector)
        except MetricsError as exc:
            raise MetricsError(f"unable to get external metric {namespace}/{metric}/{metric_selector}: {exc}") from None
        usage = sum(values)
        replicas = status_replicas
        ratio = usage / (target_average * replicas) if replicas else math.inf
        if not self.tolerances.within(ratio):
            replicas = math.ceil(usage / target_average)
        average = math.ceil(usage / status_replicas) if status_replicas else usage
        return replicas, average, ts
