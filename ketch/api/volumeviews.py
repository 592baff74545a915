"""Volumes -> Docker's JSON (moby's ``volume.Volume``), in its field order.

``Labels`` and ``Options`` are Go maps: null when the volume has none (as moby shows a
volume made by ``docker volume create NAME`` or ``run -v NAME:/dst``), with sorted keys
otherwise. ``UsageData`` only where moby computes it (``system df``); ``Status`` never
(the local driver has none).
"""

from ketch.volume.model import Volume

SCOPE = "local"


def volume_json(vol: Volume, usage: tuple[int, int] | None = None) -> dict:
    """``usage``: (size in bytes or -1, containers using it) for UsageData."""
    doc = {"CreatedAt": vol.created_at, "Driver": vol.driver,
           "Labels": dict(sorted(vol.labels.items())) if vol.labels else None,
           "Mountpoint": vol.mountpoint, "Name": vol.name,
           "Options": dict(sorted(vol.options.items())) if vol.options else None,
           "Scope": SCOPE}
    if usage is not None:
        doc["UsageData"] = {"RefCount": usage[1], "Size": usage[0]}
    return doc
