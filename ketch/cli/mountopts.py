"""``run``/``create`` mount flags -> the create body, as the docker 28 CLI builds it.

``-v`` is read as docker/cli reads it (the compose loader's ParseVolume, which knows no
modes): a spec with a source goes to ``HostConfig.Binds`` (a source starting with "."
made absolute), one without to ``Config.Volumes``; the daemon parses Binds for real.
``--mount`` is docker/cli 28.2's CSV (opts/mount.go) -> a ``HostConfig.Mounts`` object,
its errors being flag errors. ``--tmpfs``, ``--volumes-from`` and ``--volume-driver``
pass through as written. Binds keep the command line's order (docker's comes out of a
Go map, in random order).
"""

import datetime
import os
import sys
from typing import NamedTuple

from ketch import units
from ketch.cli.flags import FlagSpec, _read_csv


class MountOptError(Exception):
    """A ``-v`` docker/cli's parse refuses (``docker: <message>``, exit 125)."""


# -- --mount (docker/cli 28.2 opts.MountOpt.Set) ---------------------------------------

_BARE = {"readonly": ("ReadOnly",), "ro": ("ReadOnly",), "volume-nocopy": ("VolumeOptions", "NoCopy"),
         "bind-nonrecursive": ("BindOptions", "NonRecursive")}
_RECURSIVE = {"enabled": None, "disabled": "NonRecursive", "writable": "ReadOnlyNonRecursive",
              "readonly": "ReadOnlyForceRecursive"}
# the JSON field order of moby's mount.Mount and its option structs
_ORDER = ("Type", "Source", "Target", "ReadOnly", "Consistency", "BindOptions", "VolumeOptions",
          "ImageOptions", "TmpfsOptions")
_OPTION_ORDER = {"BindOptions": ("Propagation", "NonRecursive", "CreateMountpoint",
                                 "ReadOnlyNonRecursive", "ReadOnlyForceRecursive"),
                 "VolumeOptions": ("NoCopy", "Labels", "Subpath", "DriverConfig"),
                 "ImageOptions": ("Subpath",), "TmpfsOptions": ("SizeBytes", "Mode")}


def _abs_if_dotted(path: str) -> str:
    """docker/cli: a relative path starting with "." is taken from the working directory."""
    if not path.startswith("/") and path.startswith("."):
        return os.path.normpath(os.path.join(os.getcwd(), path))
    return path


def _bool(key: str, value: str) -> bool:
    try:
        return units.parse_go_bool(value)
    except ValueError:
        raise ValueError(f"invalid value for {key}: {value}") from None


def _warn(message: str) -> None:
    """logrus' text format on a non-terminal, as docker/cli prints its warnings."""
    now = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    print(f'time="{now.replace("+00:00", "Z")}" level=warning msg="{message}"', file=sys.stderr)


def parse_mount(value: str) -> dict:
    """One ``--mount`` value -> the API's Mount object (omitted fields as Go omits them)."""
    if value == "":
        raise ValueError("EOF")  # encoding/csv on nothing
    mount: dict = {"Type": "volume"}
    options: dict[str, dict] = {}

    def opts(name: str) -> dict:
        if name == "VolumeOptions" and name not in options:
            options[name] = {"Labels": {}, "DriverConfig": {}}
        return options.setdefault(name, {})

    for field in _read_csv(value):
        key, sep, val = field.partition("=")
        key = key.lower()
        if not sep:
            if key not in _BARE:
                raise ValueError(f"invalid field '{field}' must be a key=value pair")
            *where, name = _BARE[key]
            (opts(where[0]) if where else mount)[name] = True
            continue
        if key == "type":
            mount["Type"] = val.lower()
        elif key in ("source", "src"):
            mount["Source"] = _abs_if_dotted(val)
        elif key in ("target", "dst", "destination"):
            mount["Target"] = val
        elif key in ("readonly", "ro"):
            mount["ReadOnly"] = _bool(key, val)
        elif key == "consistency":
            mount["Consistency"] = val.lower()
        elif key == "bind-propagation":
            opts("BindOptions")["Propagation"] = val.lower()
        elif key == "bind-nonrecursive":
            opts("BindOptions")["NonRecursive"] = _bool(key, val)
            _warn("bind-nonrecursive is deprecated, use bind-recursive=disabled instead")
        elif key == "bind-recursive":
            if val not in _RECURSIVE:
                raise ValueError(f'invalid value for {key}: {val} (must be "enabled", "disabled", '
                                 '"writable", or "readonly")')
            if _RECURSIVE[val]:
                opts("BindOptions")[_RECURSIVE[val]] = True
        elif key == "volume-subpath":
            opts("VolumeOptions")["Subpath"] = val
        elif key == "volume-nocopy":
            try:
                opts("VolumeOptions")["NoCopy"] = units.parse_go_bool(val)
            except ValueError:
                raise ValueError(f"invalid value for volume-nocopy: {val}") from None
        elif key in ("volume-label", "volume-opt"):
            name, _, item = val.partition("=")
            target = opts("VolumeOptions")
            target = target["Labels"] if key == "volume-label" else \
                target["DriverConfig"].setdefault("Options", {})
            if name:
                target[name] = item
        elif key == "volume-driver":
            opts("VolumeOptions")["DriverConfig"]["Name"] = val
        elif key == "image-subpath":
            opts("ImageOptions")["Subpath"] = val
        elif key == "tmpfs-size":
            try:
                opts("TmpfsOptions")["SizeBytes"] = units.parse_ram(val)
            except ValueError:
                raise ValueError(f"invalid value for {key}: {val}") from None
        elif key == "tmpfs-mode":
            if not val or any(c not in "01234567" for c in val) or int(val, 8) >= 1 << 32:
                raise ValueError(f"invalid value for {key}: {val}")  # strconv.ParseUint(val, 8, 32)
            opts("TmpfsOptions")["Mode"] = int(val, 8)
        else:
            raise ValueError(f"unexpected key '{key}' in '{field}'")
    _check(mount, options)
    return _ordered(mount, options)


def _check(mount: dict, options: dict) -> None:
    kind = mount["Type"]
    if kind == "":
        raise ValueError("type is required")
    if not mount.get("Target"):
        raise ValueError("target is required")
    for name, prefix, owner in (("VolumeOptions", "volume", "volume"), ("ImageOptions", "image", "image"),
                                ("BindOptions", "bind", "bind"), ("TmpfsOptions", "tmpfs", "tmpfs")):
        if name in options and kind != owner:
            raise ValueError(f"cannot mix '{prefix}-*' options with mount type '{kind}'")
    bind = options.get("BindOptions", {})
    for flag, value in (("ReadOnlyNonRecursive", "writable"), ("ReadOnlyForceRecursive", "readonly")):
        if bind.get(flag) and not mount.get("ReadOnly"):
            raise ValueError(f"option 'bind-recursive={value}' requires 'readonly' to be specified "
                             "in conjunction")
    if bind.get("ReadOnlyForceRecursive") and bind.get("Propagation") != "rprivate":
        raise ValueError("option 'bind-recursive=readonly' requires 'bind-propagation=rprivate' "
                         "to be specified in conjunction")


def _ordered(mount: dict, options: dict) -> dict:
    """Go's JSON of the Mount: struct order, zero values (omitempty) left out."""
    full = {**mount, **{name: {k: value[k] for k in _OPTION_ORDER[name] if value.get(k)}
                        for name, value in options.items()}}
    volume = full.get("VolumeOptions")
    if volume is not None and "DriverConfig" in options.get("VolumeOptions", {}):
        driver = options["VolumeOptions"]["DriverConfig"]
        volume["DriverConfig"] = {k: driver[k] for k in ("Name", "Options") if driver.get(k)}
    return {k: full[k] for k in _ORDER if k in full and (full[k] or isinstance(full[k], dict))}


# -- -v (the compose loader's ParseVolume, platform-blind) -----------------------------

_END = "\0"  # endOfSpec: rune(0)


def _is_drive(buffer: list, char: str) -> bool:
    return char == ":" and len(buffer) == 1 and buffer[0].isalpha()


def _is_file_path(source: str) -> bool:
    if source[0] in "./~":
        return True
    if len(source) == 1:
        return False
    return source.startswith("\\\\") or _is_drive([source[0]], source[1])


def parse_volume(spec: str) -> tuple[str, str]:
    """-> (source, target); source "" for an anonymous volume. Options are not read:
    the daemon checks them."""
    size = len(spec.encode("utf-8", "surrogateescape"))
    if size == 0:
        raise MountOptError("invalid empty volume spec")
    if size <= 2:
        return "", spec
    source = target = ""
    buffer: list = []
    for char in spec + _END:
        if _is_drive(buffer, char):
            buffer.append(char)
        elif char in (":", _END):
            text = "".join(buffer)
            if not buffer:
                error = "empty section between colons"
            elif source == "" and char == _END:
                target, error = text, ""
            elif source == "":
                source, error = text, ""
            elif target == "":
                target, error = text, ""
            else:
                error = "too many colons" if char == ":" else ""
            if error:
                raise MountOptError(f"invalid spec: {spec}: {error}")
            buffer = []
        else:
            buffer.append(char)
    return source, target


class MountFields(NamedTuple):
    volumes: dict  # Config.Volumes
    binds: list  # HostConfig.Binds
    mounts: list  # HostConfig.Mounts
    tmpfs: dict  # HostConfig.Tmpfs
    volumes_from: list  # HostConfig.VolumesFrom
    volume_driver: str  # HostConfig.VolumeDriver


def parse(opts) -> MountFields:
    """The flags' values -> the body's fields; a bad ``-v`` raises MountOptError."""
    volumes: dict = {}
    binds: list = []
    for spec in dict.fromkeys(opts["volume"]):  # docker keeps one of each
        source, _ = parse_volume(spec)
        if not source:
            volumes[spec] = {}
        elif _is_file_path(source):
            host, _, rest = spec.partition(":")
            binds.append(f"{_abs_if_dotted(host)}:{rest}")
        else:
            binds.append(spec)
    tmpfs = {}
    for item in opts["tmpfs"]:
        dest, _, options = item.partition(":")
        tmpfs[dest] = options
    return MountFields(volumes, binds, list(opts["mount"]), tmpfs, list(opts["volumes-from"]),
                       opts["volume-driver"])


def apply(fields: MountFields, config: dict) -> None:
    """Put the fields into the create body ``config`` (HostConfig inside it)."""
    hc = config["HostConfig"]
    config["Volumes"] = fields.volumes
    hc["Binds"] = fields.binds or None
    if fields.mounts:
        hc["Mounts"] = fields.mounts
    if fields.tmpfs:
        hc["Tmpfs"] = fields.tmpfs
    hc["VolumeDriver"] = fields.volume_driver
    hc["VolumesFrom"] = fields.volumes_from or None


FLAGS = (
    FlagSpec("mount", None, "list", metavar="mount", convert=parse_mount,
             help="Attach a filesystem mount to the container"),
    FlagSpec("tmpfs", None, "list", help="Mount a tmpfs directory"),
    FlagSpec("volume", "v", "list", help="Bind mount a volume"),
    FlagSpec("volume-driver", None, "string", help="Optional volume driver for the container"),
    FlagSpec("volumes-from", None, "list", help="Mount volumes from the specified container(s)"),
)
