"""A real kijabi server process for end-to-end tests, and helpers to drive it with kubectl."""

from __future__ import annotations

import base64
import os
import re
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import yaml

KUBECTL = "/usr/bin/kubectl"
VERSIONED = "/usr/lib/google-cloud-sdk/bin/kubectl.1.{minor}"


@dataclass
class Cluster:
    proc: subprocess.Popen[str]
    data_dir: Path
    kubeconfig: Path
    url: str
    log_path: Path
    _contexts: dict[bool, ssl.SSLContext] = field(default_factory=dict)

    def kubectl(self, *args: str, input: str | None = None, check: bool = True, binary: str = KUBECTL,
                env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        full_env = {**os.environ, "KUBECONFIG": str(self.kubeconfig), **(env or {})}
        result = subprocess.run([binary, *args], input=input, capture_output=True, text=True, env=full_env, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        return result

    def kubectl_json(self, *args: str) -> dict:
        import json

        return json.loads(self.kubectl(*args, "-o", "json").stdout)

    def ssl_context(self, *, client_cert: bool = True) -> ssl.SSLContext:
        """TLS context trusting the cluster CA, with the admin client certificate (built once)."""
        cached = self._contexts.get(client_cert)
        if cached is None:
            cached = self._contexts[client_cert] = self._make_ssl_context(client_cert)
        return cached

    def _make_ssl_context(self, client_cert: bool) -> ssl.SSLContext:
        cfg = yaml.safe_load(self.kubeconfig.read_text())
        ctx = ssl.create_default_context(cadata=base64.b64decode(cfg["clusters"][0]["cluster"]["certificate-authority-data"]).decode())
        if client_cert:
            user = cfg["users"][0]["user"]
            cert = self.data_dir / "test-admin.crt"
            key = self.data_dir / "test-admin.key"
            cert.write_bytes(base64.b64decode(user["client-certificate-data"]))
            key.write_bytes(base64.b64decode(user["client-key-data"]))
            ctx.load_cert_chain(str(cert), str(key))
        return ctx

    def request(self, method: str, path: str, body: bytes | None = None, *, ctype: str = "application/json",
                headers: dict[str, str] | None = None, auth: bool = True, timeout: float = 30) -> tuple[int, dict[str, str], bytes]:
        """One raw HTTPS request; returns (status, headers, body) whatever the status."""
        req = urllib.request.Request(self.url + path, data=body, method=method, headers={"Content-Type": ctype, **(headers or {})})
        try:
            with urllib.request.urlopen(req, context=self.ssl_context(client_cert=auth), timeout=timeout) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers), err.read()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill9(self) -> None:
        self.proc.kill()
        self.proc.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_cluster(data_dir: Path | None = None, *extra: str, timeout: float = 60, command: str = "apiserver") -> Cluster:
    """`kijabi apiserver` (default: the API alone, as these tests need) or `kijabi server` (with the
    components it supervises) on a free port."""
    data_dir = data_dir or Path(tempfile.mkdtemp(prefix="kijabi-test-"))
    kubeconfig = data_dir / "kubeconfig.yaml"
    log_path = data_dir / "server.log"
    log = open(log_path, "a")
    proc = subprocess.Popen(
        [sys.executable, "-m", "kijabi.cli.main", command, "--data-dir", str(data_dir), "--https-listen-port", "0",
         "--write-kubeconfig", str(kubeconfig), *extra],
        stdout=subprocess.PIPE, stderr=log, text=True,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    url = ""
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            if proc.poll() is not None:
                raise RuntimeError(f"kijabi server exited with {proc.returncode}:\n{log_path.read_text()}")
            continue
        m = re.search(r"API server ready at (\S+)", line)
        if m:
            url = m.group(1)
        if "kubeconfig written" in line:
            break
    if not url:
        proc.kill()
        raise RuntimeError(f"kijabi server did not start:\n{log_path.read_text()}")
    return Cluster(proc, data_dir, kubeconfig, url, log_path)


def load_yaml_docs(text: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(text) if d]
