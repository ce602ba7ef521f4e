"""kube-controller-manager flags: which controllers run, and the tunables reaching the controllers."""

from __future__ import annotations

import argparse

import pytest

from kijabi.controllers import manager
from kijabi.controllers.cluster._base import Settings, workers
from kijabi.controllers.context import ControllerContext


def parse(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    manager.add_flags(p)
    return p.parse_args(list(argv))


@pytest.mark.parametrize(("spec", "expected"), [
    ("*", ["a", "b", "c"]),
    ("*,-b", ["a", "c"]),
    ("a,c", ["a", "c"]),
    ("-b,*", ["a", "c"]),
    ("", []),
], ids=["all", "all-but-one", "listed", "disable-before-star", "none"])
def test_controllers_flag(spec: str, expected: list[str]) -> None:
    assert manager.enabled(spec.split(","), ["a", "b", "c"]) == expected


def test_defaults_are_upstreams() -> None:
    options = manager.options_from_args(parse())
    settings = Settings.from_options(options)
    assert (options.node_monitor_grace_period, options.node_monitor_period) == (40.0, 5.0)
    assert options.terminated_pod_gc_threshold == 12500
    assert options.concurrent_syncs == {} and options.extra == {}
    assert (settings.hpa_sync_period, settings.resource_quota_sync_period) == (15.0, 300.0)


def test_tunables_reach_the_controllers() -> None:
    args = parse("--concurrent-deployment-syncs", "9", "--concurrent-service-endpoint-syncs", "3",
                 "--concurrent-gc-syncs", "7", "--node-monitor-grace-period", "1m30s",
                 "--horizontal-pod-autoscaler-sync-period", "2s", "--horizontal-pod-autoscaler-tolerance", "0.2",
                 "--max-endpoints-per-slice", "50", "--leader-elect-lease-duration", "30s",
                 "--terminated-pod-gc-threshold", "10")
    options = manager.options_from_args(args)
    ctx = ControllerContext(client=None, informers=None, events=None, options=options)  # type: ignore[arg-type]
    settings = Settings.from_options(options)
    assert options.concurrent_syncs["deployment"] == 9
    assert workers(ctx, "endpoints", 1) == 3 and workers(ctx, "endpointslice", 1) == 3
    assert workers(ctx, "namespace", 2) == 2
    assert settings.gc_workers == 7
    assert settings.node_monitor_grace_period == 90.0
    assert settings.hpa_sync_period == 2.0 and settings.hpa_tolerance == 0.2
    assert settings.max_endpoints_per_slice == 50 and settings.terminated_pod_gc_threshold == 10
    assert args.leader_elect_lease_duration == 30.0


@pytest.mark.parametrize("argv", [
    ("--node-monitor-period", "5 minutes"),
    ("--concurrent-job-syncs", "many"),
    ("--leader-elect-renew-deadline", "nan"),
], ids=["bad-duration", "bad-count", "nan"])
def test_bad_flag_values_exit(argv: tuple[str, str]) -> None:
    with pytest.raises(SystemExit):
        parse(*argv)


def test_bare_number_is_seconds() -> None:
    args = parse("--horizontal-pod-autoscaler-sync-period", "15", "--node-monitor-period", "2.5")
    assert manager.options_from_args(args).extra["hpa_sync_period"] == 15.0
    assert args.node_monitor_period == 2.5
