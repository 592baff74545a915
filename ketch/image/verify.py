"""Content checked while it streams: bytes are hashed and counted as they pass, more
than the declared size is refused at once (a hostile server cannot stream forever), and
the digest is compared at the end, before anything is kept."""

import hashlib

from ketch.errors import InvalidArgument

_ALGORITHMS = {"sha256", "sha384", "sha512"}


class VerificationFailed(InvalidArgument):
    """The content is not what its descriptor says (digest or size)."""


class Verifier:
    """Feed it every byte (``update``), then ``verify``. ``what`` names the content in
    the messages, as moby does: ``filesystem layer verification failed for digest ...``."""

    def __init__(self, digest: str, size: int | None = None, what: str = "filesystem layer") -> None:
        algorithm, _, _ = digest.partition(":")
        if algorithm not in _ALGORITHMS:
            raise InvalidArgument(f"unsupported digest algorithm: {algorithm}")
        self.digest = digest
        self.size = size
        self.what = what
        self.count = 0
        self._hash = hashlib.new(algorithm)

    def update(self, data: bytes) -> None:
        self.count += len(data)
        if self.size is not None and self.count > self.size:
            raise self._failed()
        self._hash.update(data)

    def copy(self) -> "Verifier":
        out = Verifier.__new__(Verifier)
        out.__dict__.update(self.__dict__)
        out._hash = self._hash.copy()
        return out

    @property
    def actual(self) -> str:
        return f"{self.digest.partition(':')[0]}:{self._hash.hexdigest()}"

    def verify(self) -> None:
        if (self.size is not None and self.count != self.size) or self.actual != self.digest:
            raise self._failed()

    def _failed(self) -> VerificationFailed:
        return VerificationFailed(f"{self.what} verification failed for digest {self.digest}")
