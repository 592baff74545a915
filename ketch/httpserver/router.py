"""Routing by method and path, gorilla/mux's way."""

from __future__ import annotations

import re
from typing import Awaitable, Callable, Union

from ketch.httpserver.request import Request
from ketch.httpserver.response import Response, StreamResponse

Handler = Callable[[Request], Awaitable[Union[Response, StreamResponse, None]]]
_PARAM = re.compile(r"\{(\w+)(?::([^{}]+))?\}")


class Router:
    """Routes by method and path; ``{id}`` matches one segment, ``{name:.*}`` any text.

    Patterns without parameters are found by dictionary and win over patterned
    ones, which are tried in the order added (gorilla/mux's rule). HEAD falls back
    to the GET route.
    """

    def __init__(self) -> None:
        self._static: dict[tuple[str, str], Handler] = {}
        self._patterned: dict[str, list[tuple[str, re.Pattern[str], Handler]]] = {}
        self._patterns: set[tuple[str, str]] = set()

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        method = method.upper()
        if not pattern.startswith("/"):
            raise ValueError(f"route pattern does not start with '/': {pattern!r}")
        if (method, pattern) in self._patterns:
            raise ValueError(f"route already added: {method} {pattern}")
        self._patterns.add((method, pattern))
        if "{" not in pattern:
            self._static[method, pattern] = handler
            return
        parts, end = [], 0
        for param in _PARAM.finditer(pattern):
            parts.append(re.escape(pattern[end:param.start()]))
            parts.append(f"(?P<{param.group(1)}>{param.group(2) or '[^/]+'})")
            end = param.end()
        parts.append(re.escape(pattern[end:]))
        prefix = pattern[:pattern.index("{")]  # cheap test before the regex
        self._patterned.setdefault(method, []).append((prefix, re.compile("".join(parts)), handler))

    def resolve(self, method: str, path: str) -> tuple[Handler, dict[str, str]] | None:
        found = self._resolve(method, path)
        if found is None and method == "HEAD":
            found = self._resolve("GET", path)
        return found

    def _resolve(self, method: str, path: str) -> tuple[Handler, dict[str, str]] | None:
        handler = self._static.get((method, path))
        if handler is not None:
            return handler, {}
        for prefix, regex, handler in self._patterned.get(method, ()):
            if path.startswith(prefix):
                match = regex.fullmatch(path)
                if match is not None:
                    return handler, match.groupdict()
        return None
