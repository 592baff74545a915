"""A blob's bytes from a registry, checked as they stream, resumed when cut.

    GET /v2/NAME/blobs/DIGEST ─▶ (redirect to storage, without credentials)
        ─▶ chunks ─▶ Verifier (size bound, digest) ─▶ caller
        connection dropped at N bytes ─▶ GET again with Range: bytes=N-
            206 from N: go on;  200: the server ignored Range, skip N bytes
"""

import logging
from typing import Callable, Iterator
from urllib.parse import urlsplit

import httpx

from ketch.errors import NotFound
from ketch.image.verify import VerificationFailed, Verifier
from ketch.registry.client import apierror
from ketch.registry.client.auth import Scope
from ketch.registry.client.manifest import Descriptor
from ketch.registry.client.transport import Registry

log = logging.getLogger(__name__)

MAX_RESUMES = 5
Progress = Callable[[int], None]  # bytes done so far


class BlobStream:
    """A blob's bytes as an iterator of chunks, checked against its descriptor as they
    pass; after the last chunk the digest has been verified (VerificationFailed else).

    A connection that drops midway is picked up where it stopped with
    ``Range: bytes=N-`` (up to MAX_RESUMES times). A foreign layer the registry lacks is
    fetched from its ``urls`` without credentials.
    """

    def __init__(self, registry: Registry, path: str, scopes: list[Scope], descriptor: Descriptor,
                 what: str = "filesystem layer", on_progress: Progress | None = None) -> None:
        self.registry = registry
        self.path = path
        self.scopes = scopes
        self.descriptor = descriptor
        self.verifier = Verifier(descriptor.digest, descriptor.size, what)
        self.on_progress = on_progress
        self.resumes = 0
        self._response: httpx.Response | None = None
        self._foreign_url: str | None = None

    @property
    def offset(self) -> int:
        return self.verifier.count

    def _open(self) -> httpx.Response:
        headers = {"Range": f"bytes={self.offset}-"} if self.offset else {}
        if self._foreign_url:
            return self._open_foreign(self._foreign_url, headers)
        try:
            return self.registry.request("GET", self.path, self.scopes, headers=headers,
                                         stream=True, ok=(200, 206))
        except (NotFound, apierror.ConnectionFailed):
            if not (self.descriptor.urls and not self.offset):
                raise
        last: Exception | None = None
        for url in self.descriptor.urls:
            if not url.startswith(("http://", "https://")):
                continue
            try:
                response = self._open_foreign(url, headers)
                self._foreign_url = url
                return response
            except (apierror.RegistryError, apierror.ConnectionFailed) as exc:
                last = exc
        raise last or NotFound(f"blob unknown: {self.descriptor.digest}")

    def _open_foreign(self, url: str, headers: dict[str, str]) -> httpx.Response:
        """A foreign URL: another host, so no credentials, only the system CAs."""
        client = self.registry.session.client(None)
        try:
            response = client.send(client.build_request("GET", url, headers=headers), stream=True,
                                   follow_redirects=True)
        except httpx.TransportError as exc:
            parts = urlsplit(url)
            raise apierror.connection_failed("GET", url, parts.hostname or "",
                                             parts.port or (443 if parts.scheme == "https" else 80), exc)
        if response.status_code not in (200, 206):
            body = response.read()
            response.close()
            raise apierror.from_response(response.status_code, body)
        return response

    def __iter__(self) -> Iterator[bytes]:
        while True:
            response = self._open()
            self._response = response
            skip = 0
            if self.offset:
                skip = self._resume_skip(response)
            try:
                # as received (a chunk size would buffer, and lose it on a drop), and
                # decoded should a server add a Content-Encoding despite "identity"
                for chunk in response.iter_bytes():
                    if skip:
                        cut = min(skip, len(chunk))
                        chunk, skip = chunk[cut:], skip - cut
                        if not chunk:
                            continue
                    self.verifier.update(chunk)
                    if self.on_progress:
                        self.on_progress(self.offset)
                    yield chunk
            except (httpx.ReadError, httpx.RemoteProtocolError, httpx.ReadTimeout) as exc:
                response.close()
                if self.resumes >= MAX_RESUMES:
                    url = str(response.request.url)
                    parts = urlsplit(url)
                    raise apierror.connection_failed("GET", url, parts.hostname or "", parts.port or 0, exc)
                self.resumes += 1
                log.info("blob %s: connection dropped at %d bytes (%s); resuming",
                         self.descriptor.digest, self.offset, exc)
                continue
            response.close()
            if self.offset < self.descriptor.size and self.resumes < MAX_RESUMES:
                # a clean end before the declared size: a truncating proxy; ask for the rest
                self.resumes += 1
                continue
            self.verifier.verify()
            return

    def _resume_skip(self, response: httpx.Response) -> int:
        """Bytes to drop from a resumed response: none for a 206 from our offset, all we
        have for a 200 (the server ignored Range)."""
        if response.status_code == 206:
            start = response.headers.get("content-range", "").removeprefix("bytes ").split("-")[0]
            if start.isdigit() and int(start) == self.offset:
                return 0
            response.close()
            raise VerificationFailed(f"registry answered a resume of {self.descriptor.digest} "
                                     f"at {self.offset} with range {start}")
        return self.offset

    def read(self) -> bytes:
        return b"".join(self)

    def close(self) -> None:
        if self._response is not None:
            self._response.close()

    def __enter__(self) -> "BlobStream":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
