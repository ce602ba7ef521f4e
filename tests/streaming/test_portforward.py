"""Port-forward: pairing error/data streams by request id, the tunnel subprotocols, port parameters."""

from __future__ import annotations

import pytest

from kijabi.machinery.streams import portforward as pf
from kijabi.machinery.streams import spdy


def _h(**values: str) -> spdy.Headers:
    return {k: [v] for k, v in values.items()}


def test_streams_pair_by_request_id_in_any_order() -> None:
    pairs = pf.StreamPairs()
    assert pairs.add(1, _h(streamtype="error", port="80", requestid="0"), now=0) is None
    assert pairs.add(3, _h(streamtype="error", port="81", requestid="1"), now=0) is None
    second = pairs.add(5, _h(streamtype="data", port="81", requestid="1"), now=0)
    first = pairs.add(7, _h(streamtype="data", port="80", requestid="0"), now=0)
    assert second is not None and (second.error_stream, second.data_stream, second.port) == (3, 5, 81)
    assert first is not None and (first.error_stream, first.data_stream, first.port) == (1, 7, 80)
    assert len(pairs) == 0


def test_streams_without_request_id_pair_by_stream_id() -> None:
    """Old clients: the error stream n and the data stream n + 2 belong together."""
    pairs = pf.StreamPairs()
    assert pairs.add(5, _h(streamtype="error", port="80"), now=0) is None
    pair = pairs.add(7, _h(streamtype="data", port="80"), now=0)
    assert pair is not None and pair.request_id == "5"


@pytest.mark.parametrize("headers,message", [
    pytest.param(_h(streamtype="data"), '"port" header is required', id="no-port"),
    pytest.param(_h(streamtype="data", port="http"), 'unable to parse "http" as a port', id="port-not-a-number"),
    pytest.param(_h(streamtype="data", port="0"), 'port "0" must be > 0', id="port-zero"),
    pytest.param(_h(streamtype="data", port="70000"), "value out of range", id="port-too-big"),
    pytest.param(_h(port="80"), '"streamtype" header is required', id="no-type"),
    pytest.param(_h(streamtype="stdin", port="80"), 'invalid stream type "stdin"', id="wrong-type"),
])
def test_invalid_streams_are_refused_with_upstreams_messages(headers: spdy.Headers, message: str) -> None:
    with pytest.raises(pf.PairingError, match=message):
        pf.StreamPairs().add(1, headers, now=0)


def test_a_second_stream_of_one_type_is_refused() -> None:
    pairs = pf.StreamPairs()
    pairs.add(1, _h(streamtype="error", port="80", requestid="9"), now=0)
    with pytest.raises(pf.PairingError, match="error stream already assigned"):
        pairs.add(3, _h(streamtype="error", port="80", requestid="9"), now=0)


def test_incomplete_pairs_expire() -> None:
    pairs = pf.StreamPairs(timeout=30)
    pairs.add(1, _h(streamtype="error", port="80", requestid="a"), now=100)
    pairs.add(3, _h(streamtype="error", port="80", requestid="b"), now=120)
    assert [p.request_id for p in pairs.expired(now=129.9)] == []
    assert [p.request_id for p in pairs.expired(now=130)] == ["a"]
    assert len(pairs) == 1


def test_tunnel_subprotocols_wrap_spdy_protocols() -> None:
    offered = ["SPDY/3.1+portforward.k8s.io", "portforward.k8s.io", "SPDY/3.1+other.example.com"]
    assert pf.tunnel_protocols(offered) == ["portforward.k8s.io"]
    assert pf.tunnelled("portforward.k8s.io") == "SPDY/3.1+portforward.k8s.io"


def test_ports_parameter() -> None:
    assert pf.parse_ports("80,8080, 443") == [80, 8080, 443]
    with pytest.raises(pf.PairingError):
        pf.parse_ports("80,0")
