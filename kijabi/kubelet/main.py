"""`kijabi kubelet`: flags, the container runtime, the Kubelet and its API on :10250, until SIGINT/SIGTERM.

    await run(["--kubeconfig", path, "--node-name", "n1", "--data-dir", "/var/lib/kijabi", ...])
    # or run(namespace) with a Namespace from a parser that `add_flags()` filled

This is the one start-up path of a node: `kijabi kubelet` calls it directly and `kijabi agent`
(kijabi.kubelet.agent) calls it after joining the cluster. In order, `run`:

1. starts kijabi's own containerd under the data dir (unless --container-runtime-endpoint names one),
   after writing the built-in images into the auto-import directory `<data-dir>/agent/images`, and imports
   every tarball found there; writes the CNI conflist when the pod CIDR is known (--pod-cidr, else
   spec.podCIDR once the node-ipam controller sets it, then the Node is poked as soon as the runtime's
   network is ready);
2. serves the kubelet API (kijabi.kubelet.server) when it has TLS material: --tls-cert-file and
   --tls-private-key-file, or a server node's CA in `<data-dir>/server/tls` (`server_node_tls`), or what
   the caller's `tls_fallback` makes; client certificates are checked against --client-ca-file (or the
   server node's client CA) and bearer tokens with a TokenReview. --kubelet-port 0 picks a free port,
   which the Node then reports in status.daemonEndpoints;
3. runs the Kubelet until `stop` is set, then stops the API, the CRI connection and containerd (pods keep
   running: their shims outlive containerd, and a later start adopts them).

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
    --address IP, --kubelet-port N    where the kubelet API listens (default 0.0.0.0:10250; port 0: any)
    --tls-cert-file, --tls-private-key-file, --client-ca-file    the kubelet API's TLS
    --cni-bridge NAME, --cni-network-name NAME, --cni-default-route true|false
                                      the pod network kijabi's containerd gets (default cni0, kijabi, true)
    --log-level LEVEL
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kijabi.client import Client
from kijabi.client.errors import ClientError
from kijabi.client.tasks import spawn
from kijabi.kubelet import cni, images, machine
from kijabi.kubelet.config import (
    DEFAULT_CLUSTER_DNS,
    DEFAULT_CLUSTER_DOMAIN,
    DEFAULT_KUBELET_PORT,
    DEFAULT_POD_LOG_DIR,
    KUBELET_VERSION,
    KubeletConfig,
)
from kijabi.kubelet.containerd import AgentPaths, Containerd, ContainerdError
from kijabi.kubelet.cri import CRIConnection, CRIError, connect
from kijabi.kubelet.eviction import parse_flag
from kijabi.kubelet.kubelet import Kubelet
from kijabi.kubelet.lookup import KubeletPodLookup
from kijabi.kubelet.server import KubeletServer, ServerConfig, server_node_tls
from kijabi.kubelet.streaming import auth

log = logging.getLogger("kijabi.kubelet")
DEFAULT_DATA_DIR = Path("/var/lib/kijabi")
NETWORK_READY_WAIT = 15.0  # seconds to wait for containerd to load a new CNI config before giving up


def _bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("true", "1", "yes", "on"):
        return True
    if value in ("false", "0", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, not {text!r}")


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
    p.add_argument("--address", default="0.0.0.0", help="address the kubelet API listens on")
    p.add_argument("--kubelet-port", "--port", type=int, default=DEFAULT_KUBELET_PORT,
                   help="port of the kubelet API (0: pick a free one)")
    p.add_argument("--tls-cert-file", type=Path, default=None, help="the kubelet API's serving certificate")
    p.add_argument("--tls-private-key-file", type=Path, default=None, help="its private key")
    p.add_argument("--client-ca-file", type=Path, default=None,
                   help="CA bundle that client certificates of the kubelet API are checked against")
    p.add_argument("--cni-bridge", default=cni.DEFAULT_BRIDGE, help="the pod network's Linux bridge")
    p.add_argument("--cni-network-name", default=cni.DEFAULT_NETWORK_NAME, help="the pod network's CNI name")
    p.add_argument("--cni-default-route", type=_bool, default=True,
                   help="give pods a default route through the bridge (false: the pod CIDR only)")
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


def network_from_args(args: argparse.Namespace) -> Callable[[str], cni.BridgeNetwork]:
    """The pod network of a pod CIDR, with the bridge, name and routes the flags chose."""
    bridge, name, default_route = args.cni_bridge, args.cni_network_name, args.cni_default_route
    return lambda cidr: cni.BridgeNetwork(cidr, bridge=bridge, name=name, default_route=default_route)


async def start_runtime(config: KubeletConfig, endpoint: str, *,
                        network: Callable[[str], cni.BridgeNetwork] = cni.BridgeNetwork,
                        ) -> tuple[CRIConnection, Containerd | None]:
    """Connect to `endpoint`, or start kijabi's containerd under the data dir and connect to it.

    The built-in images are (re)written into the auto-import directory first, then every image tarball
    there is imported, so files dropped into `<data-dir>/agent/images` are available once this returns.
    """
    if endpoint:
        return await connect(endpoint.removeprefix("unix://"), timeout=30), None
    paths = AgentPaths(config.data_dir)
    await asyncio.to_thread(images.write_builtin_images, paths.images_dir)
    if config.pod_cidr:
        cni.write_conflist(paths.cni_conf_dir, network(config.pod_cidr), ipam_dir=paths.cni_ipam_dir)
    containerd = Containerd(config.data_dir)
    await containerd.start()
    try:
        imported = await images.import_directory(containerd, paths.images_dir)
        log.info("imported %d images from %s", len(imported), paths.images_dir)
        return await containerd.connect(), containerd
    except BaseException:
        await containerd.stop()
        raise


@dataclass(frozen=True)
class APITLS:
    """TLS material of the kubelet API; without `client_ca`, only bearer tokens authenticate."""

    cert: Path
    key: Path
    client_ca: Path | None


TLSFallback = Callable[[KubeletConfig, tuple[str, ...]], APITLS]


def serving_ips(config: KubeletConfig) -> tuple[str, ...]:
    """The addresses the kubelet's serving certificate must cover: loopback and the node's InternalIP."""
    node_ip = config.node_ip or machine.default_route_ip()
    return tuple(dict.fromkeys(ip for ip in ("127.0.0.1", node_ip) if ip))


def api_tls(args: argparse.Namespace, config: KubeletConfig, fallback: TLSFallback | None = None) -> APITLS | None:
    """The kubelet API's TLS: the flags' files, else a server node's (signed by the cluster's server CA),
    else what `fallback` makes; None when there is none (the API is then not served)."""
    client_ca: Path | None = args.client_ca_file
    if args.tls_cert_file and args.tls_private_key_file:
        return APITLS(args.tls_cert_file, args.tls_private_key_file, client_ca)
    if (config.data_dir / "server" / "tls" / "server-ca.key").exists():
        files = server_node_tls(config.data_dir, config.node_name, ips=serving_ips(config),
                                dns=(machine.hostname(),))
        return APITLS(files.cert, files.key, client_ca or files.client_ca)
    if fallback is not None:
        return fallback(config, serving_ips(config))
    return None


async def _network_ready(cri: CRIConnection, timeout: float) -> bool:
    """Wait until the runtime reports NetworkReady (containerd reloads CNI configs within a second)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        with contextlib.suppress(CRIError):
            st = await cri.runtime.status(timeout=5)
            if any(c.type == "NetworkReady" and c.status for c in st.status.conditions):
                return True
        await asyncio.sleep(0.1)
    return False


def _wire_pod_network(kubelet: Kubelet, cri: CRIConnection, paths: AgentPaths,
                      network: Callable[[str], cni.BridgeNetwork], tasks: set[asyncio.Task[None]]) -> None:
    """Once the Node has a pod CIDR: write the conflist, tell the runtime, and post the node status as
    soon as the runtime's network is ready (not a status period later)."""

    async def apply(cidr: str) -> None:
        try:
            await cri.runtime.update_runtime_config(cidr)
        except CRIError as exc:  # containerd reads the conflist anyway; the CIDR only feeds templates
            log.warning("telling the runtime the pod CIDR %s failed: %s", cidr, exc)
        if await _network_ready(cri, NETWORK_READY_WAIT):
            kubelet.node_status.poke()

    def on_pod_cidr(cidr: str) -> None:
        cni.write_conflist(paths.cni_conf_dir, network(cidr), ipam_dir=paths.cni_ipam_dir)
        task = spawn(apply(cidr), name=f"pod network {cidr}")
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    kubelet.node_status.on_pod_cidr = on_pod_cidr


def parse_args(argv: Sequence[str], prog: str = "kijabi kubelet") -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=prog, description="Run the kubelet.")
    add_flags(parser)
    return parser.parse_args(list(argv))


async def run(args: argparse.Namespace | Sequence[str], *, stop: asyncio.Event | None = None,
              tls_fallback: TLSFallback | None = None) -> None:
    """Run the kubelet (and its API) until `stop` is set (or the task is cancelled); see the module docstring."""
    if not isinstance(args, argparse.Namespace):
        args = parse_args(args)
    config = config_from_args(args)
    network = network_from_args(args)
    user_agent = f"kubelet/{KUBELET_VERSION} (linux/amd64) kijabi"
    client = Client.from_kubeconfig(str(args.kubeconfig), qps=config.api_qps, burst=config.api_burst,
                                    user_agent=user_agent)
    events = Client.from_kubeconfig(str(args.kubeconfig), qps=config.event_qps, burst=config.event_burst,
                                    user_agent=user_agent)
    cri: CRIConnection | None = None
    containerd: Containerd | None = None
    server: KubeletServer | None = None
    background: set[asyncio.Task[None]] = set()
    try:
        cri, containerd = await start_runtime(config, args.container_runtime_endpoint, network=network)
        kubelet = Kubelet(config, client, cri, event_client=events)
        if containerd is not None:
            _wire_pod_network(kubelet, cri, AgentPaths(config.data_dir), network, background)
        tls = await asyncio.to_thread(api_tls, args, config, tls_fallback)
        if tls is None:
            log.info("kubelet API not served: no --tls-cert-file and no server CA under %s", config.data_dir)
        else:
            server = KubeletServer(
                ServerConfig(node_name=config.node_name, cert_file=tls.cert, key_file=tls.key,
                             client_ca_file=tls.client_ca, bind_address=args.address, port=args.kubelet_port),
                runtime=cri.runtime, lookup=KubeletPodLookup(kubelet), token_reviewer=auth.api_token_reviewer(client))
            await server.start()
            config.kubelet_port = server.port  # what the Node reports in daemonEndpoints
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
        for t in list(background):
            t.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        if server is not None:
            await server.stop()
        if cri is not None:
            await cri.close()
        if containerd is not None:
            await containerd.stop()
        await client.close()
        await events.close()


def serve(main_coro: Callable[[asyncio.Event], Coroutine[Any, Any, None]], prog: str, *,
          errors: tuple[type[Exception], ...] = ()) -> int:
    """Run `main_coro(stop)` on uvloop until SIGINT/SIGTERM set `stop`; errors (the usual ones and `errors`)
    are one line and exit 1."""

    async def _serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await main_coro(stop)

    expected: tuple[type[Exception], ...] = (OSError, RuntimeError, ValueError, ContainerdError, CRIError, ClientError,
                images.ImageImportError, images.ImageBuildError, *errors)
    try:
        import uvloop

        uvloop.run(_serve())
    except KeyboardInterrupt:
        pass
    except expected as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 1
    return 0


def setup_logging(level: str) -> None:
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    setup_logging(args.log_level)
    return serve(lambda stop: run(args, stop=stop), "kijabi kubelet")


if __name__ == "__main__":
    sys.exit(main())
