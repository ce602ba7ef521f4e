"""Resources with a spec/status split whose spec changes bump metadata.generation."""

from __future__ import annotations

from kijabi.apiserver.strategy import Strategy


class GenerationStrategy(Strategy):
    tracks_generation = True


class ReplicatedStrategy(GenerationStrategy):
    selectable_fields = ("status.replicas",)


class JobStrategy(GenerationStrategy):
    selectable_fields = ("status.successful",)


STRATEGIES: dict[tuple[str, str], type[Strategy]] = {
    ("apps", "deployments"): GenerationStrategy,
    ("apps", "replicasets"): ReplicatedStrategy,
    ("apps", "statefulsets"): GenerationStrategy,
    ("apps", "daemonsets"): GenerationStrategy,
    ("", "replicationcontrollers"): ReplicatedStrategy,
    ("batch", "jobs"): JobStrategy,
    ("batch", "cronjobs"): GenerationStrategy,
    ("autoscaling", "horizontalpodautoscalers"): GenerationStrategy,
    ("policy", "poddisruptionbudgets"): GenerationStrategy,
    ("networking.k8s.io", "ingresses"): GenerationStrategy,
    ("networking.k8s.io", "networkpolicies"): GenerationStrategy,
    ("admissionregistration.k8s.io", "validatingadmissionpolicies"): GenerationStrategy,
}
