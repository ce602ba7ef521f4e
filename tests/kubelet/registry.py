"""A real registry (Debian's `docker-registry`, the CNCF distribution server) on 127.0.0.1 for pull tests.

    with DockerRegistry(workdir) as reg:                      # or DockerRegistry(workdir, auth=("u", "p"))
        reg.push(tarball, "kjtest/busybox", "open")           # an OCI layout tarball (kijabi.kubelet.images)
        pod image: f"{reg.host}/kjtest/busybox:open"
        reg.requests()                                        # ["GET /v2/kjtest/busybox/manifests/open 200", ...]

The registry runs with filesystem storage under `workdir`, plain HTTP on a free loopback port, and, with
`auth`, an htpasswd file (bcrypt, the only scheme it accepts). Images are pushed with the distribution
API itself (blob uploads, then the manifest). `requests()` reads the registry's access log.
"""

from __future__ import annotations

import base64
import json
import re
import socket
import subprocess
import tarfile
import time
import urllib.error
import urllib.request
import warnings
from pathlib import Path

import yaml

with warnings.catch_warnings():  # bcrypt through the C library: deprecated, still there in 3.11 and 3.12
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt

BINARY = "docker-registry"
_ACCESS = re.compile(r'"(GET|HEAD|PUT|POST|PATCH|DELETE) (\S+) HTTP/[\d.]+" (\d{3})')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class DockerRegistry:
    def __init__(self, workdir: Path, *, auth: tuple[str, str] | None = None) -> None:
        self.workdir = workdir
        self.auth = auth
        self.port = _free_port()
        self.log_path = workdir / "registry.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _config(self) -> dict:
        config: dict = {
            "version": 0.1,
            "log": {"level": "info", "accesslog": {"disabled": False}},
            "storage": {"filesystem": {"rootdirectory": str(self.workdir / "data")}, "delete": {"enabled": True}},
            "http": {"addr": self.host, "secret": base64.b64encode(self.host.encode()).decode()},
        }
        if self.auth is not None:
            user, password = self.auth
            htpasswd = self.workdir / "htpasswd"
            htpasswd.write_text(f"{user}:{crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH))}\n")
            config["auth"] = {"htpasswd": {"realm": "kjtest", "path": str(htpasswd)}}
        return config

    def __enter__(self) -> DockerRegistry:
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "config.yml"
        config.write_text(yaml.safe_dump(self._config()))
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen([BINARY, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while True:
            try:
                self._call("GET", "/v2/")
                return self
            except urllib.error.HTTPError:
                return self  # 401 with auth: it answers
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.__exit__()
                    raise RuntimeError(f"docker-registry did not start:\n{self.log_path.read_text()[-2000:]}") from None
                time.sleep(0.05)

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def _call(self, method: str, path: str, body: bytes | None = None, ctype: str = "") -> tuple[int, dict[str, str]]:
        url = path if path.startswith("http") else f"http://{self.host}{path}"
        req = urllib.request.Request(url, data=body, method=method)
        if ctype:
            req.add_header("Content-Type", ctype)
        if self.auth is not None:
            req.add_header("Authorization", "Basic " + base64.b64encode(":".join(self.auth).encode()).decode())
        with urllib.request.urlopen(req, timeout=30) as resp:
            resp.read()
            return resp.status, dict(resp.headers)

    def push(self, tarball: Path, repo: str, tag: str) -> str:
        """Push the image of an OCI layout tarball as <host>/<repo>:<tag>; returns the manifest digest."""
        with tarfile.open(tarball) as tar:
            files = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]
        entry = json.loads(files["index.json"])["manifests"][0]
        manifest = files["blobs/sha256/" + entry["digest"].split(":", 1)[1]]
        doc = json.loads(manifest)
        for blob in [doc["config"], *doc["layers"]]:
            data = files["blobs/sha256/" + blob["digest"].split(":", 1)[1]]
            _, headers = self._call("POST", f"/v2/{repo}/blobs/uploads/")
            location = headers["Location"]
            sep = "&" if "?" in location else "?"
            self._call("PUT", f"{location}{sep}digest={blob['digest']}", data, "application/octet-stream")
        _, headers = self._call("PUT", f"/v2/{repo}/manifests/{tag}", manifest, entry["mediaType"])
        assert headers["Docker-Content-Digest"] == entry["digest"]
        return str(entry["digest"])

    def requests(self) -> list[str]:
        """The requests the registry served so far, as "METHOD PATH STATUS", from its access log."""
        text = self.log_path.read_text(errors="replace")
        return [f"{m.group(1)} {m.group(2)} {m.group(3)}" for m in _ACCESS.finditer(text)]
