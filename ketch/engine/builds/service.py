"""``BuildService``: what ``POST /build``, ``POST /build/prune`` and ``GET /system/df`` call.

A build gets a backend of its own (``EngineBuildBackend`` with the request's options)
and runs the builder (``build.builder``). The build cache is two kinds of records: the steps' images (``cache.py``, type ``regular``)
and the RUN cache mounts (``cachemounts``, type ``exec.cachemount``), both pruned here
with buildkit's filters (``until``, ``id``, ``type``, ``description``, ``inuse``,
``shared``, ``private``) and ``keep-storage``.
"""

import asyncio
import os
from collections.abc import Callable
from typing import Protocol

from ketch import errors, timefmt
from ketch.build import builder
from ketch.build.copyfiles import DOWNLOADS_PREFIX, ContextFiles
from ketch.build.request import BuildRequest, BuildResult, CacheRecord, Progress
from ketch.engine.builds import mutate as mutation
from ketch.engine.builds.backend import BuildSession, EngineBuildBackend, Runner
from ketch.engine.builds.cache import BuildCache
from ketch.engine.builds.images import BuildImages
from ketch.engine.builds.leases import LeasingBackend
from ketch.engine.images.pull import Puller
from ketch.engine.images.service import ImageService
from ketch.linux import filemode
from ketch.linux.fstree import remove_tree
from ketch.registry.client.auth import AuthConfig

SCRATCH_MODE = 0o700
SCRATCH_PREFIX = mutation.SCRATCH_PREFIX


class CacheMountRecords(Protocol):
    """The RUN cache mounts' side (``cachemounts.CacheMounts``)."""

    def records(self) -> list[CacheRecord]: ...  # blocking: sizes are walked
    async def prune(self, select: Callable[[CacheRecord], bool]) -> tuple[list[str], int]: ...


class BuildService:
    def __init__(self, images: ImageService, cache: BuildCache, scratch_dir: str,
                 puller: Puller | None = None, runner: Runner | None = None,
                 mounts: CacheMountRecords | None = None, downloads_dir: str | None = None) -> None:
        self.images = images
        self.cache = cache
        self.scratch_dir = scratch_dir
        self.puller = puller
        self.runner = runner
        self.mounts = mounts
        self.downloads_dir = downloads_dir  # ADD <url>'s files (copyfiles.ContextFiles)
        filemode.makedirs(scratch_dir, SCRATCH_MODE)
        if downloads_dir is not None:
            filemode.makedirs(downloads_dir, SCRATCH_MODE)

    def sweep(self) -> None:
        """At start-up (blocking): the scratch directories a killed ketchd left (nothing is
        in flight yet; the mounts in them went with the threads' namespaces), and its
        builds' downloads."""
        for name in os.listdir(self.scratch_dir):
            if name.startswith(SCRATCH_PREFIX):
                remove_tree(os.path.join(self.scratch_dir, name))
        for name in os.listdir(self.downloads_dir) if self.downloads_dir is not None else ():
            if name.startswith(DOWNLOADS_PREFIX):
                remove_tree(os.path.join(self.downloads_dir, name))

    def backend(self, request: BuildRequest, context_dir: str | None) -> EngineBuildBackend:
        builds = BuildImages(self.images, request.source_date_epoch)
        session = BuildSession(request, context_dir, self.images, builds, self.scratch_dir)
        return EngineBuildBackend(session, self.cache, self.puller, self.runner,
                                  auth_for(request.registry_auth))

    async def build(self, request: BuildRequest, context_dir: str | None,
                    emit: Callable[[Progress], None]) -> BuildResult:
        backend = LeasingBackend(self.backend(request, context_dir), self.images)
        files = ContextFiles(self.downloads_dir)
        try:
            return await builder.build(request, context_dir, backend, emit, files)
        finally:
            backend.close()
            await asyncio.to_thread(files.close)

    def usage(self) -> list[CacheRecord]:
        """Every build-cache record (blocking: the cache mounts' sizes are walked)."""
        records = self.cache.records()
        if self.mounts is not None:
            records += self.mounts.records()
        return records

    async def prune(self, all: bool, filters: dict[str, list[str]],
                    keep_storage: int = 0) -> tuple[list[str], int]:
        """``POST /build/prune``: (ids of the records removed, bytes reclaimed)."""
        match = record_filter(filters)
        records = self.cache.records()
        if self.mounts is not None:
            records += await asyncio.to_thread(self.mounts.records)
        chosen = {r.id for r in records if not r.in_use and (all or not r.shared) and match(r)}
        if keep_storage:
            chosen = beyond(chosen, records, keep_storage)
        deleted, reclaimed = self.cache.prune(lambda r: r.id in chosen)
        if self.mounts is not None:
            more, freed = await self.mounts.prune(lambda r: r.id in chosen)
            deleted += more
            reclaimed += freed
        return deleted, reclaimed


def auth_for(configs: dict) -> Callable[[str], AuthConfig]:
    """X-Registry-Config's credentials by registry, as moby's classic builder looks them up
    for a FROM's pull (docker.io also under its legacy index address)."""
    def lookup(domain: str) -> AuthConfig:
        keys = [domain] + (["https://index.docker.io/v1/", "index.docker.io"] if domain == "docker.io" else [])
        for key in keys:
            for name, doc in configs.items():
                host = name.removeprefix("https://").removeprefix("http://").split("/")[0]
                if (name == key or host == key) and isinstance(doc, dict):
                    return AuthConfig.from_dict(doc)
        return AuthConfig()
    return lookup


def record_filter(filters: dict[str, list[str]]) -> Callable[[CacheRecord], bool]:
    """buildkit's prune filters as a predicate over records; ``until`` (a duration or a
    time) keeps what was used (or made) since."""
    until_ns = None
    if filters.get("until") and filters.get("unused-for"):
        raise errors.InvalidArgument('conflicting filters: "until" and "unused-for"')
    if filters.get("unused-for"):  # its deprecated synonym
        filters = {**filters, "until": filters["unused-for"]}
    if filters.get("until"):
        if len(filters["until"]) > 1:
            raise errors.InvalidArgument("more than one until filter specified")
        try:
            until_ns = timefmt.timestamp_ns(timefmt.get_timestamp(filters["until"][0]))
        except ValueError as exc:
            raise errors.InvalidArgument(str(exc)) from None

    def flag(key: str) -> bool | None:
        values = filters.get(key)
        if not values:
            return None
        return values[-1].lower() not in ("false", "0")

    inuse, shared, private = flag("inuse"), flag("shared"), flag("private")
    mutable, immutable = flag("mutable"), flag("immutable")

    def match(r: CacheRecord) -> bool:
        if until_ns is not None and timefmt.parse_ns(r.last_used_at or r.created_at) > until_ns:
            return False
        if filters.get("id") and not any(r.id.startswith(v) for v in filters["id"]):
            return False
        if filters.get("type") and r.type not in filters["type"]:
            return False
        if filters.get("description") and not any(v in r.description for v in filters["description"]):
            return False
        if filters.get("parent") and not any(p in filters["parent"] for p in r.parents):
            return False
        if inuse is not None and r.in_use != inuse:
            return False
        if shared is not None and r.shared != shared:
            return False
        if filters.get("label"):  # no record carries labels: none has the one asked for
            return False
        is_mutable = r.type == "exec.cachemount"  # a cache mount's directory; a step's layer is not
        if mutable is not None and is_mutable != mutable:
            return False
        if immutable is not None and is_mutable == immutable:
            return False
        return private is None or (not r.shared) == private
    return match


def beyond(chosen: set[str], records: list[CacheRecord], keep: int) -> set[str]:
    """buildkit's keep-storage: of the chosen records, those past the most recently used
    ``keep`` bytes of all records, least recently used first."""
    total = sum(r.size for r in records)
    out: set[str] = set()
    for r in sorted((r for r in records if r.id in chosen), key=lambda r: r.last_used_at or r.created_at):
        if total <= keep:
            break
        out.add(r.id)
        total -= r.size
    return out


def scratch_dir(exec_root: str) -> str:
    return os.path.join(exec_root, "buildsteps")  # runstep's run dirs are in builds/
