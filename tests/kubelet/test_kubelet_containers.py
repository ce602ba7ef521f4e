"""What a container gets from its pod spec: environment, DNS and hosts files, security context, cgroup
limits, termination messages; and pod networking (two pods over the bridge, hostPort, hostNetwork)."""

from __future__ import annotations

import asyncio
import base64
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from kijabi.client.rest import CONFIGMAPS, SECRETS
from kijabi.kubelet.cleanup import cgroup_mounts
from tests.kubelet.kubelet_harness import KubeletEnv, container, kubelet_env, pod, short_name, wait_for
from tests.kubelet.node import POD_CIDR, Node, requires_runtime

pytestmark = [requires_runtime, pytest.mark.asyncio(loop_scope="session")]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def env(node: Node) -> AsyncIterator[KubeletEnv]:
    async with kubelet_env(node) as e:
        yield e


async def test_environment_from_every_source_with_expansion(env: KubeletEnv) -> None:
    """env values, $(VAR) expansion (and $$ escaping), fieldRef (pod name, IP, node), resourceFieldRef,
    configMapKeyRef, secretKeyRef, envFrom with prefix, and the kubernetes service variables."""
    cm, secret = short_name("envcm"), short_name("envsec")
    await env.client.create(CONFIGMAPS, {"metadata": {"name": cm, "namespace": env.namespace},
                                         "data": {"color": "blue", "size": "L"}})
    await env.client.create(SECRETS, {"metadata": {"name": secret, "namespace": env.namespace},
                                      "data": {"token": base64.b64encode(b"t0k").decode()}})
    name = short_name("env")
    c = container("main", ["sh", "-c", "sleep 3600; echo $0"], resources={"limits": {"cpu": "250m", "memory": "32Mi"}}, env=[
        {"name": "GREETING", "value": "hello"},
        {"name": "MESSAGE", "value": "$(GREETING) world $$(GREETING) $(MISSING)"},
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
        {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "divisor": "1m"}}},
        {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory"}}},
        {"name": "COLOR", "valueFrom": {"configMapKeyRef": {"name": cm, "key": "color"}}},
        {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": secret, "key": "token"}}},
        {"name": "OPTIONAL", "valueFrom": {"configMapKeyRef": {"name": cm, "key": "nope", "optional": True}}},
    ], envFrom=[{"configMapRef": {"name": cm}, "prefix": "CM_"}], args=["$(GREETING)"])
    await env.create(pod(name, [c], node=env.node_name))
    p = await env.wait_running(name)
    code, out = await env.exec_in(name, "main", "env")
    assert code == 0
    got = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    assert got["MESSAGE"] == "hello world $(GREETING) $(MISSING)"
    assert got["POD_NAME"] == name and got["POD_IP"] == p["status"]["podIP"] and got["NODE"] == env.node_name
    assert (got["CPU"], got["MEM"]) == ("250", str(32 * 1024 * 1024))
    assert (got["COLOR"], got["TOKEN"], got["CM_color"], got["CM_size"]) == ("blue", "t0k", "blue", "L")
    assert "OPTIONAL" not in got
    assert got["KUBERNETES_SERVICE_HOST"].startswith("10.43.") and got["KUBERNETES_SERVICE_PORT"] == "443"
    assert got["KUBERNETES_PORT_443_TCP_PROTO"] == "tcp"
    _, out = await env.exec_in(name, "main", "cat", "/proc/1/cmdline")
    assert out.split("\0")[-2] == "hello", "args are expanded too"


async def test_missing_secret_key_is_a_create_container_config_error(env: KubeletEnv) -> None:
    """A secretKeyRef to a missing Secret keeps the container waiting with CreateContainerConfigError."""
    name = short_name("noenv")
    c = container("main", ["sleep", "3600"], env=[
        {"name": "X", "valueFrom": {"secretKeyRef": {"name": "absent", "key": "k"}}}])
    await env.create(pod(name, [c], node=env.node_name))

    def waiting(p: dict) -> bool:
        cs = p["status"].get("containerStatuses") or [{}]
        return cs[0].get("state", {}).get("waiting", {}).get("reason") == "CreateContainerConfigError"

    p = await env.wait_pod(name, waiting, what="CreateContainerConfigError")
    assert p["status"]["containerStatuses"][0]["state"]["waiting"]["message"] == 'secret "absent" not found'


async def test_dns_hostname_and_hosts_file(env: KubeletEnv) -> None:
    """ClusterFirst DNS: nameserver 10.43.0.10, the three search domains of the namespace, ndots:5, plus
    dnsConfig additions; hostname/subdomain; a managed /etc/hosts with the pod IP and hostAliases."""
    name = short_name("dns")
    await env.create(pod(name, node=env.node_name, hostname="web-0", subdomain="web",
                         dnsConfig={"searches": ["example.internal"], "options": [{"name": "edns0"}]},
                         hostAliases=[{"ip": "10.1.2.3", "hostnames": ["db.local"]}]))
    p = await env.wait_running(name)
    code, resolv = await env.exec_in(name, "main", "cat", "/etc/resolv.conf")
    assert code == 0
    lines = resolv.splitlines()
    ns = env.namespace
    assert "nameserver 10.43.0.10" in lines
    search = next(ln for ln in lines if ln.startswith("search")).split()[1:]
    assert search[:3] == [f"{ns}.svc.cluster.local", "svc.cluster.local", "cluster.local"]
    assert search[-1] == "example.internal"
    options = next(ln for ln in lines if ln.startswith("options")).split()[1:]
    assert set(options) == {"ndots:5", "edns0"}
    assert (await env.exec_in(name, "main", "hostname"))[1].strip() == "web-0"
    _, hosts = await env.exec_in(name, "main", "cat", "/etc/hosts")
    assert hosts.startswith("# Kubernetes-managed hosts file.")
    assert f"{p['status']['podIP']}\tweb-0.web.{ns}.svc.cluster.local\tweb-0" in hosts
    assert "10.1.2.3\tdb.local" in hosts


async def test_security_context_user_read_only_root_and_capabilities(env: KubeletEnv) -> None:
    """runAsUser/runAsGroup set the process ids; readOnlyRootFilesystem refuses writes outside volumes;
    dropped capabilities are gone from the bounding set; privileged gets every capability."""
    name = short_name("sec")
    restricted = container("main", ["sleep", "3600"], securityContext={
        "runAsUser": 1234, "runAsGroup": 5678, "readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]}})
    privileged = container("priv", ["sleep", "3600"], securityContext={"privileged": True})
    await env.create(pod(name, [restricted, privileged], node=env.node_name, securityContext={"supplementalGroups": [42]}))
    await env.wait_running(name)
    code, out = await env.exec_in(name, "main", "id")
    assert "uid=1234" in out and "gid=5678" in out and "42" in out
    code, out = await env.exec_in(name, "main", "touch", "/x")
    assert code != 0 and "Read-only file system" in out
    code, out = await env.exec_in(name, "main", "grep", "-E", "CapBnd|NoNewPrivs", "/proc/1/status")
    fields = dict(line.split(":\t") for line in out.strip().splitlines())
    assert int(fields["CapBnd"], 16) == 0 and fields["NoNewPrivs"] == "1"
    code, out = await env.exec_in(name, "priv", "grep", "CapEff", "/proc/1/status")
    assert int(out.split()[1], 16) != 0


async def test_resources_become_cgroup_limits(env: KubeletEnv) -> None:
    """limits/requests map to the container cgroup: memory limit, cpu quota over a 100 ms period, shares;
    the pod's cgroup sits under kubepods/burstable/pod<uid>."""
    name = short_name("res")
    c = container("main", ["sleep", "3600"], resources={"requests": {"cpu": "100m", "memory": "16Mi"},
                                                        "limits": {"cpu": "200m", "memory": "48Mi"}})
    created = await env.create(pod(name, [c], node=env.node_name))
    await env.wait_running(name)
    cid = await env.container_id(name, "main")
    uid = created["metadata"]["uid"]
    mounts = {m.name: m for m in cgroup_mounts()}
    base = f"{env.config.cgroup_root.strip('/')}/kubepods/burstable/pod{uid}/{cid}"
    memory = mounts["memory"] / base
    cpu = mounts["cpu"] / base
    assert int((memory / "memory.limit_in_bytes").read_text()) == 48 * 1024 * 1024
    assert int((cpu / "cpu.cfs_quota_us").read_text()) == 20000
    assert int((cpu / "cpu.cfs_period_us").read_text()) == 100000
    assert int((cpu / "cpu.shares").read_text()) == 102


async def test_termination_message_file_is_reported(env: KubeletEnv) -> None:
    """What a container writes to /dev/termination-log is its terminated state's message."""
    name = short_name("term")
    await env.create(pod(name, command=["sh", "-c", "echo 'gone fishing' > /dev/termination-log; exit 4"],
                         node=env.node_name, restartPolicy="Never"))
    p = await env.wait_pod(name, lambda p: p["status"].get("phase") == "Failed", what="Failed")
    term = p["status"]["containerStatuses"][0]["state"]["terminated"]
    assert (term["exitCode"], term["message"]) == (4, "gone fishing\n")


async def test_two_pods_talk_over_the_bridge(env: KubeletEnv, tmp_path: Path) -> None:
    """Pod B fetches a page from pod A's httpd at A's pod IP; both IPs are in the node's pod CIDR."""
    server, client = short_name("srv"), short_name("cli")
    c = container("httpd", ["sh", "-c", "mkdir /www && echo hello-from-a > /www/index.html && httpd -f -p 8080 -h /www"],
                  ports=[{"containerPort": 8080}])
    await env.create(pod(server, [c], node=env.node_name))
    await env.create(pod(client, node=env.node_name))
    a = await env.wait_running(server)
    b = await env.wait_running(client)
    ip_a = a["status"]["podIP"]
    assert ip_a != b["status"]["podIP"]
    assert all(p["status"]["podIP"].startswith(POD_CIDR.rsplit(".", 2)[0]) for p in (a, b))

    async def fetched() -> str | None:
        code, out = await env.exec_in(client, "main", "wget", "-q", "-O", "-", f"http://{ip_a}:8080/")
        return out if code == 0 else None

    assert await wait_for(fetched, timeout=10, what="the page") == "hello-from-a\n"


async def test_host_port_and_host_network(env: KubeletEnv) -> None:
    """A hostPort on 127.0.0.1 reaches the pod from the host; a hostNetwork pod sees the node's network
    and reports the node IP as its pod IP."""
    name = short_name("hport")
    c = container("httpd", ["sh", "-c", "mkdir /www && echo via-hostport > /www/index.html && httpd -f -p 8080 -h /www"],
                  ports=[{"containerPort": 8080, "hostPort": 18089, "hostIP": "127.0.0.1"}])
    await env.create(pod(name, [c], node=env.node_name))
    await env.wait_running(name)

    async def fetched() -> str | None:
        def get() -> str | None:
            try:
                with urllib.request.urlopen("http://127.0.0.1:18089/", timeout=2) as r:
                    return r.read().decode()
            except OSError:
                return None
        return await asyncio.to_thread(get)

    assert await wait_for(fetched, timeout=10, what="the hostPort") == "via-hostport\n"
    hn = short_name("hostnet")
    await env.create(pod(hn, node=env.node_name, hostNetwork=True))
    p = await env.wait_running(hn)
    assert p["status"]["podIP"] == "127.0.0.1"
    _, out = await env.exec_in(hn, "main", "cat", "/proc/net/dev")
    assert "cni0" in out or "kjtest0" in out, "the node's interfaces are visible"
