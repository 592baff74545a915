"""Documented Engine API routes this ketch does not serve yet, answered as Docker answers
when the feature is inactive (swarm: 503 "not a swarm manager"; plugins: none installed),
or with 501 naming the route, never with a crash or a bare 404."""

from ketch.api.http import Request, Response, Router, json_response

NOT_MANAGER = ('This node is not a swarm manager. Use "docker swarm init" or '
               '"docker swarm join" to connect this node to swarm and try again.')
NOT_IN_SWARM = "This node is not part of a swarm"

SWARM_ROUTES = (
    "GET /swarm", "POST /swarm/init", "POST /swarm/join", "POST /swarm/update",
    "GET /swarm/unlockkey", "POST /swarm/unlock",
    "GET /nodes", "GET /nodes/{id}", "DELETE /nodes/{id}", "POST /nodes/{id}/update",
    "GET /services", "POST /services/create", "GET /services/{id}", "DELETE /services/{id}",
    "POST /services/{id}/update", "GET /services/{id}/logs", "GET /tasks", "GET /tasks/{id}",
    "GET /tasks/{id}/logs", "GET /secrets", "POST /secrets/create", "GET /secrets/{id}",
    "DELETE /secrets/{id}", "POST /secrets/{id}/update", "GET /configs", "POST /configs/create",
    "GET /configs/{id}", "DELETE /configs/{id}", "POST /configs/{id}/update",
)
NOT_YET_ROUTES = (
    "GET /containers/{id}/attach/ws",
    "POST /build",
    "GET /plugins/privileges", "POST /plugins/pull", "POST /plugins/{name}/enable", "POST /plugins/{name}/disable",
    "POST /plugins/{name}/upgrade", "POST /plugins/create", "POST /plugins/{name}/push",
    "POST /plugins/{name}/set", "GET /distribution/{name:.*}/json", "POST /session",
)
NETWORK_ROUTES_NOT_YET = ("POST /networks/create", "POST /networks/{id}/connect",
                          "POST /networks/{id}/disconnect")


def add_routes(router: Router, networks: bool = True, builds: bool = True) -> None:
    """Without a network backend no networks exist: lists are empty and lookups find nothing (so
    `docker inspect NAME`, which asks every object type in turn, ends in "No such object").
    ``networks=False``: the real /networks routes are installed, add none of these; the same
    for ``builds=False`` and /build."""
    async def no_networks(request: Request) -> Response:
        return json_response([])

    async def no_such_network(request: Request) -> Response:
        return json_response({"message": f"network {request.match['id']} not found"}, 404)

    if networks:
        router.add("GET", "/networks", no_networks)
        router.add("GET", "/networks/{id}", no_such_network)
        router.add("DELETE", "/networks/{id}", no_such_network)
    async def no_such_plugin(request: Request) -> Response:
        return json_response({"message": f'plugin "{request.match["name"]}" not found'}, 404)

    router.add("GET", "/plugins/{name}/json", no_such_plugin)
    router.add("DELETE", "/plugins/{name}", no_such_plugin)
    # nothing to prune: `system prune` asks each of them (docker CLI and ketch's)
    async def no_networks_pruned(request: Request) -> Response:
        return json_response({"NetworksDeleted": None})

    async def no_cache_pruned(request: Request) -> Response:
        return json_response({"CachesDeleted": None, "SpaceReclaimed": 0})

    if networks:
        router.add("POST", "/networks/prune", no_networks_pruned)
    if builds:
        router.add("POST", "/build/prune", no_cache_pruned)
    not_yet = tuple(r for r in NOT_YET_ROUTES if builds or r != "POST /build")
    _add_inactive(router, not_yet + (NETWORK_ROUTES_NOT_YET if networks else ()))


def _add_inactive(router: Router, not_yet_routes: tuple[str, ...]) -> None:
    async def not_manager(request: Request) -> Response:
        return json_response({"message": NOT_MANAGER}, 503)

    async def not_in_swarm(request: Request) -> Response:
        return json_response({"message": NOT_IN_SWARM}, 503)

    async def no_plugins(request: Request) -> Response:
        return json_response([])

    async def not_yet(request: Request) -> Response:
        return json_response({"message": f"{request.method} {request.path} is not implemented "
                                         "by this version of ketch"}, 501)

    for route in SWARM_ROUTES:
        method, pattern = route.split(" ", 1)
        router.add(method, pattern, not_manager)
    router.add("POST", "/swarm/leave", not_in_swarm)
    router.add("GET", "/plugins", no_plugins)
    for route in not_yet_routes:
        method, pattern = route.split(" ", 1)
        router.add(method, pattern, not_yet)
