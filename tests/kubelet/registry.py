"""A read-only OCI distribution registry on 127.0.0.1 serving image tarballs built by kijabi.kubelet.images.

Enough of the distribution API for containerd to pull: GET /v2/, HEAD|GET manifests by tag or digest
(with Content-Type and Docker-Content-Digest), GET blobs. Everything else is 404.
"""

from __future__ import annotations

import hashlib
import json
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class Registry:
    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self.manifests: dict[tuple[str, str], tuple[str, str]] = {}  # (repo, tag) -> (digest, media type)
        self.requests: list[str] = []
        registry = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_HEAD(self) -> None:
                self.answer(body=False)

            def do_GET(self) -> None:
                self.answer(body=True)

            def answer(self, *, body: bool) -> None:
                registry.requests.append(f"{self.command} {self.path}")
                status, ctype, data, digest = registry.route(self.path)
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Docker-Distribution-API-Version", "registry/2.0")
                if digest:
                    self.send_header("Docker-Content-Digest", digest)
                self.end_headers()
                if body:
                    self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, name="test-registry", daemon=True)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def add(self, tarball: Path, repo: str, tag: str) -> str:
        """Serve the image of an OCI layout tarball as <host>/<repo>:<tag>; returns the manifest digest."""
        with tarfile.open(tarball) as tar:
            files = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]
        for name, data in files.items():
            if name.startswith("blobs/sha256/"):
                self.blobs["sha256:" + name.rsplit("/", 1)[1]] = data
        entry = json.loads(files["index.json"])["manifests"][0]
        assert "sha256:" + hashlib.sha256(self.blobs[entry["digest"]]).hexdigest() == entry["digest"]
        self.manifests[(repo, tag)] = (entry["digest"], entry["mediaType"])
        return str(entry["digest"])

    def route(self, path: str) -> tuple[int, str, bytes, str]:
        if path in ("/v2/", "/v2"):
            return 200, "application/json", b"{}", ""
        if path.startswith("/v2/") and "/manifests/" in path:
            repo, ref = path[4:].split("/manifests/", 1)
            for (r, tag), (digest, media) in self.manifests.items():
                if r == repo and ref in (tag, digest):
                    return 200, media, self.blobs[digest], digest
        if path.startswith("/v2/") and "/blobs/" in path:
            digest = path.rsplit("/", 1)[1]
            if digest in self.blobs:
                return 200, "application/octet-stream", self.blobs[digest], digest
        return 404, "application/json", b'{"errors":[{"code":"NOT_FOUND"}]}', ""

    def __enter__(self) -> Registry:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
