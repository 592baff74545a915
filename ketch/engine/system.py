"""``docker info``: what the daemon knows about itself and its host, as moby's types.Info.

The daemon builds one ``SystemService`` and hands it to the API as its SystemBackend
(``api/routes/system.py``); the routes only encode. Host facts (kernel, memory, OS
name, cgroup version) are read here on each call, except the cgroup version, which
the composition root detects once (``cgroups.detect()``) and injects.
"""

import functools
import os
import platform
import subprocess
import threading
import time

from ketch import __version__
from ketch.engine.images.service import ImageService
from ketch.engine.containers.records import Registry
from ketch.engine.hostconfig import find_init
from ketch.engine import sysinfo
from ketch.engine.runtimes import BUILTIN, Runtimes
from ketch.errors import InvalidArgument


class SystemService:
    def __init__(self, registry: Registry, images: ImageService, runtimes: Runtimes, *,
                 data_root: str, cgroup_version: str, debug: bool,
                 init_path: str | None = None, logging_driver: str = "json-file",
                 registry_config: dict | None = None) -> None:
        self.registry = registry
        self.images = images
        self.runtimes = runtimes
        self.data_root = data_root
        self.cgroup_version = cgroup_version  # "1" or "2", as docker info prints it
        self.debug = debug
        self.init_path = init_path  # daemon.json init-path; None: docker-init or tini on PATH
        self.logging_driver = logging_driver  # the containers' default (daemon.json log-driver)
        self.registry_config = registry_config  # daemon.json's registry options, as info shows them

    def info(self) -> dict:
        doc = info_doc(
            containers=self.registry.all(), images=len(self.images.list_all()),
            data_root=self.data_root, name=platform.node(), runtimes=self.runtimes.info(),
            default_runtime=self.runtimes.default, cgroup_version=self.cgroup_version,
            debug=self.debug, host=sysinfo.detect(self.cgroup_version),
            backing_fs=sysinfo.backing_filesystem(self.data_root))
        runtime, init = self.components()
        doc["RuncCommit"] = _commit(runtime["Details"]["GitCommit"] if runtime else "")
        doc["InitCommit"] = _commit(init["Details"]["GitCommit"] if init else "")
        doc["InitBinary"] = self.init_path or "docker-init"
        doc["LoggingDriver"] = self.logging_driver
        if self.registry_config is not None:
            doc["RegistryConfig"] = self.registry_config
        return doc

    def components(self) -> tuple[dict | None, dict | None]:
        """version's Components for the default runtime and the init (moby's
        populateRuncVersion and populateInitVersion): each binary's own --version."""
        runtime = self.runtimes.spec(self.runtimes.default)
        if runtime["name"] == BUILTIN:  # ketch-runtime is this very code
            rt = {"Name": BUILTIN, "Version": __version__, "Details": {"GitCommit": ""}}
        else:
            rt = _runtime_component(self.runtimes.default, runtime["path"])
        try:
            init = _init_component(find_init(self.init_path))
        except InvalidArgument:
            init = None  # moby leaves it out when there is no docker-init
        return rt, init


def _commit(commit: str) -> dict:
    return {"ID": commit, "Expected": commit}  # Expected: deprecated, still sent by moby 26


@functools.lru_cache(maxsize=8)
def _version_output(path: str) -> str | None:
    try:
        res = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return res.stdout if res.returncode == 0 else None


def _runtime_component(name: str, path: str) -> dict | None:
    """moby's parseRuntimeVersion on ``runc --version`` (crun's output has the same lines)."""
    out = _version_output(path)
    version = commit = ""
    for line in (out or "").strip().splitlines():
        if "version" in line:
            version = line.split("version")[-1].strip()
        elif line.startswith("commit:"):
            commit = line.removeprefix("commit:").strip()
    if not version and not commit:
        return None
    return {"Name": name, "Version": version, "Details": {"GitCommit": commit}}


def _init_component(path: str) -> dict | None:
    """moby's parseInitVersion on ``tini version 0.19.0 - git.de40ad0``."""
    out = _version_output(path)
    if out is None:
        return None
    parts = out.split(" - ")
    commit = ""
    if len(parts) >= 2:
        git = parts[1].strip().split(".")
        if len(git) == 2 and git[0] == "git":
            commit = git[1]
    version = parts[0].strip().removeprefix("tini version ") if parts[0].strip().startswith("tini version ") else ""
    if not version and not commit:
        return None
    return {"Name": os.path.basename(path), "Version": version, "Details": {"GitCommit": commit}}


def info_doc(*, containers: list, images: int, data_root: str, name: str, runtimes: dict,
             default_runtime: str, cgroup_version: str, debug: bool,
             host: sysinfo.SysInfo = sysinfo.SysInfo(), backing_fs: str = "<unknown>") -> dict:
    """docker info's document (moby's types.Info) from what the daemon knows."""
    paused = sum(1 for c in containers if c.state.paused)
    # moby counts by State.String(): a restarting container is "stopped"
    running = sum(1 for c in containers if c.running and not c.state.restarting) - paused
    try:
        with open("/proc/meminfo") as f:
            mem = int(f.readline().split()[1]) * 1024
    except OSError:
        mem = 0
    return {
        "ID": name, "Containers": len(containers), "ContainersRunning": running,
        "ContainersPaused": paused, "ContainersStopped": len(containers) - running - paused,
        "Images": images, "Driver": "overlay2", "DriverStatus": [["Backing Filesystem", backing_fs]],
        "Plugins": {"Volume": ["local"], "Network": ["bridge", "host", "null"], "Authorization": None,
                    "Log": ["json-file", "none"]},
        "MemoryLimit": host.memory_limit, "SwapLimit": host.swap_limit,
        "CpuCfsPeriod": host.cpu_cfs, "CpuCfsQuota": host.cpu_cfs, "CPUShares": host.cpu_shares,
        "CPUSet": host.cpuset, "PidsLimit": host.pids_limit, "IPv4Forwarding": host.ipv4_forwarding,
        "BridgeNfIptables": host.bridge_nf_iptables, "BridgeNfIp6tables": host.bridge_nf_ip6tables,
        "Debug": debug, "NFd": _nfd(), "OomKillDisable": host.oom_kill_disable,
        "NGoroutines": threading.active_count(),  # the nearest thing ketchd has
        "SystemTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "LoggingDriver": "json-file", "CgroupDriver": "cgroupfs", "CgroupVersion": cgroup_version,
        "NEventsListener": 0, "KernelVersion": os.uname().release, "OperatingSystem": _os_name(),
        "OSVersion": _os_release("VERSION_ID"), "OSType": "linux", "Architecture": os.uname().machine,
        "IndexServerAddress": "https://index.docker.io/v1/",
        "RegistryConfig": {"AllowNondistributableArtifactsCIDRs": [],
                           "AllowNondistributableArtifactsHostnames": [],
                           "InsecureRegistryCIDRs": ["127.0.0.0/8"],
                           "IndexConfigs": {"docker.io": {"Name": "docker.io", "Mirrors": [],
                                                          "Secure": True, "Official": True}},
                           "Mirrors": []},
        "NCPU": os.cpu_count() or 1, "MemTotal": mem, "GenericResources": None,
        "DockerRootDir": data_root, "HttpProxy": "", "HttpsProxy": "", "NoProxy": "",
        "Name": platform.node(), "Labels": [], "ExperimentalBuild": False,
        "ServerVersion": __version__, "Runtimes": runtimes, "DefaultRuntime": default_runtime,
        "Swarm": {"NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive",
                  "ControlAvailable": False, "Error": "", "RemoteManagers": None},
        "LiveRestoreEnabled": True, "Isolation": "", "InitBinary": "docker-init",
        # no containerd: its commit is empty, as moby reports a containerd it cannot ask
        "ContainerdCommit": _commit(""), "RuncCommit": _commit(""), "InitCommit": _commit(""),
        # moby's fillSecurityOptions: ketch loads Docker's seccomp profile ("builtin") and,
        # on cgroup v2, gives each container its own cgroup namespace; no AppArmor, SELinux
        # or user namespaces
        "SecurityOptions": ["name=seccomp,profile=builtin"] + (["name=cgroupns"] if cgroup_version == "2" else []),
        "CDISpecDirs": [],  # no CDI devices
        "Warnings": sysinfo.warnings(host, cgroup_version),
    }


def _nfd() -> int:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return 0


def _os_release(key: str) -> str:
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith(key + "="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return ""


def _os_name() -> str:
    return _os_release("PRETTY_NAME") or "Linux"
