"""Helpers shared by the benchmarks that drive a real `kijabi` process.

- `start_apiserver()`: a `kijabi apiserver` subprocess on a free loopback port with its own data dir,
  optionally under cProfile (`profile_dir`); `ServerProcess` reads its RSS, peak RSS (resettable) and CPU
  time from /proc.
- `start_floor_server()`: the HTTP floor, aiohttp on uvloop with the apiserver's own TLS setup and
  handlers that do no API work: what the same client gets from the same stack with nothing on top.
- `client_ssl()`: the TLS context (CA + client certificate) of the kubeconfig the server wrote.
- `machine_busy_seconds()`, `self_cpu_times()`: CPU of the whole machine and of this process, so a phase
  can tell how much other processes competed with it.
- `EventCounter`: counts the events of a JSON watch stream by type, chunk by chunk, without copying them.
- `Latencies`, `percentile`, `median`: figures as the benchmarks print them; `Report`: the result table
  (figure, measured, unit, target, verdict, note).
- Profiling: the server runs as `python bench/_common.py profiled-server OUT_DIR -- apiserver ...`; each
  SIGUSR1 writes the profile collected since the previous one to OUT_DIR/segment-N.prof (and the time the
  cyclic garbage collector took to segment-N.gc.json) and starts a fresh one, so a benchmark cuts the
  server's profile into phases (`ServerProcess.profile_segment`). cProfile sees the event loop thread only
  (not the SQLite writer thread) and Python-level calls only (C extensions such as uvloop's TLS transport
  count as time of the Python function that called them).
"""

from __future__ import annotations

import base64
import json
import math
import os
import pstats
import re
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --- the server process ------------------------------------------------------------------------------


@dataclass
class ServerProcess:
    """A server subprocess: its URL, and its memory and CPU as /proc shows them."""

    proc: subprocess.Popen[str]
    url: str
    log_path: Path
    data_dir: Path
    kubeconfig: Path
    profile_dir: Path | None = None
    _segments: int = 0

    @property
    def pid(self) -> int:
        return self.proc.pid

    def status_kb(self, field_name: str) -> int:
        """A `VmRSS`/`VmHWM`-style field of /proc/PID/status, in KiB."""
        text = Path(f"/proc/{self.pid}/status").read_text()
        m = re.search(rf"^{field_name}:\s+(\d+) kB", text, re.M)
        if not m:
            raise RuntimeError(f"no {field_name} in /proc/{self.pid}/status")
        return int(m.group(1))

    def rss_mb(self) -> float:
        return self.status_kb("VmRSS") / 1024

    def peak_rss_mb(self) -> float:
        return self.status_kb("VmHWM") / 1024

    def reset_peak_rss(self) -> bool:
        """Start a new VmHWM period (Linux: "5" to /proc/PID/clear_refs); False when not allowed."""
        try:
            Path(f"/proc/{self.pid}/clear_refs").write_text("5")
        except OSError:
            return False
        return True

    def cpu_times(self) -> tuple[float, float]:
        """(user, system) CPU seconds of the whole process (all threads) so far."""
        stat = Path(f"/proc/{self.pid}/stat").read_text()
        rest = stat[stat.rindex(")") + 2:].split()
        return int(rest[11]) / CLK_TCK, int(rest[12]) / CLK_TCK  # utime, stime (fields 14 and 15)

    def profile_segment(self, timeout: float = 60.0) -> Path | None:
        """Close the current profile segment; returns its file (None when not profiling)."""
        if self.profile_dir is None:
            return None
        path = self.profile_dir / f"segment-{self._segments}.prof"
        self._segments += 1
        self.proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + timeout
        while not path.exists():  # written atomically (rename) by the profiled server
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"the profiled server wrote no {path}")
            time.sleep(0.01)
        return path

    def stop(self, timeout: float = 30.0) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _launch(cmd: list[str], log_path: Path, ready: str, until: str, timeout: float) -> tuple[subprocess.Popen[str], str]:
    """Start `cmd`; wait for a stdout line matching `ready` (its group 1 is the URL) and one containing `until`."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    with open(log_path, "a") as log:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True, cwd=REPO, env=env)
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    url = ""
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            if proc.poll() is not None:
                raise RuntimeError(f"{cmd[1:3]} exited with {proc.returncode}:\n{log_path.read_text()}")
            continue
        m = re.search(ready, line)
        if m:
            url = m.group(1)
        if url and until in line:
            return proc, url
    proc.kill()
    proc.wait()
    raise RuntimeError(f"{cmd[1:3]} did not start in {timeout:.0f}s:\n{log_path.read_text()}")


def start_apiserver(data_dir: Path, *, profile_dir: Path | None = None, extra: Sequence[str] = (),
                    timeout: float = 60.0) -> ServerProcess:
    """Start `kijabi apiserver` on a free loopback port and wait until it wrote its kubeconfig."""
    kubeconfig = data_dir / "kubeconfig.yaml"
    log_path = data_dir / "apiserver.log"
    args = ["apiserver", "--data-dir", str(data_dir), "--https-listen-port", "0", "--bind-address", "127.0.0.1",
            "--write-kubeconfig", str(kubeconfig), "--log-level", "warning", *extra]
    if profile_dir is not None:
        profile_dir.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, str(Path(__file__).resolve()), "profiled-server", str(profile_dir), "--", *args]
    else:
        cmd = [sys.executable, "-m", "kijabi.cli.main", *args]
    proc, url = _launch(cmd, log_path, r"API server ready at (\S+)", "kubeconfig written", timeout)
    return ServerProcess(proc, url, log_path, data_dir, kubeconfig, profile_dir)


def start_floor_server(data_dir: Path, body: bytes, timeout: float = 60.0) -> ServerProcess:
    """The HTTP floor: aiohttp on uvloop with the apiserver's TLS setup (its certificates under `data_dir`)
    and handlers that do no API work: GET answers `body`; POST parses the JSON body and sends it back."""
    body_path = data_dir / "floor-body.json"
    body_path.write_bytes(body)
    cmd = [sys.executable, str(Path(__file__).resolve()), "floor-server", str(data_dir / "server" / "tls"), str(body_path)]
    proc, url = _launch(cmd, data_dir / "floor.log", r"floor server ready at (\S+)", "ready", timeout)
    return ServerProcess(proc, url, data_dir / "floor.log", data_dir, data_dir / "kubeconfig.yaml")


def client_ssl(kubeconfig: Path, scratch: Path) -> ssl.SSLContext:
    """TLS context trusting the kubeconfig's CA and presenting its client certificate."""
    doc = yaml.safe_load(kubeconfig.read_text())
    cluster = doc["clusters"][0]["cluster"]
    user = doc["users"][0]["user"]
    cert, key = scratch / "client.crt", scratch / "client.key"
    cert.write_bytes(base64.b64decode(user["client-certificate-data"]))
    fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(base64.b64decode(user["client-key-data"]))
    ctx = ssl.create_default_context(cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
    ctx.load_cert_chain(cert, key)
    return ctx


def scratch_dir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))


def raise_fd_limit(want: int) -> None:
    """Raise this process's soft open-files limit (children inherit it) up to the hard limit."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def machine_busy_seconds() -> float:
    """CPU seconds all processes of the machine spent busy so far (all cores, from /proc/stat)."""
    with open("/proc/stat") as f:
        fields = f.readline().split()
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[1:9])
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def self_cpu_times() -> tuple[float, float]:
    """(user, system) CPU seconds of this process so far."""
    t = os.times()
    return t.user, t.system


# --- figures -----------------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), nearest-rank on the sorted values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def median(values: Iterable[float]) -> float:
    vals = [v for v in values if not math.isnan(v)]
    return statistics.median(vals) if vals else math.nan


@dataclass
class Latencies:
    """Per-request latencies (seconds) of one phase and its wall time."""

    samples: list[float] = field(default_factory=list)
    wall: float = 0.0

    @property
    def rate(self) -> float:
        return len(self.samples) / self.wall if self.wall else math.nan

    def p(self, q: float) -> float:
        return percentile(self.samples, q)


# --- watch streams ----------------------------------------------------------------------------------


class EventCounter:
    """Counts the events of a JSON watch stream by type without copying them: it looks only at the first
    bytes of each line (`{"type":"ADDED",...`) and at the newlines, whatever the chunk boundaries."""

    HEAD = 18  # enough to tell {"type":"ADDED" from {"type":"MODIFIED"

    def __init__(self) -> None:
        self.added = self.modified = self.other = 0
        self.samples: list[bytes] = []  # heads of unexpected events
        self._head = b""
        self._in_head = True  # the next bytes begin an event
        self._kind = ""

    @property
    def total(self) -> int:
        return self.added + self.modified + self.other

    def feed(self, chunk: bytes) -> None:
        pos, n = 0, len(chunk)
        while pos < n:
            if self._in_head:
                take = chunk[pos:pos + self.HEAD - len(self._head)]
                self._head += take
                pos += len(take)
                if len(self._head) < self.HEAD and b"\n" not in self._head:
                    return  # the chunk ended inside the head
                self._kind = ("ADDED" if self._head.startswith(b'{"type":"ADDED"') else
                              "MODIFIED" if self._head.startswith(b'{"type":"MODIFIED"') else "")
                if not self._kind and len(self.samples) < 3:
                    self.samples.append(self._head)
                self._in_head = False
                if b"\n" in self._head:  # a tiny event, already complete
                    pos -= len(self._head) - self._head.index(b"\n")
            nl = chunk.find(b"\n", pos)
            if nl < 0:
                return
            if self._kind == "ADDED":
                self.added += 1
            elif self._kind == "MODIFIED":
                self.modified += 1
            else:
                self.other += 1
            self._head, self._in_head, pos = b"", True, nl + 1


# --- the result table --------------------------------------------------------------------------------


@dataclass
class Row:
    figure: str
    value: float
    unit: str
    target: str = ""
    ok: bool | None = None
    note: str = ""


class Report:
    """A table of figures: name, value, target, and whether the target is met."""

    def __init__(self) -> None:
        self.rows: list[Row] = []

    def add(self, figure: str, value: float, unit: str, *, target: str = "", ok: bool | None = None,
            note: str = "") -> None:
        self.rows.append(Row(figure, value, unit, target, ok, note))

    def section(self, title: str) -> None:
        self.rows.append(Row(title, math.nan, "", ok=None, note="\x00section"))

    def render(self) -> str:
        width = max(len(r.figure) for r in self.rows if r.note != "\x00section") + 2
        lines = [f"{'figure':<{width}}{'measured':>14}  {'unit':<10}{'target':<18}{'':<6}note",
                 "-" * (width + 14 + 2 + 10 + 18 + 6 + 30)]
        for r in self.rows:
            if r.note == "\x00section":
                lines.append(f"[{r.figure}]")
                continue
            verdict = "" if r.ok is None else ("ok" if r.ok else "MISS")
            lines.append(f"{r.figure:<{width}}{_num(r.value):>14}  {r.unit:<10}{r.target:<18}{verdict:<6}{r.note}")
        return "\n".join(lines)


def _num(v: float) -> str:
    if math.isnan(v):
        return "-"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


# --- profiles ----------------------------------------------------------------------------------------


def _where(func: tuple[str, int, str]) -> str:
    filename, line, name = func
    if filename == "~":
        return name
    path = filename
    for root in (str(REPO) + "/", os.path.dirname(os.__file__) + "/"):
        if path.startswith(root):
            path = path[len(root):]
            break
    else:
        m = re.search(r"site-packages/(.*)", path)
        if m:
            path = m.group(1)
    return f"{path}:{line}({name})"


def top_functions(path: Path, *, sort: str = "cumulative", limit: int = 25,
                  skip: Callable[[str], bool] | None = None) -> list[str]:
    """The `limit` heaviest functions of a profile segment, one line each: cumulative s, own s, calls, where."""
    stats: Any = pstats.Stats(str(path))
    entries = stats.stats  # {func: (primitive calls, calls, tottime, cumtime, callers)}
    total = max((e[3] for e in entries.values()), default=0.0) or 1.0
    key = 3 if sort == "cumulative" else 2
    lines = []
    for func, (_, calls, tottime, cumtime, _) in sorted(entries.items(), key=lambda kv: kv[1][key], reverse=True):
        where = _where(func)
        if skip is not None and skip(where):
            continue
        lines.append(f"{cumtime:8.2f}s {100 * cumtime / total:5.1f}%  own {tottime:7.2f}s  {calls:>9}  {where}")
        if len(lines) >= limit:
            break
    return lines


# --- the profiled server (runs in the child process) -------------------------------------------------


class _GCClock:
    """Time spent in the cyclic garbage collector, per generation, since the last `take()`."""

    def __init__(self) -> None:
        import gc

        self.gc = gc
        self.started = 0.0
        self.reset()
        gc.callbacks.append(self.callback)

    def reset(self) -> None:
        self.seconds = [0.0, 0.0, 0.0]
        self.runs = [0, 0, 0]
        self.collected = 0

    def callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self.started = time.perf_counter()
        else:
            gen = info["generation"]
            self.seconds[gen] += time.perf_counter() - self.started
            self.runs[gen] += 1
            self.collected += info["collected"]

    def take(self) -> dict[str, Any]:
        out = {"seconds": self.seconds, "runs": self.runs, "collected": self.collected,
               "tracked_objects": len(self.gc.get_objects()), "thresholds": list(self.gc.get_threshold())}
        self.reset()
        return out


class _Segmenter:
    """cProfile of the event loop thread (and GC time), cut into numbered segment files on request."""

    def __init__(self, out_dir: Path) -> None:
        import cProfile

        self.out_dir = out_dir
        self.new = cProfile.Profile
        self.prof = cProfile.Profile()
        self.gc = _GCClock()
        self.n = 0

    def cut(self) -> None:
        self.prof.disable()
        gc_stats = self.gc.take()
        (self.out_dir / f"segment-{self.n}.gc.json").write_text(json.dumps(gc_stats))
        tmp = self.out_dir / f".segment-{self.n}.tmp"
        self.prof.dump_stats(str(tmp))
        os.replace(tmp, self.out_dir / f"segment-{self.n}.prof")  # atomic: the reader polls for the name
        self.n += 1
        self.prof = self.new()
        self.prof.enable()

    def on_signal(self, signum: int, frame: Any) -> None:
        import asyncio

        # Cut between two loop callbacks rather than inside whatever the signal interrupted.
        try:
            asyncio.get_running_loop().call_soon_threadsafe(self.cut)
        except RuntimeError:
            self.cut()


def _profiled_server(out_dir: Path, argv: list[str]) -> int:
    sys.path.insert(0, str(REPO))
    from kijabi.cli.main import main as kijabi_main

    seg = _Segmenter(out_dir)
    signal.signal(signal.SIGUSR1, seg.on_signal)
    seg.prof.enable()
    try:
        return kijabi_main(argv)
    finally:
        seg.prof.disable()
        seg.prof.dump_stats(str(out_dir / "final.prof"))


def _floor_server(tls_dir: Path, body_path: Path) -> int:
    import asyncio

    import orjson
    import uvloop
    from aiohttp import web

    body = body_path.read_bytes()

    async def get(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    async def post(request: web.Request) -> web.Response:
        obj = orjson.loads(await request.read())
        return web.Response(status=201, body=orjson.dumps(obj), content_type="application/json")

    async def serve() -> None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)  # as kijabi.apiserver.app does
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(tls_dir / "serving-kube-apiserver.crt", tls_dir / "serving-kube-apiserver.key")
        ctx.load_verify_locations(cafile=str(tls_dir / "client-ca.crt"))
        ctx.verify_mode = ssl.CERT_OPTIONAL
        ctx.set_alpn_protocols(["http/1.1"])
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_get("/{tail:.*}", get)
        app.router.add_post("/{tail:.*}", post)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ctx, backlog=1024)
        await site.start()
        server: Any = site._server
        print(f"floor server ready at https://127.0.0.1:{server.sockets[0].getsockname()[1]}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await runner.cleanup()

    uvloop.run(serve())
    return 0


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "profiled-server" and sys.argv[3] == "--":
        sys.exit(_profiled_server(Path(sys.argv[2]), sys.argv[4:]))
    if len(sys.argv) == 4 and sys.argv[1] == "floor-server":
        sys.exit(_floor_server(Path(sys.argv[2]), Path(sys.argv[3])))
    sys.exit("usage: _common.py profiled-server OUT_DIR -- apiserver FLAGS... | floor-server TLS_DIR BODY_FILE")
