"""moby's ``remotecontext.GetWithStatusError``: a GET whose failures are errors with
moby's words, for the builder's ``ADD <url>`` and remote contexts and for ``docker import
URL`` (moby's import uses the builder's function too).

A host that does not resolve is not found (``Get "URL": dial tcp: lookup HOST: no such
host``), a refused connection a server error, an HTTP status of 400 or more ``failed to GET
URL with status 404 Not Found: <body>`` (the body's first 64 KiB) mapped as moby maps it.
Redirects are followed, 10 at most as Go's client; the proxy settings of ketchd's
environment are not used.
"""

import socket
from urllib.parse import urlsplit

import httpx

from ketch import errors

_MAX_ERROR_BODY = 64 << 10
_STATUS_ERRORS = {404: errors.NotFound, 400: errors.InvalidArgument, 401: errors.PermissionDenied,
                  403: errors.PermissionDenied}


def client(timeout: httpx.Timeout, transport: httpx.HTTPTransport | None = None) -> httpx.Client:
    """A client as ``get`` wants one: redirects followed (10 at most), no proxy from the
    environment."""
    return httpx.Client(timeout=timeout, follow_redirects=True, max_redirects=10, trust_env=False,
                        transport=transport)


def get(url: str, timeout: httpx.Timeout, prefix: str = "",
        session: httpx.Client | None = None) -> tuple[httpx.Client, httpx.Response]:
    """Blocking: a streamed GET of ``url`` whose status is below 400; the caller closes
    the response and the client (``session``, else one of ``client(timeout)``; closed
    here on an error). ``prefix`` goes before every error's text."""
    parts = urlsplit(url)
    http = session if session is not None else client(timeout)
    try:
        response = http.send(http.build_request("GET", url), stream=True)
    except httpx.ConnectError as exc:
        http.close()
        causes = _causes(exc)
        if any(isinstance(c, socket.gaierror) for c in causes) or "Name or service not known" in str(exc):
            raise errors.NotFound(f'{prefix}Get "{url}": dial tcp: lookup {parts.hostname}: no such host') from None
        refused = any(isinstance(c, ConnectionRefusedError) for c in causes) or "[Errno 111]" in str(exc)
        reason = "connection refused" if refused else (str(exc).lower() or type(exc).__name__)
        raise errors.Internal(f'{prefix}Get "{url}": dial tcp {parts.netloc}: connect: {reason}') from None
    except httpx.HTTPError as exc:
        http.close()
        raise errors.Internal(f'{prefix}Get "{url}": {exc}') from None
    if response.status_code < 400:
        return http, response
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
        http.close()
    message = (f"{prefix}failed to GET {url} with status {response.status_code} {response.reason_phrase}: "
               f"{body.strip().decode(errors='replace')}")
    raise _STATUS_ERRORS.get(response.status_code, errors.Internal)(message)


def _causes(exc: BaseException) -> list[BaseException]:
    out = []
    while exc is not None and len(out) < 16:
        out.append(exc)
        exc = exc.__cause__ or exc.__context__
    return out
