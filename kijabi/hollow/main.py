"""`kijabi hollow-nodes`: register N hollow nodes and act as their kubelet until interrupted.

Flags: --kubeconfig, --count N, --name-prefix (hollow-), --cpu (4), --memory (16Gi), --pods (110),
--zones (3; labels topology.kubernetes.io/zone=zone-<i % zones> and kubernetes.io/hostname),
--ready-delay (0.5 s from binding to Running/Ready; negative: pods never start, deletions are still
confirmed), --qps / --burst (client rate limit; default 200 / 400), --lease-period (10 s).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from kijabi.client.config import load_default
from kijabi.client.rest import Client
from kijabi.client.tasks import freeze_heap_when, run_main, spawn
from kijabi.hollow.nodes import HollowNodes
from kijabi.hollow.objects import NodeShape


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def build_parser(prog: str = "kijabi hollow-nodes") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description="Fake nodes and a fake kubelet for scale tests.")
    p.add_argument("--kubeconfig", default=None, help="kubeconfig of the API server (default: admin kubeconfig, "
                                                      "$KUBECONFIG)")
    p.add_argument("--count", type=_positive, default=1, help="number of nodes")
    p.add_argument("--name-prefix", default="hollow-", help="node names are PREFIX<index>")
    p.add_argument("--cpu", default="4", help="cpu capacity of each node")
    p.add_argument("--memory", default="16Gi", help="memory capacity of each node")
    p.add_argument("--pods", type=_positive, default=110, help="pod capacity of each node")
    p.add_argument("--zones", type=_positive, default=3, help="nodes are spread over zone-0 .. zone-(N-1)")
    p.add_argument("--ready-delay", type=float, default=0.5,
                   help="seconds from binding until a pod is Running and Ready (negative: never)")
    p.add_argument("--qps", type=float, default=200.0, help="client QPS limit (negative: none)")
    p.add_argument("--burst", type=int, default=400, help="client burst")
    p.add_argument("--lease-period", type=float, default=10.0, help="seconds between renewals of a node's Lease")
    return p


def shape_of(ns: argparse.Namespace) -> NodeShape:
    return NodeShape(count=ns.count, name_prefix=ns.name_prefix, cpu=ns.cpu, memory=ns.memory, pods=ns.pods,
                     zones=ns.zones)


async def run(argv: Sequence[str]) -> None:
    """Entry point of `kijabi hollow-nodes` (argv without the program name); runs until cancelled."""
    ns = build_parser().parse_args(list(argv))
    try:
        cfg = load_default(ns.kubeconfig)
    except Exception as exc:
        raise SystemExit(f"kijabi hollow-nodes: {exc}") from None
    async with Client(cfg.with_options(qps=ns.qps, burst=ns.burst)) as client:
        nodes = HollowNodes(client, shape_of(ns), ready_delay=ns.ready_delay, lease_period=ns.lease_period)
        freezer = spawn(freeze_heap_when(nodes.registered), name="gc freeze")
        try:
            await nodes.run()
        finally:
            freezer.cancel()


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(run(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(main())
