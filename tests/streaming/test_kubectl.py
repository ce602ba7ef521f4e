"""Unmodified kubectl against the API server, through our kubelet API, into real containerd containers:
logs (-f, --tail, --timestamps, --limit-bytes, -p), exec (exit codes, stdin, -it with resize), cp, attach,
port-forward; over WebSocket (kubectl 1.32's default) and over SPDY (the env switches, and kubectl 1.27)."""

from __future__ import annotations

import os
import re
import subprocess
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.cluster import KUBECTL, VERSIONED, Cluster
from tests.streaming.conftest import TICKER, Pods
from tests.streaming.harness import Container, StreamingNode
from tests.streaming.terminal import Terminal

TRANSPORTS = {
    "websocket": {},
    "spdy": {"KUBECTL_REMOTE_COMMAND_WEBSOCKETS": "false", "KUBECTL_PORT_FORWARD_WEBSOCKETS": "false"},
}
RFC3339NANO = rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z"
def kubectl(cluster: Cluster, pods: Pods, *args: str, transport: str = "websocket", input: str | None = None,
            check: bool = True, binary: str = KUBECTL) -> subprocess.CompletedProcess[str]:
    return cluster.kubectl("-n", pods.namespace, *args, env=TRANSPORTS[transport], input=input, check=check,
                           binary=binary)


def _env(cluster: Cluster, transport: str) -> dict[str, str]:
    return {**os.environ, "KUBECONFIG": str(cluster.kubeconfig), **TRANSPORTS[transport]}


# -- logs ---------------------------------------------------------------------------------------------


def test_logs_show_stdout_and_stderr(cluster: Cluster, pods: Pods) -> None:
    out = kubectl(cluster, pods, "logs", "logger", "-c", "out").stdout
    assert sorted(out.splitlines()) == ["err-1", "out-1", "out-2"]
    assert out.index("out-1") < out.index("out-2")


def test_logs_options_tail_timestamps_limit_since(cluster: Cluster, pods: Pods) -> None:
    tail = kubectl(cluster, pods, "logs", "logger", "-c", "out", "--tail=1").stdout
    assert tail in ("out-2\n", "err-1\n")
    stamped = kubectl(cluster, pods, "logs", "logger", "-c", "out", "--timestamps").stdout.encode()
    assert all(re.fullmatch(RFC3339NANO + rb" (out|err)-\d", line) for line in stamped.splitlines()), stamped
    assert kubectl(cluster, pods, "logs", "logger", "-c", "out", "--limit-bytes=3").stdout in ("out", "err")
    assert "out-1" in kubectl(cluster, pods, "logs", "logger", "-c", "out", "--since=1h").stdout
    assert kubectl(cluster, pods, "logs", "logger", "-c", "out", "--since-time=2999-01-01T00:00:00Z").stdout == ""


def test_logs_follow_streams_new_lines(cluster: Cluster, pods: Pods) -> None:
    proc = subprocess.Popen([KUBECTL, "-n", pods.namespace, "logs", "-f", "logger", "-c", "tick", "--tail=1"],
                            stdout=subprocess.PIPE, env=_env(cluster, "websocket"))
    try:
        assert proc.stdout is not None
        numbers = [int(proc.stdout.readline().split()[1]) for _ in range(4)]
        assert numbers == list(range(numbers[0], numbers[0] + 4)), "consecutive ticks as they are written"
    finally:
        proc.kill()
        proc.wait()


def test_logs_follow_ends_when_the_container_exits(cluster: Cluster, snode: StreamingNode, namespace: str) -> None:
    snode.run_pod(namespace, "brief", {"app": Container(["sh", "-c", "echo a; sleep 0.3; echo b"])})
    r = cluster.kubectl("-n", namespace, "logs", "-f", "brief", timeout=30)
    assert r.stdout == "a\nb\n"


def test_logs_previous_show_the_last_instance(cluster: Cluster, snode: StreamingNode, namespace: str) -> None:
    pod = snode.run_pod(namespace, "restarted", {"app": Container(["sh", "-c", "echo first-life; sleep 3600"])})
    first = cluster.kubectl("-n", namespace, "logs", "restarted", check=False)
    assert first.stdout == "first-life\n"
    missing = cluster.kubectl("-n", namespace, "logs", "restarted", "-p", check=False)
    assert missing.returncode != 0
    assert 'previous terminated container "app" in pod "restarted" not found' in missing.stderr
    snode.restart_container(pod, "app", Container(["sh", "-c", "echo second-life; sleep 3600"]))
    assert cluster.kubectl("-n", namespace, "logs", "restarted", "-p").stdout == "first-life\n"
    assert cluster.kubectl("-n", namespace, "logs", "restarted").stdout == "second-life\n"


# -- exec ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_exec_separates_streams_and_propagates_the_exit_code(cluster: Cluster, pods: Pods, transport: str) -> None:
    r = kubectl(cluster, pods, "exec", "web", "--", "sh", "-c", "echo to-out; echo to-err >&2; exit 3",
                transport=transport, check=False)
    assert (r.returncode, r.stdout) == (3, "to-out\n")
    assert "to-err\n" in r.stderr and "command terminated with exit code 3" in r.stderr
    ok = kubectl(cluster, pods, "exec", "web", "--", "true", transport=transport, check=False)
    assert (ok.returncode, ok.stdout, ok.stderr) == (0, "", "")


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_exec_with_piped_stdin_ends_at_eof(cluster: Cluster, pods: Pods, transport: str) -> None:
    """stdin reaches the command and its end closes the command's stdin (v5 close signal / SPDY FIN)."""
    text = "".join(f"line {i}\n" for i in range(2000))
    r = kubectl(cluster, pods, "exec", "-i", "web", "--", "sh", "-c", "wc -l; exit 7", transport=transport,
                input=text, check=False)
    assert (r.returncode, r.stdout.strip()) == (7, "2000")


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_exec_it_through_a_tty_with_resize(cluster: Cluster, pods: Pods, transport: str) -> None:
    """An interactive shell on a pty: commands run, the terminal size reaches the container, exit code comes back."""
    term = Terminal([KUBECTL, "-n", pods.namespace, "exec", "-it", "web", "--", "sh"], _env(cluster, transport),
                    rows=33, cols=111)
    try:
        term.send("echo $((6*7)); tty\n")
        term.expect(rb"42\r\n/dev/pts/\d+")
        term.send("stty size\n")
        term.expect(rb"33 111\r\n")
        term.send("exit 5\n")
        assert term.wait() == 5
    finally:
        term.close()


def test_exec_refuses_an_unknown_container(cluster: Cluster, pods: Pods) -> None:
    r = kubectl(cluster, pods, "exec", "web", "-c", "nope", "--", "true", check=False)
    assert r.returncode != 0 and "container nope is not valid for pod web" in r.stderr


def test_cp_to_and_from_a_pod(cluster: Cluster, pods: Pods, tmp_path: Path) -> None:
    """kubectl cp runs tar through exec both ways; binary content survives."""
    data = os.urandom(300_000)
    src = tmp_path / "blob.bin"
    src.write_bytes(data)
    kubectl(cluster, pods, "cp", str(src), "web:/tmp/blob.bin")
    assert kubectl(cluster, pods, "exec", "web", "--", "sh", "-c", "wc -c < /tmp/blob.bin").stdout.strip() == str(len(data))
    back = tmp_path / "back.bin"
    kubectl(cluster, pods, "cp", "web:/tmp/blob.bin", str(back))
    assert back.read_bytes() == data


# -- attach -------------------------------------------------------------------------------------------


def test_attach_with_stdin(cluster: Cluster, pods: Pods) -> None:
    """attach -i reaches the main process's stdin; closing it (stdinOnce) ends the process and the session."""
    r = kubectl(cluster, pods, "attach", "-i", "logger", "-c", "shell", input="one\ntwo\n")
    assert r.stdout == "got:one\ngot:two\nbye\n"


def test_attach_it_to_a_tty_container(cluster: Cluster, snode: StreamingNode, namespace: str) -> None:
    """attach -it to a shell started with a TTY: keystrokes in, output back, the terminal size applied (kubectl
    first sends the size plus one row and column to force a redraw, then the real one: wait for the latter)."""
    snode.run_pod(namespace, "console", {"sh": Container(["sh"], stdin=True, tty=True)})
    term = Terminal([KUBECTL, "-n", namespace, "attach", "-it", "console"], _env(cluster, "websocket"), rows=21, cols=77)
    try:
        term.send("echo attached-$((1+1))\n")
        term.expect(rb"attached-2")
        sizes: list[bytes] = []
        while b"21 77" not in sizes[-1:]:
            assert len(sizes) < 20, f"the terminal size never arrived: {sizes}"
            term.send("stty size\n")
            sizes.append(term.expect(rb"\r\n(\d+ \d+)\r\n").group(1))
        term.send("exit 0\n")
        assert term.wait() == 0
    finally:
        term.close()


def test_attach_without_stdin_streams_output(cluster: Cluster, snode: StreamingNode, namespace: str) -> None:
    snode.run_pod(namespace, "ticker", {"tick": Container(["sh", "-c", "sleep 0.5; " + TICKER])})
    proc = subprocess.Popen([KUBECTL, "-n", namespace, "attach", "ticker"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, env=_env(cluster, "websocket"))
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(2)]
        assert all(line.startswith(b"tick ") for line in lines), lines
    finally:
        proc.kill()
        proc.wait()


# -- port-forward ------------------------------------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_port_forward_then_http(cluster: Cluster, pods: Pods, transport: str) -> None:
    proc = subprocess.Popen([KUBECTL, "-n", pods.namespace, "port-forward", "pod/web", ":8080"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=_env(cluster, transport))
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        m = re.search(r"Forwarding from 127\.0\.0\.1:(\d+) -> 8080", line)
        assert m, line
        for _ in range(2):  # each request is a new connection: a new pair of streams
            with urllib.request.urlopen(f"http://127.0.0.1:{m.group(1)}/", timeout=10) as resp:
                assert resp.read() == b"hello-from-pod\n"
    finally:
        proc.terminate()
        proc.wait(10)


def test_port_forward_to_a_closed_port_reports_the_error(cluster: Cluster, pods: Pods) -> None:
    proc = subprocess.Popen([KUBECTL, "-n", pods.namespace, "port-forward", "pod/web", ":9999"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=_env(cluster, "websocket"))
    try:
        assert proc.stdout is not None and proc.stderr is not None
        port = re.search(r"127\.0\.0\.1:(\d+)", proc.stdout.readline())
        assert port
        with pytest.raises(Exception):  # noqa: B017 - the connection is reset, how exactly depends on timing
            urllib.request.urlopen(f"http://127.0.0.1:{port.group(1)}/", timeout=10).read()
        assert "error forwarding port 9999" in proc.stderr.readline() + proc.stderr.readline()
    finally:
        proc.kill()
        proc.wait()


# -- other kubectl versions --------------------------------------------------------------------------


@pytest.mark.parametrize("minor", ["27", "33"])
def test_other_kubectl_versions_exec_and_forward(cluster: Cluster, pods: Pods, minor: str) -> None:
    """kubectl 1.27 speaks only SPDY (v4) for exec and port-forward; 1.33 WebSocket for both."""
    binary = VERSIONED.format(minor=minor)
    if not Path(binary).exists():
        pytest.skip(f"{binary} not installed")
    r = kubectl(cluster, pods, "exec", "-i", "web", "--", "sh", "-c", "cat; exit 4", input="via-old-or-new\n",
                check=False, binary=binary)
    assert (r.returncode, r.stdout) == (4, "via-old-or-new\n")
