"""Deployments end to end with real kubectl: create, scale, set image, rollout status/history/undo,
pause/resume, Recreate; the controllers run in-process and a fake kubelet makes pods ready."""

from __future__ import annotations

import json
from typing import Any

from tests.controllers.workloads.harness import ControllerThread, wait_for
from tests.e2e.cluster import Cluster


def _rs(cluster: Cluster, ns: str) -> list[dict[str, Any]]:
    return cluster.kubectl_json("get", "rs", "-n", ns)["items"]


def _pods(cluster: Cluster, ns: str) -> list[dict[str, Any]]:
    return cluster.kubectl_json("get", "pods", "-n", ns)["items"]


def _deploy(cluster: Cluster, ns: str, name: str) -> dict[str, Any]:
    return cluster.kubectl_json("get", "deployment", name, "-n", ns)


def _available(cluster: Cluster, ns: str, name: str, n: int) -> bool:
    d = _deploy(cluster, ns, name)
    st = d.get("status") or {}
    return (st.get("observedGeneration") == d["metadata"]["generation"] and st.get("availableReplicas", 0) == n
            and st.get("updatedReplicas", 0) == n and st.get("replicas", 0) == n)


def test_create_scale_and_status(cluster: Cluster, controllers: ControllerThread, namespace: str) -> None:
    """`kubectl create deployment --replicas 3` makes one ReplicaSet <name>-<hash> with 3 pods named
    <rs>-<5 chars>; scaling to 5 then 1 follows; status and conditions are upstream's."""
    cluster.kubectl("create", "deployment", "web", "--image=busybox", "--replicas=3", "-n", namespace)
    wait_for(lambda: _available(cluster, namespace, "web", 3), what="3 available replicas")
    rss = _rs(cluster, namespace)
    assert len(rss) == 1
    rs = rss[0]
    pod_hash = rs["metadata"]["labels"]["pod-template-hash"]
    assert rs["metadata"]["name"] == f"web-{pod_hash}"
    ann = rs["metadata"]["annotations"]
    assert ann["deployment.kubernetes.io/revision"] == "1"
    assert ann["deployment.kubernetes.io/desired-replicas"] == "3"
    assert ann["deployment.kubernetes.io/max-replicas"] == "4"
    ref = rs["metadata"]["ownerReferences"][0]
    assert (ref["kind"], ref["name"], ref["controller"], ref["blockOwnerDeletion"]) == ("Deployment", "web", True, True)
    pods = _pods(cluster, namespace)
    assert len(pods) == 3
    assert all(p["metadata"]["name"].startswith(f"web-{pod_hash}-") and len(p["metadata"]["name"]) == len(f"web-{pod_hash}-") + 5
               for p in pods)
    d = _deploy(cluster, namespace, "web")
    conds = {c["type"]: c for c in d["status"]["conditions"]}
    assert conds["Available"]["reason"] == "MinimumReplicasAvailable"
    assert conds["Progressing"]["reason"] == "NewReplicaSetAvailable"
    assert conds["Progressing"]["message"] == f'ReplicaSet "web-{pod_hash}" has successfully progressed.'
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"

    cluster.kubectl("scale", "deployment", "web", "--replicas=5", "-n", namespace)
    wait_for(lambda: _available(cluster, namespace, "web", 5), what="5 available replicas")
    cluster.kubectl("scale", "deployment", "web", "--replicas=1", "-n", namespace)
    wait_for(lambda: _available(cluster, namespace, "web", 1), what="1 available replica")
    wait_for(lambda: len(_pods(cluster, namespace)) == 1, what="pods deleted down to 1")
    events = cluster.kubectl_json("get", "events", "-n", namespace, "--field-selector", "involvedObject.kind=Deployment")
    messages = {e["message"] for e in events["items"]}
    assert f"Scaled up replica set web-{pod_hash} from 0 to 3" in messages
    assert f"Scaled up replica set web-{pod_hash} from 3 to 5" in messages
    assert f"Scaled down replica set web-{pod_hash} from 5 to 1" in messages


def test_set_image_rollout_history_undo(cluster: Cluster, controllers: ControllerThread, namespace: str) -> None:
    """`set image` rolls out a second ReplicaSet; `rollout status` waits for it; `rollout history` lists
    both revisions with change causes; `rollout undo` brings revision 1's template back as revision 3."""
    cluster.kubectl("create", "deployment", "app", "--image=busybox:1.0", "--replicas=4", "-n", namespace)
    wait_for(lambda: _available(cluster, namespace, "app", 4), what="first rollout")
    cluster.kubectl("set", "image", "deployment/app", "busybox=busybox:2.0", "-n", namespace)
    cluster.kubectl("annotate", "deployment", "app", "kubernetes.io/change-cause=image 2.0", "-n", namespace)
    out = cluster.kubectl("rollout", "status", "deployment/app", "-n", namespace, "--timeout=60s").stdout
    assert 'deployment "app" successfully rolled out' in out
    rss = {rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]: rs for rs in _rs(cluster, namespace)}
    assert set(rss) == {"1", "2"}
    assert rss["1"]["spec"]["replicas"] == 0 and rss["2"]["spec"]["replicas"] == 4
    assert rss["2"]["spec"]["template"]["spec"]["containers"][0]["image"] == "busybox:2.0"
    images = {p["spec"]["containers"][0]["image"] for p in _pods(cluster, namespace)}
    wait_for(lambda: {p["spec"]["containers"][0]["image"] for p in _pods(cluster, namespace)} == {"busybox:2.0"},
             what=f"old pods gone (images {images})")

    history = cluster.kubectl("rollout", "history", "deployment/app", "-n", namespace).stdout
    lines = [line.split(None, 1) for line in history.splitlines()[2:] if line.strip()]
    assert [(rev, cause.strip()) for rev, cause in lines] == [("1", "<none>"), ("2", "image 2.0")]

    cluster.kubectl("rollout", "undo", "deployment/app", "-n", namespace)
    out = cluster.kubectl("rollout", "status", "deployment/app", "-n", namespace, "--timeout=60s").stdout
    assert "successfully rolled out" in out
    d = _deploy(cluster, namespace, "app")
    assert d["spec"]["template"]["spec"]["containers"][0]["image"] == "busybox:1.0"
    wait_for(lambda: _deploy(cluster, namespace, "app")["metadata"]["annotations"].get(
        "deployment.kubernetes.io/revision") == "3", what="deployment revision 3")
    rss = {rs["spec"]["template"]["spec"]["containers"][0]["image"]: rs for rs in _rs(cluster, namespace)}
    ann = rss["busybox:1.0"]["metadata"]["annotations"]
    assert ann["deployment.kubernetes.io/revision"] == "3"
    assert ann["deployment.kubernetes.io/revision-history"] == "1"
    history = cluster.kubectl("rollout", "history", "deployment/app", "-n", namespace).stdout
    assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["2", "3"]


def test_pause_resume_and_progress_deadline(cluster: Cluster, controllers: ControllerThread, namespace: str) -> None:
    """A paused deployment reports Progressing=Unknown DeploymentPaused and does not roll out; resumed
    it rolls out. Pods that never get ready exceed a 1 s progress deadline: ProgressDeadlineExceeded."""
    cluster.kubectl("create", "deployment", "p", "--image=busybox:1", "--replicas=2", "-n", namespace)
    wait_for(lambda: _available(cluster, namespace, "p", 2), what="rollout")
    cluster.kubectl("rollout", "pause", "deployment/p", "-n", namespace)
    cluster.kubectl("set", "image", "deployment/p", "busybox=busybox:2", "-n", namespace)

    def paused() -> bool:
        conds = {c["type"]: c for c in _deploy(cluster, namespace, "p")["status"].get("conditions", [])}
        return conds["Progressing"]["reason"] == "DeploymentPaused" and conds["Progressing"]["status"] == "Unknown"

    wait_for(paused, what="paused condition")
    assert len(_rs(cluster, namespace)) == 1
    cluster.kubectl("rollout", "resume", "deployment/p", "-n", namespace)
    out = cluster.kubectl("rollout", "status", "deployment/p", "-n", namespace, "--timeout=60s").stdout
    assert "successfully rolled out" in out
    assert len(_rs(cluster, namespace)) == 2

    cluster.kubectl("patch", "deployment", "p", "-n", namespace, "-p",
                    '{"spec":{"progressDeadlineSeconds":1,"template":{"metadata":{"labels":{"test.kijabi.io/hold":"true"}}}}}')

    def timed_out() -> bool:
        conds = {c["type"]: c for c in _deploy(cluster, namespace, "p")["status"].get("conditions", [])}
        return conds["Progressing"]["reason"] == "ProgressDeadlineExceeded" and conds["Progressing"]["status"] == "False"

    wait_for(timed_out, timeout=20, what="ProgressDeadlineExceeded")
    r = cluster.kubectl("rollout", "status", "deployment/p", "-n", namespace, "--timeout=20s", check=False)
    assert r.returncode != 0 and "exceeded its progress deadline" in r.stderr


def test_recreate(cluster: Cluster, controllers: ControllerThread, namespace: str) -> None:
    """Recreate scales the old ReplicaSet to 0 and waits for its pods to go before scaling up the new one."""
    cluster.kubectl("create", "deployment", "r", "--image=busybox:1", "--replicas=2", "-n", namespace)
    cluster.kubectl("patch", "deployment", "r", "-n", namespace, "--type=json", "-p",
                    '[{"op":"replace","path":"/spec/strategy","value":{"type":"Recreate"}}]')
    wait_for(lambda: _available(cluster, namespace, "r", 2), what="rollout")
    cluster.kubectl("set", "image", "deployment/r", "busybox=busybox:2", "-n", namespace)
    out = cluster.kubectl("rollout", "status", "deployment/r", "-n", namespace, "--timeout=60s").stdout
    assert "successfully rolled out" in out
    images = [p["spec"]["containers"][0]["image"] for p in _pods(cluster, namespace)]
    assert images == ["busybox:2", "busybox:2"]


def test_min_ready_seconds(cluster: Cluster, controllers: ControllerThread, namespace: str) -> None:
    """minReadySeconds: ready pods count as available only once they have been ready that long."""
    manifest = cluster.kubectl_json("create", "deployment", "slow", "--image=busybox", "--replicas=2", "-n", namespace,
                                    "--dry-run=client")
    manifest["spec"]["minReadySeconds"] = 5
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(manifest))

    def status() -> dict[str, Any]:
        return _deploy(cluster, namespace, "slow").get("status") or {}

    wait_for(lambda: status().get("readyReplicas") == 2, what="2 ready replicas")
    ready_at = {p["metadata"]["name"]: next(c["lastTransitionTime"] for c in p["status"]["conditions"] if c["type"] == "Ready")
                for p in _pods(cluster, namespace)}
    st = status()
    assert st.get("availableReplicas", 0) < 2, f"available before minReadySeconds passed: {st} {ready_at}"
    wait_for(lambda: _available(cluster, namespace, "slow", 2), timeout=20, what="2 available after minReadySeconds")
    rs = _rs(cluster, namespace)[0]
    assert rs["spec"]["minReadySeconds"] == 5 and rs["status"]["availableReplicas"] == 2
