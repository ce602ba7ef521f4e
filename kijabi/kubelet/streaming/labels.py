"""CRI labels that tie sandboxes and containers to their pod: the contract between the kubelet core
(which sets them when it creates sandboxes and containers) and the kubelet API (which finds containers
by them for logs, exec, attach, port-forward and stats). The keys are upstream's (pkg/kubelet/types).
"""

from __future__ import annotations

POD_NAME = "io.kubernetes.pod.name"
POD_NAMESPACE = "io.kubernetes.pod.namespace"
POD_UID = "io.kubernetes.pod.uid"
CONTAINER_NAME = "io.kubernetes.container.name"


def sandbox_labels(namespace: str, name: str, uid: str) -> dict[str, str]:
    """Labels every pod sandbox carries (plus the pod's own labels, which the core may add)."""
    return {POD_NAMESPACE: namespace, POD_NAME: name, POD_UID: uid}


def container_labels(namespace: str, name: str, uid: str, container: str) -> dict[str, str]:
    """Labels every container carries."""
    return {POD_NAMESPACE: namespace, POD_NAME: name, POD_UID: uid, CONTAINER_NAME: container}


def pod_selector(namespace: str, name: str, uid: str = "") -> dict[str, str]:
    """A CRI label selector for a pod's sandboxes or containers (uid optional)."""
    selector = {POD_NAMESPACE: namespace, POD_NAME: name}
    if uid:
        selector[POD_UID] = uid
    return selector
