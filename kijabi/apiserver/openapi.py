"""OpenAPI v3 documents generated from the resource registry and the upstream type definitions.

`/openapi/v3` lists one document per group/version; each holds the paths of that group/version's
resources (with `x-kubernetes-group-version-kind` and the `fieldValidation` parameter kubectl looks
for on PATCH) and the component schemas they reference. Documents are built on first request and
rebuilt when the registry changes (CRDs).
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from aiohttp import web

from kijabi.apiserver.resources import Registry, Resource
from kijabi.machinery import errors, schema

_REF = "#/$defs/"
_META = "io.k8s.apimachinery.pkg.apis.meta.v1."
_EXTRA_DEFS = (_META + "Status", _META + "DeleteOptions", _META + "Patch", _META + "APIResourceList")


def _convert(node: Any) -> Any:
    """kubernetes-validate's JSON Schema back to OpenAPI v3 form."""
    if isinstance(node, list):
        return [_convert(x) for x in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for k, v in node.items():
        if k == "$ref" and isinstance(v, str):
            out["$ref"] = "#/components/schemas/" + v[len(_REF):] if v.startswith(_REF) else v
        elif k == "type" and isinstance(v, list):
            kinds = [t for t in v if t != "null"]
            if kinds:
                out["type"] = kinds[0]
        elif k == "enum" and isinstance(v, list) and len(v) == 1:
            continue  # apiVersion/kind pins added by the schema packager, not upstream's
        else:
            out[k] = _convert(v)
    if "oneOf" in out and out["oneOf"] == [{"type": "string"}, {"type": "integer"}]:
        out.pop("oneOf")
        out["x-kubernetes-int-or-string"] = True
    return out


def _refs(node: Any, acc: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_REF):
            acc.add(ref[len(_REF):])
        for v in node.values():
            _refs(v, acc)
    elif isinstance(node, list):
        for v in node:
            _refs(v, acc)


def _closure(defs: Any, roots: list[str]) -> list[str]:
    seen: set[str] = set()
    todo = [r for r in roots if r in defs]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        found: set[str] = set()
        _refs(defs[name], found)
        todo.extend(f for f in found if f not in seen and f in defs)
    return sorted(seen)


def _param(name: str, where: str = "query", schema_type: str = "string") -> dict[str, Any]:
    return {"name": name, "in": where, "schema": {"type": schema_type, "uniqueItems": True}}


def _gvk(r: Resource) -> dict[str, str]:
    return {"group": r.group, "version": r.version, "kind": r.kind}


def _op(r: Resource, action: str, ref: str, params: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "tags": [r.api_version],
        "operationId": f"{action}{r.kind}",
        "parameters": params,
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": ref}}}}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": _gvk(r),
    }


class OpenAPI:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._generation = -1
        self._docs: dict[str, bytes] = {}
        self._hashes: dict[str, str] = {}

    def _refresh(self) -> None:
        if self._generation == self.registry.generation:
            return
        self._docs, self._hashes = {}, {}
        self._generation = self.registry.generation

    def _gv_paths(self) -> dict[str, list[Resource]]:
        out: dict[str, list[Resource]] = {}
        for r in self.registry.all():
            key = f"apis/{r.group}/{r.version}" if r.group else "api/v1"
            out.setdefault(key, []).append(r)
        return out

    def _document(self, key: str, resources: list[Resource]) -> bytes:
        defs = schema.builtin().names
        components: dict[str, Any] = {}
        roots: list[str] = list(_EXTRA_DEFS)
        paths: dict[str, Any] = {}
        for r in sorted(resources, key=lambda x: x.plural):
            if r.crd:
                assert r.schema is not None
                name = _crd_def_name(r)
                components[name] = _crd_schema(r)
                ref = "#/components/schemas/" + name
                components[name + "List"] = {"type": "object", "x-kubernetes-group-version-kind": [{**_gvk(r), "kind": r.list_kind}],
                                             "properties": {"items": {"type": "array", "items": {"$ref": ref}}}}
                roots.append(_META + "ObjectMeta")
                roots.append(_META + "ListMeta")
            else:
                defname = schema.builtin().by_gvk.get((r.group, r.version, r.kind))
                if defname is None:
                    continue
                roots.append(defname)
                list_def = schema.builtin().by_gvk.get((r.group, r.version, r.list_kind))
                if list_def:
                    roots.append(list_def)
                ref = "#/components/schemas/" + defname
            base = f"/{key}/namespaces/{{namespace}}/{r.plural}" if r.namespaced else f"/{key}/{r.plural}"
            ns_param = [_param("namespace", "path")] if r.namespaced else []
            write_params = [_param("dryRun"), _param("fieldManager"), _param("fieldValidation")]
            collection: dict[str, Any] = {"parameters": ns_param}
            if "list" in r.verbs:
                collection["get"] = _op(r, "list", ref, [_param("labelSelector"), _param("fieldSelector"), _param("limit", schema_type="integer")])
            if "create" in r.verbs:
                collection["post"] = _op(r, "post", ref, write_params)
            if "deletecollection" in r.verbs:
                collection["delete"] = _op(r, "deletecollection", ref, [])
            paths[base] = collection
            if "get" in r.verbs:
                item: dict[str, Any] = {"parameters": [*ns_param, _param("name", "path")], "get": _op(r, "get", ref, [])}
                if "update" in r.verbs:
                    item["put"] = _op(r, "put", ref, write_params)
                if "patch" in r.verbs:
                    item["patch"] = _op(r, "patch", ref, [*write_params, _param("force", schema_type="boolean")])
                if "delete" in r.verbs:
                    item["delete"] = _op(r, "delete", ref, [])
                paths[base + "/{name}"] = item
                for sub in sorted(r.subresources):
                    if sub in ("status", "scale"):
                        sref = ref if sub == "status" else "#/components/schemas/io.k8s.api.autoscaling.v1.Scale"
                        if sub == "scale":
                            roots.append("io.k8s.api.autoscaling.v1.Scale")
                        paths[base + "/{name}/" + sub] = {
                            "parameters": [*ns_param, _param("name", "path")],
                            "get": _op(r, "get", sref, []), "put": _op(r, "put", sref, write_params),
                            "patch": _op(r, "patch", sref, [*write_params, _param("force", schema_type="boolean")]),
                        }
        for name in _closure(defs, roots):
            components[name] = _convert(defs[name])
        doc = {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.32.4"}, "paths": paths,
               "components": {"schemas": components}}
        return orjson.dumps(doc)

    def serve(self, request: web.Request) -> web.Response:
        self._refresh()
        path = request.path
        if path == "/openapi/v3" or path == "/openapi/v3/":
            index = {}
            for key, resources in sorted(self._gv_paths().items()):
                index[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={self._hash(key, resources)}"}
            return web.Response(body=orjson.dumps({"paths": index}), content_type="application/json")
        if path.startswith("/openapi/v3/"):
            key = path[len("/openapi/v3/"):]
            found = self._gv_paths().get(key)
            if found is None:
                raise errors.StatusError(404, "NotFound", "the server could not find the requested resource")
            self._hash(key, found)
            headers = {"Cache-Control": "public, immutable" if request.query.get("hash") else "no-cache, private",
                       "Etag": f'"{self._hashes[key]}"'}
            return web.Response(body=self._docs[key], content_type="application/json", headers=headers)
        raise errors.StatusError(404, "NotFound", "the server could not find the requested resource")

    def _hash(self, key: str, resources: list[Resource]) -> str:
        if key not in self._docs:
            self._docs[key] = self._document(key, resources)
            self._hashes[key] = hashlib.sha512(self._docs[key]).hexdigest()[:64].upper()
        return self._hashes[key]


def _crd_def_name(r: Resource) -> str:
    rev = ".".join(reversed(r.group.split(".")))
    return f"{rev}.{r.version}.{r.kind}"


def _crd_schema(r: Resource) -> dict[str, Any]:
    assert r.schema is not None
    raw = dict(r.schema.raw)
    props = dict(raw.get("properties") or {})
    props["metadata"] = {"$ref": "#/components/schemas/" + _META + "ObjectMeta"}
    props.setdefault("apiVersion", {"type": "string"})
    props.setdefault("kind", {"type": "string"})
    raw["properties"] = props
    raw["x-kubernetes-group-version-kind"] = [_gvk(r)]
    return raw
