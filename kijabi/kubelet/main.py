"""`kijabi kubelet`: flags, the container runtime connection, and the Kubelet until SIGINT/SIGTERM.

    await run(["--kubeconfig", path, "--node-name", "n1", "--data-dir", "/var/lib/kijabi", ...])
    # or run(namespace) with a Namespace from a parser that `add_flags()` filled

Flags (upstream kubelet names where it has them):
    --kubeconfig PATH                 API server credentials (required)
    --node-name NAME                  default: the hostname
    --data-dir DIR                    default /var/lib/kijabi (state under <data-dir>/agent)
    --pod-cidr CIDR                   the node's pod CIDR (else spec.podCIDR once the node-ipam sets it)
    --container-runtime-endpoint EP   unix socket of a CRI runtime; default: start kijabi's own containerd
                                      under the data dir (images imported, CNI bridge configured)
    --cluster-dns IP[,IP]             default 10.43.0.10
    --cluster-domain DOMAIN           default cluster.local
    --node-ip IP, --hostname-override NAME, --node-labels k=v,...
    --cgroup-root PATH                pods go under <cgroup-root>/kubepods (default /)
    --pod-log-dir DIR                 default /var/log/pods
    --pod-manifest-path DIR           static pods (default <data-dir>/agent/pod-manifests)
    --eviction-hard signal<value,...  default memory.available<100Mi,nodefs.available<10%,...
    --max-pods N                      default 110
    --log-level LEVEL
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from kijabi.client import Client
from kijabi.client.errors import ClientError
from kijabi.kubelet import cni, images, machine
from kijabi.kubelet.config import (
    DEFAULT_CLUSTER_DNS,
    DEFAULT_CLUSTER_DOMAIN,
    DEFAULT_POD_LOG_DIR,
    KUBELET_VERSION,
    KubeletConfig,
)
from kijabi.kubelet.containerd import AgentPaths, Containerd, ContainerdError
from kijabi.kubelet.cri import CRIConnection, CRIError, connect
from kijabi.kubelet.eviction import parse_flag
from kijabi.kubelet.kubelet import Kubelet

log = logging.getLogger("kijabi.kubelet")
DEFAULT_DATA_DIR = Path("/var/lib/kijabi")


def add_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kubeconfig", required=True, help="kubeconfig with the API server and credentials")
    p.add_argument("--node-name", default="", help="the Node's name (default: the hostname)")
    p.add_argument("--data-dir", "-d", type=Path, default=DEFAULT_DATA_DIR, help="state directory")
    p.add_argument("--pod-cidr", default="", help="the node's pod CIDR")
    p.add_argument("--container-runtime-endpoint", default="",
                   help="CRI socket (default: start containerd under the data dir)")
    p.add_argument("--cluster-dns", default=",".join(DEFAULT_CLUSTER_DNS), help="cluster DNS server IPs")
    p.add_argument("--cluster-domain", default=DEFAULT_CLUSTER_DOMAIN)
    p.add_argument("--node-ip", default="", help="the node's InternalIP (default: the default route's address)")
    p.add_argument("--hostname-override", default="")
    p.add_argument("--node-labels", default="", help="extra node labels, k=v,k=v")
    p.add_argument("--cgroup-root", default="/", help="parent of the kubepods cgroup")
    p.add_argument("--pod-log-dir", type=Path, default=DEFAULT_POD_LOG_DIR)
    p.add_argument("--pod-manifest-path", type=Path, default=None)
    p.add_argument("--eviction-hard", default="", help="hard eviction thresholds, signal<quantity,...")
    p.add_argument("--max-pods", type=int, default=110)
    p.add_argument("--kubelet-port", type=int, default=10250)
    p.add_argument("--log-level", default="info")


def config_from_args(args: argparse.Namespace) -> KubeletConfig:
    node_labels = {}
    for item in filter(None, (s.strip() for s in args.node_labels.split(","))):
        k, _, v = item.partition("=")
        node_labels[k] = v
    config = KubeletConfig(
        node_name=args.node_name or args.hostname_override or machine.hostname(),
        data_dir=args.data_dir, pod_cidr=args.pod_cidr,
        cluster_dns=tuple(s.strip() for s in args.cluster_dns.split(",") if s.strip()),
        cluster_domain=args.cluster_domain, node_ip=args.node_ip, hostname=args.hostname_override,
        node_labels=node_labels, pod_log_dir=args.pod_log_dir, pod_manifest_dir=args.pod_manifest_path,
        cgroup_root=args.cgroup_root, max_pods=args.max_pods, kubelet_port=args.kubelet_port)
    if args.eviction_hard:
        config.eviction_hard = parse_flag(args.eviction_hard)
    return config


async def start_runtime(config: KubeletConfig, endpoint: str) -> tuple[CRIConnection, Containerd | None]:
    """Connect to `endpoint`, or start kijabi's containerd under the data dir and connect to it."""
    if endpoint:
        return await connect(endpoint.removeprefix("unix://"), timeout=30), None
    paths = AgentPaths(config.data_dir)
    await asyncio.to_thread(images.write_builtin_images, paths.images_dir)
    if config.pod_cidr:
        cni.write_conflist(paths.cni_conf_dir, cni.BridgeNetwork(config.pod_cidr), ipam_dir=paths.cni_ipam_dir)
    containerd = Containerd(config.data_dir)
    await containerd.start()
    try:
        await images.import_directory(containerd, paths.images_dir)
        return await containerd.connect(), containerd
    except BaseException:
        await containerd.stop()
        raise


async def run(args: argparse.Namespace | Sequence[str], *, stop: asyncio.Event | None = None) -> None:
    """Run the kubelet until `stop` is set (or the task is cancelled)."""
    if not isinstance(args, argparse.Namespace):
        parser = argparse.ArgumentParser(prog="kijabi kubelet")
        add_flags(parser)
        args = parser.parse_args(list(args))
    config = config_from_args(args)
    user_agent = f"kubelet/{KUBELET_VERSION} (linux/amd64) kijabi"
    client = Client.from_kubeconfig(str(args.kubeconfig), qps=config.api_qps, burst=config.api_burst,
                                    user_agent=user_agent)
    events = Client.from_kubeconfig(str(args.kubeconfig), qps=config.event_qps, burst=config.event_burst,
                                    user_agent=user_agent)
    cri: CRIConnection | None = None
    containerd: Containerd | None = None
    try:
        cri, containerd = await start_runtime(config, args.container_runtime_endpoint)
        kubelet = Kubelet(config, client, cri, event_client=events)
        if containerd is not None:
            paths = AgentPaths(config.data_dir)
            runtime = cri

            def apply_cidr(cidr: str) -> None:
                cni.write_conflist(paths.cni_conf_dir, cni.BridgeNetwork(cidr), ipam_dir=paths.cni_ipam_dir)
                asyncio.get_running_loop().create_task(runtime.runtime.update_runtime_config(cidr))

            kubelet.node_status.on_pod_cidr = apply_cidr
        task = asyncio.create_task(kubelet.run(), name="kubelet")
        if stop is not None:
            waiter = asyncio.create_task(stop.wait())
            done, _ = await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            if task not in done:
                task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    finally:
        if cri is not None:
            await cri.close()
        if containerd is not None:
            await containerd.stop()
        await client.close()
        await events.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kijabi kubelet", description="Run the kubelet.")
    add_flags(parser)
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    logging.basicConfig(level=getattr(logging, args.log_level.upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run(args, stop=stop)

    try:
        import uvloop

        uvloop.run(serve())
    except KeyboardInterrupt:
        pass
    except (OSError, RuntimeError, ValueError, ContainerdError, CRIError, ClientError) as exc:
        print(f"kijabi kubelet: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
