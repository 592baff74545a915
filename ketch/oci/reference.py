"""Image references: parse, normalize and print them as Docker does.

``busybox`` is ``docker.io/library/busybox:latest`` in full and ``busybox:latest`` in
the familiar form that ``docker images`` and the API's ``RepoTags`` show. The grammar is
distribution's (github.com/distribution/reference).
"""

import re
from dataclasses import dataclass

from ketch.errors import InvalidArgument

DEFAULT_DOMAIN = "docker.io"
OFFICIAL_PREFIX = "library/"
DEFAULT_TAG = "latest"

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])"
_DOMAIN = rf"{_HOST}(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"

# re.ASCII: Go's \w (RE2) is ASCII-only, Python's is not.
_REFERENCE = re.compile(
    rf"(?P<name>(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*)"
    rf"(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?", re.ASCII
)
_ANCHORED_ID = re.compile(r"[a-f0-9]{64}")
_DIGEST_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}
NAME_TOTAL_LENGTH_MAX = 255


@dataclass(frozen=True)
class Reference:
    domain: str
    path: str  # "library/busybox"
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        """Fully qualified repository name: ``docker.io/library/busybox``."""
        return f"{self.domain}/{self.path}"

    @property
    def familiar_name(self) -> str:
        """Repository name as Docker prints it: ``busybox``, ``user/app``, ``host:5000/app``."""
        if self.domain == DEFAULT_DOMAIN:
            path = self.path
            if path.startswith(OFFICIAL_PREFIX) and path.count("/") == 1:
                path = path[len(OFFICIAL_PREFIX):]
            return path
        return self.name

    def __str__(self) -> str:
        out = self.name
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out

    @property
    def familiar(self) -> str:
        out = self.familiar_name
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out

    def with_tag(self, tag: str) -> "Reference":
        return Reference(self.domain, self.path, tag, None)


def _split_domain(name: str) -> tuple[str, str]:
    first, sep, rest = name.partition("/")
    if not sep or ("." not in first and ":" not in first and first != "localhost"
                   and first.lower() == first):
        domain, path = DEFAULT_DOMAIN, name
    else:
        domain, path = first, rest
    if domain == "index.docker.io":
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in path:
        path = OFFICIAL_PREFIX + path
    return domain, path


def _check_digest(digest: str) -> None:
    algorithm, _, hexpart = digest.partition(":")
    if algorithm not in _DIGEST_LENGTHS:
        raise InvalidArgument("unsupported digest algorithm")
    if len(hexpart) != _DIGEST_LENGTHS[algorithm]:
        raise InvalidArgument("invalid checksum digest length")


def parse(text: str, default_tag: bool = True) -> Reference:
    """Parse a reference the user typed; adds ``:latest`` when it has neither tag nor digest.

    The order of checks is distribution's ParseNormalizedNamed, so errors are its errors.
    """
    if not text:
        raise InvalidArgument("invalid reference format")
    if _ANCHORED_ID.fullmatch(text):
        raise InvalidArgument(
            f"invalid repository name ({text}), cannot specify 64-byte hexadecimal strings"
        )
    domain, remainder = _split_domain(text)
    remote = remainder.split(":", 1)[0]
    if remote.lower() != remote:
        raise InvalidArgument(f"invalid reference format: repository name ({remote}) must be lowercase")
    match = _REFERENCE.fullmatch(f"{domain}/{remainder}")
    if not match:
        raise InvalidArgument("invalid reference format")
    path = match.group("name")[len(domain) + 1:]
    if len(path) > NAME_TOTAL_LENGTH_MAX:
        raise InvalidArgument("repository name must not be more than 255 characters")
    tag, digest = match.group("tag"), match.group("digest")
    if digest:
        _check_digest(digest)
    if default_tag and not tag and not digest:
        tag = DEFAULT_TAG
    return Reference(domain, path, tag, digest)


def check_lowercase_v27(text: str) -> None:
    """dockerd 20.10's check (distribution v2.7): the first component is a registry only
    with a "." or ":" or as "localhost", so ``UPPER/x`` is a Docker Hub name and refused
    (the newer ``parse`` takes UPPER for a host); its text names no repository."""
    first, sep, rest = text.partition("/")
    remainder = rest if sep and (first == "localhost" or any(c in first for c in ".:")) else text
    remote = remainder.split(":", 1)[0]
    if remote.lower() != remote:
        raise InvalidArgument("invalid reference format: repository name must be lowercase")


def is_valid_tag(tag: str) -> bool:
    return re.fullmatch(_TAG, tag, re.ASCII) is not None


def familiar_match(pattern: str, ref: Reference) -> bool:
    """distribution's FamiliarMatch: ``pattern`` (Go's path.Match) against the familiar
    reference, else its familiar repository name (``busy*`` matches ``busybox:latest``)."""
    from ketch.oci import pathmatch
    return pathmatch.match(pattern, ref.familiar) or pathmatch.match(pattern, ref.familiar_name)


def is_digest(text: str) -> bool:
    """go-digest's Parse succeeds: ``sha256:`` and 64 lower-case hex digits (or sha384/512)."""
    algorithm, sep, hexpart = text.partition(":")
    return (bool(sep) and len(hexpart) == _DIGEST_LENGTHS.get(algorithm, -1)
            and all(c in "0123456789abcdef" for c in hexpart))


def check_any(text: str) -> None:
    """distribution's ParseAnyReference: an image id (bare or as a digest) or a name."""
    if not (_ANCHORED_ID.fullmatch(text) or is_digest(text)):
        parse(text, default_tag=False)
