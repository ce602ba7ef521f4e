"""Fixtures for the end-to-end streaming tests.

`cluster` is a real `kijabi server` (with a bearer token for TokenReview tests); `snode` a real containerd
with our kubelet API server registered as a Node of that cluster (see harness). Both are session-wide,
started side by side and torn down at the end; `assert_clean` checks that the node left nothing behind.
Pure protocol tests use neither.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.e2e.cluster import Cluster, start_cluster
from tests.kubelet.node import Node, leftovers, runtime_missing, sweep_stale_nodes
from tests.streaming.harness import (
    Container,
    LoopThread,
    RunningPod,
    StreamingNode,
    start_runtime,
    start_streaming_node,
    stop_runtime,
    stop_streaming_node,
)

TOKEN = secrets.token_hex(16)
TICKER = "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done"
WEB = "mkdir -p /www && echo hello-from-pod > /www/index.html && exec httpd -f -p 8080 -h /www"


def assert_node_clean(node: Node) -> None:
    """Nothing of our node is left (processes, mounts, netns, bridge, rules of our network, cgroups, files).
    CNI chains are host-wide and shared with other nodes that may live at the same time (tests/kubelet's
    session node keeps its hostPort chains until its own teardown), so they are not ours to check."""
    left = {k: v for k, v in leftovers(node).items() if v and k != "iptables chains"}
    assert not left, f"left behind: {left}"


@dataclass
class Stack:
    cluster: Cluster
    node: StreamingNode | None
    skip_reason: str = ""


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    """The cluster and the node, started side by side (containerd comes up while the API server boots)."""
    reason = runtime_missing()
    loop = LoopThread()
    runtime_future = None
    if not reason:
        sweep_stale_nodes()
        runtime_future = start_runtime(loop)
    cluster: Cluster | None = None
    runtime = None
    node = None
    try:
        cluster = start_cluster(None, "--token", TOKEN)
        if runtime_future is not None:
            runtime = runtime_future.result(120)
            node = start_streaming_node(cluster, runtime)
        yield Stack(cluster, node, reason or "")
    finally:
        stopping = threading.Thread(target=cluster.stop) if cluster is not None else None
        if stopping is not None:
            stopping.start()
        try:
            if node is not None:
                stop_streaming_node(node)
            if runtime is None and runtime_future is not None:
                with contextlib.suppress(Exception):
                    runtime = runtime_future.result(120)
            if runtime is not None:
                stop_runtime(runtime)
        finally:
            loop.stop()
            if stopping is not None and cluster is not None:
                stopping.join()
                shutil.rmtree(cluster.data_dir, ignore_errors=True)
        if runtime is not None:
            assert_node_clean(runtime.node)


@pytest.fixture(scope="session")
def cluster(stack: Stack) -> Cluster:
    return stack.cluster


@pytest.fixture(scope="session")
def snode(stack: Stack) -> StreamingNode:
    if stack.node is None:
        pytest.skip(stack.skip_reason)
    return stack.node


@pytest.fixture
def namespace(cluster: Cluster) -> str:
    name = "s-" + uuid.uuid4().hex[:8]
    cluster.kubectl("create", "namespace", name)
    return name


@dataclass
class Pods:
    namespace: str
    logger: RunningPod   # containers: out (stdout+stderr lines, then sleeps), tick (a line every 0.1 s), shell (stdin)
    web: RunningPod      # container: httpd on 8080 serving "hello-from-pod"


@pytest.fixture(scope="session")
def pods(cluster: Cluster, snode: StreamingNode) -> Pods:
    """Two long-running pods shared by the kubectl and proxy tests (which only read from them)."""
    namespace = "streaming"
    cluster.kubectl("create", "namespace", namespace)
    logger = snode.run_pod(namespace, "logger", {
        "out": Container(["sh", "-c", "echo out-1; echo err-1 >&2; echo out-2; exec sleep 3600"]),
        "tick": Container(["sh", "-c", TICKER]),
        "shell": Container(["sh", "-c", "while read l; do echo got:$l; done; echo bye"], stdin=True),
    })
    web = snode.run_pod(namespace, "web", {"httpd": Container(["sh", "-c", WEB])})
    return Pods(namespace, logger, web)
