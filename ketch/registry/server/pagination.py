"""``n``/``last`` pagination of tags/list and _catalog, and the Link header to the next page
(distribution's createLinkEntry: the same path, query ``last=...&n=...``)."""

from __future__ import annotations

import bisect
from urllib.parse import urlencode

from ketch.registry.server import errcodes
from ketch.registry.server.errcodes import RegistryError


def parse_n(value: str | None, default: int | None, maximum: int) -> int | None:
    """The page size asked for; default when absent. Not a number, negative or over
    maximum is PAGINATION_NUMBER_INVALID, as distribution answers."""
    if value is None or value == "":
        return default
    try:
        n = int(value, 10)
    except ValueError:
        n = -1
    if n < 0 or n > maximum:
        raise RegistryError(errcodes.PAGINATION_NUMBER_INVALID, {"n": value})
    return n


def page(items: list[str], n: int | None, last: str | None) -> tuple[list[str], bool]:
    """The sorted items after last, at most n of them (all if n is None), and whether more follow."""
    start = bisect.bisect_right(items, last) if last else 0
    rest = items[start:]
    if n is None:
        return rest, False
    return rest[:n], len(rest) > n


def link(path: str, n: int, last: str) -> str:
    return f'<{path}?{urlencode({"last": last, "n": n})}>; rel="next"'
