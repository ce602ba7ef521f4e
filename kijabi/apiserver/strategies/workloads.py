"""Resources with a spec/status split whose spec changes bump metadata.generation."""

from __future__ import annotations

from typing import Any

from kijabi.apiserver.strategy import Strategy


class GenerationStrategy(Strategy):
    tracks_generation = True


class AppsStrategy(GenerationStrategy):
    """apps/v1 status writes may change annotations but not labels (upstream's status strategies)."""

    status_keeps_labels = False


class ReplicatedStrategy(AppsStrategy):
    selectable_fields = ("status.replicas",)


class JobStrategy(GenerationStrategy):
    selectable_fields = ("status.successful",)

    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        super().prepare_for_create(obj)
        generate_job_selector(obj)


def generate_job_selector(job: dict[str, Any]) -> None:
    """Unless spec.manualSelector, the selector is the Job's uid and the template gets the labels
    that select it (upstream's job strategy)."""
    spec = job.setdefault("spec", {})
    if spec.get("manualSelector"):
        return
    meta = job["metadata"]
    uid, name = meta.get("uid", ""), meta.get("name", "")
    spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    labels = spec.setdefault("template", {}).setdefault("metadata", {}).setdefault("labels", {})
    for key, value in (("controller-uid", uid), ("batch.kubernetes.io/controller-uid", uid),
                       ("job-name", name), ("batch.kubernetes.io/job-name", name)):
        labels.setdefault(key, value)


STRATEGIES: dict[tuple[str, str], type[Strategy]] = {
    ("apps", "deployments"): AppsStrategy,
    ("apps", "replicasets"): ReplicatedStrategy,
    ("apps", "statefulsets"): AppsStrategy,
    ("apps", "daemonsets"): AppsStrategy,
    ("", "replicationcontrollers"): ReplicatedStrategy,
    ("batch", "jobs"): JobStrategy,
    ("batch", "cronjobs"): GenerationStrategy,
    ("autoscaling", "horizontalpodautoscalers"): GenerationStrategy,
    ("policy", "poddisruptionbudgets"): GenerationStrategy,
    ("networking.k8s.io", "ingresses"): GenerationStrategy,
    ("networking.k8s.io", "networkpolicies"): GenerationStrategy,
    ("admissionregistration.k8s.io", "validatingadmissionpolicies"): GenerationStrategy,
}
