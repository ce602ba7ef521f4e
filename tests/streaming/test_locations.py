"""Where pods/log, exec, attach and the proxies go, and how backend errors come back (pure rules)."""

from __future__ import annotations

from typing import Any

import pytest

from kijabi.machinery import errors
from kijabi.machinery.streams import locations


def _pod(*containers: str, init: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"metadata": {"name": "p"}, "spec": {"containers": [{"name": c} for c in containers],
                                                "initContainers": [{"name": c} for c in init]}}


@pytest.mark.parametrize("pod,asked,chosen", [
    pytest.param(_pod("a"), "", "a", id="only-container-by-default"),
    pytest.param(_pod("a", "b"), "b", "b", id="named"),
    pytest.param(_pod("a", init=("setup",)), "setup", "setup", id="init-container-named"),
])
def test_container_choice(pod: dict[str, Any], asked: str, chosen: str) -> None:
    assert locations.validate_container(pod, asked) == chosen


@pytest.mark.parametrize("pod,asked,message", [
    pytest.param(_pod("a", "b"), "", "a container name must be specified for pod p, choose one of: [a b]", id="two"),
    pytest.param(_pod("a", "b", init=("i",)), "", "a container name must be specified for pod p, choose one of: [i a b]",
                 id="init-listed-first"),
    pytest.param(_pod(), "", "a container name must be specified for pod p", id="none"),
    pytest.param(_pod("a"), "nope", "container nope is not valid for pod p", id="unknown"),
])
def test_container_choice_errors_are_upstreams(pod: dict[str, Any], asked: str, message: str) -> None:
    with pytest.raises(errors.StatusError) as exc:
        locations.validate_container(pod, asked)
    assert (exc.value.code, exc.value.reason, exc.value.message) == (400, "BadRequest", message)


@pytest.mark.parametrize("query,params", [
    pytest.param({}, [], id="none"),
    pytest.param({"follow": "true", "timestamps": "1", "previous": "false"}, [("follow", "true"), ("timestamps", "true")],
                 id="flags"),
    pytest.param({"tailLines": "0", "limitBytes": "10", "sinceSeconds": "5"},
                 [("sinceSeconds", "5"), ("tailLines", "0"), ("limitBytes", "10")], id="numbers"),
    pytest.param({"sinceTime": "2026-01-02T03:04:05Z"}, [("sinceTime", "2026-01-02T03:04:05Z")], id="since-time"),
])
def test_log_options_pass_to_the_kubelet(query: dict[str, str], params: list[tuple[str, str]]) -> None:
    assert locations.log_params(query.get, "p") == params


@pytest.mark.parametrize("query,code,message", [
    pytest.param({"tailLines": "-1"}, 422,
                 'PodLogOptions "p" is invalid: tailLines: Invalid value: -1: must be greater than or equal to 0', id="tail"),
    pytest.param({"limitBytes": "0"}, 422, 'PodLogOptions "p" is invalid: limitBytes: Invalid value: 0: must be greater than 0',
                 id="limit"),
    pytest.param({"sinceSeconds": "0"}, 422,
                 'PodLogOptions "p" is invalid: sinceSeconds: Invalid value: 0: must be greater than 0', id="since"),
    pytest.param({"sinceSeconds": "5", "sinceTime": "2026-01-02T03:04:05Z"}, 422,
                 "at most one of `sinceTime` or `sinceSeconds` may be specified", id="both-since"),
    pytest.param({"tailLines": "many"}, 400, 'strconv.ParseInt: parsing "many": invalid syntax', id="not-a-number"),
    pytest.param({"follow": "yes"}, 400, 'strconv.ParseBool: parsing "yes": invalid syntax', id="not-a-bool"),
    pytest.param({"sinceTime": "yesterday"}, 400, 'parsing time "yesterday"', id="bad-time"),
])
def test_invalid_log_options(query: dict[str, str], code: int, message: str) -> None:
    with pytest.raises(errors.StatusError) as exc:
        locations.log_params(query.get, "p")
    assert exc.value.code == code and message in exc.value.message


def _node(addresses: list[tuple[str, str]], port: int | None = None) -> dict[str, Any]:
    status: dict[str, Any] = {"addresses": [{"type": t, "address": a} for t, a in addresses]}
    if port is not None:
        status["daemonEndpoints"] = {"kubeletEndpoint": {"Port": port}}
    return {"status": status}


@pytest.mark.parametrize("node,endpoint", [
    pytest.param(_node([("Hostname", "n1"), ("InternalIP", "10.0.0.5")], 10250), ("10.0.0.5", 10250), id="internal-ip-first"),
    pytest.param(_node([("Hostname", "n1"), ("ExternalIP", "1.2.3.4")], 12345), ("1.2.3.4", 12345), id="external-ip"),
    pytest.param(_node([("Hostname", "n1")]), ("n1", 10250), id="hostname-default-port"),
])
def test_kubelet_endpoint_of_a_node(node: dict[str, Any], endpoint: tuple[str, int]) -> None:
    assert locations.kubelet_endpoint(node) == endpoint


def test_node_without_addresses_cannot_be_reached() -> None:
    with pytest.raises(errors.StatusError, match="no preferred addresses found; known addresses: \\[\\]"):
        locations.kubelet_endpoint({"status": {}})


@pytest.mark.parametrize("code,body,reason,message", [
    pytest.param(500, b"boom", "InternalError", "Internal error occurred: boom", id="500"),
    pytest.param(400, b'previous terminated container "c" in pod "p" not found', "BadRequest",
                 'previous terminated container "c" in pod "p" not found', id="400"),
    pytest.param(404, b'pod "p" does not exist', "NotFound", "the server could not find the requested resource ( pods/log p)",
                 id="404"),
    pytest.param(422, b"x", "Invalid", "the server rejected our request due to an error in our request ( pods/log p)", id="422"),
    pytest.param(502, b"bad gateway", "InternalError",
                 'an error on the server ("bad gateway") has prevented the request from succeeding ( pods/log p)', id="502"),
    pytest.param(418, b"", "Unknown",
                 "the server responded with the status code 418 but did not return more information ( pods/log p)", id="418"),
])
def test_backend_errors_map_like_upstreams_response_checker(code: int, body: bytes, reason: str, message: str) -> None:
    err = locations.backend_error(code, body, "pods/log", "p")
    assert (err.code, err.reason, err.message) == (code, reason, message)


@pytest.mark.parametrize("text,parts", [
    pytest.param("web", ("", "web", ""), id="name"),
    pytest.param("web:8080", ("", "web", "8080"), id="name-port"),
    pytest.param("https:web:8443", ("https", "web", "8443"), id="scheme-name-port"),
])
def test_proxy_names(text: str, parts: tuple[str, str, str]) -> None:
    assert locations.split_scheme_name_port(text) == parts


@pytest.mark.parametrize("text", ["ftp:web:21", ":80", "a:b:c:d"])
def test_invalid_proxy_names(text: str) -> None:
    with pytest.raises(errors.StatusError, match="invalid request"):
        locations.split_scheme_name_port(text)


@pytest.mark.parametrize("ip,allowed", [
    ("10.42.0.5", True), ("192.168.1.1", True), ("8.8.8.8", True), ("fd00::1", True),
    ("127.0.0.1", False), ("169.254.1.1", False), ("0.0.0.0", False), ("224.0.0.1", False), ("255.255.255.255", False),
    ("::1", False), ("", False),
])
def test_pod_proxy_addresses_must_be_global_unicast(ip: str, allowed: bool) -> None:
    assert locations.global_unicast(ip) is allowed
