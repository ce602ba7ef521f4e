"""Container logs in the CRI format: parsing, tail offsets, and reading with kubectl's options."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from kijabi.kubelet.streaming import logs

T0 = "2026-11-27T03:27:43.334789033Z"
T0_NS = logs.parse_time(T0.encode())


def _line(ns: int, stream: str, tag: str, message: str) -> str:
    return f"{logs.format_time(ns)} {stream} {tag} {message}\n"


@pytest.mark.parametrize("raw,entry", [
    pytest.param(f"{T0} stdout F hello world\n", logs.LogEntry(T0_NS, "stdout", False, b"hello world"), id="full-line"),
    pytest.param(f"{T0} stderr P part", logs.LogEntry(T0_NS, "stderr", True, b"part"), id="partial-stderr"),
    pytest.param(f"{T0} stdout F", logs.LogEntry(T0_NS, "stdout", False, b""), id="empty-message"),
    pytest.param(f"{T0} stdout F:x:y  two  spaces", logs.LogEntry(T0_NS, "stdout", False, b" two  spaces"),
                 id="extra-tags-and-spaces-kept"),
])
def test_cri_lines_parse(raw: str, entry: logs.LogEntry) -> None:
    assert logs.parse_line(raw.encode()) == entry


@pytest.mark.parametrize("raw", ["garbage", f"{T0} stdin F x", f"{T0} stdout X x", "2026-13-45T00:00:00Z stdout F x"],
                         ids=["no-fields", "unknown-stream", "unknown-tag", "impossible-date"])
def test_malformed_lines_are_refused(raw: str) -> None:
    with pytest.raises(logs.LogFormatError):
        logs.parse_line(raw.encode())


@pytest.mark.parametrize("text,formatted", [
    pytest.param("2026-11-27T03:27:43.334789033Z", "2026-11-27T03:27:43.334789033Z", id="nanoseconds"),
    pytest.param("2026-11-27T03:27:43.100Z", "2026-11-27T03:27:43.1Z", id="trailing-zeros-trimmed"),
    pytest.param("2026-11-27T03:27:43Z", "2026-11-27T03:27:43Z", id="whole-seconds"),
    pytest.param("2026-11-27T05:27:43.5+02:00", "2026-11-27T03:27:43.5Z", id="offset-to-utc"),
])
def test_times_read_any_offset_and_print_like_go_rfc3339nano(text: str, formatted: str) -> None:
    assert logs.format_time(logs.parse_time(text.encode())) == formatted


@pytest.mark.parametrize("content,lines,offset", [
    pytest.param(b"a\nb\nc\n", 1, 4, id="last-line"),
    pytest.param(b"a\nb\nc\n", 2, 2, id="two-lines"),
    pytest.param(b"a\nb\nc\n", 5, 0, id="more-than-there-are"),
    pytest.param(b"a\nb\nc\n", 0, 6, id="zero-lines"),
    pytest.param(b"a\nb\nc", 1, 2, id="incomplete-last-line-rides-along"),
    pytest.param(b"", 3, 0, id="empty-file"),
])
def test_tail_offset_counts_newlines_like_upstream(tmp_path: Path, content: bytes, lines: int, offset: int) -> None:
    path = tmp_path / "0.log"
    path.write_bytes(content)
    assert logs.tail_offset(str(path), lines) == offset
    assert logs.tail_offset(str(path), lines, chunk=1) == offset  # block boundaries do not matter


def _write(path: Path, entries: list[tuple[int, str, str, str]]) -> None:
    path.write_text("".join(_line(*e) for e in entries))


SAMPLE = [
    (T0_NS, "stdout", "F", "one"),
    (T0_NS + 1_000_000_000, "stderr", "F", "oops"),
    (T0_NS + 2_000_000_000, "stdout", "P", "long-"),
    (T0_NS + 2_000_000_001, "stdout", "F", "line"),
    (T0_NS + 3_000_000_000, "stdout", "F", "last"),
]


async def _read(path: Path, opts: logs.LogOptions, **kw: object) -> bytes:
    return b"".join([chunk async for chunk in logs.read_logs(str(path), opts, **kw)])  # type: ignore[arg-type]


@pytest.mark.parametrize("opts,output", [
    pytest.param(logs.LogOptions(), b"one\noops\nlong-line\nlast\n", id="everything"),
    pytest.param(logs.LogOptions(tail_lines=1), b"last\n", id="tail-1"),
    pytest.param(logs.LogOptions(tail_lines=3), b"long-line\nlast\n", id="tail-counts-pieces"),
    pytest.param(logs.LogOptions(since=T0_NS + 1_500_000_000), b"long-line\nlast\n", id="since"),
    pytest.param(logs.LogOptions(limit_bytes=6), b"one\noo", id="limit-bytes"),
    pytest.param(logs.LogOptions(stream="stderr"), b"oops\n", id="stderr-only"),
    pytest.param(logs.LogOptions(timestamps=True, tail_lines=3),
                 f"{logs.format_time(T0_NS + 2_000_000_000)} long-line\n{logs.format_time(T0_NS + 3_000_000_000)} last\n".encode(),
                 id="timestamps-once-per-line"),
])
async def test_reading_with_options(tmp_path: Path, opts: logs.LogOptions, output: bytes) -> None:
    path = tmp_path / "0.log"
    _write(path, SAMPLE)
    assert await _read(path, opts) == output


async def test_malformed_lines_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    path.write_text(_line(T0_NS, "stdout", "F", "a") + "not a log line\n" + _line(T0_NS, "stdout", "F", "b"))
    assert await _read(path, logs.LogOptions()) == b"a\nb\n"


def _scripted(steps: list[Callable[[], None]]) -> Callable[[], Awaitable[bool]]:
    """A `running()` for follow tests: each call while the reader waits at the end runs the next step
    (which writes to the log) and says the container still runs; once the steps are done, it has stopped."""
    queue = list(steps)

    async def running() -> bool:
        if not queue:
            return False
        queue.pop(0)()
        return True

    return running


async def test_follow_picks_up_appended_lines_until_the_container_stops(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    _write(path, SAMPLE[:1])

    def append(text: str) -> Callable[[], None]:
        def step() -> None:
            with open(path, "a") as f:
                f.write(text)
        return step

    running = _scripted([append(_line(T0_NS + 5, "stdout", "F", "two")), append(_line(T0_NS + 6, "stdout", "P", "thr")),
                         append(_line(T0_NS + 7, "stdout", "F", "ee"))])
    out = await _read(path, logs.LogOptions(follow=True), running=running, poll=0, check_every=0)
    assert out == b"one\ntwo\nthree\n"


async def test_follow_continues_in_the_new_file_after_rotation(tmp_path: Path) -> None:
    """The runtime reopens the log after the kubelet renamed it: the rest of the old file, then the new one."""
    path = tmp_path / "0.log"
    _write(path, SAMPLE[:1])

    def rotate() -> None:
        with open(path, "a") as f:
            f.write(_line(T0_NS + 1, "stdout", "F", "end of old"))
        os.rename(path, tmp_path / "0.log.20261127-032800")
        path.write_text(_line(T0_NS + 2, "stdout", "F", "start of new"))

    out = await _read(path, logs.LogOptions(follow=True), running=_scripted([rotate, lambda: None]), poll=0, check_every=0)
    assert out == b"one\nend of old\nstart of new\n"


async def test_follow_stops_at_limit_bytes(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    _write(path, SAMPLE)
    out = await _read(path, logs.LogOptions(follow=True, limit_bytes=4), running=_scripted([]), poll=0, check_every=0)
    assert out == b"one\n"
