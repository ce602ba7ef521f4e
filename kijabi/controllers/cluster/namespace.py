"""The namespace controller: empties a namespace being deleted, then releases it (upstream
pkg/controller/namespace and its deletion.NamespacedResourcesDeleter).

For a namespace with a deletionTimestamp and the `kubernetes` finalizer in spec.finalizers:
1. its phase is made Terminating (the API server usually did that already);
2. every namespaced resource that discovery says supports `delete` is emptied: one deletecollection
   (background propagation) where supported, else a list and one delete per object; then it is listed
   again to see what remains and which finalizers hold it;
3. the namespace's status conditions report how that went (NamespaceDeletionDiscoveryFailure,
   NamespaceDeletionGroupVersionParsingFailure, NamespaceDeletionContentFailure,
   NamespaceContentRemaining, NamespaceFinalizersRemaining, with upstream's reasons and messages);
4. while content remains, the namespace is looked at again after half the estimated time (pods' grace
   periods, `namespace_finalizer_estimate` = 15 s for objects held by finalizers); once empty, `kubernetes` is removed through the
   namespaces/{name}/finalize subresource and the API server deletes the namespace.

Events about a namespace are acted on only after `namespace_deletion_grace` seconds (upstream 5 s), so
that admission caches in the API server have seen the deletion and no new content slips in.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from kijabi.client.cache import copy_object
from kijabi.client.discovery import APIResource
from kijabi.client.errors import APIError, ClientError, Conflict, MethodNotAllowed, NotFound
from kijabi.client.informers import EventHandlerFuncs
from kijabi.client.rest import GVR, NAMESPACES, PODS, Client
from kijabi.controllers.cluster._base import (
    ClusterController,
    Object,
    Requeue,
    being_deleted,
    get_condition,
    now_text,
    settings,
    timestamp,
    workers,
)
from kijabi.controllers.cluster.monitors import discover
from kijabi.controllers.context import ControllerContext

log = logging.getLogger(__name__)

FINALIZER_KUBERNETES = "kubernetes"
FINALIZER_ESTIMATE_SECONDS = 15

CONDITION_TYPES = (
    "NamespaceDeletionDiscoveryFailure",
    "NamespaceDeletionGroupVersionParsingFailure",
    "NamespaceDeletionContentFailure",
    "NamespaceContentRemaining",
    "NamespaceFinalizersRemaining",
)
OK_MESSAGES = {
    "NamespaceDeletionDiscoveryFailure": "All resources successfully discovered",
    "NamespaceDeletionGroupVersionParsingFailure": "All legacy kube types successfully parsed",
    "NamespaceDeletionContentFailure": "All content successfully deleted, may be waiting on finalization",
    "NamespaceContentRemaining": "All content successfully removed",
    "NamespaceFinalizersRemaining": "All content successfully removed",
}
OK_REASONS = {
    "NamespaceDeletionDiscoveryFailure": "ResourcesDiscovered",
    "NamespaceDeletionGroupVersionParsingFailure": "ParsedGroupVersions",
    "NamespaceDeletionContentFailure": "ContentDeleted",
    "NamespaceContentRemaining": "ContentRemoved",
    "NamespaceFinalizersRemaining": "ContentRemoved",
}


class ResourcesRemaining(Requeue):
    """Content is still going away; look again in `estimate / 2 + 1` seconds."""

    def __init__(self, estimate: int) -> None:
        super().__init__(f"some content remains in the namespace, estimate {estimate} seconds before it is removed")
        self.estimate = estimate


def error_text(exc: BaseException) -> str:
    """What Go's err.Error() says for an API error: the Status message."""
    if isinstance(exc, APIError):
        return exc.message
    return str(exc)


@dataclass
class Conditions:
    """The outcome of one pass, turned into namespace conditions (upstream namespaceConditionUpdater)."""

    new: list[dict[str, Any]] = field(default_factory=list)
    content_errors: list[str] = field(default_factory=list)

    def discovery_failed(self, message: str) -> None:
        self.new.append({"type": "NamespaceDeletionDiscoveryFailure", "status": "True", "reason": "DiscoveryFailed",
                         "message": message})

    def content_totals(self, remaining: dict[GVR, int], finalizers: dict[str, int]) -> None:
        if remaining:
            parts = sorted(f"{gvr.resource}.{gvr.group} has {n} resource instances" for gvr, n in remaining.items() if n)
            self.new.append({"type": "NamespaceContentRemaining", "status": "True", "reason": "SomeResourcesRemain",
                             "message": f"Some resources are remaining: {', '.join(parts)}"})
        if finalizers:
            parts = sorted(f"{f} in {n} resource instances" for f, n in finalizers.items() if n)
            self.new.append({"type": "NamespaceFinalizersRemaining", "status": "True", "reason": "SomeFinalizerRemain",
                             "message": f"Some finalizers are remaining: {', '.join(parts)}"})

    def apply(self, status: dict[str, Any], now: str) -> bool:
        """Set every condition type on `status` (the okay variant unless something failed); True if changed."""
        new = list(self.new)
        if self.content_errors and get_condition(new, "NamespaceDeletionContentFailure") is None:
            msgs = sorted(self.content_errors)
            new.append({"type": "NamespaceDeletionContentFailure", "status": "True", "reason": "ContentDeletionFailed",
                        "message": f"Failed to delete all resource types, {len(msgs)} remaining: {', '.join(msgs)}"})
        conditions: list[dict[str, Any]] = status.setdefault("conditions", [])
        changed = False
        for ctype in CONDITION_TYPES:
            wanted = get_condition(new, ctype) or {"type": ctype, "status": "False", "reason": OK_REASONS[ctype],
                                                   "message": OK_MESSAGES[ctype]}
            old = next((c for c in conditions if c.get("type") == ctype), None)
            if old is None:
                conditions.append({**wanted, "lastTransitionTime": now})
                changed = True
            elif (old.get("status"), old.get("message"), old.get("reason")) != (
                    wanted.get("status"), wanted.get("message"), wanted.get("reason")):
                if old.get("status") != wanted.get("status"):
                    old["lastTransitionTime"] = now
                old.update(status=wanted["status"], reason=wanted["reason"], message=wanted["message"])
                changed = True
        return changed


class NamespaceController(ClusterController):
    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__("namespace", workers=workers(ctx, "namespace", 2), clock=ctx.clock)
        self.ctx = ctx
        self.client: Client = ctx.client
        s = settings(ctx)
        self.grace = s.namespace_deletion_grace
        self.finalizer_estimate = s.namespace_finalizer_estimate
        self.resync = s.namespace_sync_period
        self.unsupported: set[tuple[str, GVR]] = set()  # (verb, resource) the server refused with 404/405
        informer = ctx.informers.informer(NAMESPACES)
        informer.add_event_handler(EventHandlerFuncs(add=self._maybe_enqueue, update=lambda o, n: self._maybe_enqueue(n)),
                                   resync_period=self.resync)
        self.watches(informer)

    def _maybe_enqueue(self, ns: Object) -> None:
        if being_deleted(ns):
            self.queue.add_after(self.key_of(ns), self.grace)

    async def sync(self, key: str) -> float | None:
        try:
            await self.delete(key)
        except ResourcesRemaining as exc:
            return exc.estimate / 2 + 1
        return None

    # -- one namespace -----------------------------------------------------------------------------

    async def delete(self, name: str) -> None:
        try:
            ns = await self.client.get(NAMESPACES, name)
        except NotFound:
            return
        if not being_deleted(ns):
            return
        if (ns.get("status") or {}).get("phase") != "Terminating":
            fresh = copy_object(ns)
            fresh.setdefault("status", {})["phase"] = "Terminating"
            try:
                ns = await self.client.update_status(NAMESPACES, fresh)
            except NotFound:
                return
        if FINALIZER_KUBERNETES not in ((ns.get("spec") or {}).get("finalizers") or []):
            return
        estimate = await self.delete_all_content(ns)
        if estimate > 0:
            raise ResourcesRemaining(estimate)
        await self.finalize(ns)

    async def finalize(self, ns: Object) -> None:
        """Remove our token from spec.finalizers through the finalize subresource (retrying conflicts)."""
        name = ns["metadata"]["name"]
        uid = ns["metadata"].get("uid")
        current = ns
        while True:
            body = copy_object(current)
            body.setdefault("spec", {})["finalizers"] = sorted(
                {f for f in (current.get("spec") or {}).get("finalizers") or [] if f != FINALIZER_KUBERNETES})
            try:
                await self.client.update(NAMESPACES, body, subresource="finalize")
                return
            except NotFound:
                return
            except Conflict:
                try:
                    current = await self.client.get(NAMESPACES, name)
                except NotFound:
                    return
                if current["metadata"].get("uid") != uid:
                    raise RuntimeError("namespace uid has changed across retries") from None

    async def delete_all_content(self, ns: Object) -> int:
        """Delete everything in the namespace; returns the seconds estimated until it is gone (0: empty)."""
        name = ns["metadata"]["name"]
        deleted_at = timestamp(ns["metadata"].get("deletionTimestamp")) or self.clock.time()
        conditions = Conditions()
        errors: list[str] = []
        try:
            resources = await discover(self.client)
        except ClientError as exc:
            errors.append(error_text(exc))
            conditions.discovery_failed(error_text(exc))
            try:
                resources = await discover(self.client, fresh=False)
            except ClientError:
                resources = []
        deletable = [r for r in resources if r.namespaced and "delete" in r.verbs]
        estimate = 0
        remaining: dict[GVR, int] = {}
        finalizers: dict[str, int] = {}
        for r in deletable:
            try:
                seconds, left, holding = await self._delete_resource(r, name, deleted_at)
            except ClientError as exc:
                errors.append(error_text(exc))
                conditions.content_errors.append(error_text(exc))
                continue
            estimate = max(estimate, seconds)
            if left:
                remaining[r.gvr] = left
                for f, n in holding.items():
                    finalizers[f] = finalizers.get(f, 0) + n
        conditions.content_totals(remaining, finalizers)
        status_ns = copy_object(ns)
        if conditions.apply(status_ns.setdefault("status", {}), now_text(self.clock)):
            try:
                await self.client.update_status(NAMESPACES, status_ns)
            except ClientError as exc:
                log.info("namespace %s: could not update conditions: %s", name, exc)
        if errors:
            raise RuntimeError("; ".join(errors))
        return estimate

    async def _delete_resource(self, r: APIResource, namespace: str, deleted_at: float) -> tuple[int, int, dict[str, int]]:
        """(estimate, objects left, finalizer -> count) for one resource (upstream
        deleteAllContentForGroupVersionResource)."""
        gvr = r.gvr
        estimate = await self._estimate_graceful_termination(gvr, namespace, deleted_at)
        if not await self._delete_collection(r, namespace):
            await self._delete_each_item(gvr, namespace)
        items = await self._list(gvr, namespace)
        if items is None:
            return estimate, 0, {}
        holding: dict[str, int] = {}
        for item in items:
            for f in (item.get("metadata") or {}).get("finalizers") or []:
                holding[f] = holding.get(f, 0) + 1
        if not items:
            return estimate, 0, {}
        if estimate:
            return estimate, len(items), holding
        if holding:
            return self.finalizer_estimate, len(items), holding
        raise _ContentError(f"unexpected items still remain in namespace: {namespace} for gvr: {_gvr_text(gvr)}")

    async def _estimate_graceful_termination(self, gvr: GVR, namespace: str, deleted_at: float) -> int:
        if gvr != PODS:
            return 0
        pods = (await self.client.list(PODS, namespace=namespace)).get("items") or []
        estimate = 0
        for pod in pods:
            if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
                continue
            grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
            if grace is not None and int(grace) > estimate:
                estimate = int(grace)
        if self.clock.time() - deleted_at >= estimate:
            return 0
        return estimate

    async def _delete_collection(self, r: APIResource, namespace: str) -> bool:
        """True when deletecollection was supported (errors other than 404/405 are raised)."""
        key = ("deletecollection", r.gvr)
        if key in self.unsupported or "deletecollection" not in r.verbs:
            return False
        try:
            await self.client.delete_collection(r.gvr, namespace=namespace, propagation_policy="Background")
        except (MethodNotAllowed, NotFound):
            self.unsupported.add(key)
            return False
        return True

    async def _list(self, gvr: GVR, namespace: str) -> list[Object] | None:
        key = ("list", gvr)
        if key in self.unsupported:
            return None
        try:
            return list((await self.client.list_all(gvr, namespace=namespace)).get("items") or [])
        except (MethodNotAllowed, NotFound):
            self.unsupported.add(key)
            return None

    async def _delete_each_item(self, gvr: GVR, namespace: str) -> None:
        items = await self._list(gvr, namespace)
        for item in items or []:
            try:
                await self.client.delete(gvr, item["metadata"]["name"], namespace=namespace,
                                         propagation_policy="Background")
            except NotFound:
                continue


class _ContentError(ClientError):
    pass


def _gvr_text(gvr: GVR) -> str:
    return f"{gvr.group}/{gvr.version}, Resource={gvr.resource}"


def new(ctx: ControllerContext) -> NamespaceController:
    return NamespaceController(ctx)
