"""What every controller gets: one client, one shared informer factory, an event recorder factory,
the clock, and the controller-manager's configuration."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from kijabi.client.clock import REAL_CLOCK, Clock
from kijabi.client.events import EventBroadcaster
from kijabi.client.informers import SharedInformerFactory
from kijabi.client.rest import Client


@dataclass
class Options:
    """Controller-manager flags that controllers read (upstream names)."""

    cluster_cidr: str = "10.42.0.0/16"
    node_cidr_mask_size: int = 24
    service_cidr: str = "10.43.0.0/16"
    node_monitor_grace_period: float = 40.0
    node_monitor_period: float = 5.0
    pod_eviction_timeout: float = 300.0
    terminated_pod_gc_threshold: int = 12500
    concurrent_syncs: dict[str, int] = field(default_factory=dict)
    root_ca_file: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class ControllerContext:
    client: Client
    informers: SharedInformerFactory
    events: EventBroadcaster
    options: Options
    clock: Clock = REAL_CLOCK

    def recorder(self, component: str) -> Any:
        return self.events.new_recorder(component)


class Runnable(Protocol):
    async def run(self) -> None: ...


# A controller constructor: builds the controller and registers its informers with the factory.
# The manager starts the factory after every constructor ran, then awaits every `run()`.
Constructor = Callable[[ControllerContext], Runnable | Awaitable[Runnable]]
