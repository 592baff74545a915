"""The volumes: create, inspect, mount for containers, remove. moby's ``volume/service``.

The records live in the store's ``volumes`` table (the truth across restarts), the data
with the driver (``volume/local.py``, the only driver). Each change is recorded before it
is announced (``volume`` events: create, mount, unmount, destroy, Actor.ID the name).
Which containers use a volume is the container side's knowledge: it hands a function
over with ``set_users`` (one scan: name -> ids); until then nobody uses any.

A removal renames the volume's directory to a tombstone once its record is dropped
(``volume/local.py``); start-up (``recover``) deletes tombstones and adopts directories
without a record, so a lost record never costs data.

Messages are moby's ``OpErr`` texts: ``<op> <name>: <cause>``.
"""

import asyncio
import logging
import secrets
import time
from collections import Counter
from typing import Callable

from ketch import errors
from ketch.engine.events import Event, EventBus
from ketch.engine.store import Store
from ketch.engine.volumes.namelocks import NameLocks
from ketch.volume.local import LocalDriver, needs_mount
from ketch.volume.model import ANONYMOUS_LABEL, LOCAL, Volume

log = logging.getLogger("ketchd.volumes")

# one scan of the containers: volume name -> ids of the containers whose mount points name it
Users = Callable[[], dict[str, list[str]]]


def _no_users() -> dict[str, list[str]]:
    return {}


class VolumeService:
    def __init__(self, store: Store, driver: LocalDriver, events: EventBus) -> None:
        self.store = store
        self.driver = driver
        self.events = events
        self._users: Users = _no_users
        self._volumes: dict[str, Volume] = {v.name: v for v in (_from_doc(d) for d in store.all_volumes())}
        self._mounts: dict[str, Counter] = {}  # volume -> container id -> mounts held
        # mount/unmount come from worker threads (starts, stops, cp): the driver's count
        # of a volume and the one above change together, one caller per volume at a time;
        # a lock per volume (moby's per-name locks), so a mount hanging on a dead NFS server
        # holds up that volume's users only; an entry lives only while taken
        self._name_locks = NameLocks()
        # forgotten, their data being deleted in a thread; set when done (a create waits)
        self._removing: dict[str, asyncio.Event] = {}
        self._pruning = False

    def recover(self) -> tuple[list[str], list[str]]:
        """Blocking, at start-up before the containers are looked at: delete the
        tombstones of removals a crash cut short, and adopt the volume directories no
        record names as volumes without labels or options (moby's local.New: a data root
        copied without its database, or a create cut short between its directory and its
        record, loses nothing). Returns (tombstones deleted, names adopted)."""
        swept = []
        for tomb in self.driver.tombstones():
            try:
                self.driver.delete_tombstone(tomb)
            except errors.KetchError as exc:
                log.warning("cannot delete the data of a removed volume (%s): %s", tomb, exc)
                continue
            log.info("deleted the data of a volume whose removal a crash cut short: %s", tomb)
            swept.append(tomb)
        adopted = []
        for name in self.driver.names():
            if name in self._volumes:
                continue
            try:
                mountpoint = self.driver.create(name, {})  # makes a missing _data
                created = self.driver.created_at(name)
            except (errors.KetchError, OSError) as exc:
                log.warning("cannot adopt the volume directory %s: %s", name, exc)
                continue
            vol = Volume(name=name, driver=LOCAL, mountpoint=mountpoint,
                         created_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(created)),
                         labels={}, options={})
            with self.store.transaction():
                self.store.put_volume(name, _to_doc(vol))
            self._volumes[name] = vol
            log.info("adopted volume directory %s (no record named it)", name)
            adopted.append(name)
        return swept, adopted

    def unmount_stale(self) -> list[str]:
        """Blocking, at start-up once the running containers' mounts are counted again
        (``restore``) and before anything starts: unmount the devices of the volumes no
        one holds (an unclean shutdown left them mounted: a container that exited while
        ketchd was down, a start cut short). moby's local.New unmounts them all before
        its live restore mounts again; a tmpfs still used by a running container would
        then be a new, empty one for the next user, so the held ones stay."""
        done = []
        for vol in list(self._volumes.values()):
            if not needs_mount(vol.options) or self._mounts.get(vol.name):
                continue
            try:
                if self.driver.unmount_stale(vol.name):
                    log.info("unmounted volume %s, left mounted by an unclean shutdown", vol.name)
                    done.append(vol.name)
            except errors.KetchError as exc:
                log.warning("cannot unmount volume %s: %s", vol.name, exc)
        return done

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
            if name in self._removing:  # from a caller that cannot wait (see create_async)
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

    async def create_async(self, name: str = "", driver: str = "", opts: dict | None = None,
                           labels: dict | None = None) -> Volume:
        """``create`` from the API: a removal of that name in flight is waited for first
        (moby's per-name lock), then the volume is made afresh."""
        await self.removed([name])
        return self.create(name, driver, opts, labels)

    async def removed(self, names) -> None:
        """Wait until no removal of any of ``names`` is deleting its data (a container
        create naming them waits so, then makes them afresh)."""
        for name in names:
            while name in self._removing:
                await self._removing[name].wait()

    def get(self, name: str) -> Volume:
        vol = self._volumes.get(name)
        if vol is None:
            raise errors.NotFound(f"get {name}: no such volume")
        return vol

    def mount(self, name: str, container_id: str, attributes: dict) -> str:
        """The driver's error as it is: moby's caller wraps it ("error while mounting
        volume '<mountpoint>': failed to mount local volume: ...")."""
        vol = self.get(name)
        with self._name_locks.hold([name]):
            path = self.driver.mount(name, vol.options)
            self._mounts.setdefault(name, Counter())[container_id] += 1
        attrs = {"driver": vol.driver, "container": container_id, **attributes}
        self.events.publish(Event("volume", "mount", name, attrs))
        return path

    def restore(self, name: str, container_id: str) -> None:
        """A running container's mount after a ketchd restart, counted again (moby's
        LiveRestoreVolume): a device still mounted stays as it is; no event."""
        vol = self.get(name)
        with self._name_locks.hold([name]):
            self.driver.mount(name, vol.options)
            self._mounts.setdefault(name, Counter())[container_id] += 1

    def unmount(self, name: str, container_id: str) -> None:
        vol = self._volumes.get(name)
        with self._name_locks.hold([name]):
            held = self._mounts.get(name)
            if vol is None or not held or not held[container_id]:
                return  # never mounted for it (a restart forgot): nothing to undo
            try:
                self.driver.unmount(name, vol.options)
            finally:  # moby's localVolume.Unmount: counted down even when it fails, or the
                held[container_id] -= 1  # volume would stay "in use" until a restart
                if held[container_id] <= 0:
                    del held[container_id]
                if not held:
                    del self._mounts[name]
        # moby's UnmountVolumes logs the event only when the unmount worked
        self.events.publish(Event("volume", "unmount", name,
                                  {"driver": vol.driver, "container": container_id}))

    def remove(self, name: str, force: bool = False) -> None:
        """moby's VolumesService.Remove; ``force`` (purge on error) ignores a missing
        volume and forgets one whose data the driver could not delete."""
        forgotten = self._forget(name, force)
        if forgotten is not None:
            vol, tomb = forgotten
            try:
                self._delete_files(tomb)
            except errors.KetchError as exc:
                self._restore(vol, tomb, force, exc)
            self.events.publish(Event("volume", "destroy", vol.name, {"driver": vol.driver}))

    async def remove_async(self, name: str, force: bool = False) -> None:
        """``remove`` with the data deleted in a thread (the API's: a big volume must not
        stall the daemon)."""
        forgotten = self._forget(name, force)
        if forgotten is None:
            return
        vol, tomb = forgotten
        done = self._removing[name] = asyncio.Event()
        try:
            await asyncio.to_thread(self._delete_files, tomb)
        except errors.KetchError as exc:
            self._restore(vol, tomb, force, exc)
        finally:
            del self._removing[name]
            done.set()
        self.events.publish(Event("volume", "destroy", name, {"driver": vol.driver}))

    def _forget(self, name: str, force: bool) -> tuple[Volume, str] | None:
        """Drop the record, then rename the directory to a tombstone: a crash between the
        two leaves a directory with the name (adopted again at start-up: nothing lost),
        after them a tombstone (deleted at start-up). The volume and its tombstone."""
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
        try:
            tomb = self.driver.bury(name)
        except errors.KetchError as exc:
            self._restore(vol, "", force, exc)
        return vol, tomb

    def _delete_files(self, tomb: str) -> None:
        if tomb:  # "": its directory was gone already
            self.driver.delete_tombstone(tomb)

    def _restore(self, vol: Volume, tomb: str, force: bool, exc: errors.KetchError) -> None:
        """The driver failed: the record comes back (its data is still there for a
        second try) unless ``force`` purges it, as moby's PurgeOnError (what is left of
        its data is deleted at the next start); raises."""
        if not force:
            if tomb:
                self.driver.unbury(tomb, vol.name)
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
            used = self.users_index()  # a volume used since is refused by remove_async
            for vol in list(self._volumes.values()):
                if (vol.driver != LOCAL or vol.options or vol.name not in self._volumes
                        or used.get(vol.name) or not selects(vol)):
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

    def usage_records(self) -> list[tuple[Volume, int]]:
        """The volumes ``system df`` counts (local, made without driver options: moby's
        LocalVolumesSize), each with the number of containers using it."""
        used = self.users_index()
        return [(v, len(used.get(v.name, ()))) for v in self._volumes.values()
                if v.driver == LOCAL and not v.options]

    def size(self, name: str) -> int:
        """Blocking: the bytes of the volume's data (-1 when unreadable)."""
        return self.driver.usage(name)

    def users(self, name: str) -> list[str]:
        """Ids of the containers that use the volume: the container side's (those with a
        mount point on it) and those holding a mount now."""
        return self.users_index().get(name, [])

    def users_index(self) -> dict[str, list[str]]:
        """``users`` of every volume used, from one scan of the containers (ask it once
        per request, not once per volume)."""
        index = {name: list(ids) for name, ids in self._users().items()}
        for name, counter in list(self._mounts.items()):  # C-level copies: a start's thread may count meanwhile
            ids = index.setdefault(name, [])
            ids += [cid for cid in list(counter) if cid not in ids]
        return index


def _to_doc(vol: Volume) -> dict:
    return {"Name": vol.name, "Driver": vol.driver, "Mountpoint": vol.mountpoint,
            "CreatedAt": vol.created_at, "Labels": vol.labels, "Options": vol.options}


def _from_doc(doc: dict) -> Volume:
    return Volume(name=doc["Name"], driver=doc["Driver"], mountpoint=doc["Mountpoint"],
                  created_at=doc["CreatedAt"], labels=dict(doc.get("Labels") or {}),
                  options=dict(doc.get("Options") or {}))
