"""The mounts a create asks for, as one typed value whatever form they came in.

A container's mounts arrive in four shapes: ``HostConfig.Binds`` strings (``-v``),
``HostConfig.Mounts`` objects (``--mount``), ``Config.Volumes`` keys (``-v /path``, an
image's ``VOLUME``) and ``HostConfig.Tmpfs`` (``--tmpfs``). The parsers here turn the
first three into ``MountRequest`` with moby's validation and messages (moby's
``volume/mounts/linux_parser.go``); the engine decides from requests alone, never from
the raw shapes. Pure: the CLI uses the same parser to tell a bind from an anonymous
volume, as docker/cli does.
"""

from dataclasses import dataclass, field

BIND, VOLUME, TMPFS = "bind", "volume", "tmpfs"
TYPES = (BIND, VOLUME, TMPFS)
PROPAGATIONS = ("private", "rprivate", "shared", "rshared", "slave", "rslave")
DEFAULT_PROPAGATION = "rprivate"  # moby's for binds on Linux


@dataclass(frozen=True)
class MountRequest:
    type: str  # BIND, VOLUME or TMPFS
    destination: str  # absolute and clean, in the container
    source: str = ""  # bind: the host path; volume: its name ("" for an anonymous one)
    rw: bool = True
    mode: str = ""  # inspect's Mount.Mode: a Binds entry's mode text ("ro,Z"), "" from --mount
    propagation: str = ""  # "" or one of PROPAGATIONS (binds)
    copy_data: bool = True  # a new empty volume is populated from the image ("nocopy" clears)
    driver: str = ""  # volume driver asked for ("" = the default, "local")
    driver_opts: dict[str, str] = field(default_factory=dict)  # VolumeOptions.DriverConfig.Options
    labels: dict[str, str] = field(default_factory=dict)  # VolumeOptions.Labels
    subpath: str = ""  # VolumeOptions.Subpath
    non_recursive: bool = False  # BindOptions.NonRecursive
    readonly_non_recursive: bool = False  # BindOptions.ReadOnlyNonRecursive
    readonly_force_recursive: bool = False  # BindOptions.ReadOnlyForceRecursive
    create_mountpoint: bool = False  # BindOptions.CreateMountpoint
    tmpfs_size: int = 0  # TmpfsOptions.SizeBytes (0: the kernel's default)
    tmpfs_mode: int = 0  # TmpfsOptions.Mode (0: 1777)
    create_source: bool = False  # a missing bind source is made (a -v bind), not refused (--mount)
    spec: dict | None = None  # the HostConfig.Mounts entry it came from (inspect's MountPoint.Spec)
