"""/containers/{id}/archive: HEAD (stat), GET (a tar of a path), PUT (extract a tar),
as moby's ``router/container/copy.go``; the stat travels base64 in a header."""

from typing import AsyncIterator, Protocol

from ketch.api.http import Request, Response, Router, StreamResponse
from ketch.archive.pathstat import PathStat

STAT_HEADER = "X-Docker-Container-Path-Stat"


class ArchiveBackend(Protocol):
    async def stat_path(self, ref: str, path: str | None) -> PathStat: ...

    async def archive(self, ref: str, path: str | None) -> tuple[PathStat, AsyncIterator[bytes]]: ...

    async def extract(self, ref: str, path: str | None, chunks: AsyncIterator[bytes],
                      copy_uid_gid: bool, no_overwrite_dir_non_dir: bool) -> None: ...


class ArchiveRoutes:
    def __init__(self, backend: ArchiveBackend) -> None:
        self.backend = backend

    def install(self, router: Router) -> None:
        router.add("HEAD", "/containers/{id}/archive", self.head)
        router.add("GET", "/containers/{id}/archive", self.get)
        router.add("PUT", "/containers/{id}/archive", self.put)

    async def head(self, request: Request) -> Response:
        st = await self.backend.stat_path(request.match["id"], request.arg("path"))
        return Response(200, b"", {STAT_HEADER: st.header()}, None)

    async def get(self, request: Request) -> StreamResponse:
        st, chunks = await self.backend.archive(request.match["id"], request.arg("path"))
        resp = StreamResponse(200, {STAT_HEADER: st.header()}, content_type="application/x-tar")
        try:
            await resp.prepare(request)
            async for chunk in chunks:
                await resp.write(chunk)
            await resp.finish()
        finally:
            await chunks.aclose()
        return resp

    async def put(self, request: Request) -> Response:
        # moby: overwriting a directory with a non-directory is allowed unless the
        # client says noOverwriteDirNonDir=true.
        no_overwrite = request.flag("noOverwriteDirNonDir")
        await self.backend.extract(request.match["id"], request.arg("path"), request.stream(),
                                   request.flag("copyUIDGID"), no_overwrite)
        return Response(200, b"", None, None)
