"""A container's volumes after the container: who still uses a volume, and what removing
a container removes (moby's ``removeMountPoints``).

``rm -v`` and ``run --rm`` remove the container's anonymous volumes (those of
``Config.Volumes``, ``-v /path``, ``--mount type=volume`` without a source) and keep the
ones the user named. A volume another container still uses stays as well: the volume
service refuses it (Conflict), which is not an error here.
"""

import logging
from typing import Iterable

from ketch import errors
from ketch.engine.volumes.mountpoint import MountPoint, VolumeAccess

log = logging.getLogger("ketchd.volumes")


def volume_names(mounts: Iterable[dict]) -> set[str]:
    """The names of the volumes in a container's mount point docs."""
    return {m["name"] for m in mounts if m.get("type") == "volume" and m.get("name")}


async def remove_anonymous(volumes: VolumeAccess, mounts: Iterable[dict]) -> list[str]:
    """Remove the anonymous volumes of a container that is gone, their data deleted off
    the event loop (an image's VOLUME may hold gigabytes); the messages of the removals
    that failed for another reason than use (moby logs them)."""
    failed = []
    for doc in mounts:
        mp = MountPoint.from_doc(doc)
        if not mp.is_volume or mp.named or not mp.name:
            continue
        try:
            await volumes.remove_async(mp.name)
        except errors.Conflict:
            pass  # another container uses it: it goes with the last one's `rm -v`
        except errors.NotFound:
            pass  # removed meanwhile (volume rm -f)
        except errors.KetchError as exc:
            failed.append(str(exc))
    if failed:
        log.error("Error removing volumes:\n%s", "\n".join(failed))
    return failed
