"""The horizontal-pod-autoscaling controller (upstream pkg/controller/podautoscaler, autoscaling/v2).

Every `hpa_sync_period` seconds (upstream 15 s) per HorizontalPodAutoscaler:
1. the target's Scale is read through its scale subresource (AbleToScale False / FailedGetScale when
   that fails);
2. a target at 0 replicas is left alone (ScalingActive False / ScalingDisabled); outside
   [minReplicas, maxReplicas] it is brought inside; otherwise each metric proposes a replica count
   (kijabi.controllers.cluster.replicacalc) and the largest wins. A metric that cannot be read sets
   ScalingActive False with the metric's reason (FailedGetResourceMetric, FailedGetPodsMetric, ...) and
   an event; when every metric fails the event FailedComputeMetricsReplicas is recorded and nothing is
   scaled;
3. the proposal is normalized: without spec.behavior, the highest recommendation of the last
   `hpa_downscale_stabilization` seconds (upstream 5 min) is used for scaling down and scale-ups are
   limited to max(2 x current, 4); with spec.behavior, the stabilization windows and the Pods/Percent
   policies (selectPolicy Max/Min/Disabled) of scaleUp and scaleDown apply. Conditions AbleToScale and
   ScalingLimited say why (ScaleDownStabilized, TooManyReplicas, ScaleUpLimit, DesiredWithinRange...);
4. a changed count is written through the scale subresource (event SuccessfulRescale "New size: N;
   reason: ..."), and the status (currentReplicas, desiredReplicas, lastScaleTime, currentMetrics,
   conditions) through the status subresource when it changed.
Metric values come from the metrics APIs (metrics.k8s.io, custom.metrics.k8s.io,
external.metrics.k8s.io); while those are not served, every resource metric fails as upstream's does.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kijabi.client.cache import DeletedFinalStateUnknown, copy_object
from kijabi.client.errors import APIError, ClientError, NoMatchError
from kijabi.client.informers import EventHandlerFuncs
from kijabi.client.rest import GVR, PODS
from kijabi.controllers.cluster._base import ClusterController, Object, settings, workers
from kijabi.controllers.cluster.replicacalc import (
    MetricsClient,
    MetricsError,
    ReplicaCalculator,
    RestMetricsClient,
    Tolerances,
)
from kijabi.controllers.context import ControllerContext
from kijabi.machinery import labels
from kijabi.machinery.meta import rfc3339
from kijabi.machinery.quantity import Quantity, from_json

log = logging.getLogger(__name__)

HPAS = GVR("autoscaling", "v2", "horizontalpodautoscalers")
SCALE_UP_LIMIT_FACTOR = 2.0
SCALE_UP_LIMIT_MINIMUM = 4.0

DEFAULT_SCALE_UP = {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
                    "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15},
                                 {"type": "Percent", "value": 100, "periodSeconds": 15}]}
DEFAULT_SCALE_DOWN = {"selectPolicy": "Max", "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}


@dataclass
class Recommendation:
    replicas: int
    at: float


@dataclass
class ScaleEvent:
    change: int
    at: float
    outdated: bool = False


class MetricFailure(Exception):
    """One metric could not produce a proposal; carries the condition to report."""

    def __init__(self, message: str, reason: str, condition_message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.condition_message = condition_message


def _milli_text(milli: int) -> str:
    return str(Quantity.from_milli(milli))


def set_condition(status: dict[str, Any], ctype: str, cstatus: str, reason: str, message: str, now: str) -> None:
    conditions: list[dict[str, Any]] = status.setdefault("conditions", [])
    cond = next((c for c in conditions if c.get("type") == ctype), None)
    if cond is None:
        cond = {"type": ctype}
        conditions.append(cond)
    if cond.get("status") != cstatus:
        cond["lastTransitionTime"] = now
    cond["status"] = cstatus
    cond["reason"] = reason
    cond["message"] = message


def with_defaults(rules: Mapping[str, Any] | None, defaults: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(defaults)
    for k, v in (rules or {}).items():
        if v is not None:
            out[k] = v
    return out


def scale_up_limit(current: int) -> int:
    return int(max(SCALE_UP_LIMIT_FACTOR * current, SCALE_UP_LIMIT_MINIMUM))


def convert_desired_with_rules(current: int, desired: int, min_replicas: int, max_replicas: int) -> tuple[int, str, str]:
    """Clamp without behavior (upstream convertDesiredReplicasWithRules)."""
    limit = scale_up_limit(current)
    if max_replicas > limit:
        maximum, reason, message = limit, "ScaleUpLimit", "the desired replica count is increasing faster than the maximum scale rate"
    else:
        maximum, reason, message = max_replicas, "TooManyReplicas", "the desired replica count is more than the maximum replica count"
    if desired < min_replicas:
        return min_replicas, "TooFewReplicas", "the desired replica count is less than the minimum replica count"
    if desired > maximum:
        return maximum, reason, message
    return desired, "DesiredWithinRange", "the desired count is within the acceptable range"


def replicas_changed_in_period(period: float, events: list[ScaleEvent], now: float) -> int:
    return sum(e.change for e in events if e.at > now - period)


def scale_up_limit_with_rules(current: int, events: list[ScaleEvent], rules: Mapping[str, Any], now: float) -> int:
    select = rules.get("selectPolicy") or "Max"
    if select == "Disabled":
        return current
    pick = min if select == "Min" else max
    result: int | None = None
    for p in rules.get("policies") or []:
        start = current - replicas_changed_in_period(float(p.get("periodSeconds", 0)), events, now)
        if p.get("type") == "Pods":
            proposed = start + int(p.get("value", 0))
        else:
            proposed = math.ceil(start * (1 + int(p.get("value", 0)) / 100))
        result = proposed if result is None else pick(result, proposed)
    return 0 if result is None else result


def scale_down_limit_with_rules(current: int, events: list[ScaleEvent], rules: Mapping[str, Any], now: float) -> int:
    select = rules.get("selectPolicy") or "Max"
    if select == "Disabled":
        return current
    pick = max if select == "Min" else min
    result: int | None = None
    for p in rules.get("policies") or []:
        start = current + replicas_changed_in_period(float(p.get("periodSeconds", 0)), events, now)
        if p.get("type") == "Pods":
            proposed = start - int(p.get("value", 0))
        else:
            proposed = int(start * (1 - int(p.get("value", 0)) / 100))
        result = proposed if result is None else pick(result, proposed)
    return 2**31 - 1 if result is None else result


class Normalizer:
    """Recommendations and scale events per autoscaler, and the normalization that uses them."""

    def __init__(self, downscale_stabilization: float) -> None:
        self.window = downscale_stabilization
        self.recommendations: dict[str, list[Recommendation]] = {}
        self.up_events: dict[str, list[ScaleEvent]] = {}
        self.down_events: dict[str, list[ScaleEvent]] = {}

    def forget(self, key: str) -> None:
        self.recommendations.pop(key, None)
        self.up_events.pop(key, None)
        self.down_events.pop(key, None)

    def record_initial(self, key: str, current: int, now: float) -> None:
        if not self.recommendations.get(key):
            self.recommendations[key] = [Recommendation(current, now)]

    def stabilize(self, key: str, desired: int, now: float) -> int:
        best = desired
        recs = self.recommendations.setdefault(key, [])
        old_index: int | None = None
        for i, r in enumerate(recs):
            if r.at < now - self.window:
                old_index = i
            elif r.replicas > best:
                best = r.replicas
        if old_index is not None:
            recs[old_index] = Recommendation(desired, now)
        else:
            recs.append(Recommendation(desired, now))
        return best

    def normalize(self, key: str, current: int, desired: int, min_replicas: int, max_replicas: int, now: float,
                  conditions: list[tuple[str, str, str, str]]) -> int:
        """Without behavior (upstream normalizeDesiredReplicas)."""
        stabilized = self.stabilize(key, desired, now)
        if stabilized != desired:
            conditions.append(("AbleToScale", "True", "ScaleDownStabilized",
                               "recent recommendations were higher than current one, applying the highest recent recommendation"))
        else:
            conditions.append(("AbleToScale", "True", "ReadyForNewScale", "recommended size matches current size"))
        result, reason, message = convert_desired_with_rules(current, stabilized, min_replicas, max_replicas)
        conditions.append(("ScalingLimited", "False" if result == stabilized else "True", reason, message))
        return result

    def stabilize_with_behaviors(self, key: str, current: int, desired: int, up: Mapping[str, Any], down: Mapping[str, Any],
                                 now: float) -> tuple[int, str, str]:
        up_window = float(up.get("stabilizationWindowSeconds") or 0)
        down_raw = down.get("stabilizationWindowSeconds")
        down_window = float(down_raw) if down_raw is not None else self.window
        if desired >= current:
            window, better, reason = up_window, min, "ScaleUpStabilized"
            message = "recent recommendations were lower than current one, applying the lowest recent recommendation"
        else:
            window, better, reason = down_window, max, "ScaleDownStabilized"
            message = "recent recommendations were higher than current one, applying the highest recent recommendation"
        obsolete = now - max(up_window, down_window)
        cutoff = now - window
        recommendation = desired
        recs = self.recommendations.setdefault(key, [])
        old_index: int | None = None
        for i, r in enumerate(recs):
            if r.at > cutoff:
                recommendation = better(r.replicas, recommendation)
            if r.at < obsolete:
                old_index = i
        if old_index is not None:
            recs[old_index] = Recommendation(desired, now)
        else:
            recs.append(Recommendation(desired, now))
        return recommendation, reason, message

    def normalize_with_behaviors(self, key: str, current: int, desired: int, min_replicas: int, max_replicas: int,
                                 behavior: Mapping[str, Any], now: float, conditions: list[tuple[str, str, str, str]]) -> int:
        up = with_defaults(behavior.get("scaleUp"), DEFAULT_SCALE_UP)
        down = with_defaults(behavior.get("scaleDown"), DEFAULT_SCALE_DOWN)
        stabilized, reason, message = self.stabilize_with_behaviors(key, current, desired, up, down, now)
        if stabilized != desired:
            conditions.append(("AbleToScale", "True", reason, message))
        else:
            conditions.append(("AbleToScale", "True", "ReadyForNewScale", "recommended size matches current size"))
        result, reason, message = self.convert_with_behavior_rate(key, current, stabilized, min_replicas, max_replicas,
                                                                   up, down, now)
        conditions.append(("ScalingLimited", "False" if result == stabilized else "True", reason, message))
        return result

    def convert_with_behavior_rate(self, key: str, current: int, desired: int, min_replicas: int, max_replicas: int,
                                   up: Mapping[str, Any], down: Mapping[str, Any], now: float) -> tuple[int, str, str]:
        if desired > current:
            limit = max(scale_up_limit_with_rules(current, self.up_events.get(key, []), up, now), current)
            if max_replicas > limit:
                maximum, reason, message = limit, "ScaleUpLimit", "the desired replica count is increasing faster than the maximum scale rate"
            else:
                maximum, reason, message = max_replicas, "TooManyReplicas", "the desired replica count is more than the maximum replica count"
            if desired > maximum:
                return maximum, reason, message
        elif desired < current:
            limit = min(scale_down_limit_with_rules(current, self.down_events.get(key, []), down, now), current)
            if min_replicas < limit:
                minimum, reason, message = limit, "ScaleDownLimit", "the desired replica count is decreasing faster than the maximum scale rate"
            else:
                minimum, reason, message = min_replicas, "TooFewReplicas", "the desired replica count is less than the minimum replica count"
            if desired < minimum:
                return minimum, reason, message
        return desired, "DesiredWithinRange", "the desired count is within the acceptable range"

    def store_scale_event(self, key: str, behavior: Mapping[str, Any] | None, previous: int, new: int, now: float) -> None:
        if behavior is None:
            return
        if new > previous:
            rules, events, change = with_defaults(behavior.get("scaleUp"), DEFAULT_SCALE_UP), self.up_events.setdefault(key, []), new - previous
        else:
            rules, events, change = with_defaults(behavior.get("scaleDown"), DEFAULT_SCALE_DOWN), self.down_events.setdefault(key, []), previous - new
        longest = max((float(p.get("periodSeconds", 0)) for p in rules.get("policies") or []), default=0.0)
        for e in events:
            if e.at < now - longest:
                e.outdated = True
        for i, e in enumerate(events):
            if e.outdated:
                events[i] = ScaleEvent(change, now)
                return
        events.append(ScaleEvent(change, now))


class HorizontalController(ClusterController):
    def __init__(self, ctx: ControllerContext, metrics: MetricsClient | None = None) -> None:
        super().__init__("horizontal-pod-autoscaling", workers=workers(ctx, "horizontal-pod-autoscaling", 1), clock=ctx.clock)
        s = settings(ctx)
        self.client = ctx.client
        self.recorder = ctx.recorder("horizontal-pod-autoscaler")
        self.period = s.hpa_sync_period
        self.normalizer = Normalizer(s.hpa_downscale_stabilization)
        self.calc = ReplicaCalculator(metrics or RestMetricsClient(ctx.client),
                                      tolerances=Tolerances(s.hpa_tolerance, s.hpa_tolerance),
                                      cpu_initialization_period=s.hpa_cpu_initialization_period,
                                      initial_readiness_delay=s.hpa_initial_readiness_delay)
        hpa_informer = ctx.informers.informer(HPAS)
        pod_informer = ctx.informers.informer(PODS)
        self.hpas = hpa_informer.lister()
        self.pods = pod_informer.lister()
        hpa_informer.add_event_handler(EventHandlerFuncs(add=self.enqueue, update=self._updated, delete=self._deleted))
        self.watches(hpa_informer, pod_informer)

    def _updated(self, old: Object, new: Object) -> None:
        if old.get("spec") != new.get("spec"):
            self.enqueue(new)
        else:
            self.enqueue_after(new, self.period)

    def _deleted(self, obj: Object | DeletedFinalStateUnknown) -> None:
        self.normalizer.forget(self.key_of(obj))

    async def sync(self, key: str) -> float | None:
        ns, name = key.split("/", 1)
        hpa = self.hpas.get(name, ns)
        if hpa is None:
            self.normalizer.forget(key)
            return None
        try:
            await self.reconcile(copy_object(hpa), key)
        except (ClientError, MetricsError) as exc:
            log.info("horizontal-pod-autoscaling: %s: %s", key, exc)
        return self.period

    # -- one autoscaler ----------------------------------------------------------------------------

    async def reconcile(self, hpa: Object, key: str) -> None:
        ns = hpa["metadata"].get("namespace", "")
        spec = hpa.get("spec") or {}
        original = copy_object(hpa.get("status") or {})
        status: dict[str, Any] = copy_object(original)
        now_text = rfc3339(self.clock.time())
        target = spec.get("scaleTargetRef") or {}
        reference = f"{target.get('kind')}/{ns}/{target.get('name')}"

        def fail_scale(message: str) -> None:
            self.recorder.event(hpa, "Warning", "FailedGetScale", message)
            set_condition(status, "AbleToScale", "False", "FailedGetScale",
                          f"the HPA controller was unable to get the target's current scale: {message}", now_text)

        try:
            resource = await self.client.resource_for(str(target.get("apiVersion", "")), str(target.get("kind", "")))
            scale = await self.client.get_scale(resource.gvr, str(target.get("name", "")), namespace=ns)
        except (ClientError, NoMatchError) as exc:
            fail_scale(_err(exc))
            await self.update_status_if_needed(hpa, original, status)
            raise ClientError(f"failed to query scale subresource for {reference}: {_err(exc)}") from None
        set_condition(status, "AbleToScale", "True", "SucceededGetScale", "the HPA controller was able to get the target's current scale", now_text)
        current = int((scale.get("spec") or {}).get("replicas") or 0)
        now = self.clock.now()
        self.normalizer.record_initial(key, current, now)
        min_replicas = int(spec["minReplicas"]) if spec.get("minReplicas") is not None else 1
        max_replicas = int(spec.get("maxReplicas") or 0)
        metric_statuses: list[dict[str, Any]] | None = None
        rescale = True
        reason = ""
        desired = 0
        pending: list[tuple[str, str, str, str]] = []
        if current == 0 and min_replicas != 0:
            rescale = False
            set_condition(status, "ScalingActive", "False", "ScalingDisabled",
                          "scaling is disabled since the replica count of the target is zero", now_text)
        elif current > max_replicas:
            reason, desired = "Current number of replicas above Spec.MaxReplicas", max_replicas
        elif current < min_replicas:
            reason, desired = "Current number of replicas below Spec.MinReplicas", min_replicas
        else:
            proposed, metric_name, metric_statuses, error = await self.compute_replicas_for_metrics(hpa, scale, status, now_text)
            if proposed == -1:
                self._set_status(status, current, int(status.get("desiredReplicas") or 0), metric_statuses, False, now_text)
                await self.update_status_if_needed(hpa, original, status)
                self.recorder.event(hpa, "Warning", "FailedComputeMetricsReplicas", str(error))
                raise MetricsError(f"failed to compute desired number of replicas based on listed metrics for {reference}: {error}")
            rescale_metric = ""
            if proposed > desired:
                desired, rescale_metric = proposed, metric_name
            if desired > current:
                reason = f"{rescale_metric} above target"
            if desired < current:
                reason = "All metrics below target"
            behavior = spec.get("behavior")
            if behavior is None:
                desired = self.normalizer.normalize(key, current, desired, min_replicas, max_replicas, now, pending)
            else:
                desired = self.normalizer.normalize_with_behaviors(key, current, desired, min_replicas, max_replicas,
                                                                   behavior, now, pending)
            for ctype, cstatus, creason, cmessage in pending:
                set_condition(status, ctype, cstatus, creason, cmessage, now_text)
            rescale = desired != current
        if rescale:
            try:
                await self.client.scale(resource.gvr, str(target.get("name", "")), desired, namespace=ns)
            except ClientError as exc:
                self.recorder.event(hpa, "Warning", "FailedRescale", f"New size: {desired}; reason: {reason}; error: {_err(exc)}")
                set_condition(status, "AbleToScale", "False", "FailedUpdateScale",
                              f"the HPA controller was unable to update the target scale: {_err(exc)}", now_text)
                self._set_status(status, current, int(status.get("desiredReplicas") or 0), metric_statuses, False, now_text)
                await self.update_status_if_needed(hpa, original, status)
                raise ClientError(f"failed to rescale {reference}: {_err(exc)}") from None
            set_condition(status, "AbleToScale", "True", "SucceededRescale",
                          f"the HPA controller was able to update the target scale to {desired}", now_text)
            self.recorder.event(hpa, "Normal", "SuccessfulRescale", f"New size: {desired}; reason: {reason}")
            self.normalizer.store_scale_event(key, spec.get("behavior"), current, desired, now)
            log.info("horizontal-pod-autoscaling: rescaled %s from %d to %d: %s", reference, current, desired, reason)
        else:
            desired = current
        self._set_status(status, current, desired, metric_statuses, rescale, now_text)
        await self.update_status_if_needed(hpa, original, status)

    @staticmethod
    def _set_status(status: dict[str, Any], current: int, desired: int, metrics: list[dict[str, Any]] | None,
                    rescale: bool, now: str) -> None:
        status["currentReplicas"] = current
        status["desiredReplicas"] = desired
        if metrics:
            status["currentMetrics"] = metrics
        else:
            status.pop("currentMetrics", None)
        if rescale:
            status["lastScaleTime"] = now

    async def update_status_if_needed(self, hpa: Object, original: Mapping[str, Any], status: dict[str, Any]) -> None:
        if status == original:
            return
        fresh = copy_object(hpa)
        fresh["status"] = status
        try:
            await self.client.update_status(HPAS, fresh)
        except ClientError as exc:
            self.recorder.event(hpa, "Warning", "FailedUpdateStatus", _err(exc))
            raise ClientError(f"failed to update status for {hpa['metadata']['name']}: {_err(exc)}") from None

    # -- metrics -----------------------------------------------------------------------------------

    async def compute_replicas_for_metrics(self, hpa: Object, scale: Object, status: dict[str, Any],
                                           now_text: str) -> tuple[int, str, list[dict[str, Any]], Exception | None]:
        """(replicas or -1, metric name, statuses, error) (upstream computeReplicasForMetrics)."""
        selector = (scale.get("status") or {}).get("selector") or ""
        if not selector:
            self.recorder.event(hpa, "Warning", "SelectorRequired", "selector is required")
            set_condition(status, "ScalingActive", "False", "InvalidSelector", "the HPA target's scale is missing a selector", now_text)
            return -1, "", [], MetricsError("selector is required")
        try:
            labels.parse(selector)
        except Exception as exc:
            msg = f"couldn't convert selector into a corresponding internal selector object: {_err(exc)}"
            self.recorder.event(hpa, "Warning", "InvalidSelector", msg)
            set_condition(status, "ScalingActive", "False", "InvalidSelector", msg, now_text)
            return -1, "", [], MetricsError(msg)
        spec_replicas = int((scale.get("spec") or {}).get("replicas") or 0)
        status_replicas = int((scale.get("status") or {}).get("replicas") or 0)
        specs = (hpa.get("spec") or {}).get("metrics") or []
        statuses: list[dict[str, Any]] = []
        replicas, metric_name = 0, ""
        invalid = 0
        first: MetricFailure | None = None
        for ms in specs:
            try:
                proposal, name, st = await self.compute_replicas_for_metric(hpa, ms, spec_replicas, status_replicas, selector)
            except MetricFailure as exc:
                statuses.append({"type": ""})
                if first is None:
                    first = exc
                invalid += 1
                continue
            statuses.append(st)
            if replicas == 0 or proposal > replicas:
                replicas, metric_name = proposal, name
        error: Exception | None = None
        if first is not None:
            error = MetricsError(f"invalid metrics ({invalid} invalid out of {len(specs)}), first error is: {first}")
        if specs and (invalid >= len(specs) or (invalid > 0 and replicas < spec_replicas)):
            assert first is not None
            set_condition(status, "ScalingActive", "False", first.reason, first.condition_message, now_text)
            return -1, "", statuses, error
        set_condition(status, "ScalingActive", "True", "ValidMetricFound",
                      f"the HPA was able to successfully calculate a replica count from {metric_name}", now_text)
        return replicas, metric_name, statuses, error

    def _unable(self, hpa: Object, reason: str, err: BaseException, wrapped: str) -> MetricFailure:
        self.recorder.event(hpa, "Warning", reason, str(err))
        return MetricFailure(wrapped, reason, f"the HPA was unable to compute the replica count: {err}")

    async def compute_replicas_for_metric(self, hpa: Object, ms: Mapping[str, Any], spec_replicas: int, status_replicas: int,
                                          selector: str) -> tuple[int, str, dict[str, Any]]:
        ns = hpa["metadata"].get("namespace", "")
        pods = self.pods.list(ns)
        mtype = ms.get("type")
        now = self.clock.time()
        if mtype in ("Resource", "ContainerResource"):
            field = "resource" if mtype == "Resource" else "containerResource"
            src = ms.get(field) or {}
            rname = str(src.get("name", ""))
            container = str(src.get("container", "")) if mtype == "ContainerResource" else ""
            target = src.get("target") or {}
            reason = "FailedGetResourceMetric" if mtype == "Resource" else "FailedGetContainerResourceMetric"
            current: dict[str, Any] = {}
            try:
                if target.get("averageValue") is not None:
                    replicas, raw, _ = await self.calc.raw_resource_replicas(
                        spec_replicas, from_json(target["averageValue"]).milli_value(), rname, ns, selector, pods, now, container)
                    name = f"{rname} resource" if not container else f"{rname} container resource"
                    current = {"averageValue": _milli_text(raw)}
                elif target.get("averageUtilization") is not None:
                    replicas, utilization, raw, _ = await self.calc.resource_replicas(
                        spec_replicas, int(target["averageUtilization"]), rname, ns, selector, pods, now, container)
                    name = (f"{rname} resource utilization (percentage of request)" if not container else
                            f"{rname} container resource utilization (percentage of request)")
                    current = {"averageUtilization": utilization, "averageValue": _milli_text(raw)}
                else:
                    raise MetricsError("invalid resource metric source: neither an average utilization target nor an average value (usage) target was set")
            except MetricsError as exc:
                what = "usage" if target.get("averageValue") is not None else "utilization"
                err = MetricsError(f"failed to get {rname} {what}: {exc}") if "invalid resource metric source" not in str(exc) else exc
                label = f"{rname} resource metric value" if not container else f"{rname} container resource metric value"
                raise self._unable(hpa, reason, err, f"failed to get {label}: {err}") from None
            body: dict[str, Any] = {"name": rname, "current": current}
            if container:
                body["container"] = container
            return replicas, name, {"type": mtype, field: body}
        if mtype == "Pods":
            src = ms.get("pods") or {}
            metric = src.get("metric") or {}
            target = src.get("target") or {}
            metric_selector = _selector_text(metric.get("selector"))
            try:
                replicas, usage, _ = await self.calc.metric_replicas(
                    spec_replicas, from_json(target.get("averageValue", "0")).milli_value(), str(metric.get("name", "")), ns,
                    selector, metric_selector, pods, now)
            except MetricsError as exc:
                raise self._unable(hpa, "FailedGetPodsMetric", exc, f"failed to get pods metric value: {exc}") from None
            return replicas, f"pods metric {metric.get('name')}", {"type": "Pods", "pods": {
                "metric": metric, "current": {"averageValue": _milli_text(usage)}}}
        if mtype == "Object":
            src = ms.get("object") or {}
            metric = src.get("metric") or {}
            target = src.get("target") or {}
            described = src.get("describedObject") or {}
            metric_selector = _selector_text(metric.get("selector"))
            try:
                if target.get("type") == "Value" or (target.get("value") is not None and target.get("averageValue") is None):
                    replicas, usage, _ = await self.calc.object_replicas(
                        spec_replicas, from_json(target.get("value", "0")).milli_value(), str(metric.get("name", "")), ns,
                        described, selector, metric_selector, pods)
                    current = {"value": _milli_text(usage)}
                elif target.get("averageValue") is not None:
                    replicas, usage, _ = await self.calc.object_per_pod_replicas(
                        status_replicas, from_json(target["averageValue"]).milli_value(), str(metric.get("name", "")), ns,
                        described, metric_selector)
                    current = {"averageValue": _milli_text(usage)}
                else:
                    raise MetricsError("invalid object metric source: neither a value target nor an average value target was set")
            except MetricsError as exc:
                raise self._unable(hpa, "FailedGetObjectMetric", exc, f"failed to get object metric value: {exc}") from None
            return replicas, f"{metric.get('name')} metric on {described.get('kind')}/{described.get('name')}", {
                "type": "Object", "object": {"describedObject": described, "metric": metric, "current": current}}
        if mtype == "External":
            src = ms.get("external") or {}
            metric = src.get("metric") or {}
            target = src.get("target") or {}
            metric_selector = _selector_text(metric.get("selector"))
            mname = str(metric.get("name", ""))
            try:
                if target.get("averageValue") is not None:
                    replicas, usage, _ = await self.calc.external_per_pod_replicas(
                        status_replicas, from_json(target["averageValue"]).milli_value(), mname, ns, metric_selector)
                    current = {"averageValue": _milli_text(usage)}
                elif target.get("value") is not None:
                    replicas, usage, _ = await self.calc.external_replicas(
                        spec_replicas, from_json(target["value"]).milli_value(), mname, ns, metric_selector, selector, pods)
                    current = {"value": _milli_text(usage)}
                else:
                    raise MetricsError("invalid external metric source: neither a value target nor an average value target was set")
            except MetricsError as exc:
                raise self._unable(hpa, "FailedGetExternalMetric", exc, f"failed to get {mname} external metric: {exc}") from None
            return replicas, f"external metric {mname}({metric.get('selector')})", {"type": "External", "external": {
                "metric": metric, "current": current}}
        err = MetricsError(f'unknown metric source type "{mtype}"')
        raise self._unable(hpa, "InvalidMetricSourceType", err, str(err))


def _selector_text(sel: Mapping[str, Any] | None) -> str:
    if not sel:
        return ""
    parts = [f"{k}={v}" for k, v in sorted((sel.get("matchLabels") or {}).items())]
    for e in sel.get("matchExpressions") or []:
        op = e.get("operator")
        key = e.get("key")
        vals = ",".join(e.get("values") or [])
        if op == "In":
            parts.append(f"{key} in ({vals})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({vals})")
        elif op == "Exists":
            parts.append(str(key))
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts)


def _err(exc: BaseException) -> str:
    if isinstance(exc, APIError):
        return exc.message
    return str(exc)


def new(ctx: ControllerContext) -> HorizontalController:
    return HorizontalController(ctx)
