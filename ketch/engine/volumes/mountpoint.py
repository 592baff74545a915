"""A container's mount points: what each destination is bound to, decided at create.

moby keeps ``MountPoints`` in a container's config; ketch keeps them on the container
record (``ContainerRecord.mounts``, one doc per destination). A volume mount point names
its volume, which exists from create on (an anonymous one is made then), so inspect
shows its Source before the first start, as Docker does. ``--tmpfs`` mounts are not
mount points (moby's neither): they go from ``HostConfig.Tmpfs`` straight to the spec.
"""

from dataclasses import asdict, dataclass, field
from typing import Iterable, Protocol

from ketch.apitypes.mounts import VOLUME
from ketch.volume.model import Volume


@dataclass(frozen=True)
class MountPoint:
    type: str  # bind, volume, tmpfs (a --mount type=tmpfs)
    destination: str
    source: str = ""  # bind: the host path; volume: the volume's mountpoint; tmpfs: ""
    name: str = ""  # volume: its name
    driver: str = ""  # volume: its driver
    rw: bool = True
    mode: str = ""  # inspect's Mode ("z", "ro", ...)
    propagation: str = ""  # inspect's Propagation ("rprivate" for binds)
    copy_data: bool = True  # populate a new empty volume from the image at create
    named: bool = False  # a volume the user named: kept by `rm -v` and `run --rm`
    options: dict = field(default_factory=dict)  # what the spec needs besides (tmpfs size, bind flags)
    spec: dict | None = None  # the HostConfig.Mounts entry it came from

    def to_doc(self) -> dict:
        return asdict(self)

    @classmethod
    def from_doc(cls, doc: dict) -> "MountPoint":
        return cls(**doc)

    @property
    def is_volume(self) -> bool:
        return self.type == VOLUME


class VolumeAccess(Protocol):
    """What a container's mounts need of the volume service (engine/volumes/service.py)."""

    def create(self, name: str = "", driver: str = "", opts: dict | None = None,
               labels: dict | None = None, anonymous: bool = False) -> Volume:
        """A new volume; ``name`` "" makes a random 64-hex name. A volume of that name
        already there is returned as it is (moby's idempotent create); a driver other
        than local is refused first (NotFound: plugin not found). Conflict while a
        removal of that name is still deleting its data (the API's create waits)."""

    def get(self, name: str) -> Volume:
        """The volume, or NotFound "get NAME: no such volume"."""

    def mount(self, name: str, container_id: str, attributes: dict) -> str:
        """Make the volume's data available for ``container_id`` and return its host path
        (the local driver mounts a volume made with -o type/device once, counting users);
        publishes the ``mount`` event with ``attributes``."""

    def restore(self, name: str, container_id: str) -> None:
        """After a ketchd restart, count again the mount of a container found running
        (moby's LiveRestoreVolume): what ``mount`` did is still in place; no event."""

    def unmount(self, name: str, container_id: str) -> None:
        """Undo ``mount`` for ``container_id``; publishes ``unmount``."""

    def remove(self, name: str, force: bool = False) -> None:
        """Delete the volume and its data; Conflict while a container uses it."""

    async def remove_async(self, name: str, force: bool = False) -> None:
        """``remove`` with the data deleted in a thread (from the event loop: a big
        volume must not stall the daemon)."""

    async def removed(self, names: Iterable[str]) -> None:
        """Wait until no removal of any of ``names`` is deleting its data (moby's
        per-name lock: a create of the name waits for the remove)."""
