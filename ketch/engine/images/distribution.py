"""The registry side of the image service: pull, push, login and search, as the Engine
API asks for them (moby's ``fromImage``/``tag`` pair, a bare name meaning every tag)."""

import asyncio

from ketch import errors
from ketch.engine.images.pull import Emit, Puller
from ketch.engine.images.push import Pusher
from ketch.engine.images.service import ImageService
from ketch.oci import reference
from ketch.registry.client import login as registry_login
from ketch.registry.client import search as registry_search
from ketch.registry.client.auth import AuthConfig
from ketch.registry.client.transport import Session

SEARCH_FILTERS = ("is-automated", "is-official", "stars")
DEFAULT_SEARCH_LIMIT = 25


def api_reference(name: str, tag: str) -> reference.Reference:
    """moby's postImagesCreate: ``tag`` may be a digest; neither means all tags."""
    ref = reference.parse(name, default_tag=False)
    if tag:
        if reference.is_digest(tag):
            return reference.Reference(ref.domain, ref.path, None, tag)
        if not reference.is_valid_tag(tag):
            raise errors.InvalidArgument("invalid tag format")
        return ref.with_tag(tag)
    return ref


class DistributionService:
    def __init__(self, images: ImageService, session: Session, max_downloads: int = 3,
                 max_uploads: int = 5) -> None:
        self.session = session
        self.puller = Puller(images, session, max_downloads)
        self.pusher = Pusher(images, session, max_uploads)

    async def pull(self, name: str, tag: str, platform: str | None, auth: AuthConfig,
                   emit: Emit) -> None:
        ref = api_reference(name, tag)
        await self.puller.pull(ref, not (ref.tag or ref.digest), platform, auth, emit)

    async def push(self, name: str, tag: str, auth: AuthConfig, emit: Emit) -> None:
        ref = reference.parse(name, default_tag=False)
        if tag:
            if not reference.is_valid_tag(tag):
                raise errors.InvalidArgument("invalid tag format")
            ref = ref.with_tag(tag)
        await self.pusher.push(ref, auth, emit)

    async def login(self, auth: AuthConfig) -> str:
        result = await asyncio.to_thread(registry_login.login, self.session, auth)
        return result.identity_token

    async def search(self, term: str, limit: int | None, filters: dict[str, list[str]],
                     auth: AuthConfig) -> list[dict]:
        """moby's SearchRegistryForImages: the limit checked, the filters applied here."""
        limit = limit or DEFAULT_SEARCH_LIMIT
        if not 1 <= limit <= 100:
            raise errors.InvalidArgument(f"limit {limit} is outside the range of [1, 100]")
        stars, official, automated = _search_filters(filters)
        found = await asyncio.to_thread(registry_search.search, self.session, term, limit, auth)
        out = []
        for r in (result.to_dict() for result in found):
            if stars and int(r.get("star_count") or 0) < stars:
                continue
            if official is not None and bool(r.get("is_official")) != official:
                continue
            if automated is not None and bool(r.get("is_automated")) != automated:
                continue
            out.append({"star_count": int(r.get("star_count") or 0),
                        "is_official": bool(r.get("is_official")), "name": r.get("name") or "",
                        "is_automated": bool(r.get("is_automated")),
                        "description": r.get("description") or ""})
        return out


def _search_filters(f: dict[str, list[str]]) -> tuple[int, bool | None, bool | None]:
    stars = 0
    for value in f.get("stars", []):
        try:
            stars = max(stars, int(value))
        except ValueError:
            raise errors.InvalidArgument(f"invalid filter 'stars={value}'") from None

    def boolean(key: str) -> bool | None:
        found = None
        for value in f.get(key, []):
            if value not in ("true", "false", "1", "0"):
                raise errors.InvalidArgument(f"invalid filter '{key}={value}'")
            found = value in ("true", "1")
        return found
    return stars, boolean("is-official"), boolean("is-automated")


def registry_config(mirrors: tuple[str, ...], insecure: tuple[str, ...]) -> dict:
    """``RegistryConfig`` of /info, as moby's ServiceConfig shows daemon.json's options:
    insecure CIDRs (loopback always), insecure hosts as index configs of their own."""
    import ipaddress
    cidrs, indexes = ["127.0.0.0/8"], {}
    for entry in insecure:
        try:
            cidrs.append(str(ipaddress.ip_network(entry, strict=False)))
        except ValueError:
            indexes[entry] = {"Name": entry, "Mirrors": [], "Secure": False, "Official": False}
    shown = [m if m.endswith("/") else m + "/" for m in mirrors]
    indexes["docker.io"] = {"Name": "docker.io", "Mirrors": shown, "Secure": True, "Official": True}
    return {"AllowNondistributableArtifactsCIDRs": [], "AllowNondistributableArtifactsHostnames": [],
            "InsecureRegistryCIDRs": sorted(set(cidrs), key=cidrs.index), "IndexConfigs": indexes,
            "Mirrors": shown}
