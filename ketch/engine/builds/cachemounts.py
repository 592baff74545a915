"""``RUN --mount=type=cache``: directories kept from one build to the next, by id.

buildkit's cache mounts: the same ``id`` (default: the target) finds the same directory
in every build until it is pruned. Layout::

    <data-root>/builder/cache/                 0700
        <sha256 of the id>/                    0700
            meta.json                          the id, created, last used, uses, what made it
            data/                              the mounted directory: its mode and owner
                                               are the first mount's (default 0755 root)
            private-<n>/                       a ``sharing=private`` mount's own copy while
                                               data/ is in use (gone when its run ends)

Sharing (buildkit's ``sharing=``): ``shared`` (the default) lets runs use data/ at
once; ``locked`` makes a run wait until no other run holds it; ``private`` takes data/
only when nobody uses it, else an empty directory of its own. Who holds what is counted
in this process: a restarted ketchd has no run in flight.

Every lease (a private one too: its directory is under ``<key>/``) is counted on the loop
before its directory is opened, and ``acquire``'s counting and opening and ``prune``'s
in-use check and removal each run under one lock (``_guard``): a prune never removes a
directory a run holds or is about to mount.
"""

import asyncio
import hashlib
import json
import os
import secrets
from dataclasses import dataclass, field

from ketch import timefmt
from ketch.build.request import CacheRecord
from ketch.linux import filemode
from ketch.linux.atomic import write_file
from ketch.linux.fstree import remove_tree, tree_size

CACHE_MODE = 0o700
DATA_MODE = 0o755  # buildkit's default mode of a cache mount
SHARINGS = ("shared", "private", "locked")
CACHE_TYPE = "exec.cachemount"


@dataclass
class _Entry:
    users: int = 0  # runs holding data/
    privates: int = 0  # runs holding a private-<n>/ of their own
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def in_use(self) -> bool:
        return bool(self.users or self.privates or self.lock.locked())


@dataclass(frozen=True)
class Lease:
    """A cache directory held by one run: ``path`` is what it mounts."""
    key: str
    path: str
    locked: bool = False
    private: bool = False
    fresh: bool = False  # made for this run: empty


def key_of(cache_id: str) -> str:
    return hashlib.sha256(cache_id.encode()).hexdigest()


class CacheMounts:
    def __init__(self, data_root: str) -> None:
        self.root = os.path.join(data_root, "builder", "cache")
        self._entries: dict[str, _Entry] = {}
        self._guard = asyncio.Lock()  # counting + opening vs prune's check + removal

    def _entry(self, key: str) -> _Entry:
        return self._entries.setdefault(key, _Entry())

    async def acquire(self, cache_id: str, sharing: str, mode: int | None, uid: int | None,
                      gid: int | None, description: str) -> Lease:
        """The directory for ``cache_id``; release it with ``release`` once the run ends."""
        if sharing not in SHARINGS:
            raise ValueError(f"unrecognized sharing {sharing}")  # the parser refuses it first
        key = key_of(cache_id)
        entry = self._entry(key)
        locked = sharing == "locked"
        if locked:
            await entry.lock.acquire()
        opening = None
        try:
            async with self._guard:
                private = sharing == "private" and (entry.users > 0 or entry.lock.locked())
                if private:
                    entry.privates += 1
                else:
                    entry.users += 1
                opening = asyncio.ensure_future(asyncio.to_thread(
                    self._open, key, cache_id, mode, uid, gid, description, private))
                try:
                    path, fresh = await asyncio.shield(opening)
                except asyncio.CancelledError:
                    await asyncio.wait({opening})  # no prune while the thread still makes it
                    raise
        except BaseException:
            if opening is not None:
                if private:
                    entry.privates -= 1
                    opening.add_done_callback(_remove_made)  # the directory it made goes
                else:
                    entry.users -= 1
            if locked:
                entry.lock.release()
            raise
        return Lease(key, path, locked, private, fresh)

    async def release(self, lease: Lease) -> None:
        entry = self._entry(lease.key)
        if lease.private:
            try:
                await asyncio.to_thread(remove_tree, lease.path)
            finally:
                entry.privates -= 1
        else:
            entry.users -= 1
        if lease.locked:
            entry.lock.release()

    def _open(self, key: str, cache_id: str, mode: int | None, uid: int | None, gid: int | None,
              description: str, private: bool) -> tuple[str, bool]:
        top = os.path.join(self.root, key)
        filemode.makedirs(top, CACHE_MODE, CACHE_MODE)
        meta = _read_meta(top) or {"id": cache_id, "created": timefmt.now(), "usage_count": 0,
                                   "description": description}
        meta["last_used"] = timefmt.now()
        meta["usage_count"] = int(meta.get("usage_count") or 0) + 1
        write_file(os.path.join(top, "meta.json"), json.dumps(meta).encode(), 0o600)
        path = os.path.join(top, f"private-{secrets.token_hex(4)}" if private else "data")
        try:
            filemode.mkdir(path, DATA_MODE if mode is None else mode & 0o7777)
        except FileExistsError:
            return path, False  # made by an earlier build: as it was left
        os.chown(path, 0 if uid is None else uid, 0 if gid is None else gid)
        if mode is not None:
            os.chmod(path, mode & 0o7777)  # chown clears set-id bits
        return path, True

    # -- system df and builder prune ---------------------------------------------------
    def records(self) -> list[CacheRecord]:
        """Blocking (sizes are summed): every cache directory as a build-cache record."""
        out = []
        try:
            keys = sorted(os.listdir(self.root))
        except FileNotFoundError:
            return out
        for key in keys:
            meta = _read_meta(os.path.join(self.root, key))
            if meta is None:
                continue
            entry = self._entries.get(key)
            out.append(CacheRecord(
                id=key[:25], parents=(), type=CACHE_TYPE, description=meta.get("description", ""),
                in_use=bool(entry and entry.in_use), shared=False,
                size=tree_size(os.path.join(self.root, key, "data")), created_at=meta.get("created", ""),
                last_used_at=meta.get("last_used"), usage_count=int(meta.get("usage_count") or 0)))
        return out

    async def prune(self, select) -> tuple[list[str], int]:
        """Remove the unused cache directories whose record ``select`` accepts; (their
        record ids, bytes freed). In use is decided on the loop under ``_guard``, which
        no run can count itself in meanwhile."""
        async with self._guard:
            records = await asyncio.to_thread(self.records)
            chosen = []
            for rec in records:
                key = next((k for k in self._keys() if k.startswith(rec.id)), None)
                entry = self._entries.get(key or "")
                if key is None or (entry is not None and entry.in_use) or not select(rec):
                    continue
                chosen.append((key, rec))
            await asyncio.to_thread(self._remove, [key for key, _rec in chosen])
        return [rec.id for _key, rec in chosen], sum(rec.size for _key, rec in chosen)

    def _keys(self) -> list[str]:
        try:
            return os.listdir(self.root)
        except FileNotFoundError:
            return []

    def _remove(self, keys: list[str]) -> None:
        for key in keys:
            remove_tree(os.path.join(self.root, key))


def _remove_made(opening: asyncio.Future) -> None:
    if not opening.cancelled() and opening.exception() is None:
        remove_tree(opening.result()[0])


def _read_meta(top: str) -> dict | None:
    try:
        with open(os.path.join(top, "meta.json"), "rb") as f:
            meta = json.load(f)
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None
