"""``RUN --mount=type=cache,target=/root/.cache,sharing=locked`` -> ``MountSpec``:
buildkit's ``instructions/commands_runmount.go``.

Fields are CSV (``"target=/a,b"`` quotes a comma); keys are case-insensitive; ``ro``/``rw``/
``required`` may stand alone. bind and secret mounts are read-only unless told, cache and
tmpfs read-write. buildkit expands ``$VAR`` in the values at dispatch; the parser keeps them
as written (``expand_mount`` does the dispatch part for the string fields).
"""

import csv
import dataclasses
from collections.abc import Callable

from ketch.build.instructions import MountSpec
from ketch.errors import InvalidArgument
from ketch.units import parse_go_bool, parse_ram

TYPES = ("bind", "cache", "tmpfs", "secret", "ssh")
SHARING = ("shared", "private", "locked")
_FILE_INFO_TYPES = ("secret", "ssh", "cache")  # mode, uid, gid allowed


def _fields(text: str) -> list[str]:
    try:
        return next(csv.reader([text], strict=True), [])
    except csv.Error as e:
        raise InvalidArgument(f"failed to parse csv mounts: {e}") from None


def _bool(key: str, value: str) -> bool:
    try:
        return parse_go_bool(value)
    except ValueError:
        raise InvalidArgument(f"invalid value for {key}: {value}") from None


def _uint(key: str, value: str, base: int) -> int:
    digits = "01234567" if base == 8 else "0123456789"
    if not value or any(c not in digits for c in value) or int(value, base) >= 2**32:
        raise InvalidArgument(f"invalid value {value} for {key}")
    return int(value, base)


def parse_mount(text: str) -> MountSpec:
    values: dict = {"type": "bind"}
    ro_auto, sharing = True, ""
    for field in _fields(text):
        key, eq, value = field.partition("=")
        key = key.lower()
        mtype = values["type"]
        if not eq:
            if key in ("readonly", "ro", "readwrite", "rw"):
                values["readonly"], ro_auto = key in ("readonly", "ro"), False
            elif key == "required" and mtype in ("secret", "ssh"):
                values["required"] = True
            elif key == "required":
                raise InvalidArgument(f"unexpected key '{key}' for mount type '{mtype}'")
            else:
                raise InvalidArgument(f"invalid field '{field}' must be a key=value pair")
            continue
        if key == "from" and "$" in value[:-1]:
            raise InvalidArgument(f"'{key}' doesn't support variable expansion, define alias "
                                  "stage instead")
        if key == "type":
            if value.lower() not in TYPES:
                raise InvalidArgument(f"unsupported mount type \"{value}\"")
            values["type"] = value.lower()
        elif key == "from":
            values["from_"] = value
        elif key in ("source", "src"):
            values["source"] = value
        elif key in ("target", "dst", "destination"):
            values["target"] = value
        elif key in ("readonly", "ro"):
            values["readonly"], ro_auto = _bool(key, value), False
        elif key in ("readwrite", "rw"):
            values["readonly"], ro_auto = not _bool(key, value), False
        elif key == "required":
            if mtype not in ("secret", "ssh"):
                raise InvalidArgument(f"unexpected key '{key}' for mount type '{mtype}'")
            values["required"] = _bool(key, value)
        elif key == "size":
            if mtype != "tmpfs":
                raise InvalidArgument(f"unexpected key '{key}' for mount type '{mtype}'")
            try:
                values["size"] = parse_ram(value)
            except ValueError:
                raise InvalidArgument(f"invalid value for {key}: {value}") from None
        elif key == "id":
            values["id"] = value
        elif key == "sharing":
            if value.lower() not in SHARING:
                raise InvalidArgument(f"unsupported sharing value \"{value}\"")
            sharing = value.lower()
        elif key == "mode":
            values["mode"] = _uint(key, value, 8)
        elif key in ("uid", "gid"):
            values[key] = _uint(key, value, 10)
        elif key == "env":
            values["env"] = value
        else:
            raise InvalidArgument(f"unexpected key '{key}' in '{field}'")
    mtype = values["type"]
    if mtype not in _FILE_INFO_TYPES:
        for key in ("mode", "uid", "gid"):
            if key in values:
                raise InvalidArgument(f"{key} not allowed for \"{mtype}\" type mounts")
    if ro_auto:
        values["readonly"] = mtype not in ("cache", "tmpfs")
    if mtype == "secret":
        if values.get("from_"):
            raise InvalidArgument("secret mount should not have a from")
        if sharing:
            raise InvalidArgument("secret mount should not define sharing")
        if not (values.get("source") or values.get("target") or values.get("id")):
            raise InvalidArgument("invalid secret mount. one of source, target required")
        if values.get("source") and values.get("id"):
            raise InvalidArgument("both source and id can't be set")
    if sharing and mtype != "cache":
        raise InvalidArgument(f"invalid cache sharing set for {mtype} mount")
    return MountSpec(**values, sharing=sharing or "shared")


def expand_mount(spec: MountSpec, expand: Callable[[str], str]) -> MountSpec:
    """The mount with ``$VAR`` in its words expanded (``expand``: the dispatch's
    ProcessWord with the ARGs and ENV in effect)."""
    return dataclasses.replace(spec, target=expand(spec.target), source=expand(spec.source),
                               from_=expand(spec.from_), id=expand(spec.id),
                               env=expand(spec.env))
