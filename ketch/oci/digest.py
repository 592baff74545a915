"""Content digests (``sha256:<hex>``) and canonical JSON, the way OCI content is addressed."""

import hashlib
import json
import re

from ketch.errors import InvalidArgument

ALGORITHM = "sha256"
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def of_bytes(data: bytes) -> str:
    return f"{ALGORITHM}:{hashlib.sha256(data).hexdigest()}"


def hexpart(digest: str) -> str:
    """The hex of a ``sha256:<hex>`` digest, validated (it becomes a file name)."""
    validate(digest)
    return digest.split(":", 1)[1]


def validate(digest: str) -> str:
    if not _DIGEST.fullmatch(digest):
        raise InvalidArgument(f"invalid digest {digest!r}")
    return digest


def canonical_json(doc: object) -> bytes:
    """Stable bytes for a JSON document: sorted keys, no insignificant whitespace.

    Digests of configs and manifests are taken over these bytes, so the same document
    always gets the same digest on every machine.
    """
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def chain_ids(diff_ids: list[str]) -> list[str]:
    """The OCI ChainID of each layer prefix: ChainID(n) = sha256(ChainID(n-1) + " " + DiffID(n))."""
    out: list[str] = []
    for diff_id in diff_ids:
        out.append(diff_id if not out else of_bytes(f"{out[-1]} {diff_id}".encode()))
    return out
