"""Jobs end to end: a Job runs to completion, an Indexed Job, backoffLimit, suspend/resume.

The fake kubelet finishes pods with the exit code in their `test.kijabi.io/exit-code` label. Jobs use
`manualSelector` because the API server does not generate Job selectors yet (see test_generated_selector).
"""

from __future__ import annotations

from typing import Any

from tests.controllers.workloads.harness import ControllerThread, wait_for
from tests.e2e.cluster import Cluster


def job_manifest(name: str, *, exit_code: int = 0, extra_spec: dict[str, Any] | None = None) -> str:
    import json

    labels = {"app": name, "test.kijabi.io/exit-code": str(exit_code)}
    spec: dict[str, Any] = {
        "manualSelector": True, "selector": {"matchLabels": {"app": name}},
        "template": {"metadata": {"labels": labels}, "spec": {
            "restartPolicy": "Never", "containers": [{"name": "main", "image": "busybox", "command": ["true"]}]}},
        **(extra_spec or {}),
    }
    return json.dumps({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name}, "spec": spec})


def _job(cluster: Cluster, ns: str, name: str) -> dict[str, Any]:
    return cluster.kubectl_json("get", "job", name, "-n", ns)


def _conditions(job: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in (job.get("status") or {}).get("conditions", [])}


def _pods(cluster: Cluster, ns: str) -> list[dict[str, Any]]:
    return cluster.kubectl_json("get", "pods", "-n", ns)["items"]


def test_job_runs_to_completion(cluster: Cluster, controllers: ControllerThread, namespace: str) -> None:
    """completions 3, parallelism 2: three pods succeed, conditions SuccessCriteriaMet then Complete,
    `kubectl wait --for=condition=complete` returns, finalizers are gone and counts are right."""
    cluster.kubectl("apply", "-n", namespace, "-f", "-",
                    input=job_manifest("pi", extra_spec={"completions": 3, "parallelism": 2}))
    out = cluster.kubectl("wait", "--for=condition=complete", "job/pi", "-n", namespace, "--timeout=60s").stdout
    assert "condition met" in out
    job = _job(cluster, namespace, "pi")
    st = job["status"]
    assert st["succeeded"] == 3 and st.get("failed", 0) == 0 and st.get("active", 0) == 0
    conds = _conditions(job)
    assert conds["SuccessCriteriaMet"]["reason"] == "CompletionsReached"
    assert conds["Complete"]["reason"] == "CompletionsReached"
    assert conds["Complete"]["message"] == "Reached expected number of succeeded pods"
    assert st["startTime"] <= st["completionTime"]
    assert st.get("uncountedTerminatedPods", {}) == {}
    pods = _pods(cluster, namespace)
    assert len(pods) == 3
    assert all(p["status"]["phase"] == "Succeeded" and not p["metadata"].get("finalizers") for p in pods)
    assert all(p["metadata"]["generateName"] == "pi-" for p in pods)
    events = cluster.kubectl_json("get", "events", "-n", namespace, "--field-selector", "involvedObject.kind=Job")
    reasons = [e["reason"] for e in events["items"]]
    assert "Completed" in reasons and reasons.count("SuccessfulCreate") >= 1


def test_indexed_job(cluster: Cluster, controllers: ControllerThread, namespace: str) -> None:
    """An Indexed job of 4 completions: pods carry the completion index (annotation, label, hostname,
    JOB_COMPLETION_INDEX env), are named <job>-<index>-xxxxx, and completedIndexes reads "0-3"."""
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=job_manifest(
        "idx", extra_spec={"completions": 4, "parallelism": 4, "completionMode": "Indexed"}))
    cluster.kubectl("wait", "--for=condition=complete", "job/idx", "-n", namespace, "--timeout=60s")
    st = _job(cluster, namespace, "idx")["status"]
    assert st["completedIndexes"] == "0-3" and st["succeeded"] == 4
    pods = sorted(_pods(cluster, namespace), key=lambda p: int(p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]))
    assert [p["metadata"]["labels"]["batch.kubernetes.io/job-completion-index"] for p in pods] == ["0", "1", "2", "3"]
    assert [p["spec"]["hostname"] for p in pods] == ["idx-0", "idx-1", "idx-2", "idx-3"]
    assert all(p["metadata"]["name"].startswith(f"idx-{i}-") for i, p in enumerate(pods))
    env = pods[0]["spec"]["containers"][0]["env"]
    assert {"name": "JOB_COMPLETION_INDEX", "valueFrom": {"fieldRef": {
        "apiVersion": "v1", "fieldPath": "metadata.annotations['batch.kubernetes.io/job-completion-index']"}}} in env


def test_backoff_limit_exceeded(cluster: Cluster, controllers: ControllerThread, namespace: str) -> None:
    """With backoffLimit 0 the first failed pod fails the job: FailureTarget, then Failed
    BackoffLimitExceeded, and `kubectl wait --for=condition=failed` returns."""
    cluster.kubectl("apply", "-n", namespace, "-f", "-",
                    input=job_manifest("bad", exit_code=3, extra_spec={"backoffLimit": 0}))
    cluster.kubectl("wait", "--for=condition=failed", "job/bad", "-n", namespace, "--timeout=60s")
    job = _job(cluster, namespace, "bad")
    conds = _conditions(job)
    assert conds["Failed"]["reason"] == "BackoffLimitExceeded"
    assert conds["Failed"]["message"] == "Job has reached the specified backoff limit"
    assert conds["FailureTarget"]["reason"] == "BackoffLimitExceeded"
    assert job["status"]["failed"] == 1 and "completionTime" not in job["status"]


def test_pod_failure_policy_fail_job(cluster: Cluster, controllers: ControllerThread, namespace: str) -> None:
    """A FailJob rule on exit code 42 fails the job at once with reason PodFailurePolicy."""
    policy = {"rules": [{"action": "FailJob", "onExitCodes": {"operator": "In", "values": [42]}}]}
    cluster.kubectl("apply", "-n", namespace, "-f", "-",
                    input=job_manifest("pfp", exit_code=42, extra_spec={"backoffLimit": 6, "podFailurePolicy": policy}))
    cluster.kubectl("wait", "--for=condition=failed", "job/pfp", "-n", namespace, "--timeout=60s")
    cond = _conditions(_job(cluster, namespace, "pfp"))["Failed"]
    pod = _pods(cluster, namespace)[0]["metadata"]["name"]
    assert cond["reason"] == "PodFailurePolicy"
    assert cond["message"] == f"Container main for pod {namespace}/{pod} failed with exit code 42 matching FailJob rule at index 0"


def test_suspend_and_resume(cluster: Cluster, controllers: ControllerThread, namespace: str) -> None:
    """A job created suspended creates no pods and says Suspended=True JobSuspended; resumed, it runs."""
    cluster.kubectl("apply", "-n", namespace, "-f", "-",
                    input=job_manifest("sus", extra_spec={"suspend": True, "completions": 2}))
    wait_for(lambda: _conditions(_job(cluster, namespace, "sus")).get("Suspended", {}).get("reason") == "JobSuspended",
             what="Suspended condition")
    assert _pods(cluster, namespace) == []
    cluster.kubectl("patch", "job", "sus", "-n", namespace, "-p", '{"spec":{"suspend":false}}')
    cluster.kubectl("wait", "--for=condition=complete", "job/sus", "-n", namespace, "--timeout=60s")
    conds = _conditions(_job(cluster, namespace, "sus"))
    assert (conds["Suspended"]["status"], conds["Suspended"]["reason"]) == ("False", "JobResumed")


def test_generated_selector(cluster: Cluster, controllers: ControllerThread, namespace: str) -> None:
    """`kubectl create job` relies on the API server generating the selector and the
    batch.kubernetes.io/controller-uid / job-name labels, as upstream's job strategy does."""
    r = cluster.kubectl("create", "job", "gen", "--image=busybox", "-n", namespace, "--", "true", check=False)
    assert r.returncode == 0, r.stderr
    job = _job(cluster, namespace, "gen")
    uid = job["metadata"]["uid"]
    assert job["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    wait_for(lambda: len(_pods(cluster, namespace)) == 1, what="a pod")
    labels = _pods(cluster, namespace)[0]["metadata"]["labels"]
    assert labels["batch.kubernetes.io/job-name"] == "gen" and labels["job-name"] == "gen"
    assert labels["batch.kubernetes.io/controller-uid"] == uid
