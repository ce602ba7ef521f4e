"""Client library: REST client, informers, workqueue, leader election, events. Every component builds on it.

Modules (one mechanism each):
    config          kubeconfig / in-cluster `Config`
    transport       the HTTP exchange (aiohttp), behind the `Transport` protocol
    rest            `Client`: verbs, watch, retries, QPS limit; `GVR`
    errors          the exception tree (NotFound, Conflict, Expired, ...)
    discovery       `RESTMapper` over cached discovery
    reflector       list + watch into a store
    cache           `Indexer`, `Lister`, keys; cached objects are shared and read-only
    informers       `SharedIndexInformer`, `SharedInformerFactory`, event handlers
    workqueue       rate-limited work queues and rate limiters
    controller      the `Controller` base (informers -> queue -> workers -> sync(key))
    leaderelection  Lease-based `LeaderElector`
    events          `EventBroadcaster` / `EventRecorder` with upstream's correlation
    clock, ratelimit, tasks   injectable time, token buckets/backoff, guarded tasks
    testing         `FakeClock` lives in clock; `FakeTransport`, `FakeAPIServer` for unit tests
"""

from kijabi.client.cache import (
    DeletedFinalStateUnknown,
    Indexer,
    Lister,
    copy_object,
    meta_namespace_key,
    split_key,
)
from kijabi.client.clock import Clock, FakeClock, RealClock
from kijabi.client.config import Config, load_default, load_incluster, load_kubeconfig
from kijabi.client.controller import Controller
from kijabi.client.errors import (
    AlreadyExists,
    APIError,
    ClientError,
    Conflict,
    Expired,
    Invalid,
    NotFound,
    TransportError,
)
from kijabi.client.events import EventBroadcaster, EventRecorder
from kijabi.client.informers import EventHandlerFuncs, SharedIndexInformer, SharedInformerFactory
from kijabi.client.leaderelection import LeaderElectionConfig, LeaderElector
from kijabi.client.rest import GVR, Client, RetryPolicy, Watch, WatchEvent
from kijabi.client.workqueue import RateLimitingQueue, ShutDown

__all__ = [
    "GVR",
    "APIError",
    "AlreadyExists",
    "Client",
    "ClientError",
    "Clock",
    "Config",
    "Conflict",
    "Controller",
    "DeletedFinalStateUnknown",
    "EventBroadcaster",
    "EventHandlerFuncs",
    "EventRecorder",
    "Expired",
    "FakeClock",
    "Indexer",
    "Invalid",
    "LeaderElectionConfig",
    "LeaderElector",
    "Lister",
    "NotFound",
    "RateLimitingQueue",
    "RealClock",
    "RetryPolicy",
    "SharedIndexInformer",
    "SharedInformerFactory",
    "ShutDown",
    "TransportError",
    "Watch",
    "WatchEvent",
    "copy_object",
    "load_default",
    "load_incluster",
    "load_kubeconfig",
    "meta_namespace_key",
    "split_key",
]
