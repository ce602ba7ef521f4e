"""The serviceaccount controller: a `default` ServiceAccount in every active namespace, recreated when
someone deletes it (upstream pkg/controller/serviceaccount ServiceAccountsController).

Keys are namespace names. Namespaces that are terminating get nothing (their content is going away);
a create refused because the namespace started terminating meanwhile is not retried.
"""

from __future__ import annotations

from kijabi.client.cache import DeletedFinalStateUnknown
from kijabi.client.errors import AlreadyExists, NotFound
from kijabi.client.informers import EventHandlerFuncs
from kijabi.client.rest import NAMESPACES, SERVICEACCOUNTS
from kijabi.controllers.cluster._base import (
    ClusterController,
    Object,
    namespace_of,
    namespace_terminating,
    workers,
)
from kijabi.controllers.context import ControllerContext

DEFAULT_SERVICE_ACCOUNTS = ("default",)


class ServiceAccountsController(ClusterController):
    def __init__(self, ctx: ControllerContext, *, names: tuple[str, ...] = DEFAULT_SERVICE_ACCOUNTS) -> None:
        super().__init__("serviceaccount", workers=workers(ctx, "serviceaccount", 1), clock=ctx.clock)
        self.client = ctx.client
        self.names = names
        sa_informer = ctx.informers.informer(SERVICEACCOUNTS)
        ns_informer = ctx.informers.informer(NAMESPACES)
        self.sa_lister = sa_informer.lister()
        self.ns_lister = ns_informer.lister()
        sa_informer.add_event_handler(EventHandlerFuncs(delete=self._sa_deleted))
        ns_informer.add_event_handler(EventHandlerFuncs(add=self.enqueue, update=lambda old, new: self.enqueue(new)))
        self.watches(sa_informer, ns_informer)

    def _sa_deleted(self, obj: Object | DeletedFinalStateUnknown) -> None:
        sa = obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj
        if sa.get("metadata", {}).get("name") in self.names:
            self.queue.add(namespace_of(sa))

    async def sync(self, key: str) -> None:
        ns = self.ns_lister.get(key)
        if ns is None or (ns.get("status") or {}).get("phase") != "Active":
            return
        for name in self.names:
            if self.sa_lister.get(name, key) is not None:
                continue
            sa = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": key}}
            try:
                await self.client.create(SERVICEACCOUNTS, sa, namespace=key)
            except AlreadyExists:
                continue
            except NotFound:
                return
            except Exception as exc:
                if namespace_terminating(exc):
                    return
                raise


def new(ctx: ControllerContext) -> ServiceAccountsController:
    return ServiceAccountsController(ctx)
