"""Limits seen from the host, stats in Docker's shape, and changing limits at run time."""

import json
import os
import time


def _cgroup_file(daemon, cid, controller, name):
    return os.path.join("/sys/fs/cgroup", controller, daemon.cgroup_parent.lstrip("/"), cid, name)


def _v1() -> bool:
    return not os.path.exists("/sys/fs/cgroup/cgroup.controllers")


def test_limits_reach_the_cgroup_and_update_changes_them(daemon, names):
    name = names()
    cid = daemon.ketch("run", "-d", "--name", name, "-m", "64m", "--cpus", "0.5", "--pids-limit", "20",
                       "busybox", "sleep", "60", check=True).stdout.strip()
    if _v1():
        assert open(_cgroup_file(daemon, cid, "memory", "memory.limit_in_bytes")).read().strip() == str(64 << 20)
        assert open(_cgroup_file(daemon, cid, "cpu", "cpu.cfs_quota_us")).read().strip() == "50000"
        assert open(_cgroup_file(daemon, cid, "pids", "pids.max")).read().strip() == "20"
    assert daemon.ketch("update", "--memory", "128m", "--memory-swap", "256m", "--pids-limit", "30",
                        name).stdout == f"{name}\n"
    if _v1():
        assert open(_cgroup_file(daemon, cid, "memory", "memory.limit_in_bytes")).read().strip() == str(128 << 20)
        assert open(_cgroup_file(daemon, cid, "pids", "pids.max")).read().strip() == "30"
    assert daemon.ketch("inspect", "-f", "{{.HostConfig.Memory}}", name).stdout == f"{128 << 20}\n"
    res = daemon.ketch("update", "--memory", "1k", name)
    assert res.returncode == 1 and "Minimum memory limit allowed is 6MB" in res.stderr
    daemon.ketch("rm", "-f", name, check=True)
    if _v1():
        assert not os.path.exists(os.path.dirname(_cgroup_file(daemon, cid, "memory", "x")))


def _wait_for_cpu_use(daemon, name, timeout=10.0):
    """Until the container has used some CPU: it runs, and its cgroup counts it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, raw, _ = daemon.api("GET", f"/containers/{name}/stats?stream=0&one-shot=1", raw=True)
        if status == 200 and json.loads(raw)["cpu_stats"]["cpu_usage"]["total_usage"] > 0:
            return
        time.sleep(0.05)
    raise AssertionError(f"{name} used no CPU within {timeout}s")


def test_stats_shape_and_cli(daemon, names):
    name = names()
    daemon.ketch("run", "-d", "--name", name, "-m", "64m", "busybox", "sh", "-c",
                 "while true; do :; done", check=True)
    _wait_for_cpu_use(daemon, name)
    status, raw, _ = daemon.api("GET", f"/containers/{name}/stats?stream=0", raw=True)
    doc = json.loads(raw)
    assert status == 200
    for key in ("read", "preread", "cpu_stats", "precpu_stats", "memory_stats", "pids_stats",
                "blkio_stats", "name", "id"):
        assert key in doc
    assert doc["memory_stats"]["limit"] == 64 << 20 and doc["pids_stats"]["current"] >= 1
    used = doc["cpu_stats"]["cpu_usage"]["total_usage"] - doc["precpu_stats"]["cpu_usage"]["total_usage"]
    # The busy loop ran between the two samples; how much depends on the machine's load
    # (a starved CI VM may give it little of the second), so only "some" is asserted.
    assert used > 0
    one_shot = json.loads(daemon.api("GET", f"/containers/{name}/stats?stream=0&one-shot=1", raw=True)[1])
    assert one_shot["precpu_stats"]["cpu_usage"]["total_usage"] == 0
    table = daemon.ketch("stats", "--no-stream", name).stdout.splitlines()
    assert table[0].split()[:4] == ["CONTAINER", "ID", "NAME", "CPU"]
    assert name in table[1] and "/ 64MiB" in table[1]
    fmt = daemon.ketch("stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}", name).stdout
    assert fmt == f"{name} 1\n"
    daemon.ketch("rm", "-f", name, check=True)


def test_stats_through_the_sdk(daemon):
    client = daemon.sdk()
    c = client.containers.run("busybox", ["sleep", "30"], detach=True, mem_limit="32m")
    try:
        s = c.stats(stream=False)
        assert s["memory_stats"]["limit"] == 32 << 20
        c.update(mem_limit="48m", memswap_limit="96m")
        c.reload()
        assert c.attrs["HostConfig"]["Memory"] == 48 << 20
    finally:
        c.remove(force=True)
