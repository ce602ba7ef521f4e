"""Pure translations of pod specs, table-driven: environment and $(VAR) expansion, DNS, hosts file, QoS
and cgroup parents, CRI resources and security context, image references and pull secrets, eviction
thresholds and ranking, atomic volume writes, static pod identity, log rotation."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import pytest

from kijabi.kubelet import atomicwriter, envvars, eviction, imagepull, podconfig, podutil, staticpods
from kijabi.kubelet.atomicwriter import FileProjection
from kijabi.kubelet.cri import api
from kijabi.kubelet.logs import LogRotator, rotated_logs


def pod(containers: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "web", "namespace": "shop", "uid": "u-1", "labels": {"b": "2", "a": "1"}},
            "spec": {"containers": containers, "nodeName": "n1", **spec}}


def res(req: dict[str, str] | None = None, lim: dict[str, str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if req:
        out["requests"] = req
    if lim:
        out["limits"] = lim
    return {"name": "c", "resources": out}


# --- environment ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "want"), [
    ("$(A)", "1"), ("x$(A)y$(B)", "x1y2"), ("$$(A)", "$(A)"), ("$(MISSING)", "$(MISSING)"), ("$(A", "$(A"),
    ("$", "$"), ("a$b", "a$b"), ("$$", "$"), ("$(A)$(A)", "11"),
], ids=["one", "two", "escaped", "undefined-kept", "unterminated", "lone-dollar", "not-a-reference",
        "double-dollar", "repeated"])
def test_expansion(text: str, want: str) -> None:
    assert envvars.expand(text, {"A": "1", "B": "2"}.get) == want


def test_service_links_and_the_master_service() -> None:
    services = [
        {"metadata": {"name": "redis-primary", "namespace": "shop"},
         "spec": {"clusterIP": "10.43.0.9", "ports": [{"name": "tcp", "port": 6379, "protocol": "TCP"}]}},
        {"metadata": {"name": "headless", "namespace": "shop"}, "spec": {"clusterIP": "None"}},
        {"metadata": {"name": "kubernetes", "namespace": "default"},
         "spec": {"clusterIP": "10.43.0.1", "ports": [{"name": "https", "port": 443}]}},
        {"metadata": {"name": "other", "namespace": "elsewhere"}, "spec": {"clusterIP": "10.43.0.7", "ports": [{"port": 1}]}},
    ]
    env = envvars.service_env(pod([]), services)
    assert env["REDIS_PRIMARY_SERVICE_HOST"] == "10.43.0.9" and env["REDIS_PRIMARY_SERVICE_PORT_TCP"] == "6379"
    assert env["REDIS_PRIMARY_PORT_6379_TCP"] == "tcp://10.43.0.9:6379"
    assert env["KUBERNETES_SERVICE_HOST"] == "10.43.0.1" and env["KUBERNETES_PORT"] == "tcp://10.43.0.1:443"
    assert not any(k.startswith(("HEADLESS", "OTHER")) for k in env)
    off = envvars.service_env(pod([], enableServiceLinks=False), services)
    assert set(off) == {k for k in env if k.startswith("KUBERNETES")}


def test_env_precedence_and_errors() -> None:
    cm = {"data": {"A": "from-cm", "B": "b"}}
    secret = {"data": {"tok": base64.b64encode(b"t").decode()}}
    sources = envvars.Sources(get_configmap=lambda ns, n: cm if n == "cm" else None,
                              get_secret=lambda ns, n: secret if n == "s" else None, pod_ips=["10.0.0.5"])
    c = {"name": "c", "envFrom": [{"configMapRef": {"name": "cm"}}],
         "env": [{"name": "A", "value": "explicit"}, {"name": "C", "value": "$(A)-$(B)"},
                 {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                 {"name": "L", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['a']"}}},
                 {"name": "T", "valueFrom": {"secretKeyRef": {"name": "s", "key": "tok"}}}]}
    env = dict(envvars.make_env(pod([c]), c, sources))
    assert (env["A"], env["C"], env["IP"], env["L"], env["T"]) == ("explicit", "explicit-b", "10.0.0.5", "1", "t")
    bad = {"name": "c", "env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "nope"}}}]}
    with pytest.raises(envvars.EnvError, match="couldn't find key nope in ConfigMap shop/cm"):
        envvars.make_env(pod([bad]), bad, sources)


@pytest.mark.parametrize(("resource", "divisor", "container", "want"), [
    ("limits.cpu", "1m", res(lim={"cpu": "250m"}), "250"),
    ("limits.cpu", None, res(lim={"cpu": "250m"}), "1"),
    ("limits.memory", "1Mi", res(lim={"memory": "64Mi"}), "64"),
    ("limits.memory", None, res(), "2147483648"),
    ("requests.cpu", "1m", res(req={"cpu": "100m"}), "100"),
], ids=["cpu-millis", "cpu-rounds-up", "memory-mi", "unset-limit-is-allocatable", "request"])
def test_resource_field_ref(resource: str, divisor: str | None, container: dict, want: str) -> None:
    assert envvars.resource_value(container, resource, divisor, {"memory": "2Gi", "cpu": "2"}) == want


# --- DNS, hosts, cgroups, resources, security ---------------------------------------------------------------

HOST_RESOLV = "nameserver 192.0.2.53\nsearch corp.example\noptions timeout:2\n"


@pytest.mark.parametrize(("spec", "servers", "searches", "options"), [
    ({}, ["10.43.0.10"], ["shop.svc.cluster.local", "svc.cluster.local", "cluster.local", "corp.example"],
     ["ndots:5"]),
    ({"hostNetwork": True}, ["192.0.2.53"], ["corp.example"], ["timeout:2"]),
    ({"hostNetwork": True, "dnsPolicy": "ClusterFirstWithHostNet"}, ["10.43.0.10"],
     ["shop.svc.cluster.local", "svc.cluster.local", "cluster.local", "corp.example"], ["ndots:5"]),
    ({"dnsPolicy": "Default"}, ["192.0.2.53"], ["corp.example"], ["timeout:2"]),
    ({"dnsPolicy": "None", "dnsConfig": {"nameservers": ["1.2.3.4"], "searches": ["a.b"],
                                         "options": [{"name": "ndots", "value": "2"}]}},
     ["1.2.3.4"], ["a.b"], ["ndots:2"]),
    ({"dnsConfig": {"options": [{"name": "ndots", "value": "1"}, {"name": "edns0"}]}}, ["10.43.0.10"],
     ["shop.svc.cluster.local", "svc.cluster.local", "cluster.local", "corp.example"], ["ndots:1", "edns0"]),
], ids=["cluster-first", "host-network-falls-back", "cluster-first-with-host-net", "default", "none", "options-merge"])
def test_dns_config(spec: dict, servers: list[str], searches: list[str], options: list[str]) -> None:
    cfg = podconfig.dns_config(pod([], **spec), cluster_dns=["10.43.0.10"], cluster_domain="cluster.local",
                               host_resolv=HOST_RESOLV)
    assert cfg is not None
    assert (list(cfg.servers), list(cfg.searches), list(cfg.options)) == (servers, searches, options)


def test_hosts_file_and_hostname() -> None:
    p = pod([], hostname="db-0", subdomain="db", hostAliases=[{"ip": "10.1.1.1", "hostnames": ["a", "b"]}])
    hostname, sub = podconfig.pod_hostname(p, "node-1")
    assert (hostname, sub) == ("db-0", "db")
    text = podconfig.hosts_file(p, ips=["10.42.0.5"], hostname=hostname, domain="db.shop.svc.cluster.local")
    assert "10.42.0.5\tdb-0.db.shop.svc.cluster.local\tdb-0" in text
    assert text.endswith("# Entries added by HostAliases.\n10.1.1.1\ta\tb\n")
    long = pod([])
    long["metadata"]["name"] = "x" * 70
    assert len(podconfig.pod_hostname(long, "n")[0]) == 63


@pytest.mark.parametrize(("containers", "qos", "parent"), [
    ([{"name": "c"}], "BestEffort", "/kubepods/besteffort/podu-1"),
    ([res(req={"cpu": "100m"})], "Burstable", "/kubepods/burstable/podu-1"),
    ([res(req={"cpu": "1", "memory": "1Gi"}, lim={"cpu": "1", "memory": "1Gi"})], "Guaranteed", "/kubepods/podu-1"),
    ([res(req={"cpu": "1", "memory": "1Gi"}, lim={"cpu": "2", "memory": "1Gi"})], "Burstable",
     "/kubepods/burstable/podu-1"),
], ids=["besteffort", "burstable", "guaranteed", "limits-differ"])
def test_qos_and_cgroup_parent(containers: list[dict], qos: str, parent: str) -> None:
    p = pod(containers)
    assert podutil.qos_class(p) == qos
    assert podconfig.cgroup_parent(p, "/") == parent
    assert podconfig.cgroup_parent(p, "/kjtest") == "/kjtest" + parent


@pytest.mark.parametrize(("container", "shares", "quota", "memory"), [
    (res(), 2, 0, 0),
    (res(req={"cpu": "100m"}), 102, 0, 0),
    (res(lim={"cpu": "500m", "memory": "64Mi"}), 512, 50000, 64 * 1024 * 1024),
    (res(req={"cpu": "250m"}, lim={"cpu": "1"}), 256, 100000, 0),
    (res(lim={"cpu": "1m"}), 2, 1000, 0),
], ids=["nothing", "request", "limits-only", "request-and-limit", "tiny-limit"])
def test_linux_resources(container: dict, shares: int, quota: int, memory: int) -> None:
    r = podconfig.linux_resources(pod([container]), container, 8 * 1024**3)
    assert (r.cpu_shares, r.cpu_quota, r.memory_limit_in_bytes) == (shares, quota, memory)
    assert r.cpu_period == (100000 if quota else 0)


def test_oom_score_adj_by_qos() -> None:
    g = res(req={"cpu": "1", "memory": "1Gi"}, lim={"cpu": "1", "memory": "1Gi"})
    b = res(req={"memory": "2Gi"})
    assert podconfig.oom_score_adj(pod([g]), g, 8 * 1024**3) == -997
    assert podconfig.oom_score_adj(pod([{"name": "c"}]), {"name": "c"}, 8 * 1024**3) == 1000
    assert podconfig.oom_score_adj(pod([b]), b, 8 * 1024**3) == 750


def test_security_context_merges_pod_level_fields() -> None:
    c = {"name": "c", "securityContext": {"runAsUser": 5, "readOnlyRootFilesystem": True,
                                          "capabilities": {"add": ["NET_ADMIN"], "drop": ["ALL"]},
                                          "allowPrivilegeEscalation": False}}
    p = pod([c], securityContext={"runAsUser": 1, "runAsGroup": 2, "fsGroup": 3, "supplementalGroups": [4]})
    sc = podconfig.container_security_context(p, c)
    assert (sc.run_as_user.value, sc.run_as_group.value, sc.readonly_rootfs, sc.no_new_privs) == (5, 2, True, True)
    assert list(sc.capabilities.add_capabilities) == ["NET_ADMIN"] and list(sc.supplemental_groups) == [4, 3]
    assert "/proc/kcore" in sc.masked_paths and sc.seccomp.profile_type == api.SecurityProfile.Unconfined
    priv = {"name": "p", "securityContext": {"privileged": True}}
    assert not podconfig.container_security_context(pod([priv]), priv).masked_paths


def test_run_as_non_root_refuses_root() -> None:
    c = {"name": "c", "securityContext": {"runAsNonRoot": True}}
    with pytest.raises(podconfig.ConfigError, match="image will run as root"):
        podconfig.check_run_as_non_root(pod([c]), c, api.Image(uid=api.Int64Value(value=0)))
    podconfig.check_run_as_non_root(pod([c]), c, api.Image(uid=api.Int64Value(value=1000)))
    with pytest.raises(podconfig.ConfigError, match="non-numeric user"):
        podconfig.check_run_as_non_root(pod([c]), c, api.Image(username="app"))


def test_port_mappings_and_namespaces() -> None:
    c = {"name": "c", "ports": [{"containerPort": 80, "hostPort": 8080, "hostIP": "127.0.0.1"},
                                {"containerPort": 53, "hostPort": 53, "protocol": "UDP"}, {"containerPort": 9}]}
    maps = podconfig.port_mappings(pod([c]))
    assert [(m.protocol, m.container_port, m.host_port, m.host_ip) for m in maps] == \
        [(api.TCP, 80, 8080, "127.0.0.1"), (api.UDP, 53, 53, "")]
    ns = podconfig.namespace_options(pod([], hostNetwork=True, shareProcessNamespace=True))
    assert (ns.network, ns.pid, ns.ipc) == (api.NODE, api.POD, api.POD)


# --- images ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("image", "host", "repo"), [
    ("busybox", "docker.io", "library/busybox"), ("busybox:1.36", "docker.io", "library/busybox"),
    ("user/app:v1", "docker.io", "user/app"), ("127.0.0.1:5000/team/app:v1", "127.0.0.1:5000", "team/app"),
    ("registry.example.com/a/b@sha256:00", "registry.example.com", "a/b"), ("localhost/app", "localhost", "app"),
], ids=["bare", "tag", "user", "host-port", "digest", "localhost"])
def test_registry_of(image: str, host: str, repo: str) -> None:
    assert imagepull.registry_of(image) == (host, repo)


@pytest.mark.parametrize(("image", "want"), [
    ("busybox", "busybox:latest"), ("busybox:kijabi", "busybox:kijabi"), ("h:5000/a", "h:5000/a:latest"),
    ("a@sha256:00", "a@sha256:00"),
], ids=["no-tag", "tag", "port-is-not-a-tag", "digest"])
def test_default_tag(image: str, want: str) -> None:
    assert imagepull.with_default_tag(image) == want


def secret(auths: dict[str, dict[str, str]]) -> dict[str, Any]:
    raw = json.dumps({"auths": auths}).encode()
    return {"type": "kubernetes.io/dockerconfigjson", "data": {".dockerconfigjson": base64.b64encode(raw).decode()}}


@pytest.mark.parametrize(("key", "image", "matches"), [
    ("127.0.0.1:5000", "127.0.0.1:5000/a/b:1", True),
    ("https://127.0.0.1:5000", "127.0.0.1:5000/a/b:1", True),
    ("127.0.0.1:5001", "127.0.0.1:5000/a/b:1", False),
    ("https://index.docker.io/v1/", "busybox", True),
    ("registry.example.com/team", "registry.example.com/team/app", True),
    ("registry.example.com/team", "registry.example.com/other/app", False),
    ("*.example.com", "registry.example.com/x", True),
], ids=["host-port", "with-scheme", "other-port", "docker-hub", "path-prefix", "other-path", "wildcard"])
def test_pull_secret_matching(key: str, image: str, matches: bool) -> None:
    auth = base64.b64encode(b"u:p").decode()
    creds = imagepull.credentials_for(image, [secret({key: {"auth": auth}})])
    assert bool(creds) == matches
    if matches:
        assert (creds[0].username, creds[0].password) == ("u", "p")


# --- eviction ----------------------------------------------------------------------------------------------

def test_thresholds_from_flags_and_defaults() -> None:
    ts = {t.signal: t for t in eviction.parse_thresholds(eviction.parse_flag("memory.available<1Gi,nodefs.available<7%"))}
    assert ts["memory.available"].value(0) == 1024**3 and ts["nodefs.available"].value(1000) == 70
    with pytest.raises(ValueError):
        eviction.parse_flag("memory.available=1Gi")
    with pytest.raises(ValueError):
        eviction.parse_thresholds({"cpu.available": "1"})


def ranked_pod(name: str, *, priority: int = 0, memory_request: str = "") -> dict[str, Any]:
    c: dict[str, Any] = {"name": "c"}
    if memory_request:
        c["resources"] = {"requests": {"memory": memory_request}}
    return {"metadata": {"name": name, "uid": name, "namespace": "ns"}, "spec": {"containers": [c], "priority": priority}}


def test_memory_ranking_prefers_pods_over_their_requests_then_low_priority_then_usage() -> None:
    pods = [ranked_pod("within", memory_request="1Gi"), ranked_pod("high", priority=1000),
            ranked_pod("low-small"), ranked_pod("low-big")]
    usage = {"within": eviction.PodUsage(memory=100), "high": eviction.PodUsage(memory=500),
             "low-small": eviction.PodUsage(memory=10), "low-big": eviction.PodUsage(memory=900)}
    order = [p["metadata"]["name"] for p in eviction.rank(pods, usage, "memory.available")]
    assert order == ["low-big", "low-small", "high", "within"]


async def test_eviction_manager_marks_pressure_evicts_one_and_admits_by_qos() -> None:
    now = [0.0]
    evicted: list[tuple[str, str]] = []
    avail = [10 * 1024**3]

    async def evict(p: dict, message: str) -> None:
        evicted.append((p["metadata"]["name"], message))

    async def usage() -> dict[str, eviction.PodUsage]:
        return {"a": eviction.PodUsage(memory=300 * 1024**2, containers={"c": (300 * 1024**2, 0)})}

    mgr = eviction.EvictionManager(
        eviction.parse_thresholds({"memory.available": "100Mi"}),
        observe=lambda: {"memory.available": eviction.Observation(avail[0], 16 * 1024**3)},
        pod_usage=usage, active_pods=lambda: [ranked_pod("a")], evict=evict, clock=lambda: now[0])
    assert await mgr.synchronize() is None and mgr.pressure() == {}
    avail[0] = 50 * 1024**2
    assert (await mgr.synchronize() or {}).get("metadata", {}).get("name") == "a"
    assert evicted[0][1] == ("The node was low on resource: memory. Threshold quantity: 100Mi, available: 50Mi. "
                             "Container c was using 300Mi, request is 0, has larger consumption of memory. ")
    assert mgr.pressure() == {"MemoryPressure": True}
    assert mgr.admit(ranked_pod("new"))[0] is False
    assert mgr.admit(ranked_pod("burstable", memory_request="1Mi"))[0] is True
    avail[0] = 10 * 1024**3
    now[0] += 301
    await mgr.synchronize()
    assert mgr.pressure() == {"MemoryPressure": False}


# --- atomic writer ------------------------------------------------------------------------------------------

def test_atomic_writer_swaps_versions(tmp_path: Path) -> None:
    target = tmp_path / "vol"
    assert atomicwriter.write(target, {"a": FileProjection(b"1"), "dir/b": FileProjection(b"2", 0o600)})
    first = os.readlink(target / "..data")
    assert (target / "a").read_bytes() == b"1" and os.readlink(target / "a") == "..data/a"
    assert (target / "dir" / "b").stat().st_mode & 0o777 == 0o600
    assert not atomicwriter.write(target, {"a": FileProjection(b"1"), "dir/b": FileProjection(b"2", 0o600)})
    assert atomicwriter.write(target, {"a": FileProjection(b"3")})
    assert os.readlink(target / "..data") != first and not (tmp_path / "vol" / first).exists()
    assert (target / "a").read_bytes() == b"3" and not (target / "dir").exists()
    with pytest.raises(atomicwriter.PayloadError):
        atomicwriter.write(target, {"../x": FileProjection(b"")})


# --- static pods --------------------------------------------------------------------------------------------

def test_static_pod_identity_and_mirror(tmp_path: Path) -> None:
    (tmp_path / "web.yaml").write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: web}\n"
                                       "spec: {containers: [{name: c, image: busybox:kijabi}]}\n")
    (tmp_path / ".hidden.yaml").write_text("not: a pod\n")
    (tmp_path / "notes.txt").write_text("ignored\n")
    source = staticpods.StaticPodSource(tmp_path, "n1")
    pods = source.poll()
    assert len(pods) == 1
    (uid, p), = pods.items()
    assert p["metadata"]["name"] == "web-n1" and p["metadata"]["namespace"] == "default"
    assert p["spec"]["nodeName"] == "n1" and p["spec"]["restartPolicy"] == "Always"
    assert p["metadata"]["annotations"]["kubernetes.io/config.hash"] == uid
    assert staticpods.StaticPodSource(tmp_path, "n1").poll().keys() == pods.keys(), "the uid is stable"
    assert staticpods.StaticPodSource(tmp_path, "n2").poll().keys() != pods.keys()
    mirror = staticpods.mirror_pod(p, "n1", "node-uid")
    assert mirror["metadata"]["annotations"]["kubernetes.io/config.mirror"] == uid
    assert mirror["metadata"]["ownerReferences"][0] == {"apiVersion": "v1", "kind": "Node", "name": "n1",
                                                        "uid": "node-uid", "controller": True}


# --- log rotation -------------------------------------------------------------------------------------------

class FakeRuntime:
    def __init__(self) -> None:
        self.reopened: list[str] = []

    async def reopen_container_log(self, cid: str) -> None:
        self.reopened.append(cid)


class FakeCRI:
    def __init__(self) -> None:
        self.runtime = FakeRuntime()


async def test_log_rotation_keeps_max_files_and_compresses(tmp_path: Path) -> None:
    log = tmp_path / "0.log"
    cri = FakeCRI()
    rotator = LogRotator(cri, max_size=10, max_files=3)  # type: ignore[arg-type]
    log.write_text("small")
    assert not await rotator.rotate("c1", log)
    for i in range(5):
        log.write_text(f"line {i} is long enough\n")
        assert await rotator.rotate("c1", log)
    rotated = rotated_logs(log)
    assert cri.runtime.reopened == ["c1"] * 5
    assert len(rotated) == 2, "max_files 3 = the current file + 2 rotated"
    assert rotated[0].name.endswith(".gz") and not rotated[-1].name.endswith(".gz")
