"""/_ping, /version, /info."""

import os
import platform
from typing import Protocol

from ketch import __version__
from ketch.api.http import Request, Response, Router, json_response
from ketch.api.versions import API_VERSION, MIN_API_VERSION
from ketch.engine.images.service import ARCH


class SystemBackend(Protocol):
    def info(self) -> dict:
        """The /info document (``engine/system.py``)."""

    def components(self) -> tuple[dict | None, dict | None]:
        """/version's Components for the default runtime and the init, when found."""


def _kernel() -> str:
    return os.uname().release


def version_doc(components: tuple[dict | None, ...] = ()) -> dict:
    return {
        "Platform": {"Name": "ketch"},
        "Components": [{"Name": "Engine", "Version": __version__, "Details": {
            "ApiVersion": API_VERSION, "Arch": ARCH, "BuildTime": "", "Experimental": "false",
            "GitCommit": "", "GoVersion": f"python{platform.python_version()}",
            "KernelVersion": _kernel(), "MinAPIVersion": MIN_API_VERSION, "Os": "linux"}},
            *(c for c in components if c is not None)],
        "Version": __version__, "ApiVersion": API_VERSION, "MinAPIVersion": MIN_API_VERSION,
        "GitCommit": "", "GoVersion": f"python{platform.python_version()}", "Os": "linux",
        "Arch": ARCH, "KernelVersion": _kernel(), "BuildTime": "",
    }


def add_routes(router: Router, backend: SystemBackend) -> None:
    async def ping(request: Request) -> Response:
        return Response(200, b"OK", {"Cache-Control": "no-cache, no-store, must-revalidate",
                                     "Pragma": "no-cache", "Builder-Version": "1",
                                     # no swarm: the docker CLI then hides swarm-only commands
                                     # and flags (volume update, --availability...)
                                     "Swarm": "inactive"},
                        "text/plain; charset=utf-8")

    async def version(request: Request) -> Response:
        return json_response(version_doc(backend.components()))

    async def info(request: Request) -> Response:
        return json_response(backend.info())

    router.add("GET", "/_ping", ping)
    router.add("HEAD", "/_ping", ping)
    router.add("GET", "/version", version)
    router.add("GET", "/info", info)
