"""The volumes: create, inspect, mount for containers, remove. moby's ``volume/service``.

The records live in the store's ``volumes`` table (the truth across restarts), the data
with the driver (``volume/local.py``, the only driver). Each change is recorded before it
is announced (``volume`` events: create, mount, unmount, destroy, Actor.ID the name).
Which containers use a volume is the container side's knowledge: it hands a function
over with ``set_users``; until then nobody uses any.

Messages are moby's ``OpErr`` texts: ``<op> <name>: <cause>``.
"""

import asyncio
import logging
import secrets
import threading
import time
from collections import Counter
from typing import Callable

from ketch import errors
from ketch.engine.events import Event, EventBus
from ketch.engine.store import Store
from ketch.volume.local import LocalDriver
from ketch.volume.model import ANONYMOUS_LABEL, LOCAL, Volume

log = logging.getLogger("ketchd.volumes")

Users = Callable[[str], list[str]]  # volume name -> ids of the containers that use it


def _no_users(name: str) -> list[str]:
    return []


class VolumeService:
    def __init__(self, store: Store, driver: LocalDriver, events: EventBus) -> None:
        self.store = store
        self.driver = driver
        self.events = events
        self._users: Users = _no_users
        self._volumes: dict[str, Volume] = {v.name: v for v in (_from_doc(d) for d in store.all_volumes())}
        self._mounts: dict[str, Counter] = {}  # volume -> container id -> mounts held
        # mount/unmount come from worker threads (starts, stops, cp): the driver's count
        # and the one above change together, one caller at a time
        self._mount_lock = threading.Lock()
        self._removing: set[str] = set()  # forgotten, their data being deleted in a thread
        self._pruning = False

    def sweep_orphans(self) -> list[str]:
        """Blocking: delete the volume directories no record names: a create or a remove
        a crash cut short (the record is written after the directories, and dropped
        before they are deleted). Run at start-up, before any create."""
        removed = []
        for name in self.driver.names():
            if name not in self._volumes:
                try:
                    self.driver.remove(name, {})
                except errors.KetchError as exc:
                    log.warning("cannot remove the orphan volume directory %s: %s", name, exc)
                    continue
                log.info("removed an orphan left by a crash: volume directory %s", name)
                removed.append(name)
        return removed

    def set_users(self, fn: Users) -> None:
        self._users = fn

    # -- VolumeAccess ---------------------------------------------------------------
    def create(self, name: str = "", driver: str = "", opts: dict | None = None,
               labels: dict | None = None, anonymous: bool = False) -> Volume:
        opts = dict(opts or {})
        labels = dict(labels or {})
        if not name:  # moby's VolumesService.Create: a random name marks it anonymous
            name = secrets.token_hex(32)
            anonymous = True
        if anonymous:
            labels.setdefault(ANONYMOUS_LABEL, "")
        driver = driver or LOCAL
        try:
            existing = self._volumes.get(name)
            if driver != LOCAL:
                raise errors.NotFound(
                    f'error looking up volume plugin {driver}: plugin "{driver}" not found')
            if existing is not None:  # moby's idempotent create: as it is, labels and all
                return existing
            if name in self._removing:  # its old data is still being deleted
                raise errors.Conflict("volume is being removed")
            mountpoint = self.driver.create(name, opts)
        except errors.KetchError as exc:
            raise type(exc)(f"create {name}: {exc}") from None
        vol = Volume(name=name, driver=LOCAL, mountpoint=mountpoint,
                     created_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                     labels=labels, options=opts)
        try:
            with self.store.transaction():
                self.store.put_volume(name, _to_doc(vol))
        except BaseException:
            self.driver.remove(name, opts)
            raise
        self._volumes[name] = vol
        self.events.publish(Event("volume", "create", name, {"driver": vol.driver}))
        return vol

    def get(self, name: str) -> Volume:
        vol = self._volumes.get(name)
        if vol is None:
            raise errors.NotFound(f"get {name}: no such volume")
        return vol

    def mount(self, name: str, container_id: str, attributes: dict) -> str:
        """The driver's error as it is: moby's caller wraps it ("error while mounting
        volume '<mountpoint>': failed to mount local volume: ...")."""
        vol = self.get(name)
        with self._mount_lock:
            path = self.driver.mount(name, vol.options)
            self._mounts.setdefault(name, Counter())[container_id] += 1
        attrs = {"driver": vol.driver, "container": container_id, **attributes}
        self.events.publish(Event("volume", "mount", name, attrs))
        return path

    def restore(self, name: str, container_id: str) -> None:
        """A running container's mount after a ketchd restart, counted again (moby's
        LiveRestoreVolume): a device still mounted stays as it is; no event."""
        vol = self.get(name)
        with self._mount_lock:
            self.driver.mount(name, vol.options)
            self._mounts.setdefault(name, Counter())[container_id] += 1

    def unmount(self, name: str, container_id: str) -> None:
        vol = self._volumes.get(name)
        with self._mount_lock:
            held = self._mounts.get(name)
            if vol is None or not held or not held[container_id]:
                return  # never mounted for it (a restart forgot): nothing to undo
            self.driver.unmount(name, vol.options)
            held[container_id] -= 1
            if held[container_id] <= 0:
                del held[container_id]
            if not held:
                del self._mounts[name]
        self.events.publish(Event("volume", "unmount", name,
                                  {"driver": vol.driver, "container": container_id}))

    def remove(self, name: str, force: bool = False) -> None:
        """moby's VolumesService.Remove; ``force`` (purge on error) ignores a missing
        volume and forgets one whose data the driver could not delete."""
        vol = self._forget(name, force)
        if vol is not None:
            self._delete_data(vol, force)

    async def remove_async(self, name: str, force: bool = False) -> None:
        """``remove`` with the data deleted in a thread (the API's: a big volume must not
        stall the daemon)."""
        vol = self._forget(name, force)
        if vol is None:
            return
        self._removing.add(name)
        try:
            await asyncio.to_thread(self._delete_files, vol)
        except errors.KetchError as exc:
            self._restore(vol, force, exc)
        finally:
            self._removing.discard(name)
        self.events.publish(Event("volume", "destroy", name, {"driver": vol.driver}))

    def _forget(self, name: str, force: bool) -> Volume | None:
        vol = self._volumes.get(name)
        if vol is None or name in self._removing:
            if force:
                return None
            raise errors.NotFound(f"get {name}: no such volume")
        users = self.users(name)
        if users:
            raise errors.Conflict(f"remove {name}: volume is in use - [{', '.join(users)}]")
        with self.store.transaction():
            self.store.delete_volume(name)
        del self._volumes[name]
        return vol

    def _delete_files(self, vol: Volume) -> None:
        self.driver.remove(vol.name, vol.options)

    def _delete_data(self, vol: Volume, force: bool) -> None:
        try:
            self._delete_files(vol)
        except errors.KetchError as exc:
            self._restore(vol, force, exc)
        self.events.publish(Event("volume", "destroy", vol.name, {"driver": vol.driver}))

    def _restore(self, vol: Volume, force: bool, exc: errors.KetchError) -> None:
        """The driver failed: the record comes back (its data is still there for a
        second try) unless ``force`` purges it, as moby's PurgeOnError; raises."""
        if not force:
            with self.store.transaction():
                self.store.put_volume(vol.name, _to_doc(vol))
            self._volumes[vol.name] = vol
        raise type(exc)(f"remove {vol.name}: {exc}") from None

    async def prune(self, selects: Callable[[Volume], bool]) -> tuple[list[str], int]:
        """moby's VolumesService.Prune: the local volumes no container uses, made without
        driver options (nothing to reclaim there), that ``selects`` takes; their names
        and the bytes their data took. One prune at a time."""
        if self._pruning:
            raise errors.Conflict("a prune operation is already running")
        self._pruning = True
        deleted: list[str] = []
        reclaimed = 0
        try:
            for vol in list(self._volumes.values()):
                if (vol.driver != LOCAL or vol.options or vol.name not in self._volumes
                        or self.users(vol.name) or not selects(vol)):
                    continue
                size = await asyncio.to_thread(self.driver.usage, vol.name)
                try:
                    await self.remove_async(vol.name)
                except errors.KetchError as exc:  # used meanwhile, or its data stuck: next
                    log.warning("prune: cannot remove volume %s: %s", vol.name, exc)
                    continue
                reclaimed += max(size, 0)
                deleted.append(vol.name)
        finally:
            self._pruning = False
        self.events.publish(Event("volume", "prune", "", {"reclaimed": str(reclaimed)}))
        return deleted, reclaimed

    # -- queries --------------------------------------------------------------------
    def all(self) -> list[Volume]:
        return list(self._volumes.values())

    def in_use(self, name: str) -> bool:
        return bool(self.users(name))

    def usage_records(self) -> list[tuple[Volume, int]]:
        """The volumes ``system df`` counts (local, made without driver options: moby's
        LocalVolumesSize), each with the number of containers using it."""
        return [(v, len(self.users(v.name))) for v in self._volumes.values()
                if v.driver == LOCAL and not v.options]

    def size(self, name: str) -> int:
        """Blocking: the bytes of the volume's data (-1 when unreadable)."""
        return self.driver.usage(name)

    def users(self, name: str) -> list[str]:
        """Ids of the containers that use the volume: the container side's (those with a
        mount point on it) and those holding a mount now."""
        ids = list(self._users(name))
        held = list(self._mounts.get(name, ()))  # one C-level copy: a start's thread may count meanwhile
        ids += [cid for cid in held if cid not in ids]
        return ids


def _to_doc(vol: Volume) -> dict:
    return {"Name": vol.name, "Driver": vol.driver, "Mountpoint": vol.mountpoint,
            "CreatedAt": vol.created_at, "Labels": vol.labels, "Options": vol.options}


def _from_doc(doc: dict) -> Volume:
    return Volume(name=doc["Name"], driver=doc["Driver"], mountpoint=doc["Mountpoint"],
                  created_at=doc["CreatedAt"], labels=dict(doc.get("Labels") or {}),
                  options=dict(doc.get("Options") or {}))
