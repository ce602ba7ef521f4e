"""A real kijabi server process for end-to-end tests, and helpers to drive it with kubectl."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
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


def start_cluster(data_dir: Path | None = None, *extra: str, timeout: float = 60) -> Cluster:
    data_dir = data_dir or Path(tempfile.mkdtemp(prefix="kijabi-test-"))
    kubeconfig = data_dir / "kubeconfig.yaml"
    log_path = data_dir / "server.log"
    log = open(log_path, "a")
    proc = subprocess.Popen(
        [sys.executable, "-m", "kijabi.cli.main", "server", "--data-dir", str(data_dir), "--https-listen-port", "0",
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
