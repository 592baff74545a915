"""Blob uploads: POST (a new session, a monolithic upload with ?digest=, a cross-repository
mount with ?mount=&from=), PATCH (a chunk, checked against Content-Range), PUT (the last
chunk and the digest), GET (status) and DELETE (cancel) of /v2/<name>/blobs/uploads/."""

from __future__ import annotations

import asyncio
import re

from ketch.httpserver import Request, Response
from ketch.registry.server import errcodes
from ketch.registry.server.context import Context, parse_digest
from ketch.registry.server.errcodes import RegistryError
from ketch.registry.server.names import Digest, valid_name

_CONTENT_RANGE = re.compile(r"(?:bytes[ =])?(\d+)-(\d+)")


def content_range(header: str) -> tuple[int, int]:
    match = _CONTENT_RANGE.fullmatch(header.strip())
    if match is None:
        raise RegistryError(errcodes.RANGE_INVALID, f"malformed Content-Range: {header}")
    return int(match.group(1)), int(match.group(2))


class UploadHandlers:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def install(self, route) -> None:
        route("POST", "/v2/{name:.+}/blobs/uploads/", self.start)
        route("GET", "/v2/{name:.+}/blobs/uploads/{upload}", self.status)
        route("PATCH", "/v2/{name:.+}/blobs/uploads/{upload}", self.patch)
        route("PUT", "/v2/{name:.+}/blobs/uploads/{upload}", self.finish)
        route("DELETE", "/v2/{name:.+}/blobs/uploads/{upload}", self.cancel)

    def _created(self, request: Request, name: str, digest: Digest) -> Response:
        return Response(201, b"", {"Location": self.ctx.url(request, f"/v2/{name}/blobs/{digest}"),
                                   "Docker-Content-Digest": str(digest)}, None)

    def _progress(self, request: Request, name: str, upload: str, status: int = 202) -> Response:
        size = self.ctx.store.upload_size(name, upload)
        return Response(status, b"", {
            "Location": self.ctx.url(request, f"/v2/{name}/blobs/uploads/{upload}"),
            "Range": f"0-{max(size - 1, 0)}", "Docker-Upload-UUID": upload}, None)

    async def _append(self, request: Request, name: str, upload: str) -> None:
        writer, hasher = self.ctx.store.upload_writer(name, upload)
        try:
            async for chunk in request.stream():
                writer.write(chunk)
                if hasher is not None:
                    hasher.update(chunk)
        finally:
            self.ctx.store.upload_written(upload, writer, hasher)

    async def _complete(self, request: Request, name: str, upload: str, digest: Digest) -> Response:
        await asyncio.to_thread(self.ctx.store.finish_upload, name, upload, digest)
        return self._created(request, name, digest)

    async def start(self, request: Request):
        store, name = self.ctx.store, request.match["name"]
        mount, source = request.arg("mount"), request.arg("from")
        if mount and source:
            digest = parse_digest(mount)
            if valid_name(source) and store.mount_blob(name, source, digest):
                return self._created(request, name, digest)
            # the source lacks it: an ordinary upload session, as distribution falls back
        digest_arg = request.arg("digest")
        if digest_arg is not None:  # monolithic: the whole blob in this request
            digest = parse_digest(digest_arg)
            upload = store.start_upload(name)
            await self._append(request, name, upload)
            return await self._complete(request, name, upload, digest)
        return self._progress(request, name, store.start_upload(name))

    async def status(self, request: Request):
        return self._progress(request, request.match["name"], request.match["upload"], 204)

    async def patch(self, request: Request):
        name, upload = request.match["name"], request.match["upload"]
        size = self.ctx.store.upload_size(name, upload)
        header = request.headers.get("content-range")
        if header:
            start, end = content_range(header)
            if start > end or start != size:
                raise RegistryError(errcodes.RANGE_INVALID, headers={
                    "Location": self.ctx.url(request, f"/v2/{name}/blobs/uploads/{upload}"),
                    "Range": f"0-{max(size - 1, 0)}", "Docker-Upload-UUID": upload})
            length = request.headers.get("content-length")
            if length is not None and length.isdigit() and int(length) != end - start + 1:
                raise RegistryError(errcodes.SIZE_INVALID)
        await self._append(request, name, upload)
        return self._progress(request, name, upload)

    async def finish(self, request: Request):
        name, upload = request.match["name"], request.match["upload"]
        digest = parse_digest(request.arg("digest"))
        self.ctx.store.upload_size(name, upload)  # BLOB_UPLOAD_UNKNOWN before reading a body
        await self._append(request, name, upload)
        return await self._complete(request, name, upload, digest)

    async def cancel(self, request: Request):
        self.ctx.store.cancel_upload(request.match["name"], request.match["upload"])
        return Response(204, b"", None, None)
