"""What pull, push, login and search need of a registry: the narrow protocol the engine
sees, implemented over the registry client library by ``engine/images/registries.py``.

Every method blocks (network I/O): the engine calls them from worker threads. Errors
are ``ketch.errors`` kinds whose messages are Docker's (``manifest unknown``,
``unauthorized: ...``, the unreachable host named).
"""

from dataclasses import dataclass
from typing import BinaryIO, Callable, Protocol

from ketch.oci.reference import Reference


@dataclass(frozen=True)
class Manifest:
    digest: str
    media_type: str
    data: bytes


@dataclass(frozen=True)
class Credentials:
    """The API's AuthConfig (X-Registry-Auth, POST /auth)."""
    username: str = ""
    password: str = ""
    server_address: str = ""
    identity_token: str = ""
    registry_token: str = ""


class Repository(Protocol):
    def manifest(self, reference: str) -> Manifest:
        """By tag or digest, as the registry serves it (an index stays an index)."""

    def tags(self) -> list[str]: ...

    def open_blob(self, digest: str, size: int) -> BinaryIO:
        """A reader of the blob; it resumes a dropped connection where it stopped."""

    def blob_exists(self, digest: str) -> bool: ...

    def mount_blob(self, digest: str, from_repository: str) -> bool:
        """Cross-repository mount (``from_repository`` a path on the same registry)."""

    def upload_blob(self, digest: str, size: int, stream: BinaryIO,
                    on_bytes: Callable[[int], None] | None = None) -> None: ...

    def put_manifest(self, tag: str, manifest: Manifest) -> str:
        """Returns the digest the registry gives it."""


class Registries(Protocol):
    def repository(self, ref: Reference, auth: Credentials, push: bool = False) -> Repository: ...

    def login(self, auth: Credentials) -> str:
        """Check credentials; the identity token the registry returned, or ""."""

    def search(self, term: str, limit: int, auth: Credentials) -> list[dict]:
        """v1 search results: ``{"name", "description", "star_count", "is_official",
        "is_automated"}``."""
