"""The Engine API server: every route table on one router, behind the version check."""

from ketch import __version__
from ketch.api import versions
from ketch.api.http import Request, Router, Server
from ketch.api.httpstatus import error_response
from ketch.api.routes import inactive, system
from ketch.api.routes.containers import ContainerRoutes
from ketch.api.routes.exec import ExecBackend, ExecRoutes
from ketch.api.routes.images import ImageRoutes
from ketch.engine.containers.service import ContainerService
from ketch.engine.images import ImageService

DEFAULT_HEADERS = {
    "Api-Version": versions.API_VERSION,
    "Docker-Experimental": "false",
    "Ostype": "linux",
    "Server": f"ketch/{__version__} (linux)",
}


class _VersionedRouter(Router):
    """Checks the /vX.Y prefix before any handler runs (moby's version middleware)."""

    def add(self, method, pattern, handler):
        async def checked(request: Request):
            versions.check(request.api_version)
            return await handler(request)
        super().add(method, pattern, checked)


def build_server(containers: ContainerService, images: ImageService,
                 system_backend: system.SystemBackend, execs: ExecBackend) -> Server:
    router = _VersionedRouter()
    system.add_routes(router, system_backend)
    ContainerRoutes(containers).install(router)
    ExecRoutes(execs).install(router)
    ImageRoutes(images, containers).install(router)
    inactive.add_routes(router)
    return Server(router, error_handler=error_response, default_headers=DEFAULT_HEADERS)
