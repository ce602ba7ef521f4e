"""The read side served from the watch cache's bytes: lists (JSON, Table, PartialObjectMetadata) and
watches must say exactly what the stored objects say, whatever shortcuts the cache takes (objects kept as
their JSON, managedFields documents shared between objects, Table rows and metadata cut from the bytes).

The first tests drive a real server; the last ones check the cache's object layout in-process.
"""

from __future__ import annotations

import json
import ssl
import urllib.request
from typing import Any

import orjson
import pytest

from kijabi.apiserver.watchcache import CachedObject, WatchCache, layout_of, with_resource_version
from tests.e2e.cluster import Cluster

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
PARTIAL_LIST = "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,application/json"


def _pod(name: str, i: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "web", "index": str(i)}, "annotations": {"note": 'a "quoted" , value'}},
        "spec": {"containers": [{"name": "app", "image": "registry.local/app:1", "env": [{"name": "A", "value": str(i)}],
                                 "ports": [{"containerPort": 8080}]},
                                {"name": "sidecar", "image": "registry.local/side:1"}]},
    }


def _get(cluster: Cluster, path: str, accept: str = "application/json") -> Any:
    status, _, body = cluster.request("GET", path, headers={"Accept": accept})
    assert status == 200, body[:300]
    return orjson.loads(body)


@pytest.fixture
def pods(cluster: Cluster, namespace: str) -> list[dict[str, Any]]:
    """Three pods written by one manager (so their managedFields documents are shared in the cache), one
    of them patched by a second manager; returned as GET serves them, in name order."""
    base = f"/api/v1/namespaces/{namespace}/pods"
    for i in range(3):
        status, _, body = cluster.request("POST", base, orjson.dumps(_pod(f"p-{i}", i)))
        assert status == 201, body[:300]
    status, _, body = cluster.request("PATCH", f"{base}/p-1?fieldManager=labeler",
                                      orjson.dumps({"metadata": {"labels": {"patched": "yes"}}}),
                                      ctype="application/merge-patch+json")
    assert status == 200, body[:300]
    return [_get(cluster, f"{base}/p-{i}") for i in range(3)]


def test_json_list_items_are_the_stored_objects(cluster: Cluster, namespace: str, pods: list[dict[str, Any]]) -> None:
    """A JSON list returns every object exactly as GET does, managedFields and resourceVersion included."""
    doc = _get(cluster, f"/api/v1/namespaces/{namespace}/pods")
    assert doc["items"] == pods
    assert all(p["metadata"]["managedFields"] for p in doc["items"])


@pytest.mark.parametrize("include", ["", "Metadata", "Object", "None"], ids=["default", "metadata", "object", "none"])
def test_table_rows_embed_the_objects(cluster: Cluster, namespace: str, pods: list[dict[str, Any]], include: str) -> None:
    """Table rows carry the printer's cells and, per includeObject, the whole metadata, the object or null."""
    query = f"?includeObject={include}" if include else ""
    table = _get(cluster, f"/api/v1/namespaces/{namespace}/pods{query}", TABLE)
    assert table["kind"] == "Table" and [c["name"] for c in table["columnDefinitions"]][:3] == ["Name", "Ready", "Status"]
    assert [r["cells"][:3] for r in table["rows"]] == [[f"p-{i}", "0/2", "Pending"] for i in range(3)]
    for row, pod in zip(table["rows"], pods, strict=True):
        if include == "Object":
            assert row["object"] == pod
        elif include == "None":
            assert row["object"] is None
        else:
            assert row["object"] == {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": pod["metadata"]}


def test_table_rejects_a_bad_include_object(cluster: Cluster, namespace: str) -> None:
    """An includeObject value other than Metadata/Object/None is a 400, as before."""
    status, _, body = cluster.request("GET", f"/api/v1/namespaces/{namespace}/pods?includeObject=Everything",
                                      headers={"Accept": TABLE})
    assert status == 400, body[:300]


def test_partial_metadata_list(cluster: Cluster, namespace: str, pods: list[dict[str, Any]]) -> None:
    """A PartialObjectMetadataList carries each object's whole metadata."""
    doc = _get(cluster, f"/api/v1/namespaces/{namespace}/pods", PARTIAL_LIST)
    assert doc["kind"] == "PartialObjectMetadataList"
    assert [i["metadata"] for i in doc["items"]] == [p["metadata"] for p in pods]
    assert all(i == {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": i["metadata"]}
               for i in doc["items"])


def _watch_lines(cluster: Cluster, path: str, count: int, accept: str = "application/json") -> list[dict[str, Any]]:
    ctx: ssl.SSLContext = cluster.ssl_context()
    req = urllib.request.Request(cluster.url + path, headers={"Accept": accept})
    out = []
    with urllib.request.urlopen(req, context=ctx, timeout=30) as resp:
        for line in resp:
            out.append(json.loads(line))
            if len(out) == count:
                break
    return out


@pytest.mark.parametrize("selector, names", [
    ("", ["p-0", "p-1", "p-2"]),
    ("&labelSelector=patched%3Dyes", ["p-1"]),
    ("&fieldSelector=metadata.name%3Dp-2", ["p-2"]),
], ids=["everything", "label-selector", "field-selector"])
def test_watch_sends_the_stored_objects(cluster: Cluster, namespace: str, pods: list[dict[str, Any]], selector: str,
                                        names: list[str]) -> None:
    """A watch from resourceVersion 0 starts with one ADDED event per selected object, each exactly as GET
    serves it."""
    events = _watch_lines(cluster, f"/api/v1/namespaces/{namespace}/pods?watch=1&resourceVersion=0{selector}", len(names))
    assert [e["type"] for e in events] == ["ADDED"] * len(names)
    assert sorted((e["object"] for e in events), key=lambda o: o["metadata"]["name"]) == \
        [p for p in pods if p["metadata"]["name"] in names]


def test_watch_as_table_and_partial_metadata(cluster: Cluster, namespace: str, pods: list[dict[str, Any]]) -> None:
    """Watch events as Tables (columns in the first event only) and as PartialObjectMetadata carry the
    stored metadata."""
    path = f"/api/v1/namespaces/{namespace}/pods?watch=1&resourceVersion=0"
    tables = _watch_lines(cluster, path, 3, TABLE)
    assert [t["object"]["kind"] for t in tables] == ["Table"] * 3
    assert tables[0]["object"]["columnDefinitions"] and tables[1]["object"]["columnDefinitions"] is None
    rows = sorted((t["object"]["rows"][0] for t in tables), key=lambda r: r["cells"][0])
    assert [r["cells"][0] for r in rows] == ["p-0", "p-1", "p-2"]
    assert [r["object"]["metadata"] for r in rows] == [p["metadata"] for p in pods]
    partials = _watch_lines(cluster, path, 3, "application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io")
    assert sorted((e["object"]["metadata"]["name"], e["object"]["kind"]) for e in partials) == \
        [(f"p-{i}", "PartialObjectMetadata") for i in range(3)]
    assert sorted((e["object"]["metadata"] for e in partials), key=lambda m: m["name"]) == [p["metadata"] for p in pods]


# --- the cache's object layout, in-process -------------------------------------------------------------


def _stored(name: str, manager: str = "kubectl") -> bytes:
    fields = {"f:metadata": {"f:labels": {f"f:l{i}": {} for i in range(40)}}, "f:spec": {"f:containers": {}}}
    return orjson.dumps({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "ns", "labels": {"a": "b"},
                     "managedFields": [{"manager": manager, "operation": "Update", "apiVersion": "v1",
                                        "time": "2026-01-01T00:00:00Z", "fieldsType": "FieldsV1", "fieldsV1": fields}]},
        "spec": {"containers": [{"name": "c", "image": "i"}]},
    })


def _cache() -> WatchCache:
    return WatchCache(None)  # type: ignore[arg-type]  # never started: objects are applied directly


def test_cached_object_bytes_slim_and_metadata() -> None:
    """A cached object serves the stored bytes with its resourceVersion, its metadata as JSON, and a slim
    decode without managedFields; objects written alike share one managedFields document."""
    cache = _cache()
    values = {f"p-{i}": _stored(f"p-{i}") for i in range(2)}
    for i, (name, value) in enumerate(values.items()):
        cache._apply_put(f"/registry/pods/ns/{name}", value, 10 + i)
    a, b = (cache.get(f"/registry/pods/ns/p-{i}") for i in range(2))
    assert a is not None and b is not None
    assert a.data == with_resource_version(values["p-0"], 10)
    full = a.obj()
    assert full["metadata"]["resourceVersion"] == "10"
    assert orjson.loads(a.metadata_json()) == full["metadata"]
    slim = a.slim()
    assert "managedFields" not in slim["metadata"] and slim["spec"] == full["spec"]
    assert len(a.parts) == 3 and a.parts[1] is b.parts[1]
    assert a.frame("ADDED") == b'{"type":"ADDED","object":' + a.data + b"}\n"


def test_objects_with_one_large_spec_share_it() -> None:
    """Pods of one template (a large spec written alike) hold one copy of the spec's bytes; a pod whose
    spec differs holds its own; the bytes served are unchanged."""
    cache = _cache()
    containers = [{"name": f"c{i}", "image": f"registry.local/app:{i}", "args": ["--flag"] * 8} for i in range(4)]

    def stored(name: str, image: str) -> bytes:
        return orjson.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "ns"},
                             "spec": {"containers": [*containers, {"name": "x", "image": image}]},
                             "status": {"phase": "Pending"}})

    values = [stored("p-0", "a"), stored("p-1", "a"), stored("p-2", "b")]
    for i, value in enumerate(values):
        cache._apply_put(f"/registry/pods/ns/p-{i}", value, 10 + i)
    pods = [cache.get(f"/registry/pods/ns/p-{i}") for i in range(3)]
    assert all(co is not None for co in pods)
    a, b, c = (co for co in pods if co is not None)
    spec_of = {id(piece): piece for co in (a, b, c) for piece in co.parts if piece.startswith(b'{"containers"')}
    assert len(spec_of) == 2  # p-0 and p-1 share one piece, p-2 has its own
    assert [co.data for co in (a, b, c)] == [with_resource_version(v, 10 + i) for i, v in enumerate(values)]
    assert c.obj()["spec"]["containers"][-1]["image"] == "b"


def test_unshared_documents_are_dropped() -> None:
    """Documents no cached object uses any more leave the shared table once it grows."""
    cache = _cache()
    for i in range(3000):
        cache._apply_put("/registry/pods/ns/p", _stored("p", manager=f"m-{i}").replace(b"f:l0", f"f:x{i}".encode()), 10 + i)
    assert len(cache._shared) < 2100


@pytest.mark.parametrize("data, meta", [
    (b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"},"data":{}}', {"name": "x"}),
    (b'{"kind":"ConfigMap","metadata":{"name":"x","managedFields":[{"manager":"m"}]}}',
     {"name": "x", "managedFields": [{"manager": "m"}]}),
], ids=["without-managed-fields", "with-managed-fields"])
def test_layout_locates_metadata(data: bytes, meta: dict[str, Any]) -> None:
    """The layout's offsets cut exactly the metadata (and the managedFields member) out of the bytes."""
    co = CachedObject("/registry/configmaps/ns/x", 1, data, "x", "ns", {}, {}, layout_of(data, meta))
    assert orjson.loads(co.metadata_json()) == meta
    expected = orjson.loads(data)
    expected["metadata"].pop("managedFields", None)
    assert co.slim() == expected


def test_layout_unknown_for_other_shapes() -> None:
    """Bytes whose metadata is not where the store writes it get no layout; the slow paths still work."""
    data = b'{"spec":{"metadata":{"name":"y"}},"metadata":{"name":"x"}}'
    assert layout_of(data, {"name": "x"}) == 0
    co = CachedObject("/registry/configmaps/ns/x", 1, data, "x", "ns", {}, {})
    assert orjson.loads(co.metadata_json()) == {"name": "x"}
    assert co.slim() == orjson.loads(data)


def test_table_of_many_objects_streams_every_row(cluster: Cluster, namespace: str) -> None:
    """A Table longer than one batch of rows still has every row once, in name order, like the JSON list."""
    from concurrent.futures import ThreadPoolExecutor

    from kijabi.apiserver.handlers import TABLE_BATCH

    count = TABLE_BATCH + 20
    base = f"/api/v1/namespaces/{namespace}/configmaps"

    def create(i: int) -> int:
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"cm-{i:04d}"}, "data": {"k": str(i)}}
        return cluster.request("POST", base, orjson.dumps(body))[0]

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(create, range(count))) == {201}
    table = _get(cluster, base, TABLE)
    listed = _get(cluster, base)
    assert [r["cells"][:2] for r in table["rows"]] == [[f"cm-{i:04d}", 1] for i in range(count)]
    assert [r["object"]["metadata"] for r in table["rows"]] == [i["metadata"] for i in listed["items"]]
