"""One repository of a registry: manifests, blobs and tags, for pull and push.

Pull:   resolve(tag) -> Descriptor (HEAD, GET for the error's words), get_manifest(digest)
        -> Manifest (verified), open_blob(descriptor) -> BlobStream (verified while it
        streams, resumed with a Range request after a dropped connection)
Push:   blob_exists (HEAD), mount_blob (POST ?mount=&from=), upload_blob (POST, then PUT
        ?digest= with the whole blob, or PATCH chunks with Content-Range first),
        put_manifest (PUT, returns the digest)
Tags:   list_tags (``n``/``last`` pages followed through the Link header)
"""

import hashlib
import json
import logging
from dataclasses import dataclass
from typing import BinaryIO, Iterable, Iterator
from urllib.parse import quote, urlencode, urljoin, urlsplit

import httpx

from ketch.errors import InvalidArgument
from ketch.oci.reference import Reference
from ketch.registry.client import apierror, manifest as mf
from ketch.registry.client.auth import AuthConfig, Scope
from ketch.registry.client.blobstream import BlobStream, Progress
from ketch.registry.client.manifest import Descriptor, Manifest
from ketch.registry.client.transport import Registry, Session

log = logging.getLogger(__name__)

CHUNK = 1 << 20
MAX_CONFIG_SIZE = 8 * 1024 * 1024  # fetch_blob's bound for small blobs (configs)


@dataclass(frozen=True)
class MountResult:
    mounted: bool
    upload_url: str | None = None  # the upload the registry opened instead (202)


class Repository:
    """``name`` is the path in the registry (``library/busybox``)."""

    def __init__(self, registry: Registry, name: str, push: bool = False) -> None:
        self.registry = registry
        self.name = name
        self.push = push

    @property
    def scopes(self) -> list[Scope]:
        return [Scope.repository(self.name, self.push)]

    def _path(self, kind: str, reference: str = "") -> str:
        return f"/v2/{self.name}/{kind}/{quote(reference, safe=':@')}" if reference else f"/v2/{self.name}/{kind}/"

    def _uploads(self) -> str:
        return f"/v2/{self.name}/blobs/uploads/"

    # -- manifests ---------------------------------------------------------------------
    def resolve(self, reference: str) -> Descriptor:
        """The descriptor a tag (or digest) points to: HEAD with Docker's Accept list,
        and a GET when HEAD gives no digest or fails (for the registry's error text)."""
        path = self._path("manifests", reference)
        headers = {"Accept": ", ".join(mf.ACCEPT)}
        response = self.registry.request("HEAD", path, self.scopes, headers=headers, ok=tuple(range(200, 600)))
        digest = response.headers.get("docker-content-digest", "")
        if 200 <= response.status_code < 300 and digest:
            return Descriptor(response.headers.get("content-type", "").split(";")[0].strip(),
                              mf.check_digest(digest), int(response.headers.get("content-length", "0") or 0))
        fetched = self.get_manifest(reference)
        return Descriptor(fetched.media_type, fetched.digest, len(fetched.raw))

    def get_manifest(self, reference: str, expected: Descriptor | None = None) -> Manifest:
        """The manifest of a tag or digest, parsed and checked: bounded to 4 MiB, its
        digest verified when asked by digest (and against Docker-Content-Digest)."""
        path = self._path("manifests", reference)
        headers = {"Accept": ", ".join(mf.ACCEPT)}
        response = self.registry.request("GET", path, self.scopes, headers=headers, stream=True)
        try:
            declared = response.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > mf.MAX_MANIFEST_SIZE:
                raise mf.ManifestError(
                    f"manifest payload size of {declared} exceeds limit of {mf.MAX_MANIFEST_SIZE} bytes")
            raw = bytearray()
            for chunk in response.iter_bytes():
                raw += chunk
                if len(raw) > mf.MAX_MANIFEST_SIZE:
                    raise mf.ManifestError(
                        f"manifest payload size exceeds limit of {mf.MAX_MANIFEST_SIZE} bytes")
        finally:
            response.close()
        raw = bytes(raw)
        want = expected.digest if expected else (reference if ":" in reference else "")
        header = response.headers.get("docker-content-digest", "")
        for claimed in (want, header):
            if claimed:
                algorithm = claimed.partition(":")[0]
                if algorithm not in ("sha256", "sha384", "sha512"):
                    raise mf.ManifestError(f"unsupported digest algorithm: {algorithm}")
                if f"{algorithm}:{hashlib.new(algorithm, raw).hexdigest()}" != claimed:
                    raise mf.ManifestError(f"manifest verification failed for digest {want or claimed}")
        if expected and expected.size and len(raw) != expected.size:
            raise mf.ManifestError(f"manifest verification failed for digest {expected.digest}")
        media_type, document = mf.parse(raw, response.headers.get("content-type", ""))
        return Manifest(want or header or f"sha256:{hashlib.sha256(raw).hexdigest()}", media_type, raw, document)

    def put_manifest(self, reference: str, raw: bytes, media_type: str) -> str:
        """PUT a manifest under a tag (or its digest); returns its digest."""
        digest = f"sha256:{hashlib.sha256(raw).hexdigest()}"
        response = self.registry.request("PUT", self._path("manifests", reference), self.scopes,
                                         headers={"Content-Type": media_type}, content=raw, ok=(200, 201, 202))
        header = response.headers.get("docker-content-digest", "")
        if header and header.startswith("sha256:") and header != digest:
            raise apierror.RegistryInvalid(f"registry returned digest {header} for a manifest of digest {digest}")
        return digest

    # -- blobs: pull --------------------------------------------------------------------
    def open_blob(self, descriptor: Descriptor, what: str = "filesystem layer",
                  on_progress: Progress | None = None) -> BlobStream:
        """The blob's bytes, verified as they stream (see BlobStream)."""
        return BlobStream(self.registry, self._path("blobs", descriptor.digest), self.scopes,
                          descriptor, what, on_progress)

    def fetch_blob(self, descriptor: Descriptor, what: str = "image config") -> bytes:
        """A small blob (a config) whole, verified; bounded to MAX_CONFIG_SIZE."""
        if descriptor.size > MAX_CONFIG_SIZE:
            raise InvalidArgument(f"{what} of {descriptor.size} bytes is too large")
        with self.open_blob(descriptor, what) as stream:
            return b"".join(stream)

    # -- blobs: push --------------------------------------------------------------------
    def blob_exists(self, digest: str) -> int | None:
        """HEAD the blob: its size when the registry has it, else None."""
        response = self.registry.request("HEAD", self._path("blobs", digest), self.scopes, ok=(200, 404))
        if response.status_code == 404:
            return None
        return int(response.headers.get("content-length", "0") or 0)

    def mount_blob(self, digest: str, from_repository: str) -> MountResult:
        """Cross-repository mount (POST ?mount=&from=): 201 mounted; 202 an upload opened
        instead (the registry could not mount), which upload_blob can use."""
        scopes = self.scopes + [Scope.repository(from_repository)]
        query = urlencode({"mount": digest, "from": from_repository})
        response = self.registry.request("POST", self._uploads() + "?" + query, scopes,
                                         ok=(201, 202))
        if response.status_code == 201:
            return MountResult(True)
        return MountResult(False, self._location(response))

    def upload_blob(self, digest: str, size: int, data: bytes | BinaryIO | Iterable[bytes],
                    chunk_size: int | None = None, on_progress: Progress | None = None,
                    upload_url: str | None = None) -> None:
        """Upload a blob: POST (or an upload ``upload_url`` already opened), then either
        one PUT ?digest= carrying it all, or PATCH chunks of ``chunk_size`` bytes with
        Content-Range and an empty PUT ?digest= to close."""
        location = upload_url or self._start_upload()
        source = _Source(data)
        headers = {"Content-Type": "application/octet-stream"}
        if chunk_size:
            while source.sent < size:
                start = source.sent
                body = source.read(min(chunk_size, size - start))
                if not body:
                    break
                response = self.registry.request(
                    "PATCH", location, self._push_scopes(), content=body, ok=(202, 204),
                    headers={**headers, "Content-Range": f"{start}-{start + len(body) - 1}",
                             "Content-Length": str(len(body))})
                location = self._location(response)
                if on_progress:
                    on_progress(source.sent)
            content: bytes | Iterator[bytes] = b""
            headers["Content-Length"] = "0"
        else:
            content = source.stream(size, on_progress)
            headers["Content-Length"] = str(size)
        if source.sent > size or (chunk_size and source.sent != size):
            raise InvalidArgument(f"blob {digest}: {source.sent} bytes to send, {size} declared")
        self.registry.request("PUT", _with_digest(location, digest), self._push_scopes(),
                              headers=headers, content=content, ok=(201, 204))
        if source.sent != size:
            raise InvalidArgument(f"blob {digest}: {source.sent} bytes sent, {size} declared")

    def _push_scopes(self) -> list[Scope]:
        return [Scope.repository(self.name, True)]

    def _start_upload(self) -> str:
        response = self.registry.request("POST", self._uploads(), self._push_scopes(), ok=(202,))
        return self._location(response)

    def _location(self, response: httpx.Response) -> str:
        location = response.headers.get("location")
        if not location:
            raise apierror.RegistryUnavailable("registry did not return an upload location")
        return urljoin(str(response.request.url), location)

    # -- tags ---------------------------------------------------------------------------
    def list_tags(self, page_size: int | None = None) -> list[str]:
        """Every tag, page by page (``n``, then the ``last`` of each Link header)."""
        url = self._path("tags", "list") + (f"?n={page_size}" if page_size else "")
        out: list[str] = []
        for _ in range(100000):
            response = self.registry.request("GET", url, self.scopes)
            try:
                doc = response.json()
            except ValueError:
                raise apierror.RegistryUnavailable("invalid tags list from registry") from None
            tags = doc.get("tags") if isinstance(doc, dict) else None
            out += [t for t in tags or [] if isinstance(t, str)]
            nxt = _next_link(response.headers.get("link", ""))
            if not nxt:
                return out
            url = urljoin(str(response.request.url), nxt)
        return out


def _with_digest(location: str, digest: str) -> str:
    return location + ("&" if urlsplit(location).query else "?") + urlencode({"digest": digest})


def _next_link(header: str) -> str:
    """The target of ``<url>; rel="next"`` in a Link header."""
    for part in header.split(","):
        url, _, params = part.partition(";")
        url = url.strip()
        if url.startswith("<") and url.endswith(">") and 'rel="next"' in params.replace(" ", "").replace("'", '"') \
                or "rel=next" in params.replace(" ", ""):
            return url.strip("<>")
    return ""


class _Source:
    """Bytes, a file or an iterable of bytes, read in pieces of any size (without
    copying what is left: a 200 MB blob is sliced, not copied, per piece)."""

    def __init__(self, data: bytes | BinaryIO | Iterable[bytes]) -> None:
        if isinstance(data, (bytes, bytearray, memoryview)):
            data = [memoryview(data)]
        self._file = data if hasattr(data, "read") else None
        self._iter = None if self._file else iter(data)
        self._pending = memoryview(b"")
        self.sent = 0

    def _more(self, n: int) -> memoryview:
        if self._file is not None:
            return memoryview(self._file.read(n))
        return memoryview(next(self._iter, b""))

    def read(self, n: int) -> bytes:
        """Up to ``n`` bytes; fewer only at the end."""
        parts, have = [], 0
        while have < n:
            if not self._pending:
                self._pending = self._more(min(CHUNK, n - have))
                if not self._pending:
                    break
            take = self._pending[:n - have]
            self._pending = self._pending[len(take):]
            parts.append(take)
            have += len(take)
        self.sent += have
        return parts[0].tobytes() if len(parts) == 1 else b"".join(parts)

    def stream(self, size: int, on_progress: Progress | None) -> Iterator[bytes]:
        # one byte past the size tells a source longer than declared
        while self.sent <= size:
            piece = self.read(min(CHUNK, size + 1 - self.sent))
            if not piece:
                return
            if self.sent > size:
                raise InvalidArgument(f"blob is longer than its declared {size} bytes")
            yield piece
            if on_progress:
                on_progress(self.sent)


# -- opening a repository ---------------------------------------------------------------
def open_repository(session: Session, ref: Reference, auth: AuthConfig = AuthConfig(),
                    push: bool = False) -> Repository:
    """The repository of ``ref`` on the first endpoint of its registry that answers.

    For docker.io pulls, a registry mirror that fails or lacks the reference is passed
    over for the next mirror and then Docker Hub itself, as dockerd falls back.
    """
    from ketch.registry.client import endpoints

    last: Exception | None = None
    for endpoint in endpoints.resolve(ref.domain, session.options, push=push):
        registry = Registry(session, endpoint, auth)
        try:
            registry.ping()
            repository = Repository(registry, ref.path, push)
            if endpoint.mirror:
                repository.resolve(ref.digest or ref.tag or "latest")
            return repository
        except (apierror.ConnectionFailed, apierror.RegistryError) as exc:
            log.debug("registry endpoint %s: %s", endpoint.url, exc)
            last = exc
    assert last is not None
    raise last


def manifest_json(media_type: str, config: Descriptor, layers: list[Descriptor]) -> bytes:
    """The bytes of an image manifest (schema 2 or OCI) for push."""
    doc = {"schemaVersion": 2, "mediaType": media_type, "config": config.to_dict(),
           "layers": [layer.to_dict() for layer in layers]}
    return json.dumps(doc, indent=3).encode()
