"""tags/list and _catalog (paginated with n/last and Link), and a search in Docker Hub's
v1 shape (GET /v1/search?q=&n=&page=) so `docker search HOST:PORT/term` finds repositories."""

from __future__ import annotations

from ketch.httpserver import Request, Response, encode_json
from ketch.registry.server import errcodes, pagination
from ketch.registry.server.context import Context
from ketch.registry.server.errcodes import RegistryError

JSON = "application/json; charset=utf-8"
CATALOG_DEFAULT = 100  # distribution's maximumReturnedEntries
SEARCH_DEFAULT, SEARCH_MAX = 25, 100  # Docker Hub's page size and its limit


def _int(value: str | None, default: int, low: int, high: int) -> int:
    try:
        number = int(value) if value else default
    except ValueError:
        number = default
    return min(max(number, low), high)


class ListingHandlers:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def install(self, route) -> None:
        route("GET", "/v2/{name:.+}/tags/list", self.tags)

    async def tags(self, request: Request):
        store, name = self.ctx.store, request.match["name"]
        if not store.repository_exists(name):
            raise RegistryError(errcodes.NAME_UNKNOWN, {"name": name})
        n = pagination.parse_n(request.arg("n"), None, 1 << 31)
        tags, more = pagination.page(sorted(store.tags(name)), n, request.arg("last"))
        headers = {"Link": pagination.link(request.path, n, tags[-1])} if more and tags else None
        return Response(200, encode_json({"name": name, "tags": tags}), headers, JSON)

    async def catalog(self, request: Request):
        n = pagination.parse_n(request.arg("n"), CATALOG_DEFAULT, self.ctx.catalog_max)
        names, more = pagination.page(self.ctx.store.repositories(), n, request.arg("last"))
        headers = {"Link": pagination.link(request.path, n, names[-1])} if more and names else None
        return Response(200, encode_json({"repositories": names}), headers, JSON)

    async def search(self, request: Request):
        query = request.arg("q") or ""
        n = _int(request.arg("n"), SEARCH_DEFAULT, 1, SEARCH_MAX)
        page = _int(request.arg("page"), 1, 1, 1 << 31)
        term = query.lower()
        found = [name for name in self.ctx.store.repositories() if term in name]
        results = [{"name": name, "description": "", "star_count": 0, "is_official": False,
                    "is_automated": False} for name in found[(page - 1) * n:page * n]]
        return Response(200, encode_json({
            "num_pages": (len(found) + n - 1) // n, "num_results": len(found), "page": page,
            "page_size": n, "query": query, "results": results}), None, "application/json")
