"""/_ping, /version, /info."""

import os
import platform
import time
from typing import Protocol

from ketch import __version__
from ketch.api.http import Request, Response, Router, json_response
from ketch.api.versions import API_VERSION, MIN_API_VERSION
from ketch.engine.images import ARCH


class SystemBackend(Protocol):
    def system_info(self) -> dict: ...


def _kernel() -> str:
    return os.uname().release


def version_doc() -> dict:
    return {
        "Platform": {"Name": "ketch"},
        "Components": [{"Name": "Engine", "Version": __version__, "Details": {
            "ApiVersion": API_VERSION, "Arch": ARCH, "BuildTime": "", "Experimental": "false",
            "GitCommit": "", "GoVersion": f"python{platform.python_version()}",
            "KernelVersion": _kernel(), "MinAPIVersion": MIN_API_VERSION, "Os": "linux"}}],
        "Version": __version__, "ApiVersion": API_VERSION, "MinAPIVersion": MIN_API_VERSION,
        "GitCommit": "", "GoVersion": f"python{platform.python_version()}", "Os": "linux",
        "Arch": ARCH, "KernelVersion": _kernel(), "BuildTime": "",
    }


def add_routes(router: Router, backend: SystemBackend) -> None:
    async def ping(request: Request) -> Response:
        return Response(200, b"OK", {"Cache-Control": "no-cache, no-store, must-revalidate",
                                     "Pragma": "no-cache", "Builder-Version": "1"},
                        "text/plain; charset=utf-8")

    async def version(request: Request) -> Response:
        return json_response(version_doc())

    async def info(request: Request) -> Response:
        return json_response(backend.system_info())

    router.add("GET", "/_ping", ping)
    router.add("HEAD", "/_ping", ping)
    router.add("GET", "/version", version)
    router.add("GET", "/info", info)


def info_doc(*, containers: list, images: int, data_root: str, name: str, runtimes: dict,
             default_runtime: str, cgroup_version: str, debug: bool) -> dict:
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
        "NEventsListener": 0, "KernelVersion": _kernel(), "OperatingSystem": _os_name(),
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
