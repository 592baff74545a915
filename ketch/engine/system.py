"""``docker info``: what the daemon knows about itself and its host, as moby's types.Info.

The daemon builds one ``SystemService`` and hands it to the API as its SystemBackend
(``api/routes/system.py``); the routes only encode. Host facts (kernel, memory, OS
name, cgroup version) are read here on each call, except the cgroup version, which
the composition root detects once (``cgroups.detect()``) and injects.
"""

import os
import platform
import time

from ketch import __version__
from ketch.engine.images import ImageService
from ketch.engine.containers.records import Registry
from ketch.engine.runtimes import Runtimes


class SystemService:
    def __init__(self, registry: Registry, images: ImageService, runtimes: Runtimes, *,
                 data_root: str, cgroup_version: str, debug: bool) -> None:
        self.registry = registry
        self.images = images
        self.runtimes = runtimes
        self.data_root = data_root
        self.cgroup_version = cgroup_version  # "1" or "2", as docker info prints it
        self.debug = debug

    def info(self) -> dict:
        return info_doc(
            containers=self.registry.all(), images=len(self.images.list_all()),
            data_root=self.data_root, name=platform.node(), runtimes=self.runtimes.info(),
            default_runtime=self.runtimes.default, cgroup_version=self.cgroup_version,
            debug=self.debug)


def info_doc(*, containers: list, images: int, data_root: str, name: str, runtimes: dict,
             default_runtime: str, cgroup_version: str, debug: bool) -> dict:
    """docker info's document (moby's types.Info) from what the daemon knows."""
    paused = sum(1 for c in containers if c.state.paused)
    running = sum(1 for c in containers if c.running) - paused  # moby counts by State.String()
    try:
        with open("/proc/meminfo") as f:
            mem = int(f.readline().split()[1]) * 1024
    except OSError:
        mem = 0
    return {
        "ID": name, "Containers": len(containers), "ContainersRunning": running,
        "ContainersPaused": paused, "ContainersStopped": len(containers) - running - paused,
        "Images": images, "Driver": "overlay2", "DriverStatus": [["Backing Filesystem", "extfs"]],
        "Plugins": {"Volume": ["local"], "Network": ["null"], "Authorization": None,
                    "Log": ["json-file"]},
        "MemoryLimit": False, "SwapLimit": False, "CpuCfsPeriod": False, "CpuCfsQuota": False,
        "CPUShares": False, "CPUSet": False, "PidsLimit": False, "IPv4Forwarding": False,
        "BridgeNfIptables": False, "BridgeNfIp6tables": False, "Debug": debug, "NFd": _nfd(),
        "OomKillDisable": False, "NGoroutines": 0, "SystemTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "LoggingDriver": "json-file", "CgroupDriver": "cgroupfs", "CgroupVersion": cgroup_version,
        "NEventsListener": 0, "KernelVersion": os.uname().release, "OperatingSystem": _os_name(),
        "OSVersion": "", "OSType": "linux", "Architecture": os.uname().machine,
        "IndexServerAddress": "https://index.docker.io/v1/",
        "RegistryConfig": {"AllowNondistributableArtifactsCIDRs": None,
                           "AllowNondistributableArtifactsHostnames": None,
                           "InsecureRegistryCIDRs": ["127.0.0.0/8"], "IndexConfigs": {},
                           "Mirrors": []},
        "NCPU": os.cpu_count() or 1, "MemTotal": mem, "GenericResources": None,
        "DockerRootDir": data_root, "HttpProxy": "", "HttpsProxy": "", "NoProxy": "",
        "Name": platform.node(), "Labels": [], "ExperimentalBuild": False,
        "ServerVersion": __version__, "Runtimes": runtimes, "DefaultRuntime": default_runtime,
        "Swarm": {"NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive",
                  "ControlAvailable": False, "Error": "", "RemoteManagers": None},
        "LiveRestoreEnabled": True, "Isolation": "", "InitBinary": "",
        "ContainerdCommit": {"ID": ""}, "RuncCommit": {"ID": ""}, "InitCommit": {"ID": ""},
        "SecurityOptions": [], "Warnings": None,
    }


def _nfd() -> int:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return 0


def _os_name() -> str:
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "Linux"
