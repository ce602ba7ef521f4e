"""The API server's side: which requests reach the kubelet, the Status errors of those that do not, kubelet
errors mapped as upstream maps them, and the nodes/pods/services proxy subresources."""

from __future__ import annotations

import json
from typing import Any

import pytest
import websocket

from kijabi.machinery.streams import channels
from tests.e2e.cluster import Cluster
from tests.streaming.conftest import Pods
from tests.streaming.harness import StreamingNode


def raw(cluster: Cluster, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    status, hdrs, out = cluster.request(method, path, data, headers=headers)
    if hdrs.get("Content-Type", "").startswith("application/json"):
        return status, json.loads(out)
    return status, out


def create_pod(cluster: Cluster, namespace: str, name: str, *, node: str = "", containers: tuple[str, ...] = ("c",)) -> None:
    spec: dict[str, Any] = {"containers": [{"name": c, "image": "busybox"} for c in containers]}
    if node:
        spec["nodeName"] = node
    status, body = raw(cluster, "POST", f"/api/v1/namespaces/{namespace}/pods",
                       {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec})
    assert status == 201, body


@pytest.mark.parametrize("query,code,reason,message", [
    pytest.param("", 400, "BadRequest", "a container name must be specified for pod logger, choose one of: [out tick shell]",
                 id="container-required"),
    pytest.param("?container=nope", 400, "BadRequest", "container nope is not valid for pod logger", id="unknown-container"),
    pytest.param("?container=out&tailLines=-1", 422, "Invalid",
                 'PodLogOptions "logger" is invalid: tailLines: Invalid value: -1: must be greater than or equal to 0',
                 id="negative-tail"),
    pytest.param("?container=out&previous=true", 400, "BadRequest",
                 'previous terminated container "out" in pod "logger" not found', id="kubelet-400-passed-on"),
])
def test_pod_log_errors(cluster: Cluster, pods: Pods, query: str, code: int, reason: str, message: str) -> None:
    status, body = raw(cluster, "GET", f"/api/v1/namespaces/{pods.namespace}/pods/logger/log{query}")
    assert (status, body["reason"], body["message"]) == (code, reason, message)


def test_logs_of_a_pod_the_node_does_not_run_are_not_found(cluster: Cluster, snode: StreamingNode, namespace: str) -> None:
    """The kubelet's 404 becomes upstream's generic NotFound for pods/log."""
    create_pod(cluster, namespace, "ghost", node=snode.name)
    status, body = raw(cluster, "GET", f"/api/v1/namespaces/{namespace}/pods/ghost/log")
    assert (status, body["reason"], body["message"]) == (404, "NotFound",
                                                         "the server could not find the requested resource ( pods/log ghost)")
    assert body["details"] == {"name": "ghost", "kind": "pods/log"}


def test_exec_into_a_pod_the_node_does_not_run_reports_on_the_error_channel(cluster: Cluster, snode: StreamingNode,
                                                                              namespace: str) -> None:
    """Over WebSocket v5 the refused upgrade towards the kubelet arrives as a Status on channel 3."""
    create_pod(cluster, namespace, "phantom", node=snode.name)
    ws = websocket.create_connection(
        cluster.url.replace("https", "wss") + f"/api/v1/namespaces/{namespace}/pods/phantom/exec?command=true&stdout=true",
        subprotocols=[channels.V5], sslopt={"context": cluster.ssl_context()}, timeout=20)
    try:
        messages = []
        while True:
            try:
                message = ws.recv()
            except websocket.WebSocketConnectionClosedException:
                break
            if not message:
                break
            messages.append(message)
    finally:
        ws.close()
    assert messages[0] == b"\x01", "the empty message announcing the stream"
    status = json.loads(messages[-1][1:])
    assert messages[-1][0] == channels.ERROR
    assert (status["status"], status["reason"]) == ("Failure", "InternalError")
    assert status["message"] == "Internal error occurred: unable to upgrade connection: pod does not exist"


def test_unscheduled_pods(cluster: Cluster, namespace: str) -> None:
    """No node yet: logs are an empty stream, exec and port-forward a BadRequest."""
    create_pod(cluster, namespace, "pending")
    status, _, body = cluster.request("GET", f"/api/v1/namespaces/{namespace}/pods/pending/log")
    assert (status, body) == (200, b"")
    upgrade = {"Connection": "Upgrade", "Upgrade": "SPDY/3.1"}
    for sub in ("exec?command=true&stdout=true", "portforward"):
        status, body = raw(cluster, "POST", f"/api/v1/namespaces/{namespace}/pods/pending/{sub}", headers=upgrade)
        assert (status, body["message"]) == (400, "pod pending does not have a host assigned")


def test_streaming_subresources_require_an_upgrade(cluster: Cluster, pods: Pods) -> None:
    for sub in ("exec?command=true&stdout=true", "attach?stdout=true", "portforward"):
        status, body = raw(cluster, "POST", f"/api/v1/namespaces/{pods.namespace}/pods/web/{sub}")
        assert (status, body["reason"], body["message"]) == (400, "BadRequest", "Upgrade request required")


def test_pods_on_a_node_that_does_not_exist(cluster: Cluster, namespace: str) -> None:
    create_pod(cluster, namespace, "lost", node="no-such-node")
    status, body = raw(cluster, "GET", f"/api/v1/namespaces/{namespace}/pods/lost/log")
    assert (status, body["reason"], body["message"]) == (404, "NotFound", 'nodes "no-such-node" not found')


def test_an_unreachable_kubelet_is_an_internal_error(cluster: Cluster, namespace: str) -> None:
    node = "unreachable-node"
    assert raw(cluster, "POST", "/api/v1/nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": node}})[0] == 201
    status, body = raw(cluster, "PATCH", f"/api/v1/nodes/{node}/status", {"status": {
        "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}], "daemonEndpoints": {"kubeletEndpoint": {"Port": 1}}}},
        headers={"Content-Type": "application/merge-patch+json"})
    assert status == 200, body
    create_pod(cluster, namespace, "stranded", node=node)
    status, body = raw(cluster, "GET", f"/api/v1/namespaces/{namespace}/pods/stranded/log")
    assert (status, body["reason"]) == (500, "InternalError")
    assert body["message"].startswith("Internal error occurred: error dialing backend")


def test_node_proxy_reaches_the_kubelet(cluster: Cluster, snode: StreamingNode, pods: Pods) -> None:
    """kubectl get --raw through nodes/{name}/proxy: health, pods and the Summary API."""
    base = f"/api/v1/nodes/{snode.name}/proxy"
    assert cluster.kubectl("get", "--raw", f"{base}/healthz").stdout == "ok"
    summary = json.loads(cluster.kubectl("get", "--raw", f"{base}/stats/summary").stdout)
    assert {"logger", "web"} <= {p["podRef"]["name"] for p in summary["pods"]}
    listed = json.loads(cluster.kubectl("get", "--raw", f"{base}/pods").stdout)
    assert listed["kind"] == "PodList"
    status, body = raw(cluster, "GET", "/api/v1/nodes/ghost-node/proxy/healthz")
    assert (status, body["message"]) == (404, 'nodes "ghost-node" not found')


def test_pod_proxy_reaches_the_pod(cluster: Cluster, pods: Pods, namespace: str) -> None:
    page = cluster.kubectl("get", "--raw", f"/api/v1/namespaces/{pods.namespace}/pods/web:8080/proxy/").stdout
    assert page == "hello-from-pod\n"
    status, _, _ = cluster.request("GET", f"/api/v1/namespaces/{pods.namespace}/pods/web:8080/proxy/missing.html")
    assert status == 404, "the pod's own answer is passed on"


def test_service_proxy_reaches_an_endpoint(cluster: Cluster, pods: Pods) -> None:
    ns = pods.namespace
    status, body = raw(cluster, "POST", f"/api/v1/namespaces/{ns}/services", {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
        "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}], "selector": {"app": "web"}}})
    assert status == 201, body
    status, body = raw(cluster, "POST", f"/api/v1/namespaces/{ns}/endpoints", {
        "apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "web"},
        "subsets": [{"addresses": [{"ip": pods.web.ip}], "ports": [{"name": "http", "port": 8080}]}]})
    assert status == 201, body
    assert cluster.kubectl("get", "--raw", f"/api/v1/namespaces/{ns}/services/web:http/proxy/").stdout == "hello-from-pod\n"


@pytest.mark.parametrize("protocol", [channels.V4, channels.V4_BASE64, channels.V1])
def test_older_websocket_protocols_are_relayed_to_the_runtime(cluster: Cluster, pods: Pods, protocol: str) -> None:
    """Clients offering only pre-v5 subprotocols get the runtime's own WebSocket server, end to end."""
    ws = websocket.create_connection(
        cluster.url.replace("https", "wss")
        + f"/api/v1/namespaces/{pods.namespace}/pods/web/exec?command=sh&command=-c&command=echo+hi%3B+exit+2"
        "&stdout=true&stderr=true", subprotocols=[protocol], sslopt={"context": cluster.ssl_context()}, timeout=20)
    got: dict[int, bytes] = {}
    try:
        assert ws.subprotocol == protocol
        while True:
            try:
                message = ws.recv()
            except websocket.WebSocketConnectionClosedException:
                break
            if not message:
                break
            decoded = channels.decode(channels.PROTOCOLS[protocol], message)
            if decoded is not None:
                got[decoded[0]] = got.get(decoded[0], b"") + decoded[1]
    finally:
        ws.close()
    assert got[channels.STDOUT] == b"hi\n"
    if channels.PROTOCOLS[protocol].status_json:
        status = json.loads(got[channels.ERROR])
        assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "2"}]
    else:
        assert got[channels.ERROR].endswith(b"exit code 2")
