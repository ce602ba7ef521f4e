"""The kubelet's configuration (upstream KubeletConfiguration, the parts kijabi implements) and its paths.

Defaults are upstream's for v1.32 unless noted: 110 pods, node status every 10 s, a 40 s node Lease
renewed every 10 s, CrashLoopBackOff from 10 s doubling to 300 s, container logs rotated at 10 MiB
keeping 5 files, hard eviction at memory.available<100Mi, nodefs.available<10%, nodefs.inodesFree<5%,
imagefs.available<15%, imagefs.inodesFree<5%, cluster DNS 10.43.0.10 (k3s) and domain cluster.local.

Where things live (`KubeletPaths`), all but the container logs under `<data-dir>/agent`:

    <data-dir>/agent/
    ├── pods/<uid>/
    │   ├── volumes/<plugin>/<volume>     kubernetes.io~empty-dir, ~configmap, ~secret, ~downward-api,
    │   │                                 ~projected (hostPath and PVs are bind-mounted from their own path)
    │   ├── etc-hosts                     the pod's managed /etc/hosts
    │   └── containers/<name>/<id>        termination-message files
    └── pod-manifests/                    static pods (*.yaml, *.yml, *.json)
    /var/log/pods/<ns>_<pod>_<uid>/<container>/<restart>.log    (`pod_log_dir`, written by the runtime)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

KUBELET_VERSION = "v1.32.4"
DEFAULT_CLUSTER_DNS = ("10.43.0.10",)
DEFAULT_CLUSTER_DOMAIN = "cluster.local"
DEFAULT_POD_LOG_DIR = Path("/var/log/pods")
DEFAULT_KUBELET_PORT = 10250
DEFAULT_RESOLV_CONF = Path("/etc/resolv.conf")

# Hard eviction thresholds: signal -> threshold ("100Mi" is a quantity, "10%" a share of capacity).
DEFAULT_EVICTION_HARD: dict[str, str] = {
    "memory.available": "100Mi",
    "nodefs.available": "10%",
    "nodefs.inodesFree": "5%",
    "imagefs.available": "15%",
    "imagefs.inodesFree": "5%",
}


@dataclass
class KubeletConfig:
    """Everything a `Kubelet` needs besides its API client and CRI connection."""

    node_name: str
    data_dir: Path
    pod_cidr: str = ""
    cluster_dns: tuple[str, ...] = DEFAULT_CLUSTER_DNS
    cluster_domain: str = DEFAULT_CLUSTER_DOMAIN
    node_ip: str = ""                          # "" = the address of the default-route interface
    hostname: str = ""                         # "" = the machine's hostname
    node_labels: dict[str, str] = field(default_factory=dict)
    pod_log_dir: Path = DEFAULT_POD_LOG_DIR
    pod_manifest_dir: Path | None = None       # None = <data-dir>/agent/pod-manifests
    cgroup_root: str = "/"                     # pods go under <cgroup_root>/kubepods/...
    resolv_conf: Path = DEFAULT_RESOLV_CONF
    kubelet_port: int = DEFAULT_KUBELET_PORT
    max_pods: int = 110
    register_node: bool = True
    # periods (seconds)
    sync_frequency: float = 60.0               # each pod is re-synced at least this often
    node_status_update_frequency: float = 10.0
    node_lease_duration: int = 40
    node_lease_renew_interval: float = 10.0
    pleg_relist_period: float = 1.0
    housekeeping_interval: float = 2.0         # static pods, orphans
    container_gc_period: float = 60.0
    eviction_monitoring_period: float = 10.0
    log_rotation_period: float = 10.0
    # restart backoff (CrashLoopBackOff and image pulls)
    backoff_initial: float = 10.0
    backoff_max: float = 300.0
    # logs
    container_log_max_size: int = 10 * 1024 * 1024
    container_log_max_files: int = 5
    # eviction
    eviction_hard: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_EVICTION_HARD))
    eviction_pressure_transition_period: float = 300.0
    # client limits (upstream kubeAPIQPS/kubeAPIBurst, eventRecordQPS/eventBurst)
    api_qps: float = 50.0
    api_burst: int = 100
    event_qps: float = 50.0
    event_burst: int = 100
    # how many pods may run CRI setup (sandbox + containers) at the same time
    max_parallel_pod_starts: int = 16

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).absolute()
        if not self.node_name:
            raise ValueError("the kubelet needs a node name")

    @property
    def paths(self) -> KubeletPaths:
        return KubeletPaths(self.data_dir, self.pod_log_dir, self.pod_manifest_dir)


@dataclass(frozen=True)
class KubeletPaths:
    """Filesystem layout of the kubelet (see the module docstring)."""

    data_dir: Path
    pod_log_dir: Path = DEFAULT_POD_LOG_DIR
    manifest_dir: Path | None = None

    @property
    def agent(self) -> Path:
        return self.data_dir / "agent"

    @property
    def pods_dir(self) -> Path:
        return self.agent / "pods"

    @property
    def pod_manifests(self) -> Path:
        return self.manifest_dir if self.manifest_dir is not None else self.agent / "pod-manifests"

    def pod_dir(self, uid: str) -> Path:
        return self.pods_dir / uid

    def volumes_dir(self, uid: str) -> Path:
        return self.pod_dir(uid) / "volumes"

    def volume_dir(self, uid: str, plugin: str, name: str) -> Path:
        """e.g. plugin "kubernetes.io~empty-dir"."""
        return self.volumes_dir(uid) / plugin / name

    def etc_hosts(self, uid: str) -> Path:
        return self.pod_dir(uid) / "etc-hosts"

    def container_dir(self, uid: str, container: str) -> Path:
        return self.pod_dir(uid) / "containers" / container

    def pod_log_directory(self, namespace: str, name: str, uid: str) -> Path:
        """The sandbox's log_directory: /var/log/pods/<ns>_<pod>_<uid>."""
        return self.pod_log_dir / f"{namespace}_{name}_{uid}"
