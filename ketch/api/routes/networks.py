"""/networks routes (moby v26.1's api/server/router/network), over the NetworkBackend below.

The routes parse and check what the request says (bodies through apitypes.network,
filters, ``verbose`` and ``scope``) and render what the backend returns; every rule about
networks themselves (names, drivers, IPAM, attached containers, events) is the backend's.
"""

from typing import Protocol

from ketch import errors
from ketch.api import filters as flt
from ketch.api.http import Request, Response, Router, json_response
from ketch.api.mediatype import check_for_json
from ketch.api.networkfilters import LIST_FILTERS, PRUNE_FILTERS, filter_networks
from ketch.api.networkviews import SCOPE, network_json
from ketch.api.versions import at_least
from ketch.apitypes import network as apitypes
from ketch.apitypes.network import EndpointSettings, NetworkCreate
from ketch.apitypes.prune import PruneFilter
from ketch.network.model import Endpoint, Network

NO_CONTENT = Response(204, b"", None, None)
OK = Response(200, b"", None, None)
_TRUE = ("1", "t", "T", "TRUE", "true", "True")  # Go's strconv.ParseBool
_FALSE = ("0", "f", "F", "FALSE", "false", "False")


class NetworkBackend(Protocol):
    def networks(self) -> list[Network]:
        """Every network, the predefined ones (bridge, host, none) included."""

    def find(self, ref: str) -> Network:
        """A network by full id, else exact name, else unique id prefix (moby's
        FindNetwork); errors.NotFound("network REF not found") when none, an
        InvalidArgument naming the ambiguity when several."""

    def attachments(self, network_id: str) -> list[tuple[Endpoint, str]]:
        """The network's live endpoints, each with its container's name (without "/")."""

    async def create(self, req: NetworkCreate) -> tuple[Network, str]:
        """The new network and moby's warning ("" when none)."""

    async def remove(self, ref: str) -> None: ...

    async def connect(self, ref: str, container: str, settings: EndpointSettings) -> None: ...

    async def disconnect(self, ref: str, container: str, force: bool) -> None: ...

    async def prune(self, matches: PruneFilter) -> list[str]:
        """Remove the networks that are not predefined, have no endpoint and for which
        ``matches.matches(created_ns, labels)`` holds; their names, in removal order."""


def _verbose(request: Request) -> bool:
    value = request.arg("verbose") or ""
    if not value or value in _FALSE:
        return False
    if value in _TRUE:
        return True
    raise errors.InvalidArgument(
        f'invalid value for verbose: {value}: strconv.ParseBool: parsing "{value}": invalid syntax')


class NetworkRoutes:
    def __init__(self, backend: NetworkBackend) -> None:
        self.backend = backend

    def install(self, router: Router) -> None:
        add = router.add
        add("GET", "/networks", self.list_networks)
        add("GET", "/networks/", self.list_networks)
        add("POST", "/networks/create", self.create)
        add("POST", "/networks/prune", self.prune)
        add("GET", "/networks/{id:.+}", self.inspect)
        add("POST", "/networks/{id:.*}/connect", self.connect)
        add("POST", "/networks/{id:.*}/disconnect", self.disconnect)
        add("DELETE", "/networks/{id:.*}", self.remove)

    def _in_use(self, network: Network) -> bool:
        return bool(self.backend.attachments(network.id))

    async def list_networks(self, request: Request) -> Response:
        f = flt.parse(request.arg("filters"), LIST_FILTERS)
        found = filter_networks(self.backend.networks(), f, self._in_use)
        detailed = not at_least(request.api_version, "1.28")  # moby: Containers only before 1.28
        return json_response([
            network_json(n, self.backend.attachments(n.id) if detailed else None) for n in found])

    async def inspect(self, request: Request) -> Response:
        ref = request.match["id"]
        _verbose(request)  # checked as moby checks it; local networks have no services to show
        scope = request.arg("scope") or ""
        network = self.backend.find(ref)
        if scope and scope != SCOPE:
            raise errors.NotFound(f"network {ref} not found")
        return json_response(network_json(network, self.backend.attachments(network.id)))

    async def create(self, request: Request) -> Response:
        check_for_json(request)
        req = apitypes.decode_create(await request.body())
        network, warning = await self.backend.create(req)
        return json_response({"Id": network.id, "Warning": warning}, 201)

    async def remove(self, request: Request) -> Response:
        await self.backend.remove(request.match["id"])
        return NO_CONTENT

    async def connect(self, request: Request) -> Response:
        check_for_json(request)
        req = apitypes.decode_connect(await request.body())
        await self.backend.connect(request.match["id"], req.container, req.settings)
        return OK

    async def disconnect(self, request: Request) -> Response:
        check_for_json(request)
        req = apitypes.decode_disconnect(await request.body())
        await self.backend.disconnect(request.match["id"], req.container, req.force)
        return OK

    async def prune(self, request: Request) -> Response:
        f = flt.parse(request.arg("filters"), PRUNE_FILTERS)
        deleted = await self.backend.prune(flt.prune_filter(f))
        return json_response({"NetworksDeleted": deleted or None})
