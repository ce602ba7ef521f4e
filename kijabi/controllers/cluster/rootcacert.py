"""The root-ca-cert-publisher: a ConfigMap `kube-root-ca.crt` with the cluster CA (key `ca.crt`) in every
namespace, kept equal to the CA and recreated when deleted (upstream pkg/controller/certificates/
rootcacertpublisher).

The CA bundle is read once, from `--root-ca-file` (Options.root_ca_file). Keys are namespace names. Only
the one ConfigMap name is watched (a field-selected informer), so the controller does not cache every
ConfigMap of the cluster.
"""

from __future__ import annotations

import logging
from pathlib import Path

from kijabi.client.cache import DeletedFinalStateUnknown, copy_object
from kijabi.client.errors import NotFound
from kijabi.client.informers import EventHandlerFuncs
from kijabi.client.rest import CONFIGMAPS, NAMESPACES
from kijabi.controllers.cluster._base import (
    ClusterController,
    Object,
    namespace_of,
    namespace_terminating,
    settings,
    workers,
)
from kijabi.controllers.context import ControllerContext

log = logging.getLogger(__name__)

CONFIGMAP_NAME = "kube-root-ca.crt"
DESCRIPTION_ANNOTATION = "kubernetes.io/description"
DESCRIPTION = (
    "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as "
    "the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of "
    "Kubernetes clusters."
)


class RootCACertPublisher(ClusterController):
    def __init__(self, ctx: ControllerContext, root_ca: str) -> None:
        super().__init__("root-ca-cert-publisher", workers=workers(ctx, "root-ca-cert-publisher", 1), clock=ctx.clock)
        self.client = ctx.client
        self.root_ca = root_ca
        cm_informer = ctx.informers.informer(CONFIGMAPS, field_selector=f"metadata.name={CONFIGMAP_NAME}")
        ns_informer = ctx.informers.informer(NAMESPACES)
        self.cm_lister = cm_informer.lister()
        self.ns_lister = ns_informer.lister()
        cm_informer.add_event_handler(EventHandlerFuncs(update=lambda old, new: self._configmap_changed(new),
                                                        delete=self._configmap_changed))
        ns_informer.add_event_handler(EventHandlerFuncs(add=self.enqueue, update=self._namespace_updated))
        self.watches(cm_informer, ns_informer)

    def _configmap_changed(self, obj: Object | DeletedFinalStateUnknown) -> None:
        cm = obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj
        if cm.get("metadata", {}).get("name") == CONFIGMAP_NAME:
            self.queue.add(namespace_of(cm))

    def _namespace_updated(self, old: Object, new: Object) -> None:
        if (new.get("status") or {}).get("phase") == "Active":
            self.enqueue(new)

    async def sync(self, key: str) -> None:
        data = {"ca.crt": self.root_ca}
        cm = self.cm_lister.get(CONFIGMAP_NAME, key)
        if cm is None:
            ns = self.ns_lister.get(key)
            if ns is None or (ns.get("status") or {}).get("phase") == "Terminating":
                return
            body = {"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": CONFIGMAP_NAME, "namespace": key,
                                 "annotations": {DESCRIPTION_ANNOTATION: DESCRIPTION}},
                    "data": data}
            try:
                await self.client.create(CONFIGMAPS, body, namespace=key)
            except NotFound:
                return
            except Exception as exc:
                if namespace_terminating(exc):
                    return
                raise
            return
        annotations = (cm.get("metadata") or {}).get("annotations") or {}
        if cm.get("data") == data and annotations.get(DESCRIPTION_ANNOTATION):
            return
        fresh = copy_object(cm)
        fresh["data"] = data
        fresh["metadata"].setdefault("annotations", {})[DESCRIPTION_ANNOTATION] = DESCRIPTION
        await self.client.update(CONFIGMAPS, fresh)


def read_root_ca(path: str) -> str:
    """The CA bundle in `path`; empty when no file is configured (the controller then has nothing to do)."""
    if not path:
        return ""
    return Path(path).read_text()


def new(ctx: ControllerContext) -> RootCACertPublisher | _Idle:
    root_ca = read_root_ca(settings(ctx).root_ca_file)
    if not root_ca:
        log.warning("root-ca-cert-publisher: no --root-ca-file given; not publishing %s", CONFIGMAP_NAME)
        return _Idle()
    return RootCACertPublisher(ctx, root_ca)


class _Idle:
    """A controller that has nothing to do (as upstream does not start one without a root CA)."""

    async def run(self) -> None:
        return None
