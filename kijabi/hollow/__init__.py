"""Hollow nodes (kubemark / kwok style): many fake Nodes, and a fake kubelet for them, in one process.

Modules:
    objects   the Node, Lease and pod-status bodies a hollow node writes (pure)
    nodes     `HollowNodes`: registration, lease renewal, the fake kubelet's pod handling
    main      `kijabi hollow-nodes` flags and `run(argv)`

API only: a hollow node talks to the API server through `kijabi.client`, like every component.
"""

from kijabi.hollow.nodes import HollowNodes
from kijabi.hollow.objects import NodeShape

__all__ = ["HollowNodes", "NodeShape"]
