"""``docker import URL``: the daemon fetches the rootfs tarball itself, as moby's
``remotecontext.GetWithStatusError`` does (a source without a scheme is ``http://``).

Opening fails before anything is streamed to the client, so each failure is an error
of the request with moby's words: a host that does not resolve is not found, a refused
connection a server error, an HTTP status of 400 or more ``failed to GET URL with status
404 Not Found: <body>`` mapped as moby maps it.
"""

import io
import socket
from dataclasses import dataclass
from typing import BinaryIO
from urllib.parse import urlsplit

import httpx

from ketch import errors

TIMEOUT = httpx.Timeout(30.0, read=300.0)
_MAX_ERROR_BODY = 64 << 10


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
    client = httpx.Client(timeout=TIMEOUT, follow_redirects=True, trust_env=False)
    try:
        response = client.send(client.build_request("GET", url), stream=True)
    except httpx.ConnectError as exc:
        client.close()
        cause = exc.__context__ or exc.__cause__
        if isinstance(cause, socket.gaierror) or "Name or service not known" in str(exc):
            raise errors.NotFound(f'Get "{url}": dial tcp: lookup {parts.hostname}: no such host') from None
        raise errors.Internal(f'Get "{url}": dial tcp {parts.netloc}: connect: {_reason(exc)}') from None
    except httpx.HTTPError as exc:
        client.close()
        raise errors.Internal(f'Get "{url}": {exc}') from None
    if response.status_code >= 400:
        body = b""
        try:
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > _MAX_ERROR_BODY:
                    break
        except httpx.HTTPError:
            pass
        finally:
            response.close()
            client.close()
        status = f"{response.status_code} {response.reason_phrase}"
        message = f"failed to GET {url} with status {status}: {body.strip().decode(errors='replace')}"
        kind = {404: errors.NotFound, 400: errors.InvalidArgument,
                403: errors.PermissionDenied}.get(response.status_code, errors.Internal)
        raise kind(message)
    length = int(response.headers.get("content-length", "-1") or -1)
    return Download(url, length, io.BufferedReader(_Body(response), 1 << 20), client, response)


def _reason(exc: Exception) -> str:
    text = str(exc)
    if "Connection refused" in text or "[Errno 111]" in text:
        return "connection refused"
    return text.lower() or type(exc).__name__
