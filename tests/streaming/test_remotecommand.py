"""The exec/attach protocol: options, the streams a client opens, and how the error stream ends a command."""

from __future__ import annotations

import orjson
import pytest

from kijabi.machinery.streams import remotecommand as rc


@pytest.mark.parametrize("query,expected", [
    pytest.param({"input": "1", "output": "1", "error": "1"}, rc.Options(True, True, True, False), id="kubelet-names"),
    pytest.param({"stdin": "true", "stdout": "true"}, rc.Options(True, True, False, False), id="api-names"),
    pytest.param({"output": "1", "error": "1", "tty": "1"}, rc.Options(False, True, False, True), id="tty-drops-stderr"),
    pytest.param({"error": "1"}, rc.Options(False, False, True, False), id="stderr-only"),
])
def test_options_read_either_naming(query: dict[str, str], expected: rc.Options) -> None:
    assert rc.Options.from_query(query.get) == expected


@pytest.mark.parametrize("query", [{}, {"tty": "1", "error": "1"}, {"input": "0", "output": "false"}],
                         ids=["nothing", "tty-with-only-stderr", "all-false"])
def test_options_must_ask_for_a_stream(query: dict[str, str]) -> None:
    with pytest.raises(rc.OptionsError, match="you must specify at least 1 of stdin, stdout, stderr"):
        rc.Options.from_query(query.get)


def test_options_are_passed_to_the_kubelet_as_upstream_does() -> None:
    assert rc.Options(stdin=True, stdout=True, tty=True).query() == [("input", "1"), ("output", "1"), ("tty", "1")]
    assert rc.Options(stdout=True, stderr=True).query() == [("output", "1"), ("error", "1")]


@pytest.mark.parametrize("opts,protocol,streams", [
    pytest.param(rc.Options(True, True, True), rc.V4, ["error", "stdin", "stdout", "stderr"], id="all-no-tty"),
    pytest.param(rc.Options(True, True, False, True), rc.V4, ["error", "stdin", "stdout", "resize"], id="tty-v4"),
    pytest.param(rc.Options(True, True, False, True), rc.V2, ["error", "stdin", "stdout"], id="tty-v2-no-resize"),
    pytest.param(rc.Options(False, True, True, True), rc.V3, ["error", "stdout", "resize"], id="tty-hides-stderr"),
])
def test_spdy_streams_in_client_go_order(opts: rc.Options, protocol: str, streams: list[str]) -> None:
    """The error stream first, then stdin/stdout/stderr, then resize (v3+ with a TTY)."""
    assert opts.spdy_streams(protocol) == streams


@pytest.mark.parametrize("protocol,payload,exit_code,message", [
    pytest.param(rc.V4, b"", 0, "", id="nothing-is-success"),
    pytest.param(rc.V4, b'{"metadata":{},"status":"Success"}', 0, "", id="v4-success"),
    pytest.param(rc.V4, orjson.dumps(rc.exit_code_status(3)), 3, "command terminated with exit code 3", id="v4-exit-3"),
    pytest.param(rc.V5, orjson.dumps(rc.exit_code_status(255)), 255, "command terminated with exit code 255", id="v5-exit-255"),
    pytest.param(rc.V4, b'{"status":"Failure","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"x"}]}}',
                 None, "error stream protocol error: invalid exit code value 'x'", id="bad-exit-code"),
    pytest.param(rc.V4, b'{"status":"Failure","reason":"NonZeroExitCode","details":{"causes":[]}}',
                 None, "error stream protocol error: no ExitCode cause given", id="no-exit-cause"),
    pytest.param(rc.V4, b'{"status":"Failure","reason":"InternalError","message":"boom"}', None, "boom", id="v4-failure"),
    pytest.param(rc.V4, b'{"status":"Weird"}', None, "error stream protocol error: unknown error", id="unknown-status"),
    pytest.param(rc.V2, b"container not running", None, "error executing remote command: container not running",
                 id="v2-text"),
])
def test_error_stream_outcomes(protocol: str, payload: bytes, exit_code: int | None, message: str) -> None:
    """As client-go's errorDecoderV2/V4 read the error stream."""
    outcome = rc.decode_error_stream(protocol, payload)
    assert (outcome.exit_code, outcome.message) == (exit_code, message)


def test_outcomes_become_the_status_written_on_channel_3() -> None:
    """Success; NonZeroExitCode with an ExitCode cause (JSON field `reason`); other failures as InternalError;
    a Status that refused the upgrade is passed on as it is."""
    assert rc.decode_error_stream(rc.V4, b"").as_status() == {"metadata": {}, "status": "Success"}
    status = rc.decode_error_stream(rc.V4, orjson.dumps(rc.exit_code_status(7))).as_status()
    assert status == {
        "metadata": {}, "status": "Failure", "reason": "NonZeroExitCode",
        "message": "command terminated with non-zero exit code: command terminated with exit code 7",
        "details": {"causes": [{"reason": "ExitCode", "message": "7"}]},
    }
    failure = rc.decode_error_stream(rc.V4, b'{"status":"Failure","message":"boom"}').as_status()
    assert (failure["reason"], failure["code"], failure["message"]) == ("InternalError", 500, "Internal error occurred: boom")
    refused = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404, "message": "gone"}
    assert rc.Outcome(None, "gone", refused).as_status() == {"metadata": {}, "status": "Failure", "reason": "NotFound",
                                                               "code": 404, "message": "gone"}


def test_resize_messages_use_go_field_names() -> None:
    assert orjson.loads(rc.resize_message(100, 40)) == {"Width": 100, "Height": 40}
