"""Pod network configuration: the conflist, the service-CIDR route, and removal of bridge, rules and caches."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kijabi.kubelet import cni
from kijabi.kubelet.cleanup import remove_empty_nft_tables
from tests.kubelet.node import requires_runtime

IPAM = Path("/data/agent/cni/ipam")

CONFLISTS: list[tuple[str, cni.BridgeNetwork, dict[str, Any]]] = [
    ("node defaults", cni.BridgeNetwork("10.42.0.0/24"), {
        "cniVersion": "1.0.0", "name": "kijabi", "plugins": [
            {"type": "bridge", "bridge": "cni0", "isGateway": True, "ipMasq": True, "hairpinMode": True,
             "ipam": {"type": "host-local", "dataDir": str(IPAM),
                      "ranges": [[{"subnet": "10.42.0.0/24", "gateway": "10.42.0.1"}]],
                      "routes": [{"dst": "0.0.0.0/0"}]}},
            {"type": "portmap", "capabilities": {"portMappings": True}, "snat": True}]}),
    ("test network: pod CIDR route only", cni.BridgeNetwork("10.42.250.0/24", bridge="kjtest0", name="kjtest",
                                                            default_route=False, ip_masq=False, port_map=False), {
        "cniVersion": "1.0.0", "name": "kjtest", "plugins": [
            {"type": "bridge", "bridge": "kjtest0", "isGateway": True, "ipMasq": False, "hairpinMode": True,
             "ipam": {"type": "host-local", "dataDir": str(IPAM),
                      "ranges": [[{"subnet": "10.42.250.0/24", "gateway": "10.42.250.1"}]]}}]}),
]


@pytest.mark.parametrize(("net", "expected"), [(n, e) for _, n, e in CONFLISTS], ids=[i for i, _, _ in CONFLISTS])
def test_conflist(net: cni.BridgeNetwork, expected: dict[str, Any]) -> None:
    assert cni.conflist(net, ipam_dir=IPAM) == expected


def test_ipv6_pod_cidr_gets_a_v6_default_route_and_mtu_is_passed() -> None:
    doc = cni.conflist(cni.BridgeNetwork("fd00:42::/64", mtu=1400), ipam_dir=IPAM)
    bridge = doc["plugins"][0]
    assert bridge["mtu"] == 1400
    assert bridge["ipam"]["ranges"] == [[{"subnet": "fd00:42::/64", "gateway": "fd00:42::1"}]]
    assert bridge["ipam"]["routes"] == [{"dst": "::/0"}]


INVALID = [
    ("not a CIDR", {"pod_cidr": "10.42.0.0/33"}, "invalid pod CIDR"),
    ("host bits set", {"pod_cidr": "10.42.0.1/24"}, "invalid pod CIDR"),
    ("too small", {"pod_cidr": "10.42.0.0/31"}, "too small"),
    ("bridge name too long", {"pod_cidr": "10.42.0.0/24", "bridge": "a-very-long-bridge"}, "invalid bridge name"),
    ("empty network name", {"pod_cidr": "10.42.0.0/24", "name": ""}, "invalid network name"),
]


@pytest.mark.parametrize(("kwargs", "message"), [(k, m) for _, k, m in INVALID], ids=[i for i, _, _ in INVALID])
def test_invalid_network_settings_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(cni.NetworkConfigError, match=message):
        cni.BridgeNetwork(**kwargs)


def test_write_conflist_replaces_other_network_configs(tmp_path: Path) -> None:
    """containerd loads only the first config of the directory: ours must be the only one."""
    conf_dir = tmp_path / "net.d"
    conf_dir.mkdir()
    (conf_dir / "05-old.conflist").write_text("{}")
    (conf_dir / "87-podman.conf").write_text("{}")
    (conf_dir / "README").write_text("kept")
    net = cni.BridgeNetwork("10.42.7.0/24")
    path = cni.write_conflist(conf_dir, net, ipam_dir=tmp_path / "ipam")
    assert sorted(p.name for p in conf_dir.iterdir()) == ["10-kijabi.conflist", "README"]
    assert json.loads(path.read_text()) == cni.conflist(net, ipam_dir=tmp_path / "ipam")
    assert (tmp_path / "ipam").is_dir()


def test_remove_cni_cache_removes_only_our_network(tmp_path: Path) -> None:
    results = tmp_path / "results"
    results.mkdir()
    for name in ("kijabi-abc-eth0", "kijabi-def-eth0", "other-abc-eth0"):
        (results / name).write_text("{}")
    removed = cni.remove_cni_cache("kijabi", tmp_path)
    assert sorted(p.name for p in removed) == ["kijabi-abc-eth0", "kijabi-def-eth0"]
    assert [p.name for p in results.iterdir()] == ["other-abc-eth0"]
    (results / "other-abc-eth0").unlink()
    assert cni.remove_cni_cache("kijabi", tmp_path) == [results, tmp_path]
    assert not tmp_path.exists()


# --- against the kernel (root) ---------------------------------------------------------------------------

TEST_SERVICE_CIDR = "10.43.254.0/24"


@requires_runtime
def test_unreachable_route_is_added_once_and_removed() -> None:
    """The route makes the kernel refuse traffic to the CIDR locally; add and remove are idempotent."""
    try:
        cni.add_unreachable_route(TEST_SERVICE_CIDR)
        cni.add_unreachable_route(TEST_SERVICE_CIDR)
        assert cni.has_unreachable_route(TEST_SERVICE_CIDR)
        probe = subprocess.run(["ip", "route", "get", "10.43.254.7"], capture_output=True, text=True)
        assert probe.returncode != 0 and "No route to host" in probe.stderr
    finally:
        first = cni.remove_unreachable_route(TEST_SERVICE_CIDR)
    assert first is True
    assert cni.remove_unreachable_route(TEST_SERVICE_CIDR) is False
    assert not cni.has_unreachable_route(TEST_SERVICE_CIDR)


@pytest.fixture
def bridge_with_veth() -> Iterator[str]:
    cmds = [["ip", "link", "add", "kjunit0", "type", "bridge"],
            ["ip", "link", "add", "kjunitv0", "type", "veth", "peer", "name", "kjunitv1"],
            ["ip", "link", "set", "kjunitv0", "master", "kjunit0"]]
    try:
        for cmd in cmds:
            subprocess.run(cmd, check=True, capture_output=True)
        yield "kjunit0"
    finally:
        for name in ("kjunitv0", "kjunit0"):
            subprocess.run(["ip", "link", "del", name], capture_output=True)


@requires_runtime
def test_delete_bridge_takes_attached_veths_along(bridge_with_veth: str) -> None:
    assert cni.bridge_ports(bridge_with_veth) == ["kjunitv0"]
    assert cni.delete_bridge(bridge_with_veth) == ["kjunitv0", "kjunit0"]
    assert not any(cni.link_exists(n) for n in ("kjunit0", "kjunitv0", "kjunitv1"))
    assert cni.delete_bridge(bridge_with_veth) == []


def _ipt(*args: str) -> None:
    subprocess.run(["iptables", "-w", "-t", "nat", *args], check=True, capture_output=True)


def _pod_rules(network: str, pod: str, port: int) -> None:
    """What the bridge (ipMasq) and portmap plugins create for one pod, with made-up chain names."""
    comment = f'name: "{network}" id: "{pod}"'
    masq, dn = f"CNI-KJU{pod}", f"CNI-DN-KJU{pod}"
    for chain in (masq, dn):
        _ipt("-N", chain)
    _ipt("-A", "POSTROUTING", "-s", f"10.42.251.{port % 200}/32", "-m", "comment", "--comment", comment, "-j", masq)
    _ipt("-A", masq, "-d", "10.42.251.0/24", "-m", "comment", "--comment", comment, "-j", "ACCEPT")
    _ipt("-A", dn, "-p", "tcp", "--dport", str(port), "-j", "DNAT", "--to-destination", f"10.42.251.9:{port}")
    _ipt("-A", "CNI-HOSTPORT-DNAT", "-p", "tcp", "-m", "comment", "--comment", f"dnat {comment}",
         "-m", "multiport", "--dports", str(port), "-j", dn)


def _shared_chains() -> None:
    for chain in ("CNI-HOSTPORT-DNAT", "CNI-HOSTPORT-MASQ", "CNI-HOSTPORT-SETMARK"):
        _ipt("-N", chain)
    _ipt("-A", "OUTPUT", "-m", "addrtype", "--dst-type", "LOCAL", "-j", "CNI-HOSTPORT-DNAT")
    _ipt("-A", "POSTROUTING", "-m", "comment", "--comment", "CNI portfwd requiring masquerade", "-j", "CNI-HOSTPORT-MASQ")
    _ipt("-A", "CNI-HOSTPORT-MASQ", "-m", "mark", "--mark", "0x2000/0x2000", "-j", "MASQUERADE")
    _ipt("-A", "CNI-HOSTPORT-SETMARK", "-j", "MARK", "--set-xmark", "0x2000/0x2000")


@requires_runtime
def test_iptables_cleanup_removes_one_networks_rules_and_shared_chains_last() -> None:
    """Our pods' chains and rules go; another network's stay, and so do portmap's shared chains until the
    last network using them is cleaned."""
    if any(c.startswith("iptables/nat/CNI-HOSTPORT") for c in cni.cni_chains()):
        pytest.skip("another CNI user on this host has hostport chains")
    try:
        _shared_chains()
        _pod_rules("kjunit", "a1", 18501)
        _pod_rules("kjunit", "a2", 18502)
        _pod_rules("kjother", "b1", 18503)
        removed = cni.remove_iptables_rules("kjunit")
        assert any("-X CNI-KJUa1" in r for r in removed) and any("-X CNI-DN-KJUa2" in r for r in removed)
        left = {c.split("/")[-1] for c in cni.cni_chains()}
        assert left == {"CNI-KJUb1", "CNI-DN-KJUb1", "CNI-HOSTPORT-DNAT", "CNI-HOSTPORT-MASQ", "CNI-HOSTPORT-SETMARK"}
        saved = subprocess.run(["iptables-save", "-t", "nat"], capture_output=True, text=True).stdout
        assert "kjunit" not in saved and "kjother" in saved
        assert cni.remove_iptables_rules("kjunit") == []
        cni.remove_iptables_rules("kjother")
        assert cni.cni_chains() == []
        saved = subprocess.run(["iptables-save", "-t", "nat"], capture_output=True, text=True).stdout
        assert "CNI-" not in saved
    finally:
        cni.remove_iptables_rules("kjunit")
        cni.remove_iptables_rules("kjother")
        remove_empty_nft_tables()  # the empty `ip nat` table iptables-nft created for the rules
