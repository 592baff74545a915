"""/volumes routes (moby's api/server/router/volume), over the VolumeBackend below.

The routes parse what the request says (the create body through apitypes.volume, the
filters) and render what the backend returns; the rules about volumes themselves
(names, drivers, who uses one, what a prune may take, events) are the backend's.
Swarm's cluster volumes do not exist here: a ClusterVolumeSpec and ``PUT`` are answered
as a daemon outside a swarm answers them.
"""

from typing import Callable, Protocol

from ketch import errors
from ketch.api import filters as flt
from ketch.api.http import Request, Response, Router, json_response
from ketch.api.mediatype import check_for_json
from ketch.api.routes.inactive import NOT_MANAGER
from ketch.api.versions import at_least
from ketch.api.volumefilters import LIST_FILTERS, PRUNE_FILTERS, filter_volumes, prune_filter
from ketch.api.volumeviews import volume_json
from ketch.apitypes import volume as apitypes
from ketch.volume.model import Volume

NO_CONTENT = Response(204, b"", None, None)


class VolumeBackend(Protocol):
    def all(self) -> list[Volume]: ...

    def get(self, name: str) -> Volume:
        """errors.NotFound("get NAME: no such volume") when there is none."""

    def users_index(self) -> dict[str, list[str]]:
        """Volume name -> ids of the containers using it (one scan for a whole list)."""

    async def create_async(self, name: str = "", driver: str = "", opts: dict | None = None,
                           labels: dict | None = None) -> Volume:
        """Waits for a removal of that name in flight, as moby's per-name lock."""

    async def remove_async(self, name: str, force: bool = False) -> None: ...

    async def prune(self, selects: Callable[[Volume], bool]) -> tuple[list[str], int]:
        """(names removed, bytes reclaimed)."""


class VolumeRoutes:
    def __init__(self, backend: VolumeBackend) -> None:
        self.backend = backend

    def install(self, router: Router) -> None:
        add = router.add
        add("GET", "/volumes", self.list_volumes)
        add("POST", "/volumes/create", self.create)
        add("POST", "/volumes/prune", self.prune)
        add("GET", "/volumes/{name:.+}", self.inspect)
        add("PUT", "/volumes/{name:.+}", self.update)
        add("DELETE", "/volumes/{name:.+}", self.remove)

    async def list_volumes(self, request: Request) -> Response:
        try:
            flt.parse(request.arg("filters"), None)
        except errors.InvalidArgument as exc:  # moby wraps the JSON's error, not the keys'
            raise errors.InvalidArgument(f"error reading volume filters: {exc}") from None
        f = flt.parse(request.arg("filters"), LIST_FILTERS)
        used = self.backend.users_index() if "dangling" in f else {}
        found = filter_volumes(self.backend.all(), f, lambda name: bool(used.get(name)))
        return json_response({"Volumes": [volume_json(v) for v in found], "Warnings": None})

    async def inspect(self, request: Request) -> Response:
        return json_response(volume_json(self.backend.get(request.match["name"])))

    async def create(self, request: Request) -> Response:
        check_for_json(request)
        req = apitypes.decode_create(await request.body())
        if req.cluster and at_least(request.api_version, "1.42"):
            raise errors.Unavailable(NOT_MANAGER)
        vol = await self.backend.create_async(req.name, req.driver, req.driver_opts, req.labels)
        return json_response(volume_json(vol), 201)

    async def update(self, request: Request) -> Response:
        raise errors.Unavailable("volume update only valid for cluster volumes, but swarm is unavailable")

    async def remove(self, request: Request) -> Response:
        await self.backend.remove_async(request.match["name"], request.flag("force"))
        return NO_CONTENT

    async def prune(self, request: Request) -> Response:
        f = flt.parse(request.arg("filters"), None)
        if not at_least(request.api_version, "1.42"):  # before 1.42 a prune took them all
            f = {**f, "all": list(dict.fromkeys([*f.get("all", []), "true"]))}
        selects = prune_filter(f)  # moby checks "all" before the keys
        flt.parse(request.arg("filters"), PRUNE_FILTERS)
        deleted, reclaimed = await self.backend.prune(selects)
        return json_response({"VolumesDeleted": deleted, "SpaceReclaimed": reclaimed})
