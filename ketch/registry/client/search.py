"""``docker search``'s source: the v1 search endpoint (``GET /v1/search?q=TERM&n=N``)
of Docker Hub's index or of a private registry that offers one."""

from dataclasses import dataclass
from urllib.parse import urlencode

from ketch.errors import InvalidArgument
from ketch.registry.client import apierror, endpoints
from ketch.registry.client.auth import AuthConfig, Scope
from ketch.registry.client.transport import Registry, Session

DEFAULT_LIMIT = 25


@dataclass(frozen=True)
class SearchResult:
    name: str
    description: str = ""
    star_count: int = 0
    is_official: bool = False
    is_automated: bool = False

    def to_dict(self) -> dict:
        return {"star_count": self.star_count, "is_official": self.is_official, "name": self.name,
                "is_automated": self.is_automated, "description": self.description}


def split_term(term: str) -> tuple[str, str]:
    """(index domain, remote term): ``localhost:5000/app`` searches ``app`` on
    localhost:5000; a term without a registry part searches Docker Hub."""
    first, sep, rest = term.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first, rest
    return endpoints.OFFICIAL_DOMAIN, term


def search(session: Session, term: str, limit: int = DEFAULT_LIMIT,
           auth: AuthConfig = AuthConfig()) -> list[SearchResult]:
    """The results of the index for ``term`` (its first ``limit``, 1 to 100)."""
    if limit < 1 or limit > 100:
        raise InvalidArgument(f"limit {limit} is outside the range of [1, 100]")
    domain, remote = split_term(term)
    last: Exception | None = None
    for endpoint in endpoints.index_endpoints(domain, session.options):
        registry = Registry(session, endpoint, auth)
        query = urlencode({"q": remote, "n": str(limit)})
        try:
            try:
                registry.ping()
            except apierror.RegistryError:
                pass  # an index without /v2/ may still search
            response = registry.request("GET", f"/v1/search?{query}", [Scope("registry", "catalog", ("search",))])
        except (apierror.ConnectionFailed, apierror.RegistryError) as exc:
            last = exc
            continue
        try:
            doc = response.json()
        except ValueError:
            raise apierror.RegistryUnavailable("invalid search response from registry") from None
        return [_result(item) for item in (doc.get("results") or [] if isinstance(doc, dict) else [])
                if isinstance(item, dict)][:limit]
    assert last is not None
    raise last


def _result(item: dict) -> SearchResult:
    def text(key: str) -> str:
        value = item.get(key)
        return value if isinstance(value, str) else ""

    stars = item.get("star_count")
    return SearchResult(text("name"), text("description"),
                        stars if isinstance(stars, int) and not isinstance(stars, bool) else 0,
                        item.get("is_official") is True, item.get("is_automated") is True)
