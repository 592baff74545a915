"""A container's own mounts as data: mount points and tmpfs to OCI mount entries.

The pure half of ``mountsetup.py`` (which does the host's side: volume mounts, bind
sources, subpath pins): moby's ``withMounts`` options for binds and volumes (rbind or
bind, ``rro``/``ro``, propagation), ``MergeTmpfsOptions`` and ``ConvertTmpfsOptions``
for tmpfs, and a volume's ``mount`` event attributes.

Mount point ``options`` read here (beside the ``spec``, moby's ``Spec``, which wins for
the fields it has): ``non_recursive``, ``readonly_non_recursive``,
``readonly_force_recursive``, ``create_mountpoint``, ``tmpfs_size``, ``tmpfs_mode``,
``tmpfs_options`` and ``subpath`` (volume).
"""

from ketch import errors
from ketch.apitypes import mounts
from ketch.apitypes.mounts import DEFAULT_PROPAGATION, TMPFS, MountRequest
from ketch.engine.volumes.mountpoint import MountPoint

NETWORK_FILES = ("/etc/resolv.conf", "/etc/hostname", "/etc/hosts")
TMPFS_DEFAULTS = ("noexec", "nosuid", "nodev", DEFAULT_PROPAGATION)

# moby/sys/mount's flags table: option -> the flag it sets or clears (the collision key)
_FLAG_OF = {
    "ro": "rdonly", "rw": "rdonly", "suid": "nosuid", "nosuid": "nosuid", "dev": "nodev",
    "nodev": "nodev", "exec": "noexec", "noexec": "noexec", "sync": "sync", "async": "sync",
    "dirsync": "dirsync", "remount": "remount", "mand": "mand", "nomand": "mand",
    "atime": "noatime", "noatime": "noatime", "diratime": "nodiratime",
    "nodiratime": "nodiratime", "relatime": "relatime", "norelatime": "relatime",
    "strictatime": "strictatime", "nostrictatime": "strictatime",
}
_PROPAGATION_FLAGS = ("bind", "rbind", "unbindable", "runbindable", "private", "rprivate",
                      "shared", "rshared", "slave", "rslave")
_TMPFS_DATA = ("", "size", "mode", "uid", "gid", "nr_inodes", "nr_blocks", "mpol")


def merge_tmpfs_options(options: list[str]) -> list[str]:
    """moby/sys/mount's MergeTmpfsOptions: one option per flag (the last wins), one
    propagation, one value per data key; an unknown option is refused."""
    seen: set[str] = set()
    out: list[str] = []
    for option in reversed(options):
        if option == "defaults":
            continue
        if option in _FLAG_OF or option in _PROPAGATION_FLAGS:
            key = "propagation" if option in _PROPAGATION_FLAGS else _FLAG_OF[option]
        else:
            name, sep, _ = option.partition("=")
            if not sep or name not in _TMPFS_DATA:
                raise errors.InvalidArgument(f'invalid tmpfs option "{name}"')
            key = "=" + name
        if key not in seen:
            seen.add(key)
            out.insert(0, option)
    return out


def tmpfs_mount(destination: str, data: str) -> dict:
    options = list(TMPFS_DEFAULTS) + (data.split(",") if data else [])
    return {"destination": destination, "type": "tmpfs", "source": "tmpfs",
            "options": merge_tmpfs_options(options)}


def tmpfs_data(mp: MountPoint) -> str:
    """moby's ConvertTmpfsOptions for a ``--mount type=tmpfs`` (apitypes' ``tmpfs_data``),
    from the mount point's spec, else the options the plan kept."""
    opts = (mp.spec or {}).get("TmpfsOptions") or {}
    request = MountRequest(
        TMPFS, mp.destination, rw=mp.rw,
        tmpfs_mode=int(opts.get("Mode") or mp.options.get("tmpfs_mode") or 0),
        tmpfs_size=int(opts.get("SizeBytes") or mp.options.get("tmpfs_size") or 0),
        tmpfs_options=tuple("=".join(item) for item in opts.get("Options") or [])
        or tuple(mp.options.get("tmpfs_options") or ()))
    return mounts.tmpfs_data(request)


def bind_option(mp: MountPoint, key: str, spec_key: str) -> bool:
    bind = (mp.spec or {}).get("BindOptions") or {}
    return bool(bind.get(spec_key) or mp.options.get(key))


def bind_mount(mp: MountPoint, source: str, rro_error: str = "") -> dict:
    """withMounts for a bind or volume: rbind/bind, rro/ro, propagation.
    ``rro_error``: why recursive read-only is unavailable ("" when it is)."""
    network = mp.destination in NETWORK_FILES
    non_recursive = not network and bind_option(mp, "non_recursive", "NonRecursive")
    ro_non_recursive = not network and bind_option(mp, "readonly_non_recursive",
                                                    "ReadOnlyNonRecursive")
    ro_force = not network and bind_option(mp, "readonly_force_recursive", "ReadOnlyForceRecursive")
    if mp.rw and ro_non_recursive:
        raise errors.InvalidArgument("mount options conflict: !ReadOnly && BindOptions.ReadOnlyNonRecursive")
    if mp.rw and ro_force:
        raise errors.InvalidArgument("mount options conflict: !ReadOnly && BindOptions.ReadOnlyForceRecursive")
    if ro_non_recursive and ro_force:
        raise errors.InvalidArgument(
            "mount options conflict: ReadOnlyNonRecursive && BindOptions.ReadOnlyForceRecursive")
    options = ["bind" if non_recursive else "rbind"]
    if not mp.rw:
        if rro_error and ro_force:
            raise errors.InvalidArgument(rro_error)
        options.append("ro" if ro_non_recursive or rro_error else "rro")
    propagation = DEFAULT_PROPAGATION if network else mp.propagation
    if propagation:
        options.append(propagation)
    return {"destination": mp.destination, "type": "bind", "source": source, "options": options}


def mount_attributes(mp: MountPoint, cid: str) -> dict:
    """moby's attributes of a volume's ``mount`` event."""
    return {"driver": mp.driver, "container": cid, "destination": mp.destination,
            "read/write": "true" if mp.rw else "false", "propagation": mp.propagation}


def mount_points(docs: list[dict]) -> list[MountPoint]:
    return [MountPoint.from_doc(doc) for doc in docs]


def subpath_of(mp: MountPoint) -> str:
    """A volume mount point's ``VolumeOptions.Subpath`` ("" for none)."""
    return ((mp.spec or {}).get("VolumeOptions") or {}).get("Subpath") or mp.options.get("subpath") or ""
