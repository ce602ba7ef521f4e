"""The remote command protocol (exec and attach) shared by the API server, the kubelet and the runtime.

Over SPDY the client opens one stream per channel, each named by its `streamtype` header, in this
order: error, then stdin, stdout, stderr (not with a TTY), then resize (TTY, protocol v3+). The
protocol version is negotiated with `X-Stream-Protocol-Version` headers on the upgrade request.
Over WebSocket the channels are numbered (see `channels`).

The error stream carries, at the end, how the command finished: for v4/v5 a JSON metav1.Status
(`Success`, or `Failure` with reason `NonZeroExitCode` and a cause `{"reason": "ExitCode", "message":
"<rc>"}`), for older versions plain text. `Outcome` is what a client makes of it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

V5 = "v5.channel.k8s.io"
V4 = "v4.channel.k8s.io"
V3 = "v3.channel.k8s.io"
V2 = "v2.channel.k8s.io"
V1 = "channel.k8s.io"
# What a client offers over SPDY, best first (client-go's order).
SPDY_PROTOCOLS = (V5, V4, V3, V2, V1)

HEADER_PROTOCOL_VERSION = "X-Stream-Protocol-Version"
HEADER_STREAM_TYPE = "streamtype"

STREAM_ERROR = "error"
STREAM_STDIN = "stdin"
STREAM_STDOUT = "stdout"
STREAM_STDERR = "stderr"
STREAM_RESIZE = "resize"

NON_ZERO_EXIT_CODE = "NonZeroExitCode"
EXIT_CODE_CAUSE = "ExitCode"


class OptionsError(ValueError):
    """Exec/attach options that ask for nothing to stream."""


def truthy(value: str | None) -> bool:
    """A query flag as the API server reads it ("true"/"1") or the kubelet writes it ("1")."""
    return (value or "").lower() in ("1", "true")


@dataclass(frozen=True)
class Options:
    stdin: bool = False
    stdout: bool = False
    stderr: bool = False
    tty: bool = False

    @classmethod
    def from_query(cls, get: Callable[[str], str | None]) -> Options:
        """Read the flags of a kubelet request: upstream's kubelet names (`input`, `output`, `error`,
        `tty`, value "1") or the API's (`stdin`, `stdout`, `stderr`, "true"). As upstream, a TTY merges
        stderr into stdout; asking for no stream at all is an error."""

        def flag(kubelet_name: str, api_name: str) -> bool:
            return truthy(get(kubelet_name)) or truthy(get(api_name))

        tty = truthy(get("tty"))
        opts = cls(stdin=flag("input", "stdin"), stdout=flag("output", "stdout"),
                   stderr=flag("error", "stderr") and not tty, tty=tty)
        if not (opts.stdin or opts.stdout or opts.stderr):
            raise OptionsError("you must specify at least 1 of stdin, stdout, stderr")
        return opts

    def query(self) -> list[tuple[str, str]]:
        """The flags as the API server passes them on to a kubelet (upstream's streamParams:
        `input`, `output`, `error`, `tty` = "1")."""
        names = (("input", self.stdin), ("output", self.stdout), ("error", self.stderr), ("tty", self.tty))
        return [(name, "1") for name, on in names if on]

    def spdy_streams(self, protocol: str) -> list[str]:
        """The stream types a client opens, in upstream's order, for a negotiated SPDY protocol."""
        types = [STREAM_ERROR]
        if self.stdin:
            types.append(STREAM_STDIN)
        if self.stdout:
            types.append(STREAM_STDOUT)
        if self.stderr and not self.tty:
            types.append(STREAM_STDERR)
        if self.tty and protocol in (V5, V4, V3):
            types.append(STREAM_RESIZE)
        return types


def protocol_offer(headers: Iterable[str]) -> list[str]:
    """The `X-Stream-Protocol-Version` values of a request, split on commas, in order."""
    out: list[str] = []
    for value in headers:
        out.extend(p.strip() for p in value.split(",") if p.strip())
    return out


# -- statuses ----------------------------------------------------------------------------------------


def success_status() -> dict[str, Any]:
    return {"metadata": {}, "status": "Success"}


def exit_code_status(code: int, message: str = "") -> dict[str, Any]:
    """The Status a v4+ server writes when the command exited non-zero."""
    return {
        "metadata": {}, "status": "Failure",
        "message": message or f"command terminated with non-zero exit code: command terminated with exit code {code}",
        "reason": NON_ZERO_EXIT_CODE,
        "details": {"causes": [{"reason": EXIT_CODE_CAUSE, "message": str(code)}]},
    }


def failure_status(message: str, *, reason: str = "InternalError", code: int = 500,
                   details: Mapping[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"metadata": {}, "status": "Failure", "message": message, "reason": reason}
    if details:
        body["details"] = dict(details)
    body["code"] = code
    return body


@dataclass(frozen=True)
class Outcome:
    """How a remote command ended, as a client reads the error stream."""

    exit_code: int | None = 0   # None: the command did not run to an exit code (an error)
    message: str = ""
    status: dict[str, Any] | None = None  # a Status to pass on as it is (an upgrade refused with a Status)

    @property
    def success(self) -> bool:
        return self.exit_code == 0 and not self.message

    def as_status(self) -> dict[str, Any]:
        """The Status to hand to a v4/v5 WebSocket client (what upstream's stream translator writes)."""
        if self.success:
            return success_status()
        if self.exit_code is not None:
            return exit_code_status(self.exit_code, f"command terminated with non-zero exit code: {self.message}")
        if self.status is not None:
            return {"metadata": {}, **{k: v for k, v in self.status.items() if k not in ("kind", "apiVersion")}}
        return failure_status(f"Internal error occurred: {self.message}")


def decode_error_stream(protocol: str, payload: bytes) -> Outcome:
    """Interpret everything read from the error stream (client-go's errorDecoderV2/V4)."""
    if not payload:
        return Outcome()
    if protocol not in (V5, V4):
        return Outcome(None, f"error executing remote command: {payload.decode('utf-8', 'replace')}")
    try:
        status = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        return Outcome(None, f"error stream protocol error: {exc} in {payload.decode('utf-8', 'replace')!r}")
    if not isinstance(status, dict):
        return Outcome(None, "error stream protocol error: not a Status")
    if status.get("status") == "Success":
        return Outcome()
    if status.get("status") != "Failure":
        return Outcome(None, "error stream protocol error: unknown error")
    if status.get("reason") == NON_ZERO_EXIT_CODE:
        causes = ((status.get("details") or {}).get("causes")) or []
        for cause in causes:
            if cause.get("reason") != EXIT_CODE_CAUSE:
                continue
            try:
                rc = int(cause.get("message", ""))
            except ValueError:
                return Outcome(None, f"error stream protocol error: invalid exit code value {cause.get('message')!r}")
            if not 0 <= rc <= 255:
                return Outcome(None, f"error stream protocol error: invalid exit code value {cause.get('message')!r}")
            return Outcome(rc, f"command terminated with exit code {rc}")
        return Outcome(None, f"error stream protocol error: no {EXIT_CODE_CAUSE} cause given")
    return Outcome(None, str(status.get("message", "")))


def encode_status(status: Mapping[str, Any]) -> bytes:
    return orjson.dumps(status)


def resize_message(width: int, height: int) -> bytes:
    """One terminal size event as clients write it on the resize channel/stream."""
    return orjson.dumps({"Width": width, "Height": height})
