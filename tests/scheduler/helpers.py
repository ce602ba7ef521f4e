"""Builders for nodes and pods, and an in-memory harness around a real Scheduler (no API server)."""

from __future__ import annotations

import itertools
import random
from typing import Any

from kijabi.client.clock import FakeClock
from kijabi.scheduler.config import SchedulerConfig, default_config, parse_config
from kijabi.scheduler.framework.interface import CycleState, Listers, NullRecorder, StaticLister
from kijabi.scheduler.framework.runtime import Framework
from kijabi.scheduler.framework.status import FitError, Status
from kijabi.scheduler.framework.types import NodeInfo, QueuedPodInfo
from kijabi.scheduler.scheduler import Scheduler

_uids = itertools.count(1)


def node(name: str, *, cpu: str = "4", memory: str = "8Gi", pods: int = 110, labels: dict[str, str] | None = None,
         taints: list[dict[str, Any]] | None = None, unschedulable: bool = False, zone: str | None = None,
         images: list[tuple[list[str], int]] | None = None, extra: dict[str, str] | None = None) -> dict[str, Any]:
    lbl = {"kubernetes.io/hostname": name, **(labels or {})}
    if zone is not None:
        lbl["topology.kubernetes.io/zone"] = zone
    alloc: dict[str, Any] = {"cpu": cpu, "memory": memory, "pods": str(pods), **(extra or {})}
    n: dict[str, Any] = {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "uid": f"node-{name}", "labels": lbl, "resourceVersion": "1"},
        "spec": {},
        "status": {"capacity": dict(alloc), "allocatable": alloc,
                   "conditions": [{"type": "Ready", "status": "True"}]},
    }
    if taints:
        n["spec"]["taints"] = taints
    if unschedulable:
        n["spec"]["unschedulable"] = True
    if images:
        n["status"]["images"] = [{"names": names, "sizeBytes": size} for names, size in images]
    return n


def pod(name: str, *, ns: str = "default", cpu: str | None = None, memory: str | None = None,
        labels: dict[str, str] | None = None, node_name: str | None = None, priority: int | None = None,
        containers: list[dict[str, Any]] | None = None, scheduler: str = "default-scheduler",
        uid: str | None = None, **spec: Any) -> dict[str, Any]:
    requests: dict[str, str] = {}
    if cpu is not None:
        requests["cpu"] = cpu
    if memory is not None:
        requests["memory"] = memory
    if containers is None:
        c: dict[str, Any] = {"name": "c", "image": "busybox"}
        if requests:
            c["resources"] = {"requests": requests}
        containers = [c]
    p: dict[str, Any] = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "uid": uid or f"uid-{name}-{next(_uids)}",
                     "labels": labels or {}, "resourceVersion": "1",
                     "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {"containers": containers, "schedulerName": scheduler, **spec},
        "status": {"phase": "Pending"},
    }
    if node_name is not None:
        p["spec"]["nodeName"] = node_name
        p["status"]["phase"] = "Running"
    if priority is not None:
        p["spec"]["priority"] = priority
    return p


class DictLister:
    """An ObjectLister over a dict the test fills (namespace/name keys)."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = {}

    @staticmethod
    def _key(obj: dict[str, Any]) -> str:
        m = obj.get("metadata") or {}
        return f"{m.get('namespace', '')}/{m.get('name', '')}"

    def put(self, obj: dict[str, Any]) -> None:
        self.objects[self._key(obj)] = obj

    def remove(self, obj: dict[str, Any]) -> None:
        self.objects.pop(self._key(obj), None)

    def get(self, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        return self.objects.get(f"{namespace or ''}/{name}")

    def list(self, namespace: str | None = None) -> list[dict[str, Any]]:
        return [o for o in self.objects.values()
                if namespace is None or (o.get("metadata") or {}).get("namespace", "") == namespace]


class Harness:
    """A real Scheduler whose informers are replaced by direct calls; the API client is optional."""

    def __init__(self, nodes: list[dict[str, Any]] = (), pods: list[dict[str, Any]] = (), *,
                 config: SchedulerConfig | dict[str, Any] | None = None, client: Any = None,
                 objects: dict[str, list[dict[str, Any]]] | None = None, seed: int = 1,
                 registry: dict[str, Any] | None = None) -> None:
        if isinstance(config, dict):
            config = parse_config(config)
        self.clock = FakeClock()
        self.pods = DictLister()
        self.listers = Listers(pods=self.pods)
        for field, objs in (objects or {}).items():
            lister = DictLister()
            for o in objs:
                lister.put(o)
            setattr(self.listers, field, lister)
        self.recorder = NullRecorder()
        self.scheduler = Scheduler(config or default_config(), client=client, listers=self.listers, clock=self.clock,
                                   rng=random.Random(seed), recorder_factory=lambda name: self.recorder,
                                   registry=registry)
        for n in nodes:
            self.scheduler.on_node_add(n)
        for p in pods:
            self.add_pod(p)

    @property
    def fwk(self) -> Framework:
        return next(iter(self.scheduler.frameworks.values()))

    def add_pod(self, p: dict[str, Any]) -> None:
        self.pods.put(p)
        if p["spec"].get("nodeName"):
            self.scheduler.on_assigned_pod_add(p)
        else:
            self.scheduler.on_unscheduled_pod_add(p)

    def lister(self, field: str) -> DictLister:
        lister = getattr(self.listers, field)
        if isinstance(lister, StaticLister):
            lister = DictLister()
            setattr(self.listers, field, lister)
        assert isinstance(lister, DictLister)
        return lister

    # -- running pieces of a cycle -----------------------------------------------------------------

    def pre_filter(self, p: dict[str, Any]) -> tuple[CycleState, Status | None]:
        state = CycleState()
        _, st, _ = self.fwk.run_pre_filter_plugins(state, p, self.scheduler.cache.list())
        return state, st

    def filter(self, p: dict[str, Any], node_name: str) -> Status | None:
        """PreFilter then Filter of every plugin on one node (None: it fits)."""
        state, st = self.pre_filter(p)
        if st is not None and not st.is_success():
            return st
        ni = self.scheduler.cache.get(node_name)
        assert ni is not None
        return self.fwk.run_filter_plugins_with_nominated_pods(state, p, ni)

    def feasible(self, p: dict[str, Any]) -> list[str]:
        return sorted(n.name for n in self.scheduler.cache.list() if (st := self.filter(p, n.name)) is None
                      or st.is_success())

    def scores(self, p: dict[str, Any], plugin: str | None = None) -> dict[str, int]:
        """Weighted scores of every node (of one plugin, or the total), after a PreScore."""
        state, _ = self.pre_filter(p)
        nodes: list[NodeInfo] = self.scheduler.cache.list()
        st = self.fwk.run_pre_score_plugins(state, p, nodes)
        assert st is None or st.is_success(), st
        totals, per_plugin, st = self.fwk.run_score_plugins(state, p, nodes)
        assert st is None, st
        values = totals if plugin is None else per_plugin.get(plugin, [0] * len(nodes))
        return {ni.name: v for ni, v in zip(nodes, values, strict=True)}

    def schedule(self, p: dict[str, Any]) -> str:
        """The chosen node for `p`, or the FitError message when nothing fits (no preemption)."""
        try:
            result = self.scheduler.schedule_pod(self.fwk, CycleState(), p)
        except FitError as fit:
            return str(fit)
        return result.suggested_host

    def queued(self, p: dict[str, Any]) -> QueuedPodInfo:
        from kijabi.scheduler.framework.types import PodInfo

        return QueuedPodInfo(PodInfo(p), self.clock.now())


class RecordingClient:
    """The API calls the scheduler makes, recorded (bind, patch, delete, update); `fail` makes a verb raise."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any]] = []
        self.fail: dict[str, Exception] = {}

    def _record(self, verb: str, target: str, body: Any) -> None:
        self.calls.append((verb, target, body))
        if verb in self.fail:
            raise self.fail[verb]

    async def bind(self, namespace: str, pod: str, node: str, *, uid: str | None = None) -> dict[str, Any]:
        self._record("bind", f"{namespace}/{pod}", node)
        return {}

    async def patch(self, gvr: Any, name: str, patch: Any, *, namespace: str | None = None, **kw: Any) -> dict[str, Any]:
        self._record("patch", f"{gvr.resource}/{namespace or ''}/{name}{'/' + kw['subresource'] if kw.get('subresource') else ''}",
                     patch)
        return {}

    async def delete(self, gvr: Any, name: str, *, namespace: str | None = None, **kw: Any) -> dict[str, Any]:
        self._record("delete", f"{gvr.resource}/{namespace or ''}/{name}", None)
        return {}

    async def update(self, gvr: Any, obj: dict[str, Any], **kw: Any) -> dict[str, Any]:
        m = obj.get("metadata") or {}
        self._record("update", f"{gvr.resource}/{m.get('namespace', '')}/{m.get('name', '')}", obj)
        return obj

    def of(self, verb: str) -> list[tuple[str, Any]]:
        return [(t, b) for v, t, b in self.calls if v == verb]
