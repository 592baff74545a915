"""``docker login``'s check of credentials against a registry (moby's loginV2).

GET /v2/ with the credentials: a Basic registry must answer 200 to them; a token
registry must hand out a token (asked with ``offline_token=true&client_id=docker``,
so it may return a refresh token, the identity token the CLI stores instead of the
password) that /v2/ then accepts.
"""

from dataclasses import dataclass

from ketch.registry.client import apierror, endpoints
from ketch.registry.client.auth import AuthConfig, TokenError
from ketch.registry.client.transport import Registry, Session, token_failure


@dataclass(frozen=True)
class LoginResult:
    status: str           # "Login Succeeded"
    identity_token: str   # "" unless the token server returned a refresh token


def server_domain(serveraddress: str) -> str:
    """The registry a login names: ``https://host:5000/v1/`` -> ``host:5000``; Docker
    Hub's addresses -> docker.io."""
    address = serveraddress.strip()
    for prefix in ("https://", "http://"):
        if address.startswith(prefix):
            address = address[len(prefix):]
    address = address.split("/", 1)[0]
    if address in ("", "index.docker.io", "registry-1.docker.io", "docker.io", "registry.hub.docker.com"):
        return endpoints.OFFICIAL_DOMAIN
    return address


def login(session: Session, auth: AuthConfig) -> LoginResult:
    """Check ``auth`` against the registry of ``auth.serveraddress``."""
    domain = server_domain(auth.serveraddress)
    last: Exception | None = None
    for endpoint in endpoints.resolve(domain, session.options, push=True):
        registry = Registry(session, endpoint, auth)
        try:
            return _login(registry)
        except apierror.ConnectionFailed as exc:
            last = exc
    assert last is not None
    raise last


def _login(registry: Registry) -> LoginResult:
    url = registry.absolute("/v2/")
    registry.ping()
    try:
        header = registry.authorizer.header([], offline=True)
    except TokenError as exc:
        raise token_failure("GET", url, exc) from None
    headers = {"Authorization": header} if header else {}
    response = registry.send("GET", url, headers)
    if response.status_code == 200:
        return LoginResult("Login Succeeded", registry.authorizer.refresh_token)
    phrase = apierror.status_phrase(response.status_code)
    raise apierror.RegistryUnauthorized(
        f"login attempt to {url} failed with status: {response.status_code} {phrase}".rstrip(),
        response.status_code)
