"""End-to-end harness: the workload controllers and a fake kubelet, in-process, against a real server.

`ControllerThread` runs an event loop in a thread with the chosen controllers (built exactly as the
controller-manager builds them, from `workloads.CONTROLLERS`) plus a `FakeKubelet`, so that tests can be
plain synchronous code driving real kubectl. The clock given to the controllers can be shifted
(`ShiftedClock`) to make a CronJob's schedule come due without waiting for the minute.

The fake kubelet stands in for the node agent until it exists: it writes pod status through the status
subresource, never touching controllers' objects. Behaviour per pod, from the pod's labels:
    test.kijabi.io/exit-code: N    the pod runs and terminates with exit code N (Succeeded if 0)
    test.kijabi.io/hold: "true"     the pod stays Pending (never ready)
    otherwise                        the pod becomes Running and Ready
A bound pod being deleted is removed for good (grace period 0), as a kubelet does once its
containers have stopped.
Pods that a DaemonSet pins to a node through node affinity are bound to that node first (as the
scheduler would), so they count as scheduled.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from kijabi.client.clock import RealClock
from kijabi.client.errors import APIError
from kijabi.client.events import EventBroadcaster
from kijabi.client.informers import EventHandlerFuncs, SharedInformerFactory
from kijabi.client.rest import PODS, Client
from kijabi.controllers.context import ControllerContext, Options
from kijabi.controllers.workloads import CONTROLLERS
from kijabi.machinery.meta import rfc3339

log = logging.getLogger(__name__)

EXIT_CODE = "test.kijabi.io/exit-code"
HOLD = "test.kijabi.io/hold"


class _Stopped(Exception):
    pass


class ShiftedClock(RealClock):
    """Real time plus an offset that a test may move forward (wall time only)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def time(self) -> float:
        return time.time() + self.offset


def running_status(pod: dict[str, Any], now: float) -> dict[str, Any] | None:
    """The status the fake kubelet gives `pod` next, or None if it has nothing to change."""
    st = pod.get("status") or {}
    labels = (pod.get("metadata") or {}).get("labels") or {}
    if st.get("phase") in ("Succeeded", "Failed") or labels.get(HOLD) == "true":
        return None
    ts = rfc3339(now)
    containers = [c.get("name", "c") for c in (pod.get("spec") or {}).get("containers") or []]
    if EXIT_CODE in labels:
        code = int(labels[EXIT_CODE])
        phase = "Succeeded" if code == 0 else "Failed"
        return {**st, "phase": phase, "startTime": st.get("startTime", ts),
                "conditions": [{"type": "Ready", "status": "False", "lastTransitionTime": ts,
                                "reason": "PodCompleted"}],
                "containerStatuses": [{"name": n, "ready": False, "restartCount": 0, "image": "busybox",
                                       "imageID": "", "state": {"terminated": {
                                           "exitCode": code, "reason": "Completed" if code == 0 else "Error",
                                           "startedAt": ts, "finishedAt": ts}}} for n in containers]}
    if st.get("phase") == "Running":
        return None
    return {**st, "phase": "Running", "startTime": ts, "podIP": "10.42.0.9",
            "conditions": [{"type": t, "status": "True", "lastTransitionTime": ts}
                           for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")],
            "containerStatuses": [{"name": n, "ready": True, "started": True, "restartCount": 0, "image": "busybox",
                                   "imageID": "", "state": {"running": {"startedAt": ts}}} for n in containers]}


def pinned_node(pod: dict[str, Any]) -> str | None:
    """The node a DaemonSet pod's required node affinity names through matchFields metadata.name."""
    aff = ((pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {}
    req = aff.get("requiredDuringSchedulingIgnoredDuringExecution") or {}
    for term in req.get("nodeSelectorTerms") or []:
        for f in term.get("matchFields") or []:
            if f.get("key") == "metadata.name" and f.get("operator") == "In" and f.get("values"):
                return str(f["values"][0])
    return None


class FakeKubelet:
    """Moves pods along (see the module docstring); one status write per pod state change."""

    def __init__(self, client: Client, factory: SharedInformerFactory) -> None:
        self.client = client
        self.queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self.informer = factory.informer(PODS)
        self.lister = self.informer.lister()
        self.informer.add_event_handler(EventHandlerFuncs(add=self._enqueue, update=lambda o, n: self._enqueue(n)))
        self.enabled = True

    def _enqueue(self, pod: dict[str, Any]) -> None:
        m = pod.get("metadata") or {}
        self.queue.put_nowait((m.get("namespace", ""), m.get("name", "")))

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            for _ in range(8):
                tg.create_task(self._worker())

    async def _worker(self) -> None:
        while True:
            ns, name = await self.queue.get()
            pod = self.lister.get(name, ns)
            if pod is None or not self.enabled:
                continue
            try:
                if (pod.get("metadata") or {}).get("deletionTimestamp"):
                    # a kubelet stops the containers, then removes the pod for good
                    if (pod.get("spec") or {}).get("nodeName"):
                        await self.client.delete(PODS, name, namespace=ns, grace_period_seconds=0,
                                                 preconditions={"uid": pod["metadata"]["uid"]})
                    continue
                node = pinned_node(pod)
                if node and not (pod.get("spec") or {}).get("nodeName"):
                    await self.client.bind(ns, name, node, uid=pod["metadata"]["uid"])
                    continue
                new_status = running_status(pod, time.time())
                if new_status is None:
                    continue
                body = {"apiVersion": "v1", "kind": "Pod",
                        "metadata": {"name": name, "namespace": ns,
                                     "resourceVersion": pod["metadata"]["resourceVersion"]},
                        "status": new_status}
                await self.client.patch(PODS, name, body, namespace=ns, subresource="status")
            except APIError as exc:
                if exc.code == 409:
                    self.queue.put_nowait((ns, name))
                elif exc.code != 404:
                    log.warning("fake kubelet: %s/%s: %s", ns, name, exc)


class ControllerThread:
    """The chosen workload controllers plus a fake kubelet, on an event loop in a daemon thread."""

    def __init__(self, kubeconfig: str, names: list[str], *, clock: Any = None, kubelet: bool = True,
                 qps: float = -1) -> None:
        self.kubeconfig = kubeconfig
        self.names = names
        self.clock = clock if clock is not None else ShiftedClock()
        self.kubelet_enabled = kubelet
        self.qps = qps
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._main, name="controllers", daemon=True)
        self.ready: Future[None] = Future()
        self._stop: asyncio.Event | None = None
        self.kubelet: FakeKubelet | None = None
        self.controllers: dict[str, Any] = {}

    def start(self) -> ControllerThread:
        self.thread.start()
        self.ready.result(timeout=60)
        return self

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._run())
        except BaseException as exc:  # surfaces in the test through `ready`
            if not self.ready.done():
                self.ready.set_exception(exc)
            log.exception("controller thread failed")

    async def _run(self) -> None:
        self._stop = asyncio.Event()
        async with Client.from_kubeconfig(self.kubeconfig, qps=self.qps) as client:
            factory = SharedInformerFactory(client)
            events = EventBroadcaster(client)
            ctx = ControllerContext(client=client, informers=factory, events=events, options=Options(),
                                    clock=self.clock)
            for name in self.names:
                built = CONTROLLERS[name](ctx)
                if inspect.isawaitable(built):
                    built = await built
                self.controllers[name] = built
            if self.kubelet_enabled:
                self.kubelet = FakeKubelet(client, factory)
            try:
                async with asyncio.TaskGroup() as tg:
                    events.start(tg)
                    factory.start(tg)
                    for n, c in self.controllers.items():
                        tg.create_task(c.run(), name=f"controller:{n}")
                    if self.kubelet is not None:
                        tg.create_task(self.kubelet.run(), name="fake kubelet")
                    await factory.wait_for_cache_sync(30)
                    self.ready.set_result(None)
                    await self._stop.wait()
                    raise _Stopped
            except* _Stopped:
                pass

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run `fn` on the controllers' loop and return its result (awaited if it is a coroutine)."""

        async def wrapper() -> Any:
            result = fn()
            if inspect.isawaitable(result):
                result = await result
            return result

        return asyncio.run_coroutine_threadsafe(wrapper(), self.loop).result(timeout=30)

    def stop(self) -> None:
        if self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
        self.thread.join(timeout=15)


def wait_for(cond: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    """Poll `cond` (state owned by other processes/threads) until it returns something truthy."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        with contextlib.suppress(AssertionError):
            last = cond()
            if last:
                return last
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}; last value: {last!r}")
