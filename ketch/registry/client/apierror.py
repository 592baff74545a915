"""A registry's errors as Docker words them.

An error response carries distribution's body ``{"errors": [{"code", "message",
"detail"}]}``; docker/distribution's client (``HandleErrorResponse``) turns it into
``<code in lower case>: <message>`` (``manifest unknown: manifest unknown``,
``unauthorized: authentication required``), and the daemon shows that text as it is.
A registry that cannot be reached is named with Go's ``url.Error`` wording:
``Get "https://HOST/v2/": dial tcp 127.0.0.1:5000: connect: connection refused``.
"""

import errno
import http
import json
import socket
import ssl

from ketch.errors import InvalidArgument, KetchError, NotFound, PermissionDenied, Unavailable
from ketch.registry.client.challenge import parse_challenges

# The codes docker/distribution registers (errcode + registry/api/v2); any other
# code a registry sends is "unknown", as ParseErrorCode makes it.
_CODES = {
    "BLOB_UNKNOWN": "blob unknown to registry",
    "BLOB_UPLOAD_INVALID": "blob upload invalid",
    "BLOB_UPLOAD_UNKNOWN": "blob upload unknown to registry",
    "DIGEST_INVALID": "provided digest did not match uploaded content",
    "MANIFEST_BLOB_UNKNOWN": "blob unknown to registry",
    "MANIFEST_INVALID": "manifest invalid",
    "MANIFEST_UNKNOWN": "manifest unknown",
    "MANIFEST_UNVERIFIED": "manifest failed signature verification",
    "NAME_INVALID": "invalid repository name",
    "NAME_UNKNOWN": "repository name not known to registry",
    "PAGINATION_NUMBER_INVALID": "invalid number of results requested",
    "RANGE_INVALID": "invalid content range",
    "SIZE_INVALID": "provided length did not match content length",
    "TAG_INVALID": "manifest tag did not match URI",
    "UNAUTHORIZED": "authentication required",
    "DENIED": "requested access to the resource is denied",
    "UNSUPPORTED": "The operation is unsupported.",
    "TOOMANYREQUESTS": "too many requests",
    "UNKNOWN": "unknown error",
}
_NOT_FOUND = {"BLOB_UNKNOWN", "MANIFEST_UNKNOWN", "NAME_UNKNOWN", "MANIFEST_BLOB_UNKNOWN",
              "BLOB_UPLOAD_UNKNOWN"}
_INVALID = {"BLOB_UPLOAD_INVALID", "DIGEST_INVALID", "MANIFEST_INVALID", "NAME_INVALID",
            "PAGINATION_NUMBER_INVALID", "RANGE_INVALID", "SIZE_INVALID", "TAG_INVALID",
            "MANIFEST_UNVERIFIED", "UNSUPPORTED"}


class RegistryError(KetchError):
    """An error response of a registry. ``codes`` are distribution's error codes
    (``MANIFEST_UNKNOWN``, ...; empty when the body had none), ``status`` the HTTP status."""

    def __init__(self, message: str, status: int = 0, codes: tuple[str, ...] = (),
                 texts: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.codes = codes
        self.texts = texts or (message,)  # each error's own ``code: message``


class RegistryUnauthorized(RegistryError, PermissionDenied):
    """401 / UNAUTHORIZED: credentials missing or refused (Docker's errdefs.Unauthorized)."""


class RegistryDenied(RegistryError, PermissionDenied):
    """DENIED: authenticated, but not allowed."""


class RegistryNotFound(RegistryError, NotFound):
    """MANIFEST_UNKNOWN, BLOB_UNKNOWN, NAME_UNKNOWN or a bare 404."""


class RegistryInvalid(RegistryError, InvalidArgument):
    """The registry refused what it was sent (MANIFEST_INVALID, DIGEST_INVALID, ...)."""


class RegistryUnavailable(RegistryError, Unavailable):
    """5xx, TOOMANYREQUESTS, or an answer that is not the distribution API."""


class ConnectionFailed(Unavailable):
    """The registry could not be reached (or TLS failed); the message names the URL."""


def _code_text(code: str) -> str:
    return code.lower().replace("_", " ")


def _kind(status: int, codes: list[str]) -> type[RegistryError]:
    """The kind of the first error, the one moby's translatePullError looks at."""
    first = codes[0] if codes else ""
    if first == "UNAUTHORIZED" or (status == 401 and not codes):
        return RegistryUnauthorized
    if first == "DENIED":
        return RegistryDenied
    if first in _NOT_FOUND or (status == 404 and not codes):
        return RegistryNotFound
    if first in _INVALID:
        return RegistryInvalid
    if status in (400, 405, 413, 416):
        return RegistryInvalid
    return RegistryUnavailable


def _errcode(code: str, message: str) -> tuple[str, str]:
    code = code if code in _CODES else "UNKNOWN"
    return code, f"{_code_text(code)}: {message or _CODES[code]}"


def from_response(status: int, body: bytes, www_authenticate: list[str] | None = None) -> RegistryError:
    """The error of a response with ``status`` >= 400, worded as distribution's
    ``HandleErrorResponse`` words it."""
    if not 400 <= status < 500:
        phrase = status_phrase(status)
        return RegistryUnavailable(f"received unexpected HTTP status: {status} {phrase}".rstrip(), status)
    # RFC 6750 errors in a Bearer challenge come first
    for challenge in parse_challenges(www_authenticate or []):
        if challenge.scheme != "bearer":
            continue
        code = {"invalid_token": "UNAUTHORIZED", "insufficient_scope": "DENIED"}.get(
            challenge.params.get("error", ""))
        if code:
            code, text = _errcode(code, challenge.params.get("error_description", ""))
            body_error = _parse_body(status, body)
            if isinstance(body_error, tuple) and body_error[0]:
                codes, texts = [code, *body_error[0]], [text, *body_error[1]]
                return _kind(status, codes)(_join(texts), status, tuple(codes), tuple(texts))
            return _kind(status, [code])(text, status, (code,))
    parsed = _parse_body(status, body)
    if isinstance(parsed, str):
        if status == 401:
            return RegistryUnauthorized("unauthorized: authentication required", status, ("UNAUTHORIZED",))
        return _kind(status, [])(parsed, status)
    codes, texts = parsed
    return _kind(status, codes)(_join(texts), status, tuple(codes), tuple(texts))


def _join(texts: list[str]) -> str:
    # errcode.Errors: one error prints alone, several as a list
    if len(texts) == 1:
        return texts[0]
    return "errors:\n" + "".join(t + "\n" for t in texts)


def _parse_body(status: int, body: bytes) -> tuple[list[str], list[str]] | str:
    """(codes, texts), or the text of an UnexpectedHTTPResponseError."""
    try:
        doc = json.loads(body)
    except ValueError as exc:
        return _unexpected(status, _go_json_error(body, exc), body)
    if isinstance(doc, dict) and isinstance(doc.get("details"), str) and doc["details"]:
        # the irregular {"details": "..."} some registries send
        code = {401: "UNAUTHORIZED", 429: "TOOMANYREQUESTS"}.get(status, "UNKNOWN")
        code, text = _errcode(code, doc["details"])
        return [code], [text]
    errors = doc.get("errors") if isinstance(doc, dict) else None
    if not isinstance(errors, list) or not errors:
        return _unexpected(status, "no error details found in HTTP response body", body)
    codes, texts = [], []
    for item in errors:
        item = item if isinstance(item, dict) else {}
        code, text = _errcode(str(item.get("code", "")), str(item.get("message") or ""))
        codes.append(code)
        texts.append(text)
    return codes, texts


def _unexpected(status: int, reason: str, body: bytes) -> str:
    return (f"error parsing HTTP {status} response body: {reason}: "
            f"{json.dumps(body.decode('utf-8', 'replace'))}")


def _go_json_error(body: bytes, exc: ValueError) -> str:
    """encoding/json's syntax error for what Python's decoder stopped at."""
    text = body.decode("utf-8", "replace")
    pos = getattr(exc, "pos", 0)
    if pos >= len(text.rstrip()):
        return "unexpected end of JSON input"
    where = "after top-level value" if getattr(exc, "msg", "") == "Extra data" else "looking for beginning of value"
    return f"invalid character {text[pos]!r} {where}"


def status_phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return ""


def translate_pull_error(exc: Exception, familiar_name: str, familiar_ref: str) -> Exception:
    """moby's translatePullError/notFoundError: a pull's registry error, worded by its
    first error (``busybox``, ``busybox:nope`` are the reference's familiar forms)."""
    if not isinstance(exc, RegistryError) or not exc.codes:
        return exc
    code, text = exc.codes[0], exc.texts[0]
    if code == "DENIED":
        return RegistryDenied(f"pull access denied for {familiar_name}, repository does not exist "
                              f"or may require 'docker login': {text}", exc.status, exc.codes, exc.texts)
    if code == "MANIFEST_UNKNOWN":
        return RegistryNotFound(f"manifest for {familiar_ref} not found: {text}", exc.status, exc.codes, exc.texts)
    if code == "NAME_UNKNOWN":
        return RegistryNotFound(f"repository {familiar_name} not found: {text}", exc.status, exc.codes, exc.texts)
    return exc


# -- connections -----------------------------------------------------------------------

def go_method(method: str) -> str:
    """Go's url.Error op: ``Get``, ``Head``, ``Put``."""
    return method[:1].upper() + method[1:].lower()


_ERRNO = {
    errno.ECONNREFUSED: "connect: connection refused",
    errno.ENETUNREACH: "connect: network is unreachable",
    errno.EHOSTUNREACH: "connect: no route to host",
    errno.ECONNRESET: "read: connection reset by peer",
    errno.ETIMEDOUT: "i/o timeout",
}


def connection_failed(method: str, url: str, host: str, port: int, exc: BaseException) -> ConnectionFailed:
    """``<Method> "<url>": <Go's net error>`` for an exception of connecting to host:port."""
    return ConnectionFailed(f'{go_method(method)} "{url}": {describe(host, port, exc)}')


def describe(host: str, port: int, exc: BaseException) -> str:
    """Go's wording of a failed dial or TLS handshake, as near as Python lets us know it."""
    cause = _root(exc)
    if isinstance(cause, ssl.SSLCertVerificationError):
        reason = cause.verify_message or str(cause)
        if "unable to get local issuer" in reason or "self-signed" in reason or "self signed" in reason:
            reason = "certificate signed by unknown authority"
        elif "Hostname mismatch" in reason or "IP address mismatch" in reason:
            reason = f"certificate is valid for other names, not {host}"
        elif "expired" in reason:
            reason = "certificate has expired or is not yet valid"
        return f"tls: failed to verify certificate: x509: {reason}"
    if isinstance(cause, ssl.SSLError):
        if "WRONG_VERSION_NUMBER" in str(cause) or "record layer failure" in str(cause):
            return "http: server gave HTTP response to HTTPS client"
        reason = (cause.reason or str(cause)).lower()
        for prefix in ("sslv3_alert_", "tlsv13_alert_", "tlsv1_alert_"):
            if reason.startswith(prefix):
                # the server's alert, as Go names it: "remote error: tls: bad certificate"
                return "remote error: tls: " + reason[len(prefix):].replace("_", " ")
        return f"tls: {reason.replace('_', ' ')}"
    if isinstance(cause, socket.gaierror):
        return f"dial tcp: lookup {host}: no such host"
    if isinstance(cause, (TimeoutError, socket.timeout)):
        return f"dial tcp {_addr(host, port)}: i/o timeout"
    if isinstance(cause, OSError) and cause.errno in _ERRNO:
        return f"dial tcp {_addr(host, port)}: {_ERRNO[cause.errno]}"
    text = str(cause) or type(cause).__name__
    if "Connection refused" in text:
        return f"dial tcp {_addr(host, port)}: connect: connection refused"
    if "Name or service not known" in text or "nodename nor servname" in text:
        return f"dial tcp: lookup {host}: no such host"
    return text


def _root(exc: BaseException) -> BaseException:
    seen = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        nxt = exc.__cause__ or exc.__context__
        if nxt is None:
            break
        exc = nxt
    # httpx wraps httpcore wraps OSError; the innermost is the socket's error, unless
    # the wrapper itself says what happened (its text names the errno)
    return exc


def _addr(host: str, port: int) -> str:
    """``IP:PORT`` as Go's dialer prints the address it tried ([v6]:port)."""
    try:
        ip = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][4][0]
    except OSError:
        ip = host
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"
