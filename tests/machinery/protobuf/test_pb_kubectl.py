"""Bodies that real kubectl sends decode to exactly what kubectl prints for `--dry-run=client -o json`.

Two sources: bodies captured once from kubectl 1.32.4 (data/kubectl-1.32/, always run), and, when
/usr/bin/kubectl is installed, a live run against a small HTTP server on 127.0.0.1 started here.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from kijabi.machinery import protobuf

FIXTURES = Path(__file__).parent / "data" / "kubectl-1.32"
COMMANDS: dict[str, list[str]] = {
    k: v for k, v in json.loads((FIXTURES / "commands.json").read_text()).items() if not k.startswith("_")
}
KUBECTL = shutil.which("kubectl")
KUBECTL_133 = Path("/usr/lib/google-cloud-sdk/bin/kubectl.1.33")


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_captured_body_decodes_to_dry_run_json(name: str) -> None:
    """The captured protobuf body decodes to kubectl's own JSON for the same command."""
    body = (FIXTURES / f"{name}.pb").read_bytes()
    expected = json.loads((FIXTURES / f"{name}.json").read_text())
    assert protobuf.decode(body) == expected


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_encode_matches_kubectl_byte_for_byte(name: str) -> None:
    """Encoding kubectl's JSON gives the very bytes kubectl (client-go/gogo) sent."""
    body = (FIXTURES / f"{name}.pb").read_bytes()
    assert protobuf.encode(json.loads((FIXTURES / f"{name}.json").read_text())) == body


# --- live kubectl ------------------------------------------------------------------------------------

# (group, resource, kind, singular, namespaced) served by the fake apiserver
RESOURCES = [
    ("", "configmaps", "ConfigMap", "configmap", True),
    ("", "secrets", "Secret", "secret", True),
    ("", "services", "Service", "service", True),
    ("", "namespaces", "Namespace", "namespace", False),
    ("apps", "deployments", "Deployment", "deployment", True),
    ("batch", "jobs", "Job", "job", True),
    ("batch", "cronjobs", "CronJob", "cronjob", True),
    (
        "authorization.k8s.io",
        "selfsubjectaccessreviews",
        "SelfSubjectAccessReview",
        "selfsubjectaccessreview",
        False,
    ),
]
LIVE = ["configmap", "deployment", "deployment-zero", "secret", "service", "namespace", "job", "cronjob"]
LIVE_CAN_I = ["canicreatepods", "canilistdeploy"]


def _discovery(core: bool) -> dict[str, Any]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for group, resource, kind, singular, namespaced in RESOURCES:
        groups.setdefault(group, []).append(
            {
                "resource": resource,
                "responseKind": {"group": group, "version": "v1", "kind": kind},
                "scope": "Namespaced" if namespaced else "Cluster",
                "singularResource": singular,
                "verbs": ["create", "get", "list"],
            }
        )
    items = [
        {"metadata": {"name": g}, "versions": [{"version": "v1", "freshness": "Current", "resources": r}]}
        for g, r in groups.items()
        if (g == "") == core
    ]
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": items,
    }


class _FakeAPIServer(BaseHTTPRequestHandler):
    """Just enough apiserver for `kubectl create` and `auth can-i`: it records every POST body and
    answers with the object decoded by kijabi (a review is answered "allowed")."""

    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(self, code: int, obj: Any, content_type: str = "application/json") -> None:
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path == "/version":
            self._reply(200, {"major": "1", "minor": "32", "gitVersion": "v1.32.4"})
        elif path in ("/api", "/apis"):
            accept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
            self._reply(200, _discovery(core=path == "/api"), accept)
        elif path == "/api/v1":
            resources = [
                {"name": r, "singularName": s, "namespaced": n, "kind": k, "verbs": ["create"]}
                for g, r, k, s, n in RESOURCES
                if g == ""
            ]
            self._reply(200, {"kind": "APIResourceList", "groupVersion": "v1", "resources": resources})
        else:
            self._reply(
                404,
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "status": "Failure",
                    "reason": "NotFound",
                    "code": 404,
                },
            )

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.bodies.append((self.headers.get("Content-Type", ""), body))
        try:
            obj = protobuf.decode(body)
        except Exception as exc:  # reported to kubectl, and the test fails on the body anyway
            self._reply(
                400,
                {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": str(exc), "code": 400},
            )
            return
        if obj["kind"] == "SelfSubjectAccessReview":
            obj["status"] = {"allowed": True}
        self._reply(201, obj)


class _Server(ThreadingHTTPServer):
    bodies: list[tuple[str, bytes]]


@pytest.fixture(scope="module")
def kubeconfig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, _Server]]:
    server = _Server(("127.0.0.1", 0), _FakeAPIServer)
    server.bodies = []
    thread = threading.Thread(target=server.serve_forever, name="fake-apiserver", daemon=True)
    thread.start()
    path = tmp_path_factory.mktemp("kubectl") / "kubeconfig"
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {"name": "c", "cluster": {"server": f"http://127.0.0.1:{server.server_address[1]}"}}
                ],
                "users": [{"name": "u", "user": {}}],
                "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u", "namespace": "default"}}],
                "current-context": "c",
            }
        )
    )
    yield path, server
    server.shutdown()
    server.server_close()
    thread.join()


def _kubectl(binary: str, kubeconfig: Path, args: list[str]) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(kubeconfig.parent), "KUBECONFIG": str(kubeconfig)}
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=60, env=env)


def _with_flags(args: list[str], *flags: str) -> list[str]:
    """Insert flags before a `--` that starts the container command."""
    if "--" in args:
        i = args.index("--")
        return [*args[:i], *flags, *args[i:]]
    return [*args, *flags]


@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")
@pytest.mark.parametrize("name", LIVE)
def test_live_kubectl_create(kubeconfig: tuple[Path, _Server], name: str) -> None:
    """kubectl 1.32 sends protobuf; the decoded body equals its dry-run JSON and the captured fixture,
    and kubectl accepts the decoded object as the server's reply."""
    assert KUBECTL is not None
    path, server = kubeconfig
    before = len(server.bodies)
    created = _kubectl(KUBECTL, path, _with_flags(COMMANDS[name], "-o", "json"))
    assert created.returncode == 0, created.stderr
    content_type, body = server.bodies[before]
    assert content_type == protobuf.CONTENT_TYPE
    dry_run = _kubectl(KUBECTL, path, _with_flags(COMMANDS[name], "--dry-run=client", "-o", "json"))
    assert dry_run.returncode == 0, dry_run.stderr
    assert protobuf.decode(body) == json.loads(dry_run.stdout) == json.loads(created.stdout)
    assert body == (FIXTURES / f"{name}.pb").read_bytes()


@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")
@pytest.mark.parametrize("name", LIVE_CAN_I)
def test_live_kubectl_auth_can_i(kubeconfig: tuple[Path, _Server], name: str) -> None:
    """`auth can-i` posts a protobuf SelfSubjectAccessReview and reads our allowed answer."""
    assert KUBECTL is not None
    path, server = kubeconfig
    before = len(server.bodies)
    result = _kubectl(KUBECTL, path, COMMANDS[name])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "yes"
    _, body = server.bodies[before]
    assert protobuf.decode(body) == json.loads((FIXTURES / f"{name}.json").read_text())


@pytest.mark.skipif(not KUBECTL_133.exists(), reason="kubectl 1.33 is not installed")
def test_live_kubectl_133_sends_the_same_body(kubeconfig: tuple[Path, _Server]) -> None:
    """A newer kubectl sends the same protobuf bytes for `create deployment`."""
    path, server = kubeconfig
    before = len(server.bodies)
    result = _kubectl(str(KUBECTL_133), path, COMMANDS["deployment"])
    assert result.returncode == 0, result.stderr
    content_type, body = server.bodies[before]
    assert content_type == protobuf.CONTENT_TYPE
    assert body == (FIXTURES / "deployment.pb").read_bytes()
