"""GET/HEAD (with Range) and DELETE of /v2/<name>/blobs/<digest>."""

from __future__ import annotations

import re

from ketch.httpserver import Request, Response, StreamResponse
from ketch.registry.server.context import Context, parse_digest

_CHUNK = 1 << 20
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def byte_range(header: str | None, size: int) -> tuple[int, int] | None | bool:
    """(first, last) of a single Range as Go's ServeContent reads it; None to send it all
    (no header, or one we do not serve: several ranges); False if unsatisfiable."""
    if not header:
        return None
    match = _RANGE.fullmatch(header.strip())
    if match is None:
        return None if "," in header else False
    first, last = match.groups()
    if not first and not last:
        return False
    if not first:  # the last n bytes
        n = int(last)
        if n == 0:
            return False
        return max(0, size - n), size - 1
    start = int(first)
    if start >= size:
        return False
    end = min(int(last), size - 1) if last else size - 1
    if end < start:
        return False
    return start, end


class BlobHandlers:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def install(self, route) -> None:
        route("GET", "/v2/{name:.+}/blobs/{digest}", self.get)
        route("DELETE", "/v2/{name:.+}/blobs/{digest}", self.delete)

    async def get(self, request: Request):
        store = self.ctx.store
        digest = parse_digest(request.match["digest"])
        size = store.stat_blob(request.match["name"], digest)
        etag = f'"{digest}"'
        headers = {"Docker-Content-Digest": str(digest), "ETag": etag,
                   "Cache-Control": "max-age=31536000", "Accept-Ranges": "bytes"}
        if request.headers.get("if-none-match") == etag:
            return Response(304, b"", headers, None)
        wanted = byte_range(request.headers.get("range"), size)
        if wanted is False:
            headers["Content-Range"] = f"bytes */{size}"
            return Response(416, b"invalid range: failed to overlap\n", headers)
        status, start, end = (200, 0, size - 1) if wanted is None else (206, *wanted)
        if status == 206:
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        headers["Content-Length"] = str(end - start + 1)
        response = StreamResponse(status, headers, "application/octet-stream")
        await response.prepare(request)
        if request.method != "HEAD":
            left = end - start + 1
            with store.open_blob(digest, start) as f:
                while left > 0:
                    chunk = f.read(min(_CHUNK, left))
                    if not chunk:
                        raise OSError(f"blob {digest} is shorter than its size")
                    left -= len(chunk)
                    await response.write(chunk)
        await response.finish()
        return response

    async def delete(self, request: Request):
        self.ctx.check_delete()
        name, digest = request.match["name"], parse_digest(request.match["digest"])
        self.ctx.store.unlink_blob(name, digest)  # BLOB_UNKNOWN, no detail, as distribution's delete
        return Response(202, b"", None, None)
