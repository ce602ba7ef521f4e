"""Container logs in the CRI log format: parsing, and reading them with `kubectl logs` options.

Each line of a CRI log file is `<RFC3339Nano time> <stdout|stderr> <tags> <message>`; the tags are `F`
(the message ends a line) or `P` (a piece of a longer line, cut by the runtime at 16 KiB), optionally
followed by `:`-separated extra tags. What the user sees is the messages joined back: a `P` piece is
written without a newline, an `F` one with it.

Options (upstream PodLogOptions as the kubelet receives them):
- `tail_lines`: start that many log-file lines before the end (partial pieces count as lines, as upstream);
- `since`: skip entries stamped before this time (ns since the epoch);
- `timestamps`: prefix every output line with its time (RFC3339Nano, trailing zeros trimmed) and a space;
- `limit_bytes`: stop after that many output bytes (the last piece is cut);
- `follow`: at the end of the file keep waiting for more, reopening the file when the runtime rotates it,
  until the container is no longer running and everything is read.

    LogFormatError   a line that is not in the CRI format (skipped by the reader, as upstream logs it)
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from typing import BinaryIO

READ_CHUNK = 64 * 1024
FOLLOW_POLL = 0.1  # seconds between checks for new data while following (upstream waits on fsnotify)
RUNNING_CHECK = 1.0  # seconds between asking the runtime whether a followed container still runs
_TIME = re.compile(rb"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$")


class LogFormatError(ValueError):
    """A log line not in the CRI format."""


@dataclass(frozen=True)
class LogEntry:
    timestamp: int  # ns since the epoch
    stream: str     # "stdout" or "stderr"
    partial: bool
    message: bytes  # without the trailing newline


def parse_time(raw: bytes) -> int:
    """An RFC3339 timestamp (up to nanoseconds, any offset) as ns since the epoch."""
    m = _TIME.match(raw)
    if not m:
        raise LogFormatError(f"invalid timestamp {raw[:40]!r}")
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    frac = (m.group(7) or b"").ljust(9, b"0")
    zone = m.group(8)
    try:
        base = dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.UTC)
    except ValueError as exc:
        raise LogFormatError(f"invalid timestamp {raw[:40]!r}: {exc}") from None
    seconds = int(base.timestamp())
    if zone != b"Z":
        sign = 1 if zone[:1] == b"+" else -1
        seconds -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    return seconds * 1_000_000_000 + int(frac)


def format_time(ns: int) -> str:
    """RFC3339Nano in UTC as Go formats it: the fraction without trailing zeros, none if zero."""
    seconds, frac = divmod(ns, 1_000_000_000)
    base = dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    digits = f"{frac:09d}".rstrip("0")
    return f"{base}.{digits}Z" if digits else f"{base}Z"


def parse_line(line: bytes) -> LogEntry:
    """One CRI log line (with or without its trailing newline)."""
    if line.endswith(b"\n"):
        line = line[:-1]
    parts = line.split(b" ", 3)
    if len(parts) < 3:
        raise LogFormatError(f"log line has too few fields: {line[:80]!r}")
    stamp, stream, tags = parts[0], parts[1], parts[2]
    message = parts[3] if len(parts) > 3 else b""
    if stream not in (b"stdout", b"stderr"):
        raise LogFormatError(f"unknown stream {stream[:20]!r}")
    first_tag = tags.split(b":", 1)[0]
    if first_tag not in (b"F", b"P"):
        raise LogFormatError(f"unknown log tag {tags[:20]!r}")
    return LogEntry(parse_time(stamp), stream.decode(), first_tag == b"P", message)


@dataclass(frozen=True)
class LogOptions:
    follow: bool = False
    tail_lines: int | None = None
    since: int | None = None        # ns since the epoch
    timestamps: bool = False
    limit_bytes: int | None = None
    stream: str = ""                # "", "stdout", "stderr" (upstream's split streams, alpha)


class Formatter:
    """Turns entries into output bytes; remembers whether the next piece starts a line (for timestamps)."""

    def __init__(self, opts: LogOptions) -> None:
        self.opts = opts
        self._line_start = {"stdout": True, "stderr": True}

    def format(self, entry: LogEntry) -> bytes:
        if self.opts.since is not None and entry.timestamp < self.opts.since:
            return b""
        if self.opts.stream and entry.stream != self.opts.stream:
            return b""
        prefix = b""
        if self.opts.timestamps and self._line_start[entry.stream]:
            prefix = format_time(entry.timestamp).encode() + b" "
        self._line_start[entry.stream] = not entry.partial
        return prefix + entry.message + (b"" if entry.partial else b"\n")


def tail_offset(path: str, lines: int, *, chunk: int = READ_CHUNK) -> int:
    """The byte offset after which exactly `lines` newlines follow (upstream's FindTailLineStartIndex):
    the start of the last `lines` complete lines, plus any incomplete line at the end. 0 if the file
    has fewer lines."""
    with open(path, "rb") as f:
        pos = f.seek(0, os.SEEK_END)
        seen = 0
        while pos > 0:
            step = min(chunk, pos)
            pos -= step
            f.seek(pos)
            block = f.read(step)
            i = len(block)
            while (i := block.rfind(b"\n", 0, i)) >= 0:
                seen += 1
                if seen == lines + 1:
                    return pos + i + 1
    return 0


async def read_logs(path: str, opts: LogOptions, *, running: Callable[[], Awaitable[bool]] | None = None,
                    poll: float = FOLLOW_POLL, check_every: float = RUNNING_CHECK) -> AsyncGenerator[bytes, None]:
    """Yield the formatted output of the log file at `path`.

    With `opts.follow`, keep going at the end of the file: new data is picked up by polling every `poll`
    seconds; when the file is replaced (the runtime reopens it after rotation) the rest of the old file is
    read first, then the new one from its start. Following ends when `running()` (asked at most every
    `check_every` seconds) says the container has stopped and no more data arrives.
    """
    loop = asyncio.get_running_loop()
    last_check = -check_every
    fmt = Formatter(opts)
    remaining = opts.limit_bytes
    # Local log files: reads hit the page cache and are short, so they stay on the event loop.
    f = open(path, "rb")  # noqa: ASYNC230
    try:
        if opts.tail_lines is not None:
            f.seek(tail_offset(path, opts.tail_lines))
        pending = b""
        while True:
            block = f.read(READ_CHUNK)
            if block:
                pending += block
                *complete, pending = pending.split(b"\n")
                out = bytearray()
                for line in complete:
                    if not line:
                        continue
                    try:
                        out += fmt.format(parse_line(line))
                    except LogFormatError:
                        continue
                if out:
                    if remaining is not None:
                        out = out[:remaining]
                        remaining -= len(out)
                    yield bytes(out)
                    if remaining is not None and remaining <= 0:
                        return
                continue
            if not opts.follow:
                if pending:
                    try:
                        data = fmt.format(parse_line(pending))
                    except LogFormatError:
                        data = b""
                    if data:
                        yield data[:remaining] if remaining is not None else data
                return
            # At the end while following: rotated? stopped? else wait.
            if _replaced(f, path):
                f.close()
                f = open(path, "rb")  # noqa: ASYNC230
                pending = b""
                continue
            now = loop.time()
            if running is not None and now - last_check >= check_every:
                last_check = now
                if not await running():
                    # Stopped: finish once everything the runtime wrote before the exit has been read.
                    if os.fstat(f.fileno()).st_size <= f.tell():
                        return
                    continue
            await asyncio.sleep(poll)
    finally:
        f.close()


def _replaced(f: BinaryIO, path: str) -> bool:
    """Whether `path` now names another file than the open `f` (the runtime rotated the log)."""
    try:
        now = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(f.fileno())
    return (now.st_ino, now.st_dev) != (mine.st_ino, mine.st_dev)
