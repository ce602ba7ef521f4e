"""Discovery and the RESTMapper: which resource serves a kind, and what a resource is called.

The mapper reads the server's discovery once (aggregated discovery, apidiscovery.k8s.io/v2: one request
for /api and one for /apis; servers without it get the legacy walk of /api, /apis and every
group/version) and caches it. A lookup that misses re-reads discovery, at most once every
`min_refresh_interval` seconds, so a CRD created after start is found (client-go's deferred mapper).

Preferred versions come first: `resource_for_name("deployments")` answers apps/v1 when a group serves
several versions.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kijabi.client.errors import NoMatchError, NotFound
from kijabi.client.rest import GVR

if TYPE_CHECKING:
    from kijabi.client.rest import Client

AGGREGATED_ACCEPT = (
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"
)


@dataclass(frozen=True)
class APIResource:
    """One resource as discovery describes it."""

    group: str
    version: str
    resource: str
    kind: str
    namespaced: bool
    verbs: tuple[str, ...] = ()
    short_names: tuple[str, ...] = ()
    singular: str = ""
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()

    @property
    def gvr(self) -> GVR:
        return GVR(self.group, self.version, self.resource)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


def _aggregated(doc: dict[str, Any]) -> list[APIResource]:
    out: list[APIResource] = []
    for group in doc.get("items") or []:
        gname = (group.get("metadata") or {}).get("name", "") or ""
        for ver in group.get("versions") or []:
            version = ver.get("version", "")
            for r in ver.get("resources") or []:
                kind = (r.get("responseKind") or {}).get("kind", "")
                out.append(APIResource(
                    gname, version, r.get("resource", ""), kind, r.get("scope") == "Namespaced",
                    tuple(r.get("verbs") or ()), tuple(r.get("shortNames") or ()), r.get("singularResource", "") or "",
                    tuple(r.get("categories") or ()),
                    tuple(s.get("subresource", "") for s in r.get("subresources") or []),
                ))
    return out


def _legacy_list(group: str, version: str, doc: dict[str, Any]) -> list[APIResource]:
    subs: dict[str, list[str]] = {}
    mains = []
    for r in doc.get("resources") or []:
        name = r.get("name", "")
        if "/" in name:
            parent, sub = name.split("/", 1)
            subs.setdefault(parent, []).append(sub)
        else:
            mains.append(r)
    return [
        APIResource(group, version, r["name"], r.get("kind", ""), bool(r.get("namespaced")), tuple(r.get("verbs") or ()),
                    tuple(r.get("shortNames") or ()), r.get("singularName", "") or "", tuple(r.get("categories") or ()),
                    tuple(subs.get(r["name"], ())))
        for r in mains
    ]


class RESTMapper:
    """Kind <-> resource mapping of one server, from cached discovery."""

    def __init__(self, client: Client, *, min_refresh_interval: float = 5.0) -> None:
        self.client = client
        self.min_refresh_interval = min_refresh_interval
        self._resources: list[APIResource] | None = None
        self._refreshed_at: float | None = None
        self._lock = asyncio.Lock()

    def invalidate(self) -> None:
        """Forget the cached discovery; the next lookup reads it again."""
        self._resources = None
        self._refreshed_at = None

    async def refresh(self) -> list[APIResource]:
        async with self._lock:
            self._resources = await self._discover()
            self._refreshed_at = self.client.clock.now()
            return self._resources

    async def _discover(self) -> list[APIResource]:
        core = await self.client.request("GET", "/api", accept=AGGREGATED_ACCEPT)
        groups = await self.client.request("GET", "/apis", accept=AGGREGATED_ACCEPT)
        out: list[APIResource] = []
        for doc, legacy in ((core, self._legacy_core), (groups, self._legacy_groups)):
            if isinstance(doc, dict) and doc.get("kind") == "APIGroupDiscoveryList":
                out.extend(_aggregated(doc))
            elif isinstance(doc, dict):
                out.extend(await legacy(doc))
        return out

    async def _legacy_core(self, doc: dict[str, Any]) -> list[APIResource]:
        out: list[APIResource] = []
        for version in doc.get("versions") or []:
            out.extend(_legacy_list("", version, await self.client.request("GET", f"/api/{version}")))
        return out

    async def _legacy_groups(self, doc: dict[str, Any]) -> list[APIResource]:
        out: list[APIResource] = []
        for group in doc.get("groups") or []:
            name = group.get("name", "")
            preferred = (group.get("preferredVersion") or {}).get("version")
            versions = [v.get("version", "") for v in group.get("versions") or []]
            versions.sort(key=lambda v: v != preferred)
            for version in versions:
                try:
                    body = await self.client.request("GET", f"/apis/{name}/{version}")
                except NotFound:
                    continue
                out.extend(_legacy_list(name, version, body))
        return out

    async def resources(self) -> list[APIResource]:
        """Every resource the server serves, preferred versions first within each group."""
        if self._resources is None:
            return await self.refresh()
        return self._resources

    async def _find(self, match: Any, what: str) -> APIResource:
        for r in await self.resources():
            if match(r):
                return r
        now = self.client.clock.now()
        if self._refreshed_at is None or now - self._refreshed_at >= self.min_refresh_interval:
            for r in await self.refresh():
                if match(r):
                    return r
        raise NoMatchError(f"no matches for {what}")

    async def resource_for_kind(self, api_version: str, kind: str) -> APIResource:
        """The resource serving `kind` in `api_version` ("v1", "apps/v1")."""
        group, _, version = api_version.rpartition("/")
        return await self._find(lambda r: r.group == group and r.version == version and r.kind == kind,
                                f'kind "{kind}" in version "{api_version}"')

    async def kind_for(self, gvr: GVR) -> APIResource:
        """The discovery entry of a GVR (its kind, scope, verbs)."""
        return await self._find(lambda r: r.gvr == gvr, f'resource "{gvr}"')

    async def resource_for_name(self, name: str) -> APIResource:
        """What kubectl accepts: "deploy", "deployments", "deployment", "Deployment", "deployments.apps",
        "deployments.v1.apps"."""
        lowered = name.lower()
        parts = lowered.split(".", 2)

        def matches(r: APIResource) -> bool:
            names = {r.resource, r.singular, r.kind.lower(), *r.short_names}
            if lowered in names:
                return True
            if len(parts) >= 2:
                if parts[0] in names and f"{r.version}.{r.group}" == ".".join(parts[1:]):
                    return True
                if parts[0] in names and r.group == lowered.split(".", 1)[1]:
                    return True
            return False

        # A plain name prefers the core group, as kubectl does ("events" is v1, not events.k8s.io).
        resources = await self.resources()
        direct = [r for r in resources if matches(r)]
        if direct:
            return next((r for r in direct if r.group == ""), direct[0])
        return await self._find(matches, f'resource "{name}"')
