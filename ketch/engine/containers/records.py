"""Container records: what ketchd knows about each container, and their registry.

A ``ContainerRecord`` is persisted as JSON in the store whenever it reaches a stable
state (see ``state.py``); its ``state`` is stored in Docker's ``State`` shape, so a
store written by an older ketch reads back unchanged. Its ``health`` (``State.Health``)
is saved with it, and also whenever the health status changes (moby keeps health
best-effort across a daemon restart the same way). The ``Registry`` keeps the
records in memory and resolves the ways users name a container (full id, name, unique
id prefix).
"""

from dataclasses import dataclass, field, fields

from ketch import errors
from ketch.engine.containers.health import Health
from ketch.engine.containers.state import ContainerState
from ketch.engine.restart import Backoff
from ketch.engine.store import Store


@dataclass
class ContainerRecord:
    id: str
    name: str  # without the leading "/"
    created: str
    image: str  # as the user named it (Config.Image)
    image_id: str
    config: dict  # Docker's container Config, merged with the image's
    host_config: dict
    path: str
    args: list[str]
    snapshot: str  # the writable layer
    parents: list[str]  # the image's layer snapshots, top-most first
    state: ContainerState = field(default_factory=ContainerState)
    restart_count: int = 0  # restarts by its policy since its last manual start
    manually_stopped: bool = False  # moby's HasBeenManuallyStopped (unless-stopped)
    runtime: str = "ketch"
    cgroups_path: str = ""  # set at start; where its stats and limits live
    # the restart policy's back-off, for this ketchd's life only (moby keeps it in memory)
    backoff: Backoff = field(default_factory=Backoff, compare=False, repr=False)
    health: Health | None = None  # with a healthcheck, once started (health.py)
    # the networks it joins at start: name -> the endpoint settings asked for (Docker's
    # NetworkSettings.Networks, without the run's addresses)
    networks: dict = field(default_factory=dict)
    # its mount points, decided at create (engine/volumes/mountplan.py): MountPoint docs,
    # one per destination; empty in a store written before volumes
    mounts: list[dict] = field(default_factory=list)

    @property
    def running(self) -> bool:
        return self.state.running

    @property
    def status(self) -> str:
        return self.state.status

    def to_doc(self) -> dict:
        """The persisted document. Shallow: it shares this record's dicts and lists, so it
        is for serialising at once (asdict's deep copy was most of a save's time)."""
        doc = {name: getattr(self, name) for name in _FIELDS}
        doc["state"] = self.state.to_docker()
        doc["health"] = self.health.to_docker() if self.health is not None else None
        return doc

    @classmethod
    def from_doc(cls, doc: dict) -> "ContainerRecord":
        return cls(**{**doc, "state": ContainerState.from_docker(doc.get("state") or {}),
                      "health": Health.from_docker(doc.get("health"))})


_FIELDS = tuple(f.name for f in fields(ContainerRecord) if f.name != "backoff")


class Registry:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.by_id: dict[str, ContainerRecord] = {}
        self.by_name: dict[str, str] = {}
        for doc in store.all_containers():
            rec = ContainerRecord.from_doc(doc)
            self.by_id[rec.id] = rec
            self.by_name[rec.name] = rec.id

    def save(self, rec: ContainerRecord) -> None:
        self.store.put_container(rec.id, rec.name, rec.to_doc())

    def add(self, rec: ContainerRecord, persist: bool = True) -> None:
        """``persist=False``: known (its name taken) but not on disk until ``save``."""
        if rec.name in self.by_name:
            raise errors.name_in_use(rec.name, self.by_name[rec.name])
        if persist:
            self.save(rec)
        self.by_id[rec.id] = rec
        self.by_name[rec.name] = rec.id

    def delete(self, rec: ContainerRecord) -> None:
        self.store.delete_container(rec.id)
        self.by_id.pop(rec.id, None)
        if self.by_name.get(rec.name) == rec.id:
            del self.by_name[rec.name]

    def find(self, ref: str) -> ContainerRecord | None:
        if not ref:
            return None
        if ref in self.by_id:
            return self.by_id[ref]
        cid = self.by_name.get(ref.lstrip("/"))
        if cid:
            return self.by_id[cid]
        matches = [cid for cid in self.by_id if cid.startswith(ref)]
        if len(matches) > 1:
            raise errors.InvalidArgument(f"multiple IDs found with provided prefix: {ref}")
        return self.by_id[matches[0]] if matches else None

    def find_exact(self, ref: str) -> ContainerRecord | None:
        """By full id or name only, as moby's container list looks up ``before``/``since``."""
        cid = ref if ref in self.by_id else self.by_name.get(ref.lstrip("/"))
        return self.by_id[cid] if cid else None

    def get(self, ref: str) -> ContainerRecord:
        rec = self.find(ref)
        if rec is None:
            raise errors.no_such_container(ref)
        return rec

    def all(self) -> list[ContainerRecord]:
        return list(self.by_id.values())
