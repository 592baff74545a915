"""``docker import URL``: the daemon fetches the rootfs tarball itself, as moby's
``remotecontext.GetWithStatusError`` does (a source without a scheme is ``http://``).

Opening fails before anything is streamed to the client, so each failure is an error
of the request with moby's words: a host that does not resolve is not found, a refused
connection a server error, an HTTP status of 400 or more ``failed to GET URL with status
404 Not Found: <body>`` mapped as moby maps it.
"""

import io
from dataclasses import dataclass
from typing import BinaryIO
from urllib.parse import urlsplit

import httpx

from ketch import errors
from ketch.build import urlget

TIMEOUT = httpx.Timeout(30.0, read=300.0)


class _Body(io.RawIOBase):
    """The response body as a file (decoded as Go's client decodes a gzip transfer)."""

    def __init__(self, response: httpx.Response) -> None:
        self._chunks = response.iter_bytes(1 << 20)
        self._buf = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._buf:
            try:
                self._buf = next(self._chunks)
            except StopIteration:
                return 0
            except httpx.HTTPError as exc:
                raise OSError(f"reading the source: {exc}") from exc
        n = min(len(buffer), len(self._buf))
        buffer[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


@dataclass
class Download:
    url: str
    length: int  # Content-Length, or -1 when the server gave none
    body: BinaryIO
    _client: httpx.Client
    _response: httpx.Response

    def close(self) -> None:
        self._response.close()
        self._client.close()


def normalise(source: str) -> str:
    return source if "://" in source else "http://" + source


def open_url(source: str) -> Download:
    """Blocking: GET ``source``; the caller reads ``body`` and closes the download."""
    url = normalise(source)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise errors.InvalidArgument(f'Get "{url}": unsupported protocol scheme "{parts.scheme}"')
    client, response = urlget.get(url, TIMEOUT)
    length = int(response.headers.get("content-length", "-1") or -1)
    return Download(url, length, io.BufferedReader(_Body(response), 1 << 20), client, response)
