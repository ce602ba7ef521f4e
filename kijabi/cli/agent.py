"""`kijabi agent`: run a node (containerd, the kubelet and its API), or tear one down with `--cleanup`.

    kijabi agent --server https://10.0.0.1:6443 --token SECRET [--node-name n2] [--kubelet-arg max-pods=50]
    kijabi agent --kubeconfig /path/admin.kubeconfig --data-dir /var/lib/kijabi   (what `kijabi server` runs)
    kijabi agent --cleanup [--data-dir D]

Flags follow k3s. As with k3s's K3S_* variables, some flags can come from the environment (the command
line wins): KIJABI_URL (--server), KIJABI_TOKEN, KIJABI_DATA_DIR, KIJABI_NODE_NAME, KIJABI_NODE_IP,
KIJABI_KUBELET_PORT, and the repeatable KIJABI_NODE_LABEL and KIJABI_KUBELET_ARG (space-separated
lists). That is also how the agent `kijabi server` supervises gets a node name or kubelet flags.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from kijabi.kubelet import agent, cleanup, cni
from kijabi.kubelet.config import DEFAULT_CLUSTER_DOMAIN, DEFAULT_KUBELET_PORT
from kijabi.kubelet.main import serve, setup_logging

DEFAULT_DATA_DIR = Path("/var/lib/kijabi")
ENVIRONMENT = {
    "server": "KIJABI_URL", "token": "KIJABI_TOKEN", "data_dir": "KIJABI_DATA_DIR",
    "node_name": "KIJABI_NODE_NAME", "node_ip": "KIJABI_NODE_IP", "kubelet_port": "KIJABI_KUBELET_PORT",
    "node_label": "KIJABI_NODE_LABEL", "kubelet_arg": "KIJABI_KUBELET_ARG",
}
REPEATABLE = ("node_label", "kubelet_arg")


def parser(env: Mapping[str, str] = os.environ) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kijabi agent", description="Run a node: containerd, CNI and the kubelet.")
    p.add_argument("--server", "-s", default="", help="URL of the API server to join (env KIJABI_URL)")
    p.add_argument("--token", "-t", default="", help="the server's --token (env KIJABI_TOKEN)")
    p.add_argument("--kubeconfig", type=Path, default=None, help="use these credentials instead of --server/--token")
    p.add_argument("--data-dir", "-d", type=Path, default=DEFAULT_DATA_DIR, help="state directory (default %(default)s)")
    p.add_argument("--node-name", default="", help="the Node's name (default: the hostname)")
    p.add_argument("--node-ip", "-i", default="", help="the node's InternalIP (default: the default route's address)")
    p.add_argument("--node-label", action="append", default=[], metavar="KEY=VALUE",
                   help="a label the Node registers with (repeatable)")
    p.add_argument("--kubelet-arg", action="append", default=[], metavar="NAME=VALUE",
                   help="an extra kubelet flag, e.g. max-pods=50 (repeatable; see kijabi kubelet --help)")
    p.add_argument("--pod-cidr", default="", help="the node's pod CIDR (default: assigned by the server)")
    p.add_argument("--cluster-dns", default="", help="cluster DNS IP (default: the 10th address of --service-cidr)")
    p.add_argument("--cluster-domain", default=DEFAULT_CLUSTER_DOMAIN)
    p.add_argument("--kubelet-port", type=int, default=DEFAULT_KUBELET_PORT, help="kubelet API port (0: any free one)")
    p.add_argument("--service-cidr", default=cni.DEFAULT_SERVICE_CIDR,
                   help="the cluster's service CIDR: an unreachable route is installed for it")
    p.add_argument("--cleanup", action="store_true",
                   help="stop everything an agent of --data-dir started and remove what it created, then exit")
    p.add_argument("--log-level", default="info")
    defaults: dict[str, object] = {}
    for dest, name in ENVIRONMENT.items():
        value = env.get(name)
        if value:
            defaults[dest] = shlex.split(value) if dest in REPEATABLE else value
    p.set_defaults(**defaults)
    return p


def options(args: argparse.Namespace) -> agent.AgentOptions:
    return agent.AgentOptions(
        data_dir=args.data_dir, server=args.server, token=args.token, kubeconfig=args.kubeconfig,
        node_name=args.node_name, node_ip=args.node_ip, node_labels=list(args.node_label),
        kubelet_args=list(args.kubelet_arg), pod_cidr=args.pod_cidr, cluster_dns=args.cluster_dns,
        cluster_domain=args.cluster_domain, kubelet_port=int(args.kubelet_port), service_cidr=args.service_cidr,
        log_level=args.log_level)


def run_cleanup(data_dir: Path) -> int:
    """Tear down the agent of `data_dir`; prints each thing removed. Exit 1 if something could not go."""
    if os.geteuid() != 0:
        print("kijabi agent: --cleanup must run as root", file=sys.stderr)
        return 1
    report = cleanup.cleanup_agent(data_dir)
    for line in report.lines():
        print(line, flush=True)
    print(f"kijabi agent: cleanup of {data_dir.absolute()}: {report.summary()}", flush=True)
    return 1 if report.errors else 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.cleanup:
        return run_cleanup(args.data_dir)
    setup_logging(args.log_level)
    opts = options(args)
    return serve(lambda stop: agent.run(opts, stop=stop), "kijabi agent", errors=(agent.AgentError,))


if __name__ == "__main__":
    sys.exit(main())
