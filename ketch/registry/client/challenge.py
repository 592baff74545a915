"""``WWW-Authenticate`` challenges (RFC 7235), as docker/distribution's challenge manager
reads them: a scheme in lower case and its parameters (keys in lower case)."""

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

_TSPECIALS = set('()<>@,;:\\"/[]?={} \t')


@dataclass(frozen=True)
class Challenge:
    scheme: str  # "bearer", "basic"
    params: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def realm(self) -> str:
        return self.params.get("realm", "")


def _token(text: str, i: int) -> tuple[str, int]:
    start = i
    while i < len(text) and text[i] not in _TSPECIALS:
        i += 1
    return text[start:i], i


def _spaces(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t":
        i += 1
    return i


def _quoted(text: str, i: int) -> tuple[str, int]:
    out = []
    i += 1  # the opening quote
    while i < len(text) and text[i] != '"':
        if text[i] == "\\" and i + 1 < len(text):
            i += 1
        out.append(text[i])
        i += 1
    return "".join(out), i + 1


def parse_challenges(values: list[str]) -> list[Challenge]:
    """Every challenge in the header values; malformed parameters end that challenge."""
    out = []
    for value in values:
        i = 0
        while i < len(value):
            i = _spaces(value, i)
            while i < len(value) and value[i] == ",":
                i = _spaces(value, i + 1)
            scheme, i = _token(value, i)
            if not scheme:
                break
            params: dict[str, str] = {}
            while True:
                j = _spaces(value, i)
                key, k = _token(value, j)
                k2 = _spaces(value, k)
                if not key or k2 >= len(value) or value[k2] != "=":
                    # not a parameter: the next challenge's scheme (or the end)
                    i = j
                    break
                k2 = _spaces(value, k2 + 1)
                if k2 < len(value) and value[k2] == '"':
                    val, i = _quoted(value, k2)
                else:
                    val, i = _token(value, k2)
                params[key.lower()] = val
                i = _spaces(value, i)
                if i < len(value) and value[i] == ",":
                    i += 1
                    continue
                break
            out.append(Challenge(scheme.lower(), MappingProxyType(params)))
    return out
