"""`kijabi agent`'s flags and environment, the kubelet command line it derives, the cleanup record, the
join's argument checks and the kubelet API's TLS choice. No runtime needed."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from cryptography import x509

from kijabi.cli import agent as agent_cli
from kijabi.kubelet import agent, cleanup, main
from kijabi.kubelet.config import KubeletConfig


@pytest.mark.parametrize("env, argv, expected", [
    ({}, [], {"server": "", "token": "", "node_name": "", "kubelet_port": 10250, "node_label": [],
              "kubelet_arg": [], "service_cidr": "10.43.0.0/16", "data_dir": Path("/var/lib/kijabi")}),
    ({"KIJABI_URL": "https://s:6443", "KIJABI_TOKEN": "t", "KIJABI_NODE_NAME": "n", "KIJABI_KUBELET_PORT": "0",
      "KIJABI_DATA_DIR": "/d", "KIJABI_KUBELET_ARG": "max-pods=5 address=127.0.0.1", "KIJABI_NODE_LABEL": "a=b"},
     [], {"server": "https://s:6443", "token": "t", "node_name": "n", "kubelet_port": 0, "data_dir": Path("/d"),
          "kubelet_arg": ["max-pods=5", "address=127.0.0.1"], "node_label": ["a=b"]}),
    ({"KIJABI_NODE_NAME": "from-env", "KIJABI_TOKEN": "env"}, ["--node-name", "flag", "-t", "cli"],
     {"node_name": "flag", "token": "cli"}),
    ({}, ["--node-label", "a=1", "--node-label", "b=2", "--kubelet-arg", "max-pods=9"],
     {"node_label": ["a=1", "b=2"], "kubelet_arg": ["max-pods=9"]}),
], ids=["defaults", "environment", "command-line-wins", "repeatable"])
def test_flags_and_environment(env: dict[str, str], argv: list[str], expected: dict[str, object]) -> None:
    args = agent_cli.parser(env).parse_args(argv)
    assert {k: getattr(args, k) for k in expected} == expected


def _kubelet(*kubelet_args: str, **fields: object) -> argparse.Namespace:
    options = agent.AgentOptions(data_dir=Path("/d"), kubelet_args=list(kubelet_args), **fields)  # type: ignore[arg-type]
    return agent.kubelet_args(options, Path("/k.kubeconfig"))


@pytest.mark.parametrize("fields, kubelet_args, expected", [
    ({}, (), {"kubeconfig": "/k.kubeconfig", "data_dir": Path("/d"), "cluster_dns": "10.43.0.10",
              "kubelet_port": 10250, "node_name": "", "cgroup_root": "/", "cni_bridge": "cni0",
              "cni_default_route": True}),
    ({"node_name": "n1", "node_ip": "10.0.0.5", "node_labels": ["a=b", "c=d"], "pod_cidr": "10.42.7.0/24",
      "kubelet_port": 0, "service_cidr": "10.96.0.0/12"}, (),
     {"node_name": "n1", "node_ip": "10.0.0.5", "node_labels": "a=b,c=d", "pod_cidr": "10.42.7.0/24",
      "kubelet_port": 0, "cluster_dns": "10.96.0.10"}),
    ({"cluster_dns": "10.43.0.53"}, ("max-pods=20", "--cgroup-root=/x", "cni-default-route=false",
                                     "node-name=from-kubelet-arg", "address=127.0.0.1"),
     {"cluster_dns": "10.43.0.53", "max_pods": 20, "cgroup_root": "/x", "cni_default_route": False,
      "node_name": "from-kubelet-arg", "address": "127.0.0.1"}),
], ids=["defaults", "agent-flags", "kubelet-args-win"])
def test_kubelet_command_line(fields: dict[str, object], kubelet_args: tuple[str, ...],
                              expected: dict[str, object]) -> None:
    """The agent's flags become kubelet flags; --kubelet-arg name=value comes last, so it wins."""
    args = _kubelet(*kubelet_args, **fields)
    assert {k: getattr(args, k) for k in expected} == expected


@pytest.mark.parametrize("kubelet_arg, message", [
    ("max-pods", "expected name=value"),
    ("no-such-flag=1", "unknown kubelet flags: --no-such-flag=1"),
    ("max-pods=many", "invalid --kubelet-arg"),
], ids=["no-value", "unknown", "bad-value"])
def test_bad_kubelet_args_are_one_error(kubelet_arg: str, message: str) -> None:
    with pytest.raises(agent.AgentError, match=message):
        _kubelet(kubelet_arg)


@pytest.mark.parametrize("cidr, dns", [("10.43.0.0/16", "10.43.0.10"), ("10.96.0.0/12", "10.96.0.10"),
                                       ("fd00:43::/112", "fd00:43::a")], ids=["k3s", "upstream", "ipv6"])
def test_default_cluster_dns_is_the_tenth_service_address(cidr: str, dns: str) -> None:
    assert agent.default_cluster_dns(cidr) == dns


def test_invalid_service_cidr_is_an_agent_error() -> None:
    with pytest.raises(agent.AgentError, match="invalid --service-cidr"):
        agent.default_cluster_dns("10.43.0.1/16")


@pytest.mark.parametrize("fields, message", [
    ({}, "--server is required"),
    ({"server": "http://s:6443", "token": "t"}, "expected an https:// URL"),
    ({"server": "https://s:6443"}, "--token is required"),
    ({"kubeconfig": Path("/nonexistent/kubeconfig")}, "no such file"),
], ids=["no-server", "plain-http", "no-token", "missing-kubeconfig"])
async def test_join_needs_server_and_token(tmp_path: Path, fields: dict[str, object], message: str) -> None:
    with pytest.raises(agent.AgentError, match=message):
        await agent.credentials(agent.AgentOptions(data_dir=tmp_path, **fields))  # type: ignore[arg-type]


@pytest.mark.parametrize("cgroup_root, parent", [("/", "/kubepods"), ("/kjtest-x", "/kjtest-x/kubepods")],
                         ids=["default", "custom-root"])
def test_cleanup_record_round_trips(tmp_path: Path, cgroup_root: str, parent: str) -> None:
    """The agent records what it creates; cleanup reads it back (k3s defaults without a record)."""
    assert cleanup.read_record(tmp_path) == cleanup.AgentRecord()
    options = agent.AgentOptions(data_dir=tmp_path, service_cidr="10.43.252.0/24")
    args = _kubelet(f"cgroup-root={cgroup_root}", "cni-bridge=br9", "cni-network-name=net9")
    record = agent.agent_record(options, args)
    assert record == cleanup.AgentRecord("br9", "net9", (parent,), "10.43.252.0/24")
    cleanup.write_record(tmp_path, record)
    assert cleanup.read_record(tmp_path) == record


def test_cleanup_report_lines() -> None:
    report = cleanup.CleanupReport(processes=[7, 8], links=["br9"], errors=["umount /x: busy"])
    assert report.lines() == ["processes: 7", "processes: 8", "links: br9", "error: umount /x: busy"]


def _ca(directory: Path, name: str) -> tuple[Path, Path]:
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    agent._write_ca(cert, key, name)
    return cert, key


@pytest.mark.parametrize("case", ["flags", "server-node", "fallback", "none"])
def test_kubelet_api_tls_choice(tmp_path: Path, case: str) -> None:
    """Explicit files first, then a server node's CA-signed certificate, then the caller's fallback (the
    agent's self-signed CA); a plain kubelet without any of them serves no API."""
    config = KubeletConfig(node_name="n1", data_dir=tmp_path, node_ip="10.0.0.5")
    args = main.parse_args(["--kubeconfig", "/k", "--data-dir", str(tmp_path)])
    if case == "flags":
        args.tls_cert_file, args.tls_private_key_file, args.client_ca_file = Path("/c"), Path("/k"), Path("/ca")
        assert main.api_tls(args, config) == main.APITLS(Path("/c"), Path("/k"), Path("/ca"))
        return
    if case == "none":
        assert main.api_tls(args, config) is None
        return
    tls = tmp_path / "server" / "tls"
    tls.mkdir(parents=True)
    if case == "server-node":
        ca, _ = _ca(tls, "server-ca")
        _ca(tls, "client-ca")
        result = main.api_tls(args, config, agent.self_signed_tls)
        assert result is not None and result.client_ca == tls / "client-ca.crt"
    else:
        result = main.api_tls(args, config, agent.self_signed_tls)
        assert result is not None and result.client_ca is None
        ca = tmp_path / "agent" / "tls" / "kubelet-ca.crt"
    cert = x509.load_pem_x509_certificate(result.cert.read_bytes())
    assert cert.issuer == x509.load_pem_x509_certificate(ca.read_bytes()).subject
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {str(ip) for ip in san.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", "10.0.0.5"}
    assert "n1" in san.get_values_for_type(x509.DNSName)
