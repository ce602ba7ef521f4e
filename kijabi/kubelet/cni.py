"""Pod networking on one node: the CNI conflist containerd uses, the service-CIDR route, and their removal.

The network is the k3s default without flannel: every pod gets a veth on the Linux bridge `cni0`, an
address from the node's pod CIDR (host-local IPAM, the bridge holds the gateway = first address), and
hostPort mappings through the `portmap` plugin:

    {"cniVersion": "1.0.0", "name": "kijabi", "plugins": [
      {"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": true, "hairpinMode": true,
       "ipam": {"type": "host-local", "dataDir": "<data-dir>/agent/cni/ipam",
                "ranges": [[{"subnet": "10.42.0.0/24", "gateway": "10.42.0.1"}]],
                "routes": [{"dst": "0.0.0.0/0"}]}},
      {"type": "portmap", "capabilities": {"portMappings": true}, "snat": true}]}

Loopback is not in the chain: containerd's CRI plugin sets up each pod's `lo` with its own built-in
loopback network (running /usr/lib/cni/loopback). `default_route=False` leaves pods only the route of the
pod CIDR (tests use it so that no pod can send a packet off the bridge).

The agent also installs an unreachable route for the service CIDR (default 10.43.0.0/16, DESIGN.md):
kube-proxy rewrites traffic to allocated ClusterIPs before routing, so only traffic to an unallocated
ClusterIP meets the route and fails at once instead of leaving the host.

Removal (used by kijabi.kubelet.cleanup, safe to repeat): `delete_bridge`, `remove_iptables_rules` (the
per-pod chains of bridge ipMasq and portmap, found by the network name in their comments, and portmap's
shared CNI-HOSTPORT-* chains once no other network uses them), `remove_cni_cache` (libcni's cache in
/var/lib/cni, which containerd 1.6 does not let us move), `remove_unreachable_route`.

Every command-running function is synchronous (ip, iptables) and takes well under a second; call it from
a thread in async code.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_NETWORK_NAME = "kijabi"
DEFAULT_BRIDGE = "cni0"
DEFAULT_SERVICE_CIDR = "10.43.0.0/16"
CNI_VERSION = "1.0.0"
CNI_CACHE_DIR = Path("/var/lib/cni")  # libcni's default cache dir (results/<network>-<container>-<ifname>)
MAX_IFNAME = 15
HOSTPORT_CHAINS = ("CNI-HOSTPORT-DNAT", "CNI-HOSTPORT-SNAT", "CNI-HOSTPORT-MASQ", "CNI-HOSTPORT-SETMARK")
IPTABLES = ("iptables", "ip6tables")


class NetworkConfigError(ValueError):
    """The network settings are invalid (bad pod CIDR, bridge name, ...)."""


@dataclass(frozen=True)
class BridgeNetwork:
    """The node's pod network: a bridge with host-local IPAM over `pod_cidr`, plus portmap."""

    pod_cidr: str
    bridge: str = DEFAULT_BRIDGE
    name: str = DEFAULT_NETWORK_NAME
    mtu: int = 0                 # 0: the bridge plugin's default (the host's)
    default_route: bool = True   # pods get a default route via the bridge (False: pod CIDR only)
    ip_masq: bool = True         # masquerade pod traffic leaving the pod CIDR
    hairpin_mode: bool = True    # a pod can reach itself through a Service
    port_map: bool = True        # hostPort support

    def __post_init__(self) -> None:
        try:
            net = ipaddress.ip_network(self.pod_cidr, strict=True)
        except ValueError as exc:
            raise NetworkConfigError(f"invalid pod CIDR {self.pod_cidr!r}: {exc}") from exc
        if net.num_addresses < 4:
            raise NetworkConfigError(f"pod CIDR {self.pod_cidr} is too small: it needs room for a gateway and pods")
        if not self.bridge or len(self.bridge) > MAX_IFNAME or "/" in self.bridge or " " in self.bridge:
            raise NetworkConfigError(f"invalid bridge name {self.bridge!r} (1-{MAX_IFNAME} characters, no / or space)")
        if not self.name or "/" in self.name:
            raise NetworkConfigError(f"invalid network name {self.name!r}")

    @property
    def network(self) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
        return ipaddress.ip_network(self.pod_cidr)

    @property
    def gateway(self) -> str:
        """The bridge's address: the first address of the pod CIDR."""
        return str(self.network.network_address + 1)


def conflist(net: BridgeNetwork, *, ipam_dir: Path) -> dict[str, Any]:
    """The CNI network configuration list for `net` (host-local allocations kept in `ipam_dir`)."""
    ipam: dict[str, Any] = {
        "type": "host-local",
        "dataDir": str(ipam_dir),
        "ranges": [[{"subnet": net.pod_cidr, "gateway": net.gateway}]],
    }
    if net.default_route:
        ipam["routes"] = [{"dst": "0.0.0.0/0" if net.network.version == 4 else "::/0"}]
    bridge: dict[str, Any] = {
        "type": "bridge",
        "bridge": net.bridge,
        "isGateway": True,
        "ipMasq": net.ip_masq,
        "hairpinMode": net.hairpin_mode,
        "ipam": ipam,
    }
    if net.mtu:
        bridge["mtu"] = net.mtu
    plugins: list[dict[str, Any]] = [bridge]
    if net.port_map:
        plugins.append({"type": "portmap", "capabilities": {"portMappings": True}, "snat": True})
    return {"cniVersion": CNI_VERSION, "name": net.name, "plugins": plugins}


def conflist_path(conf_dir: Path, net: BridgeNetwork) -> Path:
    return conf_dir / f"10-{net.name}.conflist"


def write_conflist(conf_dir: Path, net: BridgeNetwork, *, ipam_dir: Path) -> Path:
    """Write the conflist atomically into `conf_dir` (containerd picks it up within a second); returns it.

    Other *.conf/*.conflist files in `conf_dir` are removed: containerd loads only the first one by name,
    and this directory belongs to the agent.
    """
    conf_dir.mkdir(parents=True, exist_ok=True)
    ipam_dir.mkdir(parents=True, exist_ok=True)
    path = conflist_path(conf_dir, net)
    for other in conf_dir.iterdir():
        if other != path and other.suffix in (".conf", ".conflist", ".json"):
            other.unlink()
    tmp = conf_dir / f".{path.name}.tmp"
    tmp.write_text(json.dumps(conflist(net, ipam_dir=ipam_dir), indent=2) + "\n")
    os.replace(tmp, path)
    return path


# --- commands --------------------------------------------------------------------------------------------

def _run(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except FileNotFoundError as exc:
        raise NetworkConfigError(f"{argv[0]} is not installed") from exc
    if check and result.returncode != 0:
        raise NetworkConfigError(f"{shlex.join(argv)} failed: {result.stderr.strip() or result.stdout.strip()}")
    return result


# --- the service CIDR route ------------------------------------------------------------------------------

def add_unreachable_route(cidr: str = DEFAULT_SERVICE_CIDR) -> None:
    """Install (or keep) `unreachable <cidr>` in the main routing table."""
    net = ipaddress.ip_network(cidr, strict=True)
    _run("ip", f"-{net.version}", "route", "replace", "unreachable", str(net))


def has_unreachable_route(cidr: str = DEFAULT_SERVICE_CIDR) -> bool:
    net = ipaddress.ip_network(cidr, strict=True)
    out = _run("ip", f"-{net.version}", "route", "show", "type", "unreachable", "exact", str(net)).stdout
    return bool(out.strip())


def remove_unreachable_route(cidr: str = DEFAULT_SERVICE_CIDR) -> bool:
    """Remove the route if present; returns whether it was there."""
    if not has_unreachable_route(cidr):
        return False
    net = ipaddress.ip_network(cidr, strict=True)
    _run("ip", f"-{net.version}", "route", "del", "unreachable", str(net))
    return True


# --- links -----------------------------------------------------------------------------------------------

def link_exists(name: str) -> bool:
    return Path("/sys/class/net", name).exists()


def bridge_ports(bridge: str) -> list[str]:
    """The interfaces enslaved to `bridge` (the host ends of pod veths)."""
    brif = Path("/sys/class/net", bridge, "brif")
    return sorted(p.name for p in brif.iterdir()) if brif.is_dir() else []


def delete_bridge(bridge: str = DEFAULT_BRIDGE) -> list[str]:
    """Delete the bridge and every veth still attached to it; returns the deleted link names."""
    if not Path("/sys/class/net", bridge, "bridge").is_dir():
        return []
    deleted = []
    for port in bridge_ports(bridge):
        if Path("/sys/class/net", port).exists() and _run("ip", "link", "del", port, check=False).returncode == 0:
            deleted.append(port)
    _run("ip", "link", "del", bridge)
    deleted.append(bridge)
    return deleted


# --- iptables --------------------------------------------------------------------------------------------

def _iptables_available(binary: str) -> bool:
    return shutil.which(binary) is not None


def _rules(binary: str, table: str) -> list[list[str]]:
    result = _run(binary, "-w", "-t", table, "-S", check=False)
    if result.returncode != 0:
        return []
    return [shlex.split(line) for line in result.stdout.splitlines() if line.strip()]


def _comment(rule: list[str]) -> str:
    with contextlib.suppress(ValueError):
        return rule[rule.index("--comment") + 1]
    return ""


def _target(rule: list[str]) -> str:
    with contextlib.suppress(ValueError):
        return rule[rule.index("-j") + 1]
    return ""


def _ours(comment: str, network: str) -> bool:
    # bridge ipMasq: 'name: "<net>" id: "<container>"'; portmap: 'dnat name: "<net>" id: "<container>"'
    return f'name: "{network}" id: ' in comment


def remove_iptables_rules(network: str = DEFAULT_NETWORK_NAME) -> list[str]:
    """Remove the iptables/ip6tables rules and chains the CNI plugins made for pods of `network`.

    Per-pod chains (CNI-<hash> of bridge ipMasq, CNI-DN-<hash> of portmap) are found through the comments
    of the rules that jump to them; portmap's shared CNI-HOSTPORT-* chains go when no rule of another
    network is left in them. Returns a description of each removed rule or chain (empty when clean).
    """
    removed: list[str] = []
    for binary in IPTABLES:
        if not _iptables_available(binary):
            continue
        for table in ("nat", "filter"):
            removed += _clean_table(binary, table, network)
    return removed


def _clean_table(binary: str, table: str, network: str) -> list[str]:
    rules = _rules(binary, table)
    chains = {r[1] for r in rules if r[:1] == ["-N"]}
    pod_chains = {_target(r) for r in rules if r[:1] == ["-A"] and _ours(_comment(r), network)
                  and _target(r).startswith("CNI-") and not _target(r).startswith("CNI-HOSTPORT-")}
    pod_chains &= chains
    removed: list[str] = []

    def delete(rule: list[str]) -> None:
        if _run(binary, "-w", "-t", table, "-D", *rule[1:], check=False).returncode == 0:
            removed.append(f"{binary} -t {table} -D {shlex.join(rule[1:])}")

    # 1. rules of our pods anywhere (jumps into per-pod chains, hostport entries), then the pod chains.
    for rule in rules:
        if rule[:1] == ["-A"] and rule[1] not in pod_chains and (
                _target(rule) in pod_chains or _ours(_comment(rule), network)):
            delete(rule)
    for chain in sorted(pod_chains):
        _run(binary, "-w", "-t", table, "-F", chain, check=False)
        if _run(binary, "-w", "-t", table, "-X", chain, check=False).returncode == 0:
            removed.append(f"{binary} -t {table} -X {chain}")
    # 2. portmap's shared chains, once no pod of any network has an entry in them (pod entries are the
    #    rules of CNI-HOSTPORT-DNAT/-SNAT; -MASQ and -SETMARK hold one fixed rule each).
    rules = _rules(binary, table)
    shared = [c for c in HOSTPORT_CHAINS if ["-N", c] in rules]
    in_use = any(r[:1] == ["-A"] and r[1] in ("CNI-HOSTPORT-DNAT", "CNI-HOSTPORT-SNAT") for r in rules)
    if shared and not in_use:
        for rule in rules:
            if rule[:1] == ["-A"] and rule[1] not in shared and _target(rule) in shared:
                delete(rule)
        for chain in shared:
            _run(binary, "-w", "-t", table, "-F", chain, check=False)
        for chain in shared:
            if _run(binary, "-w", "-t", table, "-X", chain, check=False).returncode == 0:
                removed.append(f"{binary} -t {table} -X {chain}")
    return removed


def cni_chains() -> list[str]:
    """Every CNI-* chain in the nat and filter tables of iptables and ip6tables (`binary/table/chain`)."""
    out = []
    for binary in IPTABLES:
        if not _iptables_available(binary):
            continue
        for table in ("nat", "filter"):
            out += [f"{binary}/{table}/{r[1]}" for r in _rules(binary, table)
                    if r[:1] == ["-N"] and r[1].startswith("CNI-")]
    return out


# --- files -----------------------------------------------------------------------------------------------

def remove_cni_cache(network: str = DEFAULT_NETWORK_NAME, cache_dir: Path = CNI_CACHE_DIR) -> list[Path]:
    """Remove libcni's cached results of `network` (and the cache dirs once empty); returns what went."""
    removed: list[Path] = []
    results = cache_dir / "results"
    if results.is_dir():
        for f in results.iterdir():
            if f.name.startswith(f"{network}-"):
                f.unlink(missing_ok=True)
                removed.append(f)
    for d in (results, cache_dir):
        with contextlib.suppress(OSError):
            d.rmdir()
            removed.append(d)
    return removed


def remove_ipam_state(ipam_dir: Path) -> bool:
    """Forget every host-local allocation (only when no pod is left); returns whether anything went."""
    if not ipam_dir.exists():
        return False
    shutil.rmtree(ipam_dir)
    return True
