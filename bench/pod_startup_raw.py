"""Raw container start baseline: `ctr run --rm` of the busybox image, against a pod through CRI.

The baseline for the later pod-startup benchmark (API -> scheduler -> kubelet -> CRI): what containerd
and runc cost on this machine with no Kubernetes machinery at all. In one run, on a private containerd
(temp data dir, test bridge 10.42.249.0/24 `kjbench0` with no default route), it prints the median of
--runs samples of:

    ctr run --rm busybox true             create + start + wait + delete of one container, no CNI (baseline)
    CRI RunPodSandbox                     pause container + netns + CNI ADD
    CRI CreateContainer + StartContainer  busybox `sleep` in that sandbox
    CRI pod start                         the two above: a running one-container pod
    CRI teardown                          StopContainer, RemoveContainer, StopPodSandbox, RemovePodSandbox

with ratios to the `ctr run` baseline. Everything it created is removed by the agent cleanup at the end.

Usage (root; Debian packages containerd, runc, containernetworking-plugins, busybox-static, iptables):
    .venv/bin/python bench/pod_startup_raw.py [--runs 10]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from kijabi.kubelet import cleanup, cni, images
from kijabi.kubelet.containerd import Containerd
from kijabi.kubelet.cri import CRIConnection, api

NET = cni.BridgeNetwork("10.42.249.0/24", bridge="kjbench0", name="kjbench", default_route=False)


async def ctr_run(c: Containerd, name: str, cgroup_parent: str) -> float:
    p = c.paths
    argv = ["ctr", "--address", str(p.socket), "--namespace", images.K8S_NAMESPACE, "run", "--rm", "--null-io",
            "--runc-root", str(p.runc_root), "--fifo-dir", str(p.fifo_dir), "--cgroup", f"{cgroup_parent}/{name}",
            images.BUSYBOX_IMAGE, name, "true"]
    start = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    _, err = await proc.communicate()
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"ctr run failed: {err.decode().strip()}")
    return elapsed


async def cri_pod(cri: CRIConnection, data_dir: Path, cgroup_parent: str, i: int) -> tuple[float, float, float]:
    uid = str(uuid.uuid4())
    sandbox = api.PodSandboxConfig(
        metadata=api.PodSandboxMetadata(name=f"bench-{i}", namespace="bench", uid=uid),
        hostname=f"bench-{i}", log_directory=str(data_dir / "pod-logs" / uid),
        linux=api.LinuxPodSandboxConfig(cgroup_parent=f"{cgroup_parent}/pod{uid}"))
    container = api.ContainerConfig(metadata=api.ContainerMetadata(name="main"),
                                    image=api.ImageSpec(image=images.BUSYBOX_IMAGE),
                                    command=["sleep", "3600"], log_path="main/0.log")
    t0 = time.perf_counter()
    sandbox_id = await cri.runtime.run_pod_sandbox(sandbox)
    t1 = time.perf_counter()
    cid = await cri.runtime.create_container(sandbox_id, container, sandbox)
    await cri.runtime.start_container(cid)
    t2 = time.perf_counter()
    await cri.runtime.stop_container(cid, 0)
    await cri.runtime.remove_container(cid)
    await cri.runtime.stop_pod_sandbox(sandbox_id)
    await cri.runtime.remove_pod_sandbox(sandbox_id)
    t3 = time.perf_counter()
    return t1 - t0, t2 - t1, t3 - t2


def ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


async def main(runs: int) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="kjb", dir="/tmp"))
    cgroup_parent = f"/kjbench-{data_dir.name}"
    c = Containerd(data_dir)
    try:
        cni.write_conflist(c.paths.cni_conf_dir, NET, ipam_dir=c.paths.cni_ipam_dir)
        await c.start()
        images.write_builtin_images(c.paths.images_dir)
        await images.import_directory(c, c.paths.images_dir)
        await ctr_run(c, "warmup", cgroup_parent)
        raw = [await ctr_run(c, f"raw-{i}", cgroup_parent) for i in range(runs)]
        async with await c.connect() as cri:
            await cri_pod(cri, data_dir, cgroup_parent, -1)  # warm-up: first CNI ADD creates the bridge
            samples = [await cri_pod(cri, data_dir, cgroup_parent, i) for i in range(runs)]
        sandbox, start, teardown = ([s[k] for s in samples] for k in range(3))
        pod = [s[0] + s[1] for s in samples]
        base = ms(raw)
        print(f"pod start, raw baseline (median of {runs}, containerd 1.6 + runc, this machine)")
        print(f"{'figure':<40}{'median ms':>10}{'x ctr run':>11}")
        for figure, values in (("ctr run --rm busybox true (baseline)", raw), ("CRI RunPodSandbox", sandbox),
                               ("CRI CreateContainer + StartContainer", start), ("CRI pod start (sandbox + container)", pod),
                               ("CRI teardown (stop/remove both)", teardown)):
            print(f"{figure:<40}{ms(values):>10.1f}{ms(values) / base:>10.2f}x")
    finally:
        await c.stop()
        report = cleanup.cleanup(data_dir, bridge=NET.bridge, network_name=NET.name, cgroup_parents=[cgroup_parent],
                                 service_cidr=None, remove_images=True)
        if report.errors:
            print("cleanup: " + report.summary(), file=sys.stderr)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    asyncio.run(main(parser.parse_args().runs))
