"""End-to-end harness of the cluster controller tests.

`ControllerThread` runs the chosen cluster controllers (built exactly as the controller-manager builds
them, from `cluster.CONTROLLERS`, with the given Options) on an event loop in a thread, so tests stay
plain synchronous code driving real kubectl. It also runs `Heartbeats`: a stand-in for kubelets that,
for every Node labelled `kijabi.test/heartbeat`, renews its Lease in kube-node-lease, and with the value
`true` also keeps its Ready condition True (with `lease` it leaves conditions to the test). Removing the
label is how a test makes a node "stop posting status".

`Kube` is a small synchronous REST helper over the cluster's admin credentials; `wait_for` polls a
condition with a deadline (the condition is state another process changes).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

from kijabi.client.events import EventBroadcaster
from kijabi.client.informers import SharedInformerFactory
from kijabi.client.rest import LEASES, NODES, Client
from kijabi.controllers.cluster import CONTROLLERS
from kijabi.controllers.context import ControllerContext, Options
from kijabi.machinery.meta import rfc3339, rfc3339_micro
from tests.e2e.cluster import Cluster

log = logging.getLogger(__name__)

HEARTBEAT_LABEL = "kijabi.test/heartbeat"
T = TypeVar("T")


def wait_for(cond: Callable[[], T], timeout: float = 20.0, interval: float = 0.1, what: str = "condition") -> T:
    """Poll `cond` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: T = cond()
    while not last:
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what} (last value: {last!r})")
        time.sleep(interval)  # polling state owned by another process, bounded by the deadline
        last = cond()
    return last


class Kube:
    """JSON requests with the admin credentials of a test cluster."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster

    @staticmethod
    def path(api_version: str, resource: str, namespace: str | None = None, name: str | None = None,
             sub: str | None = None) -> str:
        base = f"/apis/{api_version}" if "/" in api_version else f"/api/{api_version}"
        if namespace:
            base += f"/namespaces/{quote(namespace)}"
        base += f"/{resource}"
        if name:
            base += f"/{quote(name)}"
        if sub:
            base += f"/{sub}"
        return base

    def call(self, method: str, path: str, body: Any = None, *, ctype: str = "application/json",
             query: dict[str, str] | None = None) -> tuple[int, Any]:
        if query:
            path += "?" + urlencode(query)
        data = json.dumps(body).encode() if body is not None else None
        code, _, raw = self.cluster.request(method, path, data, ctype=ctype)
        return code, (json.loads(raw) if raw else None)

    def ok(self, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        code, out = self.call(method, path, body, **kw)
        assert 200 <= code < 300, f"{method} {path} -> {code}: {out}"
        return out

    def get(self, api_version: str, resource: str, name: str, namespace: str | None = None, sub: str | None = None) -> Any:
        code, out = self.call("GET", self.path(api_version, resource, namespace, name, sub))
        if code == 404:
            return None
        assert code == 200, f"GET {resource}/{name} -> {code}: {out}"
        return out

    def list(self, api_version: str, resource: str, namespace: str | None = None, **query: str) -> list[Any]:
        return self.ok("GET", self.path(api_version, resource, namespace), query=query or None)["items"]

    def create(self, api_version: str, resource: str, obj: dict[str, Any], namespace: str | None = None) -> Any:
        return self.ok("POST", self.path(api_version, resource, namespace), obj)

    def patch(self, api_version: str, resource: str, name: str, patch: Any, namespace: str | None = None,
              sub: str | None = None) -> Any:
        """A merge patch. The server may answer 409 when a controller wrote the object meanwhile (kijabi's
        patch handler does not retry its compare-and-swap yet), so conflicts are retried here."""
        path = self.path(api_version, resource, namespace, name, sub)
        for _ in range(10):
            code, out = self.call("PATCH", path, patch, ctype="application/merge-patch+json")
            if code != 409:
                break
        assert 200 <= code < 300, f"PATCH {path} -> {code}: {out}"
        return out

    def delete(self, api_version: str, resource: str, name: str, namespace: str | None = None, **options: Any) -> Any:
        body = {"kind": "DeleteOptions", "apiVersion": "v1", **options}
        code, out = self.call("DELETE", self.path(api_version, resource, namespace, name), body)
        assert code in (200, 202, 404), f"DELETE {resource}/{name} -> {code}: {out}"
        return out

    # -- objects tests use often -------------------------------------------------------------------

    def node(self, name: str, *, heartbeat: str | None = "true", labels: dict[str, str] | None = None) -> Any:
        """A Node that is Ready; `heartbeat` "true" (lease and Ready kept fresh), "lease" or None."""
        now = rfc3339(time.time())
        meta: dict[str, Any] = {"name": name, "labels": {**(labels or {}), **({HEARTBEAT_LABEL: heartbeat} if heartbeat else {})}}
        node = {"apiVersion": "v1", "kind": "Node", "metadata": meta, "spec": {},
                "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                           "message": "kubelet is posting ready status", "lastHeartbeatTime": now,
                                           "lastTransitionTime": now}]}}
        return self.create("v1", "nodes", node)

    def pod(self, namespace: str, name: str, *, labels: dict[str, str] | None = None, node: str | None = None,
            owner: dict[str, Any] | None = None, ports: list[dict[str, Any]] | None = None, **spec: Any) -> Any:
        meta: dict[str, Any] = {"name": name, "labels": labels or {}}
        if owner is not None:
            meta["ownerReferences"] = [owner]
        container: dict[str, Any] = {"name": "c", "image": "busybox"}
        if ports:
            container["ports"] = ports
        body_spec: dict[str, Any] = {"containers": [container], **spec}
        if node:
            body_spec["nodeName"] = node
        return self.create("v1", "pods", {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": body_spec}, namespace)

    def set_pod_status(self, namespace: str, name: str, *, ready: bool, ip: str | None = None, phase: str = "Running") -> Any:
        now = rfc3339(time.time())
        status: dict[str, Any] = {"phase": phase, "startTime": now,
                                  "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                                                  "lastTransitionTime": now}]}
        if ip:
            status["podIP"] = ip
            status["podIPs"] = [{"ip": ip}]
        return self.patch("v1", "pods", name, {"status": status}, namespace, sub="status")

    def events(self, namespace: str, name: str | None = None) -> list[Any]:
        items = self.list("v1", "events", namespace)
        return [e for e in items if name is None or e["involvedObject"].get("name") == name]


def owner_ref(obj: dict[str, Any], *, controller: bool = True, block: bool = True) -> dict[str, Any]:
    return {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": obj["metadata"]["name"],
            "uid": obj["metadata"]["uid"], "controller": controller, "blockOwnerDeletion": block}


class Heartbeats:
    """Renews the Lease (and, for value `true`, the Ready condition) of nodes labelled kijabi.test/heartbeat."""

    def __init__(self, client: Client, period: float = 0.5) -> None:
        self.client = client
        self.period = period

    async def run(self) -> None:
        while True:
            try:
                await self.beat()
            except Exception as exc:  # keep beating; a test may delete nodes under us
                log.debug("heartbeat: %s", exc)
            await asyncio.sleep(self.period)

    async def beat(self) -> None:
        nodes = (await self.client.list(NODES, label_selector=HEARTBEAT_LABEL)).get("items") or []
        now = time.time()
        for node in nodes:
            name = node["metadata"]["name"]
            lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                     "metadata": {"name": name, "namespace": "kube-node-lease"},
                     "spec": {"holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": rfc3339_micro(now)}}
            await self.client.apply(LEASES, lease, field_manager="test-heartbeat", force=True)
            if node["metadata"]["labels"].get(HEARTBEAT_LABEL) != "true":
                continue
            conds = (node.get("status") or {}).get("conditions") or []
            ready = next((c for c in conds if c.get("type") == "Ready"), None)
            if ready is None or ready.get("status") != "True":
                ts = rfc3339(now)
                conds = [c for c in conds if c.get("type") != "Ready"] + [{
                    "type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status",
                    "lastHeartbeatTime": ts, "lastTransitionTime": ts}]
                await self.client.patch(NODES, name, {"status": {"conditions": conds}}, subresource="status")


class ControllerThread:
    """Cluster controllers + heartbeats on their own event loop, in a daemon thread."""

    def __init__(self, kubeconfig: str, names: list[str], options: Options) -> None:
        self.kubeconfig = kubeconfig
        self.names = names
        self.options = options
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread: threading.Thread | None = None
        self._main: asyncio.Task[None] | None = None
        self._ready: Future[None] = Future()
        self.error: BaseException | None = None

    def start(self) -> ControllerThread:
        self.thread = threading.Thread(target=self._thread, name="cluster-controllers", daemon=True)
        self.thread.start()
        self._ready.result(timeout=60)
        return self

    def _thread(self) -> None:
        self.loop = asyncio.new_event_loop()
        try:
            self.loop.run_until_complete(self._run())
        except BaseException as exc:  # reported to the test through `error`
            self.error = exc
            if not self._ready.done():
                self._ready.set_exception(exc)
        finally:
            self.loop.close()

    async def _run(self) -> None:
        self._main = asyncio.current_task()
        client = Client.from_kubeconfig(self.kubeconfig, qps=-1)
        factory = SharedInformerFactory(client)
        events = EventBroadcaster(client)
        ctx = ControllerContext(client=client, informers=factory, events=events, options=self.options)
        built = []
        for name in self.names:
            c = CONTROLLERS[name](ctx)
            if asyncio.iscoroutine(c) or isinstance(c, asyncio.Future):
                c = await c
            built.append((name, c))
        try:
            async with asyncio.TaskGroup() as tg:
                events.start(tg)
                factory.start(tg)
                tg.create_task(Heartbeats(client).run(), name="heartbeats")
                for name, c in built:
                    tg.create_task(c.run(), name=f"controller:{name}")
                await factory.wait_for_cache_sync(30)
                self._ready.set_result(None)
        except asyncio.CancelledError:
            pass
        finally:
            await client.close()

    def stop(self) -> None:
        if self.loop is not None and self._main is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self._main.cancel)
        if self.thread is not None:
            self.thread.join(timeout=15)
