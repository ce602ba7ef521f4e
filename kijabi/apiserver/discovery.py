"""Discovery documents, aggregated (apidiscovery.k8s.io/v2) and plain, built from the registry.

Documents are rebuilt only when the registry's generation changes (a CRD came or went).
"""

from __future__ import annotations

from typing import Any

import orjson

from kijabi.apiserver.resources import Registry, Resource

AGGREGATED_CT = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
AGGREGATED_BETA_CT = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"

_SUB_VERBS = {
    "status": ["get", "patch", "update"],
    "scale": ["get", "patch", "update"],
    "approval": ["get", "patch", "update"],
    "ephemeralcontainers": ["get", "patch", "update"],
    "log": ["get"],
    "exec": ["create", "get"],
    "attach": ["create", "get"],
    "portforward": ["create", "get"],
    "proxy": ["create", "delete", "get", "patch", "update"],
    "binding": ["create"],
    "eviction": ["create"],
    "token": ["create"],
    "finalize": ["update"],
}


def _response_kind(r: Resource, spec: str) -> dict[str, str]:
    if not spec:
        return {"group": r.group, "version": r.version, "kind": r.kind}
    parts = spec.split("/")
    kind = parts[-1]
    gv = parts[:-1]
    group, version = (gv[0], gv[1]) if len(gv) == 2 else ("", gv[0])
    return {"group": group, "version": version, "kind": kind}


def _sorted(resources: list[Resource]) -> list[Resource]:
    return sorted(resources, key=lambda r: r.plural)


class Discovery:
    def __init__(self, registry: Registry, server_address: str) -> None:
        self.registry = registry
        self.server_address = server_address
        self._generation = -1
        self._docs: dict[str, bytes] = {}

    def _refresh(self) -> None:
        if self._generation == self.registry.generation:
            return
        by_gv: dict[tuple[str, str], list[Resource]] = {}
        for r in self.registry.all():
            by_gv.setdefault((r.group, r.version), []).append(r)
        docs: dict[str, bytes] = {}
        groups = self.registry.groups()
        agg_core: list[dict[str, Any]] = []
        agg_groups: list[dict[str, Any]] = []
        plain_groups: list[dict[str, Any]] = []
        for group in groups:
            versions = self.registry.versions(group)
            agg_versions = [
                {"version": v, "resources": [self._agg_resource(r) for r in _sorted(by_gv[(group, v)])], "freshness": "Current"}
                for v in versions
            ]
            entry = {"metadata": {"name": group, "creationTimestamp": None}, "versions": agg_versions}
            for v in versions:
                gv = f"{group}/{v}" if group else v
                docs[f"/apis/{gv}" if group else "/api/v1"] = orjson.dumps(self._resource_list(gv, by_gv[(group, v)]))
            if group == "":
                entry["metadata"] = {"creationTimestamp": None}
                agg_core.append(entry)
                continue
            agg_groups.append(entry)
            group_doc = {
                "name": group,
                "versions": [{"groupVersion": f"{group}/{v}", "version": v} for v in versions],
                "preferredVersion": {"groupVersion": f"{group}/{versions[0]}", "version": versions[0]},
            }
            plain_groups.append(group_doc)
            docs[f"/apis/{group}"] = orjson.dumps({"kind": "APIGroup", "apiVersion": "v1", **group_doc})
        docs["agg:/api"] = orjson.dumps({"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": agg_core})
        docs["agg:/apis"] = orjson.dumps({"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": agg_groups})
        docs["/api"] = orjson.dumps({
            "kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": self.server_address}],
        })
        docs["/apis"] = orjson.dumps({"kind": "APIGroupList", "apiVersion": "v1", "groups": plain_groups})
        self._docs = docs
        self._generation = self.registry.generation

    def _agg_resource(self, r: Resource) -> dict[str, Any]:
        out: dict[str, Any] = {
            "resource": r.plural,
            "responseKind": _response_kind(r, ""),
            "scope": "Namespaced" if r.namespaced else "Cluster",
            "singularResource": r.singular,
            "verbs": list(r.verbs),
        }
        if r.short_names:
            out["shortNames"] = list(r.short_names)
        if r.categories:
            out["categories"] = list(r.categories)
        if r.subresources:
            out["subresources"] = [
                {"subresource": name, "responseKind": _response_kind(r, kind), "verbs": _SUB_VERBS.get(name, ["get"])}
                for name, kind in sorted(r.subresources.items())
            ]
        return out

    def _resource_list(self, gv: str, resources: list[Resource]) -> dict[str, Any]:
        items: list[dict[str, Any]] = []
        for r in _sorted(resources):
            item: dict[str, Any] = {"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced,
                                    "kind": r.kind, "verbs": list(r.verbs)}
            if r.short_names:
                item["shortNames"] = list(r.short_names)
            if r.categories:
                item["categories"] = list(r.categories)
            items.append(item)
            for name, kind in sorted(r.subresources.items()):
                rk = _response_kind(r, kind)
                sub: dict[str, Any] = {"name": f"{r.plural}/{name}", "singularName": "", "namespaced": r.namespaced,
                                       "kind": rk["kind"], "verbs": _SUB_VERBS.get(name, ["get"])}
                if kind:
                    if rk["group"]:
                        sub["group"] = rk["group"]
                    sub["version"] = rk["version"]
                items.append(sub)
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": items}

    def document(self, path: str, aggregated: bool) -> bytes | None:
        self._refresh()
        if aggregated and path in ("/api", "/apis"):
            return self._docs.get("agg:" + path)
        return self._docs.get(path)


def wants_aggregated(accept: str) -> bool:
    for part in accept.split(","):
        p = part.replace(" ", "")
        if "as=APIGroupDiscoveryList" in p and ("v=v2;" in p + ";" or "v=v2beta1" in p):
            return True
        if p.split(";")[0] in ("application/json", "*/*", "application/*"):
            return False
    return False


def aggregated_content_type(accept: str) -> str:
    for part in accept.split(","):
        p = part.replace(" ", "")
        if "as=APIGroupDiscoveryList" in p:
            return AGGREGATED_BETA_CT if "v=v2beta1" in p else AGGREGATED_CT
    return AGGREGATED_CT
