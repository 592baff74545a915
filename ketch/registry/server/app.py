"""The registry's HTTP application: every route on one Router, behind the guard that
checks the repository name and asks the access controller, and the error handler that
turns RegistryError into distribution's error body."""

from __future__ import annotations

import logging
import sys
import time
from typing import Callable, TextIO

from ketch.httpserver import BadRequest, Request, Response, Router, Server, encode_json, page_not_found
from ketch.registry.server import errcodes
from ketch.registry.server.auth import access
from ketch.registry.server.auth.access import AccessController, Challenge
from ketch.registry.server.context import Context
from ketch.registry.server.errcodes import RegistryError, error_response
from ketch.registry.server.handlers.blobs import BlobHandlers
from ketch.registry.server.handlers.listings import JSON, ListingHandlers
from ketch.registry.server.handlers.manifests import ManifestHandlers
from ketch.registry.server.handlers.uploads import UploadHandlers
from ketch.registry.server.names import NAME, valid_name

log = logging.getLogger("ketch.registry")

API_VERSION = {"Docker-Distribution-API-Version": "registry/2.0"}


def _error(request: Request | None, exc: BaseException) -> Response:
    if isinstance(exc, RegistryError):
        return error_response(exc, API_VERSION)
    if isinstance(exc, BadRequest):
        return Response(400, f"{exc}\n".encode())
    log.error("%s %s failed", request.method if request else "-", request.path if request else "-",
              exc_info=exc)
    return error_response(RegistryError(errcodes.UNKNOWN, str(exc) or type(exc).__name__), API_VERSION)


class AccessLog:
    """One line per request on a stream, in the combined log format distribution writes."""

    def __init__(self, stream: TextIO = sys.stderr) -> None:
        self.stream = stream

    def __call__(self, request: Request) -> None:
        stamp = time.strftime("%d/%b/%Y:%H:%M:%S %z")
        user = getattr(request, "user", "") or "-"
        line = (f'{request.remote.rpartition(":")[0] or "-"} - {user} [{stamp}] '
                f'"{request.method} {request.target} HTTP/{request.http_version}" {request.status} '
                f'{request.bytes_sent} "{request.headers.get("referer", "")}" '
                f'"{request.headers.get("user-agent", "")}"\n')
        try:
            self.stream.write(line)
            self.stream.flush()
        except (OSError, ValueError):
            pass


class RegistryRequest(Request):
    __slots__ = ("user",)

    def __init__(self, conn, event) -> None:
        super().__init__(conn, event)
        self.user = ""


class RegistryServer(Server):
    request_class = RegistryRequest


def build_server(ctx: Context, controller: AccessController,
                 access_log: Callable[[Request], None] | None = None) -> Server:
    router = Router()

    def authorize(request: RegistryRequest, records: tuple[access.Access, ...]) -> None:
        try:
            request.user = controller.authorize(request.headers, records)
        except Challenge as challenge:
            detail = [record.detail() for record in records] or None
            raise RegistryError(errcodes.UNAUTHORIZED, detail,
                                headers={"WWW-Authenticate": challenge.header}) from None

    def repository_route(method: str, pattern: str, handler) -> None:
        async def guarded(request: RegistryRequest):
            name = request.match["name"]
            if not NAME.fullmatch(name):  # distribution's route does not match it
                return page_not_found(request)
            if not valid_name(name):  # the grammar's, but too long
                raise RegistryError(errcodes.NAME_INVALID, name)
            mount_from = request.arg("from") if request.arg("mount") else None
            authorize(request, access.for_request(request.method, name, mount_from))
            return await handler(request)
        router.add(method, pattern, guarded)

    def registry_route(pattern: str, records: tuple[access.Access, ...], handler) -> None:
        async def guarded(request: RegistryRequest):
            authorize(request, records)
            return await handler(request)
        router.add("GET", pattern, guarded)

    async def version_check(request: Request):
        return Response(200, encode_json({}).strip(), None, JSON)

    listings = ListingHandlers(ctx)
    registry_route("/v2/", (), version_check)
    registry_route("/v2/_catalog", access.CATALOG, listings.catalog)
    registry_route("/v1/search", access.SEARCH, listings.search)
    UploadHandlers(ctx).install(repository_route)  # before blobs: uploads/<id> is no digest
    BlobHandlers(ctx).install(repository_route)
    ManifestHandlers(ctx).install(repository_route)
    listings.install(repository_route)
    return RegistryServer(router, _error, default_headers=API_VERSION, access_log=access_log,
                          max_body_size=4 << 20)
