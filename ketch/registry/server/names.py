"""Repository names, tags and digests as distribution's reference grammar has them."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

NAME_MAX = 255
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*"
NAME = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
TAG = re.compile(r"[\w][\w.-]{0,127}")
DIGEST = re.compile(r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+")
# the algorithms distribution verifies, and the length of their hex encoding
ALGORITHMS = {"sha256": 64, "sha384": 96, "sha512": 128}


class InvalidDigest(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Digest:
    algorithm: str
    hex: str

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"

    def hasher(self):
        return hashlib.new(self.algorithm)

    @classmethod
    def parse(cls, text: str) -> Digest:
        """A digest of an algorithm we can verify; InvalidDigest otherwise."""
        algorithm, sep, encoded = text.partition(":")
        if not sep or DIGEST.fullmatch(text) is None:
            raise InvalidDigest(f"invalid checksum digest format: {text!r}")
        length = ALGORITHMS.get(algorithm)
        if length is None:
            raise InvalidDigest(f"unsupported digest algorithm: {text!r}")
        if len(encoded) != length or re.fullmatch("[a-f0-9]+", encoded) is None:
            raise InvalidDigest(f"invalid checksum digest length: {text!r}")
        return cls(algorithm, encoded)

    @classmethod
    def of(cls, data: bytes, algorithm: str = "sha256") -> Digest:
        return cls(algorithm, hashlib.new(algorithm, data).hexdigest())


def valid_name(name: str) -> bool:
    return len(name) <= NAME_MAX and NAME.fullmatch(name) is not None


def valid_tag(tag: str) -> bool:
    return TAG.fullmatch(tag) is not None
