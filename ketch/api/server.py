"""The Engine API server: every route table on one router, behind the version check."""

from ketch import __version__
from ketch.api import versions
from ketch.api.http import Request, Router, Server, encode_headers
from ketch.api.httpstatus import error_response
from ketch.api.routes import events, inactive, system
from ketch.api.routes.archive import ArchiveRoutes
from ketch.api.routes.build import BuildRoutes
from ketch.api.routes.commit import CommitBackend, CommitRoutes
from ketch.api.routes.containers import ContainerRoutes
from ketch.api.routes.distribution import DistributionBackend, DistributionRoutes
from ketch.api.routes.diskusage import DiskUsageRoutes
from ketch.api.routes.exec import ExecBackend, ExecRoutes
from ketch.api.routes.imagearchive import ImageArchiveRoutes
from ketch.api.routes.images import ImageRoutes
from ketch.api.routes.networks import NetworkBackend, NetworkRoutes
from ketch.api.routes.volumes import VolumeBackend, VolumeRoutes
from ketch.engine.containers.service import ContainerService
from ketch.engine.images.saveload import ImageLoader, ImageSaver
from ketch.engine.images.service import ImageService

# moby's middlewares: the version middleware sets these on the way in, and only once
# the version passed does the experimental one add its header; a 404 has neither
VERSION_HEADERS = encode_headers({
    "Api-Version": versions.API_VERSION,
    "Ostype": "linux",
    "Server": f"ketch/{__version__} (linux)",
})
ROUTE_HEADERS = {**VERSION_HEADERS, **encode_headers({"Docker-Experimental": "false"})}


class _VersionedRouter(Router):
    """Checks the /vX.Y prefix before any handler runs (moby's version middleware)."""

    def add(self, method, pattern, handler):
        async def checked(request: Request):
            request.response_headers = VERSION_HEADERS
            versions.check(request.api_version)
            request.response_headers = ROUTE_HEADERS
            return await handler(request)
        super().add(method, pattern, checked)


def build_server(containers: ContainerService, images: ImageService,
                 system_backend: system.SystemBackend, events_backend: events.EventsBackend,
                 execs: ExecBackend, distribution: DistributionBackend | None = None, *,
                 commits: CommitBackend | None = None,
                 disk_usage: DiskUsageRoutes | None = None,
                 networks: NetworkBackend | None = None,
                 volumes: VolumeBackend | None = None,
                 builds: BuildRoutes | None = None) -> Server:
    router = _VersionedRouter()
    system.add_routes(router, system_backend)
    events.add_routes(router, events_backend)
    ContainerRoutes(containers).install(router)
    ArchiveRoutes(containers).install(router)
    ExecRoutes(execs).install(router)
    ImageArchiveRoutes(ImageSaver(images), ImageLoader(images)).install(router)
    registry_routes = DistributionRoutes(distribution) if distribution is not None else None
    if registry_routes is not None:
        registry_routes.install(router)  # before /images/{name}/... catches push
    ImageRoutes(images, containers, registry_routes.pull if registry_routes else None).install(router)
    if commits is not None:
        CommitRoutes(commits).install(router)
    if disk_usage is not None:
        disk_usage.install(router)
    if networks is not None:
        NetworkRoutes(networks).install(router)
    if volumes is not None:
        VolumeRoutes(volumes).install(router)
    if builds is not None:
        builds.install(router)
    inactive.add_routes(router, networks=networks is None, builds=builds is None)
    return Server(router, error_handler=error_response)
