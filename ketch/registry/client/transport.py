"""HTTP to registries: a Session per process, a Registry per (endpoint, credentials).

A Session holds one httpx client per endpoint (keep-alive connections shared by all
threads) and the token cache. A Registry is one endpoint (``remote.open_repository``
walks a domain's endpoints and pings ``/v2/`` to find it). ``Registry.request`` sends
with the right Authorization, answers a 401 with a fresh token once, follows redirects
itself (so the Authorization header never leaves the registry's host: blob storage
behind a redirect sees none), and retries connection failures with backoff.
"""

import logging
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Iterable
from urllib.parse import urljoin, urlsplit

import httpcore._sync.http11
import httpx

from ketch import __version__
from ketch.oci.platform import host_arch
from ketch.registry.client import apierror, endpoints
from ketch.registry.client.auth import AuthConfig, Authorizer, Scope, TokenCache, TokenError
from ketch.registry.client.challenge import parse_challenges
from ketch.registry.client.endpoints import Endpoint, RegistryOptions

log = logging.getLogger(__name__)

USER_AGENT = f"ketch/{__version__} os/linux arch/{host_arch()}"  # dockerd's shape, without Go
# Blobs are hashed as they arrive: ask for them as they are stored, not gzip'd in transit
# (a Range resume of a transfer-encoded body would not fit either).
HEADERS = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
MAX_REDIRECTS = 10
TIMEOUT = httpx.Timeout(connect=15.0, read=60.0, write=60.0, pool=None)
# httpcore reads a response 64 KiB a time, and each piece goes through its, h11's and
# httpx's Python code before a layer's thread sees it: up to 1 MiB a read (what the
# socket holds) is a fraction of that per byte (a 200 MB pull: ~0.25 s less CPU). httpcore
# has no setting for it but this class attribute.
READ_SIZE = 1 << 20
httpcore._sync.http11.HTTP11Connection.READ_NUM_BYTES = max(
    httpcore._sync.http11.HTTP11Connection.READ_NUM_BYTES, READ_SIZE)
Content = bytes | Iterable[bytes] | None


@dataclass(frozen=True)
class Retry:
    """Connection failures are retried ``attempts`` times in all, waiting ``delay`` and
    then twice as long each time."""
    attempts: int = 3
    delay: float = 0.2


class Session:
    """Everything a process shares across registries. Thread-safe; close() at the end."""

    def __init__(self, options: RegistryOptions | None = None, retry: Retry = Retry(),
                 tokens: TokenCache | None = None) -> None:
        self.options = options or RegistryOptions()
        self.retry = retry
        self.tokens = tokens or TokenCache()
        self._clients: dict[tuple, httpx.Client] = {}
        self._lock = threading.Lock()

    def client(self, endpoint: Endpoint | None) -> httpx.Client:
        """The shared client of an endpoint (None: a client with only the system CAs,
        for foreign layer URLs)."""
        key = (endpoint.url, endpoint.verify, endpoint.certs) if endpoint else ("plain",)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                # the system's CAs (not certifi's bundle, httpx's default), as dockerd
                verify = endpoints.ssl_context(endpoint) if endpoint else ssl.create_default_context()
                client = httpx.Client(verify=verify, timeout=TIMEOUT, follow_redirects=False,
                                      headers=HEADERS, trust_env=False)
                self._clients[key] = client
            return client

    def close(self) -> None:
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _retryable(exc: httpx.TransportError) -> bool:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLError):
            return False  # a TLS failure does not heal by waiting
        cause = cause.__cause__ or cause.__context__
    return isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError,
                            httpx.ReadError, httpx.WriteError))


def _refused(exc: BaseException) -> bool:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError):
            return True
        cause = cause.__cause__ or cause.__context__
    return "Connection refused" in str(exc)


class Registry:
    """One registry endpoint with one set of credentials."""

    def __init__(self, session: Session, endpoint: Endpoint, auth: AuthConfig) -> None:
        self.session = session
        self.endpoint = endpoint
        self.client = session.client(endpoint)
        self.authorizer = Authorizer(auth, session.tokens, self._fetch_token)

    @property
    def url(self) -> str:
        return self.endpoint.url

    # -- the plain exchange -----------------------------------------------------------
    def _fetch_token(self, method: str, url: str, headers: dict[str, str],
                     form: dict[str, str] | None) -> tuple[int, dict[str, list[str]], bytes]:
        response = self.send(method, url, headers, data=form)
        return (response.status_code,
                {"www-authenticate": response.headers.get_list("www-authenticate")},
                response.content)

    def send(self, method: str, url: str, headers: dict[str, str], content: Content = None,
             data: dict[str, str] | None = None, stream: bool = False,
             retry_refused: bool = True) -> httpx.Response:
        """One HTTP exchange, retried on connection failures when the body can be sent
        again; a failure that stays is a ConnectionFailed naming the URL. A refused
        connection is final when ``retry_refused`` is False (the ping: nobody listens)."""
        replayable = content is None or isinstance(content, bytes)
        delay = self.session.retry.delay
        attempts = self.session.retry.attempts if replayable else 1
        for attempt in range(attempts):
            request = self.client.build_request(method, url, headers=headers, content=content, data=data)
            try:
                return self.client.send(request, stream=stream)
            except httpx.TransportError as exc:
                if attempt + 1 < attempts and _retryable(exc) and (retry_refused or not _refused(exc)):
                    log.debug("%s %s: %s; retrying in %.1fs", method, url, exc, delay)
                    time.sleep(delay)
                    delay *= 2
                    continue
                parts = urlsplit(url)
                port = parts.port or (443 if parts.scheme == "https" else 80)
                raise apierror.connection_failed(method, url, parts.hostname or "", port, exc) from exc
        raise AssertionError("unreachable")

    def _own(self, url: str) -> bool:
        """The registry's own scheme and host:port: the only URLs that get credentials."""
        parts, own = urlsplit(url), urlsplit(self.url)
        return parts.netloc == self.endpoint.host and parts.scheme == own.scheme

    # -- what the rest of the client uses --------------------------------------------
    def absolute(self, path_or_url: str) -> str:
        return urljoin(self.url + "/", path_or_url)

    def request(self, method: str, path_or_url: str, scopes: list[Scope] = (), *,
                headers: dict[str, str] | None = None, content: Content = None,
                stream: bool = False, ok: tuple[int, ...] = (200,)) -> httpx.Response:
        """Send to the registry, authorised for ``scopes``; a response whose status is
        not in ``ok`` raises the registry's error. Redirects are followed (Authorization
        only on the registry's own host). With ``stream`` the caller closes the response."""
        url = self.absolute(path_or_url)
        scopes = list(scopes)
        for auth_try in range(2):
            response = self._authorised(method, url, scopes, headers or {}, content, stream)
            if response.status_code != 401 or auth_try == 1:
                break
            challenges = parse_challenges(response.headers.get_list("www-authenticate"))
            retry_scopes = self.authorizer.retry_scopes(challenges, scopes,
                                                        response.request.headers.get("authorization"))
            if retry_scopes is None or not (content is None or isinstance(content, bytes)):
                break
            response.read()
            response.close()
            scopes = retry_scopes
        if response.status_code not in ok:
            body = response.read()
            response.close()
            raise apierror.from_response(response.status_code, body,
                                         response.headers.get_list("www-authenticate"))
        return response

    def _authorised(self, method: str, url: str, scopes: list[Scope], headers: dict[str, str],
                    content: Content, stream: bool) -> httpx.Response:
        for _ in range(MAX_REDIRECTS + 1):
            out = dict(headers)
            if self._own(url):
                try:
                    value = self.authorizer.header(scopes)
                except TokenError as exc:
                    raise token_failure(method, url, exc) from None
                if value:
                    out["Authorization"] = value
            response = self.send(method, url, out, content, stream=True)
            location = response.headers.get("location")
            if response.status_code in (301, 302, 303, 307, 308) and location:
                response.close()
                url = urljoin(url, location)
                if response.status_code == 303 or (response.status_code in (301, 302) and method == "POST"):
                    method, content = "GET", None
                continue
            if not stream:
                response.read()
            return response
        raise apierror.RegistryUnavailable(f'{apierror.go_method(method)} "{url}": stopped after {MAX_REDIRECTS} redirects')

    def ping(self) -> None:
        """``GET /v2/``: a 200, or a 401 whose challenges tell how to authenticate."""
        url = self.absolute("/v2/")
        response = self.send("GET", url, {}, retry_refused=False)
        if response.status_code == 401:
            self.authorizer.set_challenges(parse_challenges(response.headers.get_list("www-authenticate")))
            return
        if response.status_code == 200:
            return
        raise apierror.from_response(response.status_code, response.content)


def token_failure(method: str, url: str, exc: TokenError) -> apierror.RegistryError:
    """Docker's words for a refused token: ``Head "URL": unauthorized: ...``."""
    inner = exc.error
    kind = type(inner) if isinstance(inner, apierror.RegistryError) else apierror.RegistryUnauthorized
    prefix = f'{apierror.go_method(method)} "{url}": '
    return kind(prefix + str(inner), getattr(inner, "status", 401), getattr(inner, "codes", ()),
                tuple(prefix + t for t in getattr(inner, "texts", (str(inner),))))
