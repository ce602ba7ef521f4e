"""What the kubelet writes on CRI sandboxes and containers, and reads back when it restarts.

The labels are upstream's (kuberuntime/labels.go), so `crictl` and other tools read them as usual. A
restarted kubelet finds everything it runs through them alone: a sandbox by pod uid, a container by pod
uid + container name, its restart count by `io.kubernetes.container.restartCount`. kijabi also puts the
restart count and the node name in labels (upstream keeps the count in an annotation only) so that the
runtime can filter on them, and several kubelets can share one runtime (each sees only its node's pods).

    label                              on            value
    io.kubernetes.pod.name             both          pod name
    io.kubernetes.pod.namespace        both          pod namespace
    io.kubernetes.pod.uid              both          pod uid (the runtime's pod identity)
    io.kubernetes.container.name       containers    container name
    io.kubernetes.container.restartCount  containers restart count (also an annotation)
    kijabi.io/node                     both          node name
    kijabi.io/container-type           containers    init | sidecar | regular
    kijabi.io/kubelet-instance         containers    which kubelet run created it (random per Kubelet)

    annotation                                           on
    io.kubernetes.container.hash                         containers   hash of the container spec
    io.kubernetes.container.restartCount                 containers
    io.kubernetes.container.terminationMessagePath       containers
    io.kubernetes.container.terminationMessagePolicy     containers
    io.kubernetes.pod.terminationGracePeriod             containers
    kubernetes.io/config.seen, config.source             sandboxes (plus the pod's own annotations)
"""

from __future__ import annotations

from collections.abc import Mapping

POD_NAME = "io.kubernetes.pod.name"
POD_NAMESPACE = "io.kubernetes.pod.namespace"
POD_UID = "io.kubernetes.pod.uid"
CONTAINER_NAME = "io.kubernetes.container.name"
RESTART_COUNT = "io.kubernetes.container.restartCount"
NODE = "kijabi.io/node"
KUBELET_INSTANCE = "kijabi.io/kubelet-instance"
CONTAINER_TYPE = "kijabi.io/container-type"

CONTAINER_HASH = "io.kubernetes.container.hash"
TERMINATION_MESSAGE_PATH = "io.kubernetes.container.terminationMessagePath"
TERMINATION_MESSAGE_POLICY = "io.kubernetes.container.terminationMessagePolicy"
TERMINATION_GRACE_PERIOD = "io.kubernetes.pod.terminationGracePeriod"
TERMINATION_MESSAGE_FILE = "kijabi.io/termination-message-file"

INIT = "init"
SIDECAR = "sidecar"
REGULAR = "regular"

# Pod annotations of the kubelet's pod sources (upstream kubetypes).
CONFIG_SOURCE = "kubernetes.io/config.source"
CONFIG_SEEN = "kubernetes.io/config.seen"
CONFIG_HASH = "kubernetes.io/config.hash"
CONFIG_MIRROR = "kubernetes.io/config.mirror"


def sandbox_labels(pod: Mapping[str, object], node: str) -> dict[str, str]:
    meta = pod.get("metadata") or {}
    assert isinstance(meta, Mapping)
    out = {str(k): str(v) for k, v in (meta.get("labels") or {}).items()}
    out.update({POD_NAME: str(meta.get("name", "")), POD_NAMESPACE: str(meta.get("namespace", "")),
                POD_UID: str(meta.get("uid", "")), NODE: node})
    return out


def container_labels(pod: Mapping[str, object], node: str, container: str, restart_count: int,
                     kind: str, instance: str = "") -> dict[str, str]:
    meta = pod.get("metadata") or {}
    assert isinstance(meta, Mapping)
    return {POD_NAME: str(meta.get("name", "")), POD_NAMESPACE: str(meta.get("namespace", "")),
            POD_UID: str(meta.get("uid", "")), CONTAINER_NAME: container, RESTART_COUNT: str(restart_count),
            NODE: node, CONTAINER_TYPE: kind, KUBELET_INSTANCE: instance}


def restart_count(labels: Mapping[str, str], annotations: Mapping[str, str] | None = None) -> int:
    for source in (labels, annotations or {}):
        raw = source.get(RESTART_COUNT)
        if raw is not None:
            try:
                return int(raw)
            except ValueError:
                continue
    return 0
