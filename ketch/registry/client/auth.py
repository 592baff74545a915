"""Credentials and how they reach a registry: Basic, or Bearer tokens from the realm.

The flow is docker/distribution's client (registry/client/auth), as dockerd uses it:

    request ─▶ 401 + WWW-Authenticate: Bearer realm=R,service=S,scope=Q
            ─▶ token from R for (S, Q):
                 identity token given:  POST R  grant_type=refresh_token&refresh_token=..
                                              &service=S&scope=Q&client_id=docker
                 otherwise:             GET  R?service=S&scope=Q[&account=USER]
                                              with Basic USER:PASSWORD when given
            ─▶ the request again with Authorization: Bearer TOKEN

A token is cached per (realm, service, scopes, credentials) and reused until it expires
(``expires_in``, at least 60 s as distribution makes it). ``registrytoken`` is sent as
the Bearer token itself. Credentials go only to the registry's own host and to the realm
it names: the transport attaches Authorization only to URLs on the registry's host.
"""

import base64
import json
import threading
import time
from dataclasses import dataclass
from typing import Callable
from urllib.parse import urlencode

from ketch.errors import InvalidArgument
from ketch.registry.client import apierror
from ketch.registry.client.challenge import Challenge

MINIMUM_TOKEN_LIFETIME = 60  # seconds; distribution's minimumTokenLifetimeSeconds
CLIENT_ID = "docker"


@dataclass(frozen=True)
class AuthConfig:
    """Docker's AuthConfig, as the ``X-Registry-Auth`` header and ``config.json`` carry it."""
    username: str = ""
    password: str = ""
    identitytoken: str = ""   # an OAuth refresh token a previous login returned
    registrytoken: str = ""   # a Bearer token used as it is
    serveraddress: str = ""

    @property
    def empty(self) -> bool:
        return not (self.username or self.password or self.identitytoken or self.registrytoken)

    @classmethod
    def from_dict(cls, doc: dict) -> "AuthConfig":
        """Go's json decoding: keys match case-insensitively; ``auth`` (base64
        ``user:password``) fills username and password when they are absent."""
        lower = {str(k).lower(): v for k, v in doc.items() if isinstance(v, str)}
        username, password = lower.get("username", ""), lower.get("password", "")
        if lower.get("auth") and not (username or password):
            try:
                username, _, password = base64.b64decode(lower["auth"]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                raise InvalidArgument("invalid auth configuration file") from None
        return cls(username, password, lower.get("identitytoken", ""),
                   lower.get("registrytoken", ""), lower.get("serveraddress", ""))

    @classmethod
    def from_header(cls, value: str) -> "AuthConfig":
        """The ``X-Registry-Auth`` header: base64url JSON (padding optional). An empty or
        undecodable header is no credentials, as moby's registry.DecodeAuthConfig treats it."""
        if not value:
            return cls()
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
            doc = json.loads(raw)
        except ValueError:
            return cls()
        return cls.from_dict(doc) if isinstance(doc, dict) else cls()

    def to_header(self) -> str:
        doc = {"username": self.username, "password": self.password,
               "identitytoken": self.identitytoken, "registrytoken": self.registrytoken,
               "serveraddress": self.serveraddress}
        return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode()

    def __repr__(self) -> str:  # never print secrets
        return f"AuthConfig(username={self.username!r}, serveraddress={self.serveraddress!r})"


@dataclass(frozen=True)
class Scope:
    """A resource scope of the token request: ``repository:library/busybox:pull,push``."""
    resource_type: str
    name: str
    actions: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.resource_type}:{self.name}:{','.join(self.actions)}"

    @classmethod
    def repository(cls, name: str, push: bool = False) -> "Scope":
        return cls("repository", name, ("pull", "push") if push else ("pull",))


def basic_header(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


@dataclass(frozen=True)
class Token:
    token: str
    expires: float  # time.monotonic() deadline
    refresh_token: str = ""


class TokenError(Exception):
    """The token server refused or answered nonsense; the transport words it as Docker
    does (``Head "URL": unauthorized: ...``) and raises the registry error kind."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


# (method, url, headers, form data or None) -> (status, headers lower-cased -> values, body)
Fetch = Callable[[str, str, dict[str, str], dict[str, str] | None], tuple[int, dict[str, list[str]], bytes]]


class TokenCache:
    """Bearer tokens of one process, shared by every repository and thread."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens: dict[tuple, Token] = {}
        self._fetching: dict[tuple, threading.Lock] = {}

    def get(self, key: tuple) -> Token | None:
        with self._lock:
            token = self._tokens.get(key)
            if token and token.expires > self._clock():
                return token
            self._tokens.pop(key, None)
            return None

    def put(self, key: tuple, token: Token) -> None:
        with self._lock:
            self._tokens[key] = token

    def discard(self, token: str) -> None:
        with self._lock:
            for key in [k for k, t in self._tokens.items() if t.token == token]:
                del self._tokens[key]

    def fetch(self, key: tuple, request: Callable[[], Token]) -> Token:
        """The live token of ``key``, else ``request()``'s, asked once however many
        threads (parallel layer downloads) want it at the same moment."""
        token = self.get(key)
        if token:
            return token
        with self._lock:
            lock = self._fetching.setdefault(key, threading.Lock())
        with lock:
            token = self.get(key)
            if token is None:
                token = request()
                self.put(key, token)
            return token

    def now(self) -> float:
        return self._clock()


def fetch_token(fetch: Fetch, challenge: Challenge, scopes: list[Scope], auth: AuthConfig,
                cache: TokenCache, offline: bool = False) -> Token:
    """A Bearer token for ``scopes`` from the challenge's realm, from the cache when it
    holds a live one. ``offline`` asks for a refresh token too (``docker login``)."""
    realm = challenge.realm
    if not realm.startswith(("http://", "https://")):
        raise TokenError(apierror.RegistryUnauthorized(f"invalid token auth challenge realm: {realm!r}"))
    service = challenge.params.get("service", "")
    scope_texts = [str(s) for s in scopes]
    key = (realm, service, tuple(sorted(scope_texts)), auth.username, auth.password,
           auth.identitytoken, offline)
    return cache.fetch(key, lambda: _request_token(fetch, realm, service, scope_texts, auth,
                                                   offline, cache.now()))


def _request_token(fetch: Fetch, realm: str, service: str, scope_texts: list[str],
                   auth: AuthConfig, offline: bool, now: float) -> Token:
    if auth.identitytoken:
        form = {"grant_type": "refresh_token", "refresh_token": auth.identitytoken,
                "client_id": CLIENT_ID, "service": service}
        if scope_texts:
            form["scope"] = " ".join(scope_texts)
        if offline:
            form["access_type"] = "offline"
        status, headers, body = fetch("POST", realm, {}, form)
    else:
        params: list[tuple[str, str]] = [("service", service)] if service else []
        params += [("scope", s) for s in scope_texts]
        if offline:
            params += [("offline_token", "true"), ("client_id", CLIENT_ID)]
        headers_out = {}
        if auth.username or auth.password:
            params.append(("account", auth.username))
            headers_out["Authorization"] = basic_header(auth.username, auth.password)
        url = realm + ("&" if "?" in realm else "?") + urlencode(params) if params else realm
        status, headers, body = fetch("GET", url, headers_out, None)
    if not 200 <= status < 300:
        raise TokenError(apierror.from_response(status, body, headers.get("www-authenticate")))
    try:
        doc = json.loads(body)
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        raise TokenError(apierror.RegistryUnauthorized("unable to decode token response"))
    token = doc.get("access_token") or doc.get("token") or ""
    if not isinstance(token, str) or not token:
        raise TokenError(apierror.RegistryUnauthorized(
            "authorization server did not include a token in the response"))
    expires_in = doc.get("expires_in")
    lifetime = expires_in if isinstance(expires_in, int) and expires_in > MINIMUM_TOKEN_LIFETIME \
        else MINIMUM_TOKEN_LIFETIME
    refresh = doc.get("refresh_token") if isinstance(doc.get("refresh_token"), str) else ""
    return Token(token, now + lifetime, refresh or "")


class Authorizer:
    """How requests to one registry host are authorised, given its challenges.

    ``ping`` (GET /v2/) tells the challenges; until then, and for registries that ask for
    nothing, requests go without Authorization. A 401 on a request brings a fresh
    challenge (possibly with its own scope) and one more try.
    """

    def __init__(self, auth: AuthConfig, cache: TokenCache, fetch: Fetch) -> None:
        self.auth = auth
        self._cache = cache
        self._fetch = fetch
        self._lock = threading.Lock()
        self.challenges: list[Challenge] = []
        self.refresh_token = ""  # from the last token response (login's identity token)

    def set_challenges(self, challenges: list[Challenge]) -> None:
        with self._lock:
            self.challenges = [c for c in challenges if c.scheme in ("bearer", "basic")]

    def header(self, scopes: list[Scope], offline: bool = False) -> str | None:
        """The Authorization header for a request needing ``scopes`` (None: send none).
        Raises TokenError when the token server refuses."""
        with self._lock:
            challenges = list(self.challenges)
        for challenge in challenges:
            if challenge.scheme == "bearer":
                if self.auth.registrytoken:
                    return f"Bearer {self.auth.registrytoken}"
                token = fetch_token(self._fetch, challenge, scopes, self.auth, self._cache, offline)
                if token.refresh_token:
                    self.refresh_token = token.refresh_token
                return f"Bearer {token.token}"
            if challenge.scheme == "basic":
                if not (self.auth.username and self.auth.password):
                    # distribution's basicHandler: ErrNoBasicAuthCredentials
                    raise TokenError(apierror.RegistryUnauthorized("no basic auth credentials"))
                return basic_header(self.auth.username, self.auth.password)
        return None

    def retry_scopes(self, challenges: list[Challenge], scopes: list[Scope],
                     sent: str | None = None) -> list[Scope] | None:
        """After a 401 (``sent``: the Authorization it had): take its challenges; the
        scopes to retry with, or None when a retry cannot help. A refused Bearer token is
        dropped from the cache (it expired early, or was revoked), so the retry asks for
        a fresh one, with any scope the challenge adds; Basic is retried only when the
        challenge changed."""
        usable = [c for c in challenges if c.scheme in ("bearer", "basic")]
        if not usable:
            return None
        with self._lock:
            known = list(self.challenges)
            self.challenges = usable
        if usable[0].scheme == "basic":
            return scopes if known != usable else None
        if self.auth.registrytoken:
            return None  # the same token would be refused again
        if sent and sent.startswith("Bearer "):
            self._cache.discard(sent[len("Bearer "):])
        extra = _parse_scope(usable[0].params.get("scope", ""))
        return list(scopes) + [s for s in extra if s not in scopes]


def _parse_scope(text: str) -> list[Scope]:
    out = []
    for item in text.split():
        parts = item.split(":")
        if len(parts) >= 3:
            # a repository name may hold a port ("host:5000/name" is not valid here, but be safe)
            out.append(Scope(parts[0], ":".join(parts[1:-1]), tuple(parts[-1].split(","))))
    return out
