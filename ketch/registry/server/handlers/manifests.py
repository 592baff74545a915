"""GET/HEAD, PUT and DELETE of /v2/<name>/manifests/<tag or digest>."""

from __future__ import annotations

from ketch.httpserver import BadRequest, Request, Response
from ketch.registry.server import errcodes, manifests
from ketch.registry.server.context import Context, parse_digest
from ketch.registry.server.errcodes import RegistryError
from ketch.registry.server.names import Digest, valid_tag


def _reference(reference: str) -> tuple[Digest | None, str | None]:
    """(digest, None) or (None, tag)."""
    if ":" in reference:
        return parse_digest(reference), None
    if not valid_tag(reference):
        raise RegistryError(errcodes.TAG_INVALID, f"invalid tag: {reference}")
    return None, reference


def missing_references(manifest: manifests.Manifest, store, name: str) -> list[Digest]:
    """What the manifest references that this repository lacks: blobs of an image (foreign
    layers aside), manifests of an index."""
    missing = []
    for blob in manifest.blobs:
        if blob.foreign:
            continue
        try:
            store.stat_blob(name, blob.digest)
        except RegistryError:
            missing.append(blob.digest)
    missing += [child.digest for child in manifest.manifests if not store.has_manifest(name, child.digest)]
    return missing


class ManifestHandlers:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def install(self, route) -> None:
        route("GET", "/v2/{name:.+}/manifests/{reference}", self.get)
        route("PUT", "/v2/{name:.+}/manifests/{reference}", self.put)
        route("DELETE", "/v2/{name:.+}/manifests/{reference}", self.delete)

    async def get(self, request: Request):
        store, name = self.ctx.store, request.match["name"]
        _reference(request.match["reference"])
        digest = store.resolve(name, request.match["reference"])
        data = store.read_blob(digest)
        etag = f'"{digest}"'
        headers = {"Docker-Content-Digest": str(digest), "ETag": etag}
        media_type = manifests.stored_media_type(data)
        if request.headers.get("if-none-match") == etag:
            return Response(304, b"", headers, None)
        return Response(200, data, headers, media_type)

    async def put(self, request: Request):
        store, name = self.ctx.store, request.match["name"]
        digest, tag = _reference(request.match["reference"])
        try:
            data = await request.body(limit=manifests.MAX_SIZE)
        except BadRequest as exc:
            raise RegistryError(errcodes.MANIFEST_INVALID, str(exc)) from None
        actual = Digest.of(data, digest.algorithm if digest else "sha256")
        if digest is not None and actual != digest:
            raise RegistryError(errcodes.DIGEST_INVALID, f"manifest digest is {actual}, not {digest}")
        try:
            manifest = manifests.parse(request.headers.get("content-type"), data, actual)
        except manifests.ManifestInvalid as exc:
            raise RegistryError(errcodes.MANIFEST_INVALID, str(exc)) from None
        missing = missing_references(manifest, store, name)
        if missing:
            raise RegistryError(errcodes.MANIFEST_BLOB_UNKNOWN, str(missing[0]),
                                more=tuple((errcodes.MANIFEST_BLOB_UNKNOWN, str(d)) for d in missing[1:]))
        store.put_manifest(name, actual, data, tag)
        return Response(201, b"", {"Location": self.ctx.url(request, f"/v2/{name}/manifests/{actual}"),
                                   "Docker-Content-Digest": str(actual)}, None)

    async def delete(self, request: Request):
        self.ctx.check_delete()
        name = request.match["name"]
        digest, tag = _reference(request.match["reference"])
        if digest is not None:
            self.ctx.store.delete_manifest(name, digest)
        else:
            self.ctx.store.delete_tag(name, tag)
        return Response(202, b"", None, None)
