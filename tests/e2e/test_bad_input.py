"""Bad input gets a Status with the right code, never a 500, and changes nothing stored."""

from __future__ import annotations

import json

import pytest

from tests.e2e.cluster import Cluster


def _request(cluster: Cluster, method: str, path: str, body: bytes | None = None, ctype: str = "application/json",
             auth: bool = True) -> tuple[int, dict]:
    status, _, raw = cluster.request(method, path, body, ctype=ctype, auth=auth)
    return status, json.loads(raw or b"{}")


CASES = [
    ("malformed-json", "POST", b'{"apiVersion": "v1", "kind": ', "application/json", 400),
    ("malformed-yaml", "POST", b"apiVersion: v1\nkind: [", "application/yaml", 400),
    ("not-an-object", "POST", b"[1,2,3]", "application/json", 400),
    ("wrong-kind", "POST", b'{"apiVersion":"v1","kind":"Secret","metadata":{"name":"x"}}', "application/json", 400),
    ("wrong-type", "POST", b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"},"data":[1]}', "application/json", 400),
    ("invalid-name", "POST", b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"Not_Valid"}}', "application/json", 422),
    ("invalid-label", "POST", b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x","labels":{"a b":"c"}}}', "application/json", 422),
    ("unsupported-media", "POST", b"<xml/>", "application/xml", 415),
    ("too-large", "POST", b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"big"},"data":{"a":"' + b"x" * (4 * 1024 * 1024) + b'"}}', "application/json", 413),
    ("deep-nesting", "POST", b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"d","annotations":' + b'{"a":' * 200 + b"1" + b"}" * 200 + b"}}", "application/json", 400),
    ("yaml-alias-bomb", "POST", b"a: &a [x,x]\nb: &b [*a,*a]\nc: [*b,*b]\n", "application/yaml", 400),
]


@pytest.mark.parametrize("method,body,ctype,code", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_bodies(cluster: Cluster, namespace: str, method: str, body: bytes, ctype: str, code: int) -> None:
    status, reply = _request(cluster, method, f"/api/v1/namespaces/{namespace}/configmaps", body, ctype)
    assert status == code, reply
    assert reply["kind"] == "Status" and reply["code"] == code
    assert cluster.kubectl("get", "cm", "-n", namespace, "-o", "name").stdout.strip() == ""


def test_unknown_paths_and_verbs(cluster: Cluster) -> None:
    assert _request(cluster, "GET", "/api/v1/nonsense")[0] == 404
    assert _request(cluster, "GET", "/apis/nope.example.com/v1/things")[0] == 404
    assert _request(cluster, "PUT", "/api/v1/namespaces/default/configmaps", b"{}")[0] == 405
    assert _request(cluster, "GET", "/api/v1/namespaces/default/configmaps?limit=abc")[0] == 400
    assert _request(cluster, "GET", "/api/v1/namespaces/default/configmaps?labelSelector=a%20b")[0] == 400


def test_anonymous_gets_401_except_health(cluster: Cluster) -> None:
    assert _request(cluster, "GET", "/api/v1/namespaces", auth=False)[0] == 401
    import ssl as _ssl
    import urllib.request as _u

    ctx = _ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = _ssl.CERT_NONE
    for path in ("/healthz", "/livez", "/readyz", "/version"):
        with _u.urlopen(cluster.url + path, context=ctx) as resp:
            assert resp.status == 200


def test_update_with_bad_body_keeps_stored_object(cluster: Cluster, namespace: str) -> None:
    cluster.kubectl("create", "configmap", "keep", "--from-literal=a=b", "-n", namespace)
    status, _ = _request(cluster, "PUT", f"/api/v1/namespaces/{namespace}/configmaps/keep", b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"keep"},"data":{"a":1}}')
    assert status == 400
    status, _ = _request(cluster, "PATCH", f"/api/v1/namespaces/{namespace}/configmaps/keep", b'[{"op":"test","path":"/data/a","value":"zzz"}]', "application/json-patch+json")
    assert status in (409, 422)
    assert cluster.kubectl_json("get", "cm", "keep", "-n", namespace)["data"] == {"a": "b"}
