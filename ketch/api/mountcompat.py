"""What a create's ``HostConfig.Mounts`` mean at the client's API version (moby's
``postContainersCreate``): fields an older API did not have are ignored or refused,
and from 1.42 on options of another mount type are refused before anything else looks.
"""

from ketch.api.versions import at_least
from ketch.errors import InvalidArgument

_OPTIONS = (("VolumeOptions", "volume"), ("BindOptions", "bind"), ("TmpfsOptions", "tmpfs"))


def adapt(host_config: dict, version: str | None) -> None:
    """Adapt (in place) or refuse the mounts of ``host_config`` for API ``version``."""
    mounts = [m for m in host_config.get("Mounts") or [] if isinstance(m, dict)]
    if not at_least(version, "1.40"):
        for m in mounts:  # BindOptions.NonRecursive came with 1.40
            if m.get("BindOptions"):
                m["BindOptions"] = {**m["BindOptions"], "NonRecursive": False}
    if not at_least(version, "1.42"):
        for m in mounts:
            # CreateMountpoint came with 1.42; options of another type were not checked
            if m.get("BindOptions"):
                m["BindOptions"] = {**m["BindOptions"], "CreateMountpoint": False}
            for key, kind in _OPTIONS[::2]:  # moby resets VolumeOptions and TmpfsOptions only
                if m.get(key) is not None and m.get("Type") != kind:
                    m[key] = None
    else:
        for m in mounts:
            for key, kind in _OPTIONS:
                if m.get(key) is not None and m.get("Type") != kind:
                    raise InvalidArgument(f'{key} must not be specified on mount type "{m.get("Type") or ""}"')
    if not at_least(version, "1.44"):
        for m in mounts:
            if m.get("Type") == "bind" and (m.get("BindOptions") or {}).get("ReadOnlyForceRecursive"):
                raise InvalidArgument("BindOptions.ReadOnlyForceRecursive needs API v1.44 or newer")
    if not at_least(version, "1.45"):
        for m in mounts:
            if (m.get("VolumeOptions") or {}).get("Subpath"):
                raise InvalidArgument("VolumeOptions.Subpath needs API v1.45 or newer")
