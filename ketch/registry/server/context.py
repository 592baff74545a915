"""What every handler shares: the store, the options that change answers, URLs to ourselves."""

from __future__ import annotations

from dataclasses import dataclass

from ketch.httpserver import Request
from ketch.registry.server import errcodes
from ketch.registry.server.errcodes import RegistryError
from ketch.registry.server.names import Digest, InvalidDigest
from ketch.registry.server.store import Store


@dataclass(frozen=True)
class Context:
    store: Store
    delete_enabled: bool = True
    relative_urls: bool = False  # distribution's http.relativeurls
    catalog_max: int = 1000  # distribution's catalog.maxentries

    def url(self, request: Request, path: str) -> str:
        """A Location: absolute, from the Host the client used (as distribution's URL
        builder), unless relative URLs are configured."""
        if self.relative_urls:
            return path
        scheme = request.headers.get("x-forwarded-proto") or ("https" if request.secure else "http")
        host = request.headers.get("x-forwarded-host") or request.headers.get("host") or "localhost"
        return f"{scheme}://{host}{path}"

    def check_delete(self) -> None:
        if not self.delete_enabled:
            raise RegistryError(errcodes.UNSUPPORTED)


def parse_digest(text: str | None, missing: str = "digest missing") -> Digest:
    """A digest from a path or query; DIGEST_INVALID if absent or malformed."""
    if not text:
        raise RegistryError(errcodes.DIGEST_INVALID, missing)
    try:
        return Digest.parse(text)
    except InvalidDigest as exc:
        raise RegistryError(errcodes.DIGEST_INVALID, str(exc)) from None
