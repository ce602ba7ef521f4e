"""The kubelet API (:10250) directly: authentication, upstream's error answers, stats, metrics, pods, and
exec relayed to containerd over a WebSocket (v4, which containerd speaks itself)."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
import websocket

from kijabi.machinery.streams import channels
from tests.e2e.cluster import Cluster
from tests.streaming.conftest import TOKEN
from tests.streaming.harness import Container, RunningPod, StreamingNode


@pytest.fixture(scope="module")
def pod(cluster: Cluster, snode: StreamingNode) -> Iterator[RunningPod]:
    cluster.kubectl("create", "namespace", "kubelet-api")
    yield snode.run_pod("kubelet-api", "busy", {
        "spin": Container(["sh", "-c", "echo started; while true; do :; done"]),
        "idle": Container(["sleep", "3600"]),
    }, api_object=False)


def get(cluster: Cluster, snode: StreamingNode, path: str, *, cert: bool = True,
        token: str | None = None) -> tuple[int, bytes]:
    ctx = cluster.ssl_context(client_cert=cert)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    req = urllib.request.Request(f"https://127.0.0.1:{snode.port}{path}", headers=headers)
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=20) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def test_serving_certificate_is_signed_by_the_server_ca(cluster: Cluster, snode: StreamingNode) -> None:
    """The cluster's CA verifies the kubelet for 127.0.0.1 (hostname checked); /healthz needs no credentials."""
    assert get(cluster, snode, "/healthz", cert=False) == (200, b"ok")
    untrusting = ssl.create_default_context()
    with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
        urllib.request.urlopen(f"https://127.0.0.1:{snode.port}/healthz", context=untrusting, timeout=10)


@pytest.mark.parametrize("cert,token,status", [
    pytest.param(False, None, 401, id="nothing"),
    pytest.param(False, "wrong-token", 401, id="bad-token"),
    pytest.param(False, TOKEN, 200, id="token-accepted-by-tokenreview"),
    pytest.param(True, None, 200, id="client-certificate"),
])
def test_authentication(cluster: Cluster, snode: StreamingNode, cert: bool, token: str | None, status: int) -> None:
    code, body = get(cluster, snode, "/pods", cert=cert, token=token)
    assert code == status
    if status == 401:
        assert body == b"Unauthorized"


@pytest.mark.parametrize("path,status,message", [
    pytest.param("/containerLogs/kubelet-api/ghost/c", 404, 'pod "ghost" does not exist', id="no-pod"),
    pytest.param("/containerLogs/kubelet-api/busy/nope", 404, 'container "nope" not found in pod "busy"', id="no-container"),
    pytest.param("/containerLogs/kubelet-api/busy/idle?previous=true", 400,
                 'previous terminated container "idle" in pod "busy" not found', id="no-previous"),
    pytest.param("/containerLogs/kubelet-api/busy/idle?tailLines=-1", 422,
                 "tailLines: Invalid value: -1: must be greater than or equal to 0", id="bad-tail"),
    pytest.param("/containerLogs/kubelet-api/busy/idle?limitBytes=x", 400, "invalid value for limitBytes", id="not-a-number"),
    pytest.param("/exec/kubelet-api/busy/idle?command=true&output=1", 400, "Upgrade request required", id="exec-no-upgrade"),
    pytest.param("/portForward/kubelet-api/busy", 400, "Upgrade request required", id="portforward-no-upgrade"),
])
def test_errors_are_plain_text_with_upstreams_codes(cluster: Cluster, snode: StreamingNode, pod: RunningPod, path: str,
                                                    status: int, message: str) -> None:
    code, body = get(cluster, snode, path)
    assert code == status and message in body.decode()


def test_container_logs(cluster: Cluster, snode: StreamingNode, pod: RunningPod) -> None:
    assert get(cluster, snode, "/containerLogs/kubelet-api/busy/spin") == (200, b"started\n")


def test_stats_summary_reports_node_pods_and_containers(cluster: Cluster, snode: StreamingNode, pod: RunningPod) -> None:
    """Even the first scrape has rates: the busy container's usageNanoCores comes from its cgroup."""
    code, body = get(cluster, snode, "/stats/summary")
    assert code == 200
    doc = json.loads(body)
    assert doc["node"]["nodeName"] == snode.name and doc["node"]["memory"]["workingSetBytes"] > 0
    ours = [p for p in doc["pods"] if p["podRef"] == {"name": "busy", "namespace": "kubelet-api", "uid": pod.uid}]
    assert len(ours) == 1
    containers = {c["name"]: c for c in ours[0]["containers"]}
    assert set(containers) == {"spin", "idle"}
    assert containers["spin"]["cpu"]["usageNanoCores"] > 10_000_000, "a busy loop uses well over 1% of a core"
    assert containers["spin"]["cpu"]["usageCoreNanoSeconds"] > 0
    assert containers["idle"]["memory"]["workingSetBytes"] > 0
    assert ours[0]["memory"]["workingSetBytes"] >= containers["idle"]["memory"]["workingSetBytes"]


def test_resource_metrics_and_kubelet_metrics(cluster: Cluster, snode: StreamingNode, pod: RunningPod) -> None:
    code, body = get(cluster, snode, "/metrics/resource")
    text = body.decode()
    assert code == 200
    assert 'container_cpu_usage_seconds_total{container="spin",namespace="kubelet-api",pod="busy"}' in text
    assert 'pod_memory_working_set_bytes{namespace="kubelet-api",pod="busy"}' in text
    assert "\nnode_cpu_usage_seconds_total " in text
    code, body = get(cluster, snode, "/metrics")
    assert code == 200 and b'kubelet_http_requests_total{code="200",method="GET",path="metrics",server_type="readwrite"}' in body


def test_pods_lists_what_runs_on_the_node(cluster: Cluster, snode: StreamingNode, pod: RunningPod) -> None:
    code, body = get(cluster, snode, "/pods")
    doc = json.loads(body)
    assert code == 200 and doc["kind"] == "PodList"
    ours = [p for p in doc["items"] if p["metadata"]["uid"] == pod.uid]
    assert len(ours) == 1 and sorted(c["name"] for c in ours[0]["spec"]["containers"]) == ["idle", "spin"]


@pytest.mark.parametrize("protocol,status", [
    pytest.param("v4.channel.k8s.io", b'{"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: error executing command [sh -c echo hi; exit 3], exit code 3","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}}', id="v4"),
    pytest.param("channel.k8s.io", b"command terminated with non-zero exit code: error executing command [sh -c echo hi; exit 3], exit code 3", id="v1"),
])
def test_websocket_exec_is_relayed_to_the_runtime(cluster: Cluster, snode: StreamingNode, pod: RunningPod, protocol: str,
                                                  status: bytes) -> None:
    """The kubelet relays the upgrade untouched: containerd itself negotiates v4 (JSON status) or v1 (text)."""
    ctx = cluster.ssl_context()
    ws = websocket.create_connection(
        f"wss://127.0.0.1:{snode.port}/exec/kubelet-api/busy/idle?command=sh&command=-c&command=echo+hi%3B+exit+3"
        "&output=1&error=1", subprotocols=[protocol], sslopt={"context": ctx}, timeout=20)
    try:
        assert ws.subprotocol == protocol
        got: dict[int, bytes] = {}
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
    assert got[channels.ERROR] == status
