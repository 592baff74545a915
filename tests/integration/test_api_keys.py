"""inspect, info and version carry every key the Engine API 1.45 swagger declares (a key
may be missing only where moby's type omits it when empty: tests/swagger.py), with
values that are true of this ketchd."""

import json
import os
import shutil
import subprocess

from tests import swagger


def test_the_walker_finds_what_dockerd_20_10_lacks():
    """Sanity of tests/swagger.py on dockerd 20.10's answers (API 1.41), recorded: it
    misses exactly the keys that came after 1.41."""
    golden = os.path.join(os.path.dirname(swagger.SPEC), "dockerd-20.10")
    cases = [("inspect_running.json", swagger.operation_schema("/containers/{id}/json"),
              ["NetworkSettings.Networks.bridge.DNSNames"]),  # API 1.44
             ("info.json", swagger.ref("SystemInfo"), ["CDISpecDirs"]),  # API 1.45
             ("version.json", swagger.ref("SystemVersion"), [])]
    for name, schema, lacking in cases:
        with open(os.path.join(golden, name)) as f:
            assert swagger.missing(json.load(f), schema) == lacking, name


def test_container_inspect_has_every_key_and_true_graph_driver_dirs(daemon, names):
    name = names()
    daemon.ketch("run", "-d", "--name", name, "busybox", "sleep", "60", check=True)
    try:
        status, doc = daemon.api("GET", f"/containers/{name}/json")
        assert status == 200
        assert swagger.missing(doc, swagger.operation_schema("/containers/{id}/json")) == []
        graph = doc["GraphDriver"]
        assert graph["Name"] == "overlay2"
        data = graph["Data"]
        assert set(data) == {"LowerDir", "MergedDir", "UpperDir", "WorkDir"}
        for key in ("MergedDir", "UpperDir", "WorkDir"):
            assert os.path.isdir(data[key]), (key, data[key])
        assert all(os.path.isdir(d) for d in data["LowerDir"].split(":"))
        with open("/proc/self/mountinfo") as f:
            assert any(f" {data['MergedDir']} " in line for line in f)
        assert os.path.exists(os.path.join(data["MergedDir"], "bin", "busybox"))
        status, sized = daemon.api("GET", f"/containers/{name}/json?size=1")
        assert {"SizeRw", "SizeRootFs"} <= set(sized)
    finally:
        daemon.ketch("rm", "-f", name)


def test_info_has_every_key_and_true_values(daemon):
    status, doc = daemon.api("GET", "/info")
    assert status == 200
    assert swagger.missing(doc, swagger.ref("SystemInfo")) == []
    assert doc["DefaultRuntime"] in doc["Runtimes"]
    for name, runtime in doc["Runtimes"].items():
        assert name == "ketch" or shutil.which(runtime["path"]), runtime
    assert doc["CgroupVersion"] == ("2" if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else "1")
    assert doc["CgroupDriver"] == "cgroupfs"
    assert "name=seccomp,profile=builtin" in doc["SecurityOptions"]
    assert doc["RegistryConfig"]["IndexConfigs"]["docker.io"] == {
        "Name": "docker.io", "Mirrors": [], "Secure": True, "Official": True}
    assert doc["CDISpecDirs"] == []  # no CDI devices
    assert ("WARNING: No memory limit support" in (doc["Warnings"] or [])) != doc["MemoryLimit"]
    assert doc["InitBinary"] == "docker-init"
    assert doc["RuncCommit"]["ID"] == doc["RuncCommit"]["Expected"]
    assert doc["DockerRootDir"] == daemon.data_root
    if doc["CgroupVersion"] == "1":  # the flags are the host's, as the limits ketch applies
        assert doc["MemoryLimit"] == os.path.isdir("/sys/fs/cgroup/memory")
        assert doc["SwapLimit"] == os.path.exists("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes")
        assert doc["PidsLimit"] == os.path.isdir("/sys/fs/cgroup/pids")


def test_docker_info_warns_only_of_what_is_missing(daemon):
    if shutil.which("docker") is None:
        return
    res = daemon.docker("info")
    assert res.returncode == 0, res.stderr
    info = daemon.api("GET", "/info")[1]
    # the docker CLI prints the daemon's warnings (or, when there are none, its own for
    # each capability flag that is false): either way only what the host lacks
    assert ("WARNING: No memory limit support" in res.stderr) != info["MemoryLimit"]
    assert ("WARNING: No swap limit support" in res.stderr) != info["SwapLimit"]
    assert ("WARNING: No cpu cfs quota support" in res.stderr) != info["CpuCfsQuota"]


def test_version_names_the_engine_runtime_and_init(daemon):
    status, doc = daemon.api("GET", "/version")
    assert status == 200
    assert swagger.missing(doc, swagger.ref("SystemVersion")) == []
    components = {c["Name"]: c for c in doc["Components"]}
    assert components["Engine"]["Version"] == doc["Version"]
    info = daemon.api("GET", "/info")[1]
    runtime = components[info["DefaultRuntime"]]
    assert runtime["Version"] and "GitCommit" in runtime["Details"]
    init = shutil.which("docker-init") or shutil.which("tini-static")
    if init:
        out = subprocess.run([init, "--version"], capture_output=True, text=True).stdout
        version = out.split(" - ")[0].strip().removeprefix("tini version ")
        assert components[os.path.basename(init)] == {
            "Name": os.path.basename(init), "Version": version,
            "Details": {"GitCommit": out.split(" - git.")[1].strip() if " - git." in out else ""}}
