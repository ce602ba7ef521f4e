"""The `kijabi` command: k3s-style `server`, one subcommand per component, and tools.

This is the only module that turns flags into configuration. Errors are one line and a non-zero exit.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import logging
import os
import signal
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kijabi.cli import snapshot
from kijabi.cli.supervisor import Child, Supervisor, kijabi_argv
from kijabi.client.config import write_kubeconfig
from kijabi.storage import Storage

if TYPE_CHECKING:
    from kijabi.apiserver.certs import PKI

DEFAULT_DATA_DIR = Path("/var/lib/kijabi")
DEFAULT_KUBECONFIG = Path("/etc/kijabi/kubeconfig.yaml")

log = logging.getLogger("kijabi")


def _server_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", "-d", type=Path, default=DEFAULT_DATA_DIR, help="folder for state (default %(default)s)")
    p.add_argument("--bind-address", default="127.0.0.1", help="address the API server listens on")
    p.add_argument("--https-listen-port", type=int, default=6443, help="API server port (0: pick a free one)")
    p.add_argument("--advertise-address", default="127.0.0.1", help="address other components use to reach the API")
    p.add_argument("--write-kubeconfig", "-o", type=Path, default=None,
                   help=f"where to write the admin kubeconfig (default {DEFAULT_KUBECONFIG})")
    p.add_argument("--write-kubeconfig-mode", default="0600", help="file mode of the kubeconfig")
    p.add_argument("--datastore-endpoint", default="",
                   help="sqlite:///path (default: <data-dir>/server/db/state.db) or etcd://host:2379,host:2379")
    p.add_argument("--datastore-cafile", default="", help="CA bundle for the etcd endpoints")
    p.add_argument("--datastore-certfile", default="", help="client certificate for the etcd endpoints")
    p.add_argument("--datastore-keyfile", default="", help="client key for the etcd endpoints")
    p.add_argument("--token", default="", help="shared secret: a bearer token with admin rights, and the node join token")
    p.add_argument("--token-auth-file", type=Path, default=None, help="CSV file of bearer tokens: token,user,uid,\"groups\"")
    p.add_argument("--service-cidr", default="10.43.0.0/16")
    p.add_argument("--service-node-port-range", default="30000-32767")
    p.add_argument("--cluster-cidr", default="10.42.0.0/16")
    p.add_argument("--disable-agent", action="store_true",
                   help="(server) do not run the node agent (containerd, kubelet) on this machine")
    p.add_argument("--node-name", default="", help="(server) the built-in node's name (default: the hostname)")
    p.add_argument("--node-ip", default="", help="(server) the built-in node's InternalIP")
    p.add_argument("--node-label", action="append", default=[], metavar="KEY=VALUE",
                   help="(server) a label of the built-in node (repeatable)")
    p.add_argument("--kubelet-arg", action="append", default=[], metavar="NAME=VALUE",
                   help="(server) an extra flag for the built-in node's kubelet (repeatable)")
    p.add_argument("--disable-controller-manager", action="store_true", help="(server) do not run the controller-manager")
    p.add_argument("--disable-scheduler", action="store_true", help="(server) do not run the scheduler")
    p.add_argument("--default-watch-cache-size", type=int, default=20000,
                   help="events the watch cache keeps for watches that resume from a resourceVersion")
    p.add_argument("--log-level", default="info")
    snapshot.add_snapshot_flags(p)


def open_storage(args: argparse.Namespace) -> Storage:
    """A Storage for a k3s-style datastore endpoint: sqlite:///path (default) or etcd://h1:2379,h2:2379."""
    from kijabi.storage.snapshot import SnapshotError, open_datastore

    try:
        return open_datastore(snapshot.datastore_from_args(args), server=True)
    except SnapshotError as exc:
        raise SystemExit(f"kijabi: --datastore-endpoint: {exc}") from None


def write_admin_kubeconfig(path: Path, server_url: str, pki: PKI, mode: int) -> None:
    """The admin kubeconfig: the server CA and the admin client certificate."""
    def b64(p: Path) -> str:
        return base64.b64encode(p.read_bytes()).decode()

    write_kubeconfig(path, server_url, pki.server_ca.cert.read_bytes(),
                     {"client-certificate-data": b64(pki.admin.cert), "client-key-data": b64(pki.admin.key)},
                     mode=mode)


async def run_apiserver(args: argparse.Namespace) -> None:
    from kijabi.apiserver.app import APIServer, Config
    from kijabi.apiserver.auth import User
    from kijabi.apiserver.strategies.core import ServiceStrategy

    first, last = (int(x) for x in args.service_node_port_range.split("-", 1))
    ServiceStrategy.configure(args.service_cidr, (first, last))
    data_dir: Path = args.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    tokens = {}
    if args.token:
        tokens[args.token] = User("kijabi:admin-token", groups=("system:masters", "system:authenticated"))
    config = Config(
        data_dir=data_dir, bind_address=args.bind_address, port=args.https_listen_port,
        storage=open_storage(args), token_file=args.token_auth_file, tokens=tokens,
        advertise_address=args.advertise_address, watch_cache_size=args.default_watch_cache_size,
    )
    server = APIServer(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await server.start()
    # What start-up built (schemas, registry, printers: hundreds of thousands of objects) lives as long as
    # the process: keep it out of the collector's full passes, which otherwise walk it every time.
    gc.collect()
    gc.freeze()
    snapshots = asyncio.create_task(snapshot.run_snapshot_schedule(args, snapshot.datastore_from_args(args), stop),
                                    name="etcd-snapshots")
    host = args.bind_address if args.bind_address not in ("0.0.0.0", "::") else "127.0.0.1"
    url = f"https://{host}:{server.port}"
    kubeconfig = args.write_kubeconfig or (DEFAULT_KUBECONFIG if data_dir == DEFAULT_DATA_DIR else data_dir / "kubeconfig.yaml")
    write_admin_kubeconfig(kubeconfig, url, server.pki, int(args.write_kubeconfig_mode, 8))
    supervisor = Supervisor()
    if args.command == "server":
        component_kubeconfig = data_dir / "server" / "cred" / "admin.kubeconfig"
        write_admin_kubeconfig(component_kubeconfig, url, server.pki, 0o600)
        for child in server_components(args, component_kubeconfig, server.pki.server_ca.cert):
            supervisor.start(child)
    print(f"kijabi: API server ready at {url}", flush=True)
    print(f"kijabi: kubeconfig written to {kubeconfig}", flush=True)
    try:
        await stop.wait()
    finally:
        print("kijabi: shutting down", flush=True)
        stop.set()
        await snapshots
        await supervisor.stop()
        await server.stop()


def server_components(args: argparse.Namespace, kubeconfig: Path, ca_file: Path) -> list[Child]:
    """The processes `kijabi server` runs beside the API server."""
    children = []
    if not args.disable_controller_manager:
        children.append(Child("controller-manager", kijabi_argv(
            "controller-manager", "--kubeconfig", str(kubeconfig), "--cluster-cidr", args.cluster_cidr,
            "--service-cluster-ip-range", args.service_cidr, "--root-ca-file", str(ca_file),
            "--log-level", args.log_level)))
    if not args.disable_scheduler:
        children.append(Child("scheduler", kijabi_argv("scheduler", "--kubeconfig", str(kubeconfig), "--secure-port", "0")))
    if not args.disable_agent:
        agent = ["agent", "--kubeconfig", str(kubeconfig), "--data-dir", str(args.data_dir.absolute()),
                 "--service-cidr", args.service_cidr, "--log-level", args.log_level]
        for flag in ("node_name", "node_ip"):
            if getattr(args, flag):
                agent += ["--" + flag.replace("_", "-"), getattr(args, flag)]
        for label in args.node_label:
            agent += ["--node-label", label]
        for arg in args.kubelet_arg:
            agent += ["--kubelet-arg", arg]
        children.append(Child("agent", kijabi_argv(*agent), grace=30.0))
    return children


def cmd_kubectl(argv: list[str]) -> int:
    kubeconfig = os.environ.get("KUBECONFIG") or str(DEFAULT_KUBECONFIG)
    if not any(a == "--kubeconfig" or a.startswith("--kubeconfig=") for a in argv):
        argv = ["--kubeconfig", kubeconfig, *argv]
    kubectl = "/usr/bin/kubectl" if os.path.exists("/usr/bin/kubectl") else "kubectl"
    os.execvp(kubectl, [kubectl, *argv])
    return 127


# Tools with a parser of their own: `kijabi <name> ...` runs `<module>.main(argv)` (-> exit code).
TOOLS = {
    "agent": ("kijabi.cli.agent", "run a node: containerd, CNI and the kubelet (flags: kijabi agent --help)"),
    "images": ("kijabi.cli.images", "container image tools: import (flags: kijabi images --help)"),
    "etcd-snapshot": ("kijabi.cli.snapshot", "save, list and restore datastore snapshots"),
    "datastore": ("kijabi.cli.datastore", "datastore tools: migrate between SQLite and etcd"),
}


# Components with a parser of their own: `kijabi <name> ...` runs the coroutine `<module>.run(argv)`.
# Modules are imported only for the command that runs (a component's start stays fast).
COMPONENTS = {
    "scheduler": ("kijabi.scheduler.main", "run the scheduler (flags: kijabi scheduler --help)"),
    "kubelet": ("kijabi.kubelet.main", "run the kubelet (flags: kijabi kubelet --help)"),
    "hollow-nodes": ("kijabi.hollow.main", "register N fake nodes with a fake kubelet (flags: kijabi hollow-nodes --help)"),
}


def main(argv: list[str] | None = None) -> int:
    import importlib

    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "kubectl":
        return cmd_kubectl(argv[1:])
    if argv and argv[0] in TOOLS:
        tool: Any = importlib.import_module(TOOLS[argv[0]][0])
        return int(tool.main(argv[1:]))
    if argv and argv[0] in COMPONENTS:
        component: Any = importlib.import_module(COMPONENTS[argv[0]][0])
        return run_component(component.run(argv[1:]))
    parser = argparse.ArgumentParser(prog="kijabi", description="Kubernetes, written in Python.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (("server", "run a cluster: API server with the embedded store, controller-manager, scheduler and a node"),
                       ("apiserver", "run the API server alone")):
        _server_flags(sub.add_parser(name, help=text))
    sub.add_parser("kubectl", help="run kubectl with the admin kubeconfig")
    for name, (_module, text) in {**COMPONENTS, **TOOLS}.items():
        sub.add_parser(name, help=text)
    cm = sub.add_parser("controller-manager", help="run the controller-manager")
    if argv and argv[0] == "controller-manager":
        from kijabi.controllers import manager as controller_manager

        controller_manager.add_flags(cm)
        cm.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    logging.basicConfig(level=getattr(logging, args.log_level.upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.command == "controller-manager":
        if args.kubeconfig is None:
            args.kubeconfig = os.environ.get("KUBECONFIG") or str(DEFAULT_KUBECONFIG)
        return run_component(controller_manager.run(args))
    return run_component(run_apiserver(args))


def run_component(main_coro: Coroutine[Any, Any, None]) -> int:
    """Run one component's main coroutine on uvloop; errors are one line and a non-zero exit."""
    try:
        import uvloop

        uvloop.run(main_coro)
    except KeyboardInterrupt:
        pass
    except SystemExit:
        raise
    except OSError as exc:
        print(f"kijabi: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
