"""OCI ``config.json`` -> ``ContainerConfig``: converted once, validated once.

The rest of the runtime never reads the OCI document; it works on these frozen
values (the shape of runc's ``specconv`` + ``configs``). Parsing errors name the field.
"""

import os
import resource

from ketch.value import Value
from ketch.errors import InvalidArgument
from ketch.linux import syscalls as sc
from ketch.runtime import capabilities

NAMESPACE_FLAGS = {
    "pid": sc.CLONE_NEWPID, "network": sc.CLONE_NEWNET, "mount": sc.CLONE_NEWNS,
    "ipc": sc.CLONE_NEWIPC, "uts": sc.CLONE_NEWUTS, "user": sc.CLONE_NEWUSER,
    "cgroup": sc.CLONE_NEWCGROUP, "time": sc.CLONE_NEWTIME,
}


class MountSpec(Value):
    # destination: str
    # type: str
    # source: str
    # options: tuple[str, ...]
    FIELDS = __slots__ = ("destination", "type", "source", "options")
    DEFAULTS = {"options": ()}

    @property
    def is_bind(self) -> bool:
        return self.type == "bind" or "bind" in self.options or "rbind" in self.options


class Device(Value):
    # path: str
    # type: str  "c", "b", "u" or "p"
    # major: int
    # minor: int
    # mode: int
    # uid: int
    # gid: int
    FIELDS = __slots__ = ("path", "type", "major", "minor", "mode", "uid", "gid")
    DEFAULTS = {"mode": 0o666, "uid": 0, "gid": 0}


class Namespace(Value):
    # type: str
    # path: str | None
    FIELDS = __slots__ = ("type", "path")
    DEFAULTS = {"path": None}


class Process(Value):
    # args: tuple[str, ...]
    # env: tuple[str, ...]
    # cwd: str
    # uid: int
    # gid: int
    # additional_gids: tuple[int, ...]
    # terminal: bool
    # umask: int | None
    # no_new_privileges: bool
    # console_size: tuple[int, int] | None  (height, width) of the terminal
    # capabilities: dict[str, int] | None  set name -> mask; None leaves them as they are
    # rlimits: tuple[tuple[int, int, int], ...]  (resource, soft, hard)
    # oom_score_adj: int | None
    FIELDS = __slots__ = (
        "args", "env", "cwd", "uid", "gid", "additional_gids", "terminal", "umask",
        "no_new_privileges", "console_size", "capabilities", "rlimits", "oom_score_adj")
    DEFAULTS = {
        "env": (), "cwd": "/", "uid": 0, "gid": 0, "additional_gids": (), "terminal": False,
        "umask": None, "no_new_privileges": False, "console_size": None, "capabilities": None,
        "rlimits": (), "oom_score_adj": None}


class ContainerConfig(Value):
    # bundle: str
    # root: str  absolute host path of the rootfs
    # readonly_root: bool
    # process: Process
    # hostname: str
    # domainname: str
    # mounts: tuple[MountSpec, ...]
    # namespaces: tuple[Namespace, ...]
    # devices: tuple[Device, ...]
    # masked_paths: tuple[str, ...]
    # readonly_paths: tuple[str, ...]
    # rootfs_propagation: str
    # annotations: dict
    # sysctl: dict
    # seccomp: dict | None  OCI linux.seccomp, compiled by runtime/seccomp.py
    # resources: dict  OCI linux.resources, for runtime/cgroups
    # cgroups_path: str
    FIELDS = __slots__ = (
        "bundle", "root", "readonly_root", "process", "hostname", "domainname", "mounts",
        "namespaces", "devices", "masked_paths", "readonly_paths", "rootfs_propagation",
        "annotations", "sysctl", "seccomp", "resources", "cgroups_path")
    DEFAULTS = {
        "hostname": "", "domainname": "", "mounts": (), "namespaces": (), "devices": (),
        "masked_paths": (), "readonly_paths": (), "rootfs_propagation": "", "annotations": {},
        "sysctl": {}, "seccomp": None, "resources": {}, "cgroups_path": ""}

    def namespace(self, kind: str) -> Namespace | None:
        return next((ns for ns in self.namespaces if ns.type == kind), None)


def _require(doc: dict, key: str, kind: type, where: str):
    if key not in doc:
        raise InvalidArgument(f"config.json: {where}{key} is required")
    value = doc[key]
    if not isinstance(value, kind):
        raise InvalidArgument(f"config.json: {where}{key} must be a {kind.__name__}")
    return value


def _object(doc: dict, key: str, where: str) -> dict:
    """An optional object field: {} when absent, an error naming it when not an object."""
    value = doc.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidArgument(f"config.json: {where}{key} must be an object")
    return value


def _list(doc: dict, key: str, where: str, item: type | None = None) -> list:
    """An optional list field, its items of type ``item`` when given."""
    value = doc.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidArgument(f"config.json: {where}{key} must be a list")
    if item is not None:
        for i, v in enumerate(value):
            if not isinstance(v, item):
                raise InvalidArgument(f"config.json: {where}{key}[{i}] must be a {item.__name__}")
    return value


def _process(doc: dict) -> Process:
    args = _require(doc, "args", list, "process.")
    if not args or not all(isinstance(a, str) for a in args):
        raise InvalidArgument("config.json: process.args must be a non-empty list of strings")
    cwd = doc.get("cwd", "/")
    if not isinstance(cwd, str) or not cwd.startswith("/"):
        raise InvalidArgument(f"config.json: process.cwd must be an absolute path, not {cwd!r}")
    user = _object(doc, "user", "process.")
    try:
        uid, gid = int(user.get("uid", 0)), int(user.get("gid", 0))
        gids = tuple(int(g) for g in user.get("additionalGids") or ())
    except (TypeError, ValueError):
        raise InvalidArgument("config.json: process.user ids must be integers") from None
    return Process(
        args=tuple(args), env=tuple(_list(doc, "env", "process.", str)), cwd=cwd, uid=uid, gid=gid,
        additional_gids=gids, terminal=bool(doc.get("terminal", False)),
        umask=user.get("umask"), no_new_privileges=bool(doc.get("noNewPrivileges", False)),
        console_size=_console_size(_object(doc, "consoleSize", "process.")),
        capabilities=capabilities.parse(doc["capabilities"]) if doc.get("capabilities") is not None else None,
        rlimits=_rlimits(_list(doc, "rlimits", "process.")),
        oom_score_adj=_optional_int(doc, "oomScoreAdj", "process."),
    )


def _optional_int(doc: dict, key: str, where: str) -> int | None:
    value = doc.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidArgument(f"config.json: {where}{key} must be an integer")
    return value


def _rlimits(items: list) -> tuple[tuple[int, int, int], ...]:
    out = []
    for i, r in enumerate(items):
        where = f"process.rlimits[{i}]"
        if not isinstance(r, dict) or not isinstance(r.get("type"), str):
            raise InvalidArgument(f"config.json: {where} must be an object with a type")
        number = getattr(resource, r["type"], None)
        if not r["type"].startswith("RLIMIT_") or number is None:
            raise InvalidArgument(f"config.json: {where}.type: unknown rlimit {r['type']!r}")
        soft, hard = _optional_int(r, "soft", where + "."), _optional_int(r, "hard", where + ".")
        if soft is None or hard is None or soft < 0 or hard < 0:
            raise InvalidArgument(f"config.json: {where} needs non-negative soft and hard limits")
        if soft > hard:
            raise InvalidArgument(f"config.json: {where}: soft limit {soft} is above hard limit {hard}")
        out.append((number, soft, hard))
    return tuple(out)


def _console_size(doc: dict) -> tuple[int, int] | None:
    if not doc:
        return None
    try:
        return int(doc.get("height", 0)), int(doc.get("width", 0))
    except (TypeError, ValueError):
        raise InvalidArgument("config.json: process.consoleSize must hold integers") from None


def _mounts(items: list) -> tuple[MountSpec, ...]:
    out = []
    for i, m in enumerate(items):
        if not isinstance(m, dict):
            raise InvalidArgument(f"config.json: mounts[{i}] must be an object")
        dest = m.get("destination")
        if not isinstance(dest, str) or not dest.startswith("/"):
            raise InvalidArgument(f"config.json: mounts[{i}].destination must be an absolute path")
        out.append(MountSpec(dest, m.get("type") or "", m.get("source") or "",
                             tuple(_list(m, "options", f"mounts[{i}].", str))))
    return tuple(out)


def _devices(items: list) -> tuple[Device, ...]:
    out = []
    for i, d in enumerate(items):
        if not isinstance(d, dict):
            raise InvalidArgument(f"config.json: linux.devices[{i}] must be an object")
        try:
            out.append(Device(d["path"], d["type"], int(d.get("major", 0)), int(d.get("minor", 0)),
                              int(d.get("fileMode", 0o666)), int(d.get("uid", 0)),
                              int(d.get("gid", 0))))
        except (KeyError, TypeError, ValueError):
            raise InvalidArgument(f"config.json: linux.devices[{i}] is invalid") from None
    return tuple(out)


def _namespaces(items: list) -> tuple[Namespace, ...]:
    out = []
    for i, ns in enumerate(items):
        if not isinstance(ns, dict):
            raise InvalidArgument(f"config.json: linux.namespaces[{i}] must be an object")
        kind = ns.get("type")
        if kind not in NAMESPACE_FLAGS:
            raise InvalidArgument(f"config.json: linux.namespaces[{i}].type {kind!r} is unknown")
        out.append(Namespace(kind, ns.get("path") or None))
    return tuple(out)


def from_oci(spec: dict, bundle: str) -> ContainerConfig:
    if not isinstance(spec, dict):
        raise InvalidArgument("config.json: not a JSON object")
    root = _require(spec, "root", dict, "")
    root_path = _require(root, "path", str, "root.")
    if not os.path.isabs(root_path):
        root_path = os.path.join(bundle, root_path)
    linux = _object(spec, "linux", "")
    return ContainerConfig(
        bundle=bundle,
        root=os.path.realpath(root_path),
        readonly_root=bool(root.get("readonly", False)),
        process=_process(_require(spec, "process", dict, "")),
        hostname=spec.get("hostname") or "",
        domainname=spec.get("domainname") or "",
        mounts=_mounts(_list(spec, "mounts", "")),
        namespaces=_namespaces(_list(linux, "namespaces", "linux.")),
        devices=_devices(_list(linux, "devices", "linux.")),
        masked_paths=tuple(_list(linux, "maskedPaths", "linux.", str)),
        readonly_paths=tuple(_list(linux, "readonlyPaths", "linux.", str)),
        rootfs_propagation=linux.get("rootfsPropagation") or "",
        annotations=dict(_object(spec, "annotations", "")),
        sysctl={str(k): str(v) for k, v in _object(linux, "sysctl", "linux.").items()},
        seccomp=_object(linux, "seccomp", "linux.") or None,
        resources=_object(linux, "resources", "linux."),
        cgroups_path=linux.get("cgroupsPath") or "",
    )


def validate(cfg: ContainerConfig) -> None:
    """Checks that need the host (runc's ``validate``): each names what is wrong."""
    if not os.path.isdir(cfg.root):
        raise InvalidArgument(f"rootfs ({cfg.root}) does not exist")
    if cfg.hostname and not cfg.namespace("uts"):
        raise InvalidArgument("unable to set hostname without a private UTS namespace")
    if cfg.mounts and not cfg.namespace("mount"):
        raise InvalidArgument("mounts need a private mount namespace")
