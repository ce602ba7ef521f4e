"""The scheduler cache: assumed pods (assume, confirm, forget, expire), node aggregates, zone-interleaved
node order, image states, ghost nodes."""

from __future__ import annotations

import pytest

from kijabi.scheduler.cache import Cache, CacheError
from kijabi.scheduler.framework.types import Resource
from tests.scheduler.helpers import node, pod


def bound(name: str, node_name: str, cpu: str = "1", **kw: object) -> dict:
    return pod(name, cpu=cpu, node_name=node_name, **kw)


def test_assume_then_confirm_by_informer_add() -> None:
    c = Cache()
    c.add_node(node("n1"))
    p = bound("p", "n1")
    c.assume_pod(p)
    assert c.is_assumed_pod(p)
    assert c.get("n1").requested.milli_cpu == 1000
    c.finish_binding(p, now=10.0)
    c.add_pod(p)
    assert not c.is_assumed_pod(p)
    assert c.get("n1").requested.milli_cpu == 1000
    assert len(c.get("n1").pods) == 1


def test_forget_undoes_the_assumption() -> None:
    c = Cache()
    c.add_node(node("n1"))
    p = bound("p", "n1")
    c.assume_pod(p)
    c.forget_pod(p)
    assert c.get("n1").requested == Resource(allowed_pod_number=0)
    assert c.pod_count() == 0
    with pytest.raises(CacheError):
        c.forget_pod(p)


def test_confirmed_on_another_node_moves_the_pod() -> None:
    c = Cache()
    c.add_node(node("n1"))
    c.add_node(node("n2"))
    p = bound("p", "n1")
    c.assume_pod(p)
    c.add_pod({**p, "spec": {**p["spec"], "nodeName": "n2"}})
    assert len(c.get("n1").pods) == 0 and len(c.get("n2").pods) == 1


def test_assumed_pod_expires_only_with_a_ttl() -> None:
    c = Cache(ttl=30)
    c.add_node(node("n1"))
    p = bound("p", "n1")
    c.assume_pod(p)
    assert c.cleanup_assumed_pods(now=1000.0) == []  # binding not finished yet
    c.finish_binding(p, now=0.0)
    assert c.cleanup_assumed_pods(now=29.0) == []
    assert c.cleanup_assumed_pods(now=31.0) == [p]
    assert c.get("n1").pods == []
    never = Cache()
    never.add_node(node("n1"))
    never.assume_pod(p)
    never.finish_binding(p, now=0.0)
    assert never.cleanup_assumed_pods(now=1e9) == []


def test_update_and_remove_keep_aggregates_right() -> None:
    c = Cache()
    c.add_node(node("n1"))
    ports = [{"name": "c", "image": "i", "ports": [{"containerPort": 80, "hostPort": 8080}],
              "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}}]
    p = pod("p", node_name="n1", containers=ports,
            volumes=[{"name": "v", "persistentVolumeClaim": {"claimName": "data"}}],
            affinity={"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": {"a": "b"}}, "topologyKey": "kubernetes.io/hostname"}]}})
    c.add_pod(p)
    ni = c.get("n1")
    assert (ni.requested.milli_cpu, ni.requested.memory) == (500, 1 << 30)
    assert ni.used_ports.check_conflict("", "TCP", 8080)
    assert c.is_pvc_used_by_pods("default/data")
    assert c.have_pods_with_affinity() == [ni] == c.have_pods_with_required_anti_affinity()
    bigger = {**p, "spec": {**p["spec"], "containers": [{**ports[0], "resources": {"requests": {"cpu": "2"}}}]}}
    c.update_pod(p, bigger)
    assert ni.requested.milli_cpu == 2000 and ni.non_zero_requested.memory == 200 * 1024 * 1024
    c.remove_pod(bigger)
    assert ni.requested.milli_cpu == 0 and len(ni.used_ports) == 0
    assert not c.is_pvc_used_by_pods("default/data")
    assert c.have_pods_with_affinity() == []


def test_nodes_are_listed_zone_by_zone() -> None:
    c = Cache()
    for name, zone in [("a1", "a"), ("a2", "a"), ("a3", "a"), ("b1", "b"), ("c1", "c"), ("c2", "c")]:
        c.add_node(node(name, zone=zone))
    assert [ni.name for ni in c.list()] == ["a1", "b1", "c1", "a2", "c2", "a3"]
    c.remove_node(node("b1", zone="b"))
    assert [ni.name for ni in c.list()] == ["a1", "c1", "a2", "c2", "a3"]
    c.update_node(node("a3", zone="a"), node("a3", zone="c"))  # a3 moves to zone c, after c2
    c.add_node(node("d1", zone="d"))
    assert [ni.name for ni in c.list()] == ["a1", "c1", "d1", "a2", "c2", "a3"]


def test_pods_before_their_node_and_after_its_deletion() -> None:
    """Pods can arrive before their node; a deleted node with pods stays as a hidden ghost."""
    c = Cache()
    p = bound("p", "late")
    c.add_pod(p)
    assert c.list() == [] and c.get("late") is None
    c.add_node(node("late"))
    assert [ni.name for ni in c.list()] == ["late"] and len(c.get("late").pods) == 1
    c.remove_node(node("late"))
    assert c.list() == []
    c.remove_pod(p)
    assert "late" not in c.nodes


def test_image_states_count_nodes() -> None:
    c = Cache()
    img = (["registry/app:v1", "registry/app@sha256:abc"], 100)
    c.add_node(node("n1", images=[img]))
    c.add_node(node("n2", images=[img]))
    assert c.get("n1").image_states["registry/app:v1"].num_nodes == 2
    c.remove_node(node("n2", images=[img]))
    assert c.get("n1").image_states["registry/app:v1"].num_nodes == 1
