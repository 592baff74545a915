"""The mounts a create asks for, as one typed value whatever form they came in.

A container's mounts arrive in four shapes: ``HostConfig.Binds`` strings (``-v``),
``HostConfig.Mounts`` objects (``--mount``), ``Config.Volumes`` keys (``-v /path``, an
image's ``VOLUME``) and ``HostConfig.Tmpfs`` (``--tmpfs``). The parsers here turn the
first three into ``MountRequest`` with moby's validation and messages (moby's
``volume/mounts/linux_parser.go``); the engine decides from requests alone, never from
the raw shapes. Pure: the CLI uses the same parser to tell a bind from an anonymous
volume, as docker/cli does.
"""

import posixpath
from dataclasses import dataclass, field

from ketch.units import go_quote

BIND, VOLUME, TMPFS = "bind", "volume", "tmpfs"
TYPES = (BIND, VOLUME, TMPFS)
PROPAGATIONS = ("private", "rprivate", "shared", "rshared", "slave", "rslave")
DEFAULT_PROPAGATION = "rprivate"  # moby's for binds on Linux
IMAGE = "image"  # a HostConfig.Mounts type moby knows (API 1.48) and ketch does not mount


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
    tmpfs_options: tuple[str, ...] = ()  # TmpfsOptions.Options: "exec", "noexec"
    create_source: bool = False  # a missing bind source is made (a -v bind), not refused (--mount)
    spec: dict | None = None  # the HostConfig.Mounts entry it came from (inspect's MountPoint.Spec)


class MountSpecError(ValueError):
    """A mount moby's parser refuses; the text is moby's, word for word."""


# -- modes of a Binds entry (moby's linuxValidMountMode) -------------------------------

_RW_MODES = ("rw", "ro")
_LABEL_MODES = ("z", "Z")
_COPY_MODES = ("nocopy",)
_CONSISTENCY_MODES = ("consistent", "cached", "delegated")  # accepted, meaningless on Linux
_MODE_KINDS = (_RW_MODES, _LABEL_MODES, PROPAGATIONS, _COPY_MODES, _CONSISTENCY_MODES)


def valid_mode(mode: str) -> bool:
    """Comma-separated modes, at most one of each kind; "" is valid."""
    if mode == "":
        return True
    counts = [0] * len(_MODE_KINDS)
    for option in mode.split(","):
        kind = next((i for i, modes in enumerate(_MODE_KINDS) if option in modes), None)
        if kind is None:
            return False
        counts[kind] += 1
    return max(counts) <= 1


def read_write(mode: str) -> bool:
    """moby's ReadWrite: a valid mode without "ro" (an invalid one is read-only)."""
    return valid_mode(mode) and "ro" not in mode.split(",")


def _propagation_of(mode: str) -> str:
    return next((o for o in mode.split(",") if o in PROPAGATIONS), "")


def _invalid_spec(raw: str) -> str:
    return f"invalid volume specification: '{raw}'"


def _invalid_mode(mode: str) -> MountSpecError:
    return MountSpecError(f"invalid mode: {mode}")


# -- paths as Go's path package sees them ----------------------------------------------

def go_clean(path: str) -> str:
    """path.Clean: also "//x" -> "/x", which posixpath keeps."""
    clean = posixpath.normpath(path)
    return "/" + clean.lstrip("/") if clean.startswith("//") else clean


def _is_local(path: str) -> bool:
    """filepath.IsLocal on Unix: relative, non-empty, never climbing out."""
    if path.startswith("/") or path == "":
        return False
    if any(part in (".", "..") for part in path.split("/")):
        path = go_clean(path)
    return path != ".." and not path.startswith("../")


def _check_target(target: str) -> str:
    """"" when the destination is fine, else moby's complaint about it."""
    if target == "":
        return "field Target must not be empty"
    return _destination_error(target)


def _destination_error(target: str) -> str:
    target = target.replace("\\", "/")
    if go_clean(target) == "/":
        return "invalid specification: destination can't be '/'"
    if not target.startswith("/"):
        return f"invalid mount path: '{target}' mount path must be absolute"
    return ""


# -- HostConfig.Mounts (moby's validateMountConfig, without the filesystem checks) -----

_OPTION_FIELDS = (("BindOptions", BIND), ("VolumeOptions", VOLUME), ("ImageOptions", IMAGE),
                  ("TmpfsOptions", TMPFS), ("ClusterOptions", "cluster"))


def _mount_config_error(m: dict) -> str:
    kind = m.get("Type") or ""
    for name, owner in _OPTION_FIELDS:
        if kind != owner and m.get(name) is not None:
            return f"field {name} must not be specified"
    target_error = _check_target(m.get("Target") or "")
    if target_error:
        return target_error
    source = m.get("Source") or ""
    if kind == BIND:
        if source == "":
            return "field Source must not be empty"
        propagation = (m.get("BindOptions") or {}).get("Propagation") or ""
        if propagation and propagation not in PROPAGATIONS:
            return f"invalid propagation mode: {propagation}"
        source = source.replace("\\", "/")
        if not source.startswith("/"):
            return f"invalid mount path: '{source}' mount path must be absolute"
    elif kind == VOLUME:
        subpath = (m.get("VolumeOptions") or {}).get("Subpath") or ""
        if subpath and source == "":
            return "must not set Subpath when using anonymous volumes"
        if subpath and not _is_local(subpath):
            return "subpath must be a relative path within the volume"
    elif kind == TMPFS:
        if source != "":
            return "field Source must not be specified"
        try:
            _tmpfs_options((m.get("TmpfsOptions") or {}).get("Options") or [])
        except MountSpecError as exc:
            return str(exc)
    elif kind == IMAGE:
        if source == "":
            return "field Source must not be empty"
        subpath = (m.get("ImageOptions") or {}).get("Subpath") or ""
        if subpath and not _is_local(subpath):
            return "subpath must be a relative path within the volume"
    else:
        return "mount type unknown"
    return ""


def _tmpfs_options(raw: list) -> tuple[str, ...]:
    """TmpfsOptions.Options ([["noexec"], ["exec"]]) as mount options."""
    options = []
    for option in raw:
        if not isinstance(option, list) or not 1 <= len(option) <= 2:
            raise MountSpecError("invalid option array length")
        if option[0] not in ("exec", "noexec"):
            raise MountSpecError(f"invalid option: {option[0]}")
        options.append("=".join(option))
    return tuple(options)


def check_api_mount(m: dict) -> None:
    """moby's ValidateMountConfig minus the bind source's existence (the engine's)."""
    error = _mount_config_error(m)
    if error:
        raise MountSpecError(f"invalid mount config for type {go_quote(m.get('Type') or '')}: {error}")


def from_api_mount(m: dict) -> MountRequest:
    """A ``HostConfig.Mounts`` entry (the API's JSON object) -> MountRequest, as moby's
    ParseMountSpec reads it. Image mounts pass moby's checks and are refused here: ketch
    does not mount images."""
    check_api_mount(m)
    kind = m["Type"]
    if kind == IMAGE:
        raise MountSpecError('invalid mount config for type "image": mount type not supported')
    common = {"type": kind, "destination": go_clean(m["Target"]), "rw": not m.get("ReadOnly"),
              "spec": m}
    if kind == VOLUME:
        options = m.get("VolumeOptions") or {}
        driver = options.get("DriverConfig") or {}
        return MountRequest(**common, source=m.get("Source") or "",
                            copy_data=not options.get("NoCopy"), driver=driver.get("Name") or "",
                            driver_opts=dict(driver.get("Options") or {}),
                            labels=dict(options.get("Labels") or {}),
                            subpath=options.get("Subpath") or "")
    if kind == BIND:
        options = m.get("BindOptions") or {}
        create = bool(options.get("CreateMountpoint"))
        return MountRequest(**common, source=go_clean(m["Source"]),
                            propagation=options.get("Propagation") or DEFAULT_PROPAGATION,
                            non_recursive=bool(options.get("NonRecursive")),
                            readonly_non_recursive=bool(options.get("ReadOnlyNonRecursive")),
                            readonly_force_recursive=bool(options.get("ReadOnlyForceRecursive")),
                            create_mountpoint=create, create_source=create)
    options = m.get("TmpfsOptions") or {}
    return MountRequest(**common, tmpfs_size=int(options.get("SizeBytes") or 0),
                        tmpfs_mode=int(options.get("Mode") or 0),
                        tmpfs_options=_tmpfs_options(options.get("Options") or []))


# -- HostConfig.Binds (moby's ParseMountRaw) -------------------------------------------

def parse_bind(raw: str, volume_driver: str = "") -> MountRequest:
    """One ``HostConfig.Binds`` entry: ``[source:]destination[:mode]``. An absolute source
    is a bind (made at start when missing), any other a named volume; ``volume_driver``
    (HostConfig.VolumeDriver) applies to volumes only. Mode is kept as written: moby's
    registerMountPoints then gives a local-driver volume (from Binds or Mounts) with no mode
    the Mode "z" (setBindModeIfNull), after the parser — the engine's business."""
    parts = raw.split(":", 3)
    if parts[0] == "" or len(parts) == 4 or (len(parts) == 2 and valid_mode(parts[1])):
        raise MountSpecError(_invalid_spec(raw))  # a destination with a mode has no source
    source, target = ("", parts[0]) if len(parts) == 1 else (parts[0], parts[1])
    mode = parts[2] if len(parts) == 3 else ""
    if not valid_mode(mode):
        raise _invalid_mode(mode)
    kind = BIND if source.startswith("/") else VOLUME
    spec: dict = {"Type": kind, "Source": source, "Target": target, "ReadOnly": not read_write(mode)}
    if volume_driver and kind == VOLUME:
        spec["VolumeOptions"] = {"DriverConfig": {"Name": volume_driver}}
    if "nocopy" in mode.split(","):
        spec.setdefault("VolumeOptions", {})["NoCopy"] = True
    propagation = _propagation_of(mode)
    if propagation:
        spec["BindOptions"] = {"Propagation": propagation}
    error = _mount_config_error(spec)
    if error:
        raise MountSpecError(f"{_invalid_spec(raw)}: invalid mount config for type "
                             f"{go_quote(kind)}: {error}")
    request = from_api_mount(spec)
    return MountRequest(**{**request.__dict__, "mode": mode, "spec": None,
                           "create_source": kind == BIND})


def parse_anonymous(destination: str, volume_driver: str = "") -> MountRequest:
    """A ``Config.Volumes`` key (``-v /path``, an image's VOLUME): a new anonymous volume.
    moby only cleans the key (filepath.Clean), it checks nothing else."""
    return MountRequest(VOLUME, go_clean(destination), driver=volume_driver)


def validate_tmpfs(destination: str, options: str = "") -> None:
    """A ``HostConfig.Tmpfs`` entry at create (moby's ValidateTmpfsMountDestination): the
    options are the mount's data, read when the container starts."""
    error = _destination_error(destination)
    if error:
        raise MountSpecError(error)


def tmpfs_data(request: MountRequest) -> str:
    """moby's ConvertTmpfsOptions: a tmpfs request's mount data ("ro,mode=755,size=64m")."""
    options = ["ro"] if not request.rw else []
    if request.tmpfs_mode:
        options.append(f"mode={request.tmpfs_mode:o}")
    if request.tmpfs_size:
        size, suffix = request.tmpfs_size, ""
        for unit, divisor in (("g", 1 << 30), ("m", 1 << 20), ("k", 1 << 10)):
            if size % divisor == 0:
                size, suffix = size // divisor, unit
                break
        options.append(f"size={size}{suffix}")
    return ",".join(options + list(request.tmpfs_options))


def parse_volumes_from(spec: str) -> tuple[str, str]:
    """A ``HostConfig.VolumesFrom`` entry ``container[:ro|rw]`` -> (container, mode);
    propagation and copy modes are refused (the source's volumes keep theirs)."""
    if spec == "":
        raise MountSpecError("volumes-from specification cannot be an empty string")
    container, _, mode = spec.partition(":")
    if mode == "":
        return container, "rw"
    options = mode.split(",")
    if not valid_mode(mode) or _propagation_of(mode) or "nocopy" in options:
        raise _invalid_mode(mode)
    return container, mode
