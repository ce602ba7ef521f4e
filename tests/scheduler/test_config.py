"""KubeSchedulerConfiguration v1: defaults, plugin set merging, weights, plugin args, validation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kijabi.scheduler.config import ConfigError, default_config, load_config, parse_config, parse_duration
from tests.scheduler.helpers import Harness

V1 = {"apiVersion": "kubescheduler.config.k8s.io/v1", "kind": "KubeSchedulerConfiguration"}


def cfg(**fields: Any) -> dict[str, Any]:
    return {**V1, **fields}


def point(h: Harness, name: str) -> list[str]:
    return [pl.name for pl in getattr(h.fwk, name)]


def test_defaults() -> None:
    c = default_config()
    assert [p.scheduler_name for p in c.profiles] == ["default-scheduler"]
    assert (c.percentage_of_nodes_to_score, c.pod_initial_backoff_seconds, c.pod_max_backoff_seconds) == (0, 1, 10)
    le = c.leader_election
    assert (le.leader_elect, le.lease_duration, le.renew_deadline, le.retry_period) == (True, 15, 10, 2)
    assert (le.resource_namespace, le.resource_name) == ("kube-system", "kube-scheduler")
    assert (c.client_connection.qps, c.client_connection.burst) == (50, 100)
    args = c.profiles[0].plugin_config
    assert args["NodeResourcesFit"]["scoringStrategy"] == {
        "type": "LeastAllocated", "resources": [{"name": "cpu", "weight": 1}, {"name": "memory", "weight": 1}]}
    assert args["PodTopologySpread"] == {"defaultingType": "System", "defaultConstraints": []}
    assert args["DefaultPreemption"] == {"minCandidateNodesPercentage": 10, "minCandidateNodesAbsolute": 100}
    assert args["InterPodAffinity"]["hardPodAffinityWeight"] == 1
    assert args["VolumeBinding"]["bindTimeoutSeconds"] == 600


def test_default_extension_points_in_upstream_order() -> None:
    h = Harness()
    assert point(h, "pre_enqueue_plugins") == ["SchedulingGates"]
    assert h.fwk.queue_sort.name == "PrioritySort"
    assert point(h, "filter_plugins") == ["NodeUnschedulable", "NodeName", "TaintToleration", "NodeAffinity",
                                          "NodePorts", "NodeResourcesFit", "VolumeRestrictions", "NodeVolumeLimits",
                                          "VolumeBinding", "VolumeZone", "PodTopologySpread", "InterPodAffinity"]
    assert point(h, "post_filter_plugins") == ["DefaultPreemption"]
    assert point(h, "reserve_plugins") == ["VolumeBinding"]
    assert point(h, "pre_bind_plugins") == ["VolumeBinding"]
    assert point(h, "bind_plugins") == ["DefaultBinder"]


def test_disable_and_reweigh_plugins() -> None:
    h = Harness(config=cfg(profiles=[{"plugins": {
        "multiPoint": {"enabled": [{"name": "ImageLocality", "weight": 7}], "disabled": [{"name": "NodePorts"}]},
        "score": {"enabled": [{"name": "NodeResourcesFit", "weight": 5}],
                  "disabled": [{"name": "TaintToleration"}]}}}]))
    weights = {pl.name: w for pl, w in h.fwk.score_plugins}
    assert weights["ImageLocality"] == 7
    assert weights["NodeResourcesFit"] == 5
    assert "TaintToleration" not in weights
    assert "TaintToleration" in point(h, "filter_plugins")  # disabled for score only
    assert "NodePorts" not in point(h, "filter_plugins") and "NodePorts" not in point(h, "pre_filter_plugins")
    # an explicitly configured plugin comes first at its extension point (upstream "override" ordering)
    assert next(pl.name for pl, _ in h.fwk.score_plugins) == "NodeResourcesFit"


def test_disable_all_at_an_extension_point() -> None:
    h = Harness(config=cfg(profiles=[{"plugins": {"filter": {"disabled": [{"name": "*"}],
                                                            "enabled": [{"name": "NodeName"}]}}}]))
    assert point(h, "filter_plugins") == ["NodeName"]


def test_two_profiles() -> None:
    h = Harness(config=cfg(profiles=[{"schedulerName": "default-scheduler"}, {
        "schedulerName": "bin-packer", "percentageOfNodesToScore": 30,
        "pluginConfig": [{"name": "NodeResourcesFit", "args": {"scoringStrategy": {"type": "MostAllocated"}}}]}]))
    assert set(h.scheduler.frameworks) == {"default-scheduler", "bin-packer"}
    packer = h.scheduler.frameworks["bin-packer"]
    assert packer.percentage_of_nodes_to_score == 30
    assert packer.plugins["NodeResourcesFit"].strategy == "MostAllocated"


@pytest.mark.parametrize(("doc", "message"), [
    pytest.param({"apiVersion": "kubescheduler.config.k8s.io/v1beta2", "kind": "KubeSchedulerConfiguration"},
                 'no kind "KubeSchedulerConfiguration" is registered for version '
                 '"kubescheduler.config.k8s.io/v1beta2"', id="old-api-version"),
    pytest.param(cfg(bogus=1), 'strict decoding error: unknown field "bogus"', id="unknown-field"),
    pytest.param(cfg(percentageOfNodesToScore=120), "percentageOfNodesToScore: Invalid value: 120: not in valid "
                                                    "range [0-100]", id="percentage"),
    pytest.param(cfg(podInitialBackoffSeconds=5, podMaxBackoffSeconds=2),
                 "podMaxBackoffSeconds: Invalid value: 2: must be greater than or equal to PodInitialBackoffSeconds",
                 id="backoff"),
    pytest.param(cfg(profiles=[{"schedulerName": "a"}, {"schedulerName": "a"}]),
                 'profiles[1].schedulerName: Duplicate value: "a"', id="duplicate-profile"),
    pytest.param(cfg(profiles=[{"pluginConfig": [{"name": "NodeResourcesFit", "args": {
        "scoringStrategy": {"type": "Tetris"}}}]}]),
        'profiles[0].pluginConfig[0].args.scoringStrategy.type: Unsupported value: "Tetris": supported values: '
        '"LeastAllocated", "MostAllocated", "RequestedToCapacityRatio"', id="scoring-strategy"),
    pytest.param(cfg(profiles=[{"pluginConfig": [{"name": "PodTopologySpread", "args": {
        "defaultConstraints": [{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "ScheduleAnyway"}]}}]}]),
        'profiles[0].pluginConfig[0].args.defaultConstraints: Invalid value: "": when .defaultingType is "System", '
        ".defaultConstraints must be empty", id="system-defaulting-with-constraints"),
    pytest.param(cfg(profiles=[{"pluginConfig": [{"name": "InterPodAffinity",
                                                  "args": {"hardPodAffinityWeight": 101}}]}]),
                 "profiles[0].pluginConfig[0].args.hardPodAffinityWeight: Invalid value: 101: not in valid range "
                 "[0, 100]", id="hard-pod-affinity-weight"),
    pytest.param(cfg(leaderElection={"leaseDuration": "5s", "renewDeadline": "10s"}),
                 "leaderElection.leaseDuration: Invalid value: must be greater than renewDeadline", id="lease"),
])
def test_validation_errors(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(doc)
    assert message in str(info.value)


def test_unknown_plugin_is_refused() -> None:
    from kijabi.scheduler.framework.runtime import FrameworkError

    with pytest.raises(FrameworkError, match='plugin "Nope" does not exist'):
        Harness(config=cfg(profiles=[{"plugins": {"filter": {"enabled": [{"name": "Nope"}]}}}]))


def test_load_yaml_file(tmp_path: Path) -> None:
    path = tmp_path / "sched.yaml"
    path.write_text("""
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
percentageOfNodesToScore: 40
leaderElection:
  leaderElect: false
profiles:
- schedulerName: default-scheduler
  plugins:
    score:
      disabled:
      - name: ImageLocality
""")
    c = load_config(path)
    assert c.percentage_of_nodes_to_score == 40 and not c.leader_election.leader_elect
    with pytest.raises(ConfigError, match="failed to read config file"):
        load_config(tmp_path / "missing.yaml")


@pytest.mark.parametrize(("text", "seconds"), [("15s", 15.0), ("1m30s", 90.0), ("100ms", 0.1), ("2h", 7200.0),
                                               ("0", 0.0)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)
