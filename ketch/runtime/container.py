"""Container lifecycle for the runtime: create, start, state, kill, delete.

State lives under the runtime root, one directory per container::

    <root>/<id>/state.json   OCI state plus the init's start time (guards against pid reuse)
    <root>/<id>/exec.fifo    exists between create and start; start reads it to release init

Status follows the OCI runtime spec: ``created`` while the fifo exists and the init is
alive, ``running`` after start, ``stopped`` once the init is gone.
"""

import json
import os
import shutil
import signal
from dataclasses import dataclass

from ketch import timefmt
from ketch.errors import AlreadyExists, InvalidArgument, NotFound
from ketch.linux.atomic import write_file
from ketch.runtime import cgroups, process, seccomp
from ketch.runtime.process import Created, Prepared, Stdio
from ketch.runtime.specconv import from_oci, validate

OCI_VERSION = "1.2.0"


def _start_time(pid: int) -> str | None:
    """Field 22 of /proc/<pid>/stat: with the pid, it identifies one process for ever."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    if fields[0] == b"Z":
        return None
    return fields[19].decode()


def _valid_id(cid: str) -> str:
    if not cid or "/" in cid or cid in (".", "..") or len(cid) > 1024:
        raise InvalidArgument(f"invalid container id {cid!r}")
    return cid


@dataclass
class Container:
    root: str
    id: str
    bundle: str
    pid: int
    start_time: str | None
    created: str
    annotations: dict
    cgroups_path: str = ""

    @property
    def dir(self) -> str:
        return os.path.join(self.root, self.id)

    @property
    def fifo(self) -> str:
        return os.path.join(self.dir, "exec.fifo")

    def status(self) -> str:
        if self.pid <= 0 or _start_time(self.pid) != self.start_time:
            return "stopped"
        return "created" if os.path.exists(self.fifo) else "running"

    def state(self) -> dict:
        status = self.status()
        return {"ociVersion": OCI_VERSION, "id": self.id, "status": status,
                "pid": self.pid if status != "stopped" else 0, "bundle": self.bundle,
                "created": self.created, "annotations": self.annotations}

    def save(self) -> None:
        doc = {"id": self.id, "bundle": self.bundle, "pid": self.pid,
               "start_time": self.start_time, "created": self.created,
               "annotations": self.annotations, "cgroups_path": self.cgroups_path}
        write_file(os.path.join(self.dir, "state.json"), json.dumps(doc).encode(), 0o600)

    def start(self) -> None:
        status = self.status()
        if status != "created":
            raise InvalidArgument(f"cannot start a container in the {status} state")
        process.start(self.fifo, self.pid)

    def kill(self, sig: int = signal.SIGTERM) -> None:
        if self.status() == "stopped":
            raise InvalidArgument("container not running")
        os.kill(self.pid, sig)

    def delete(self, force: bool = False) -> None:
        status = self.status()
        if status == "running" and not force:
            raise InvalidArgument(f"cannot delete container {self.id} that is not stopped: {status}")
        if status != "stopped":
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.cgroups_path:
            cgroups.manager(self.cgroups_path).destroy()
        shutil.rmtree(self.dir, ignore_errors=True)


def load(root: str, cid: str) -> Container:
    path = os.path.join(root, _valid_id(cid), "state.json")
    try:
        with open(path) as f:
            doc = json.load(f)
    except FileNotFoundError:
        raise NotFound(f"container {cid} does not exist") from None
    return Container(root, doc["id"], doc["bundle"], doc["pid"], doc.get("start_time"),
                     doc.get("created", ""), doc.get("annotations") or {},
                     doc.get("cgroups_path", ""))


def create(root: str, cid: str, bundle: str, stdio: Stdio | None,
           spec: dict | None = None) -> tuple[Container, Created]:
    """Create container ``cid`` from ``bundle`` (its config.json, or ``spec`` if given)."""
    _valid_id(cid)
    if spec is None:
        try:
            with open(os.path.join(bundle, "config.json")) as f:
                spec = json.load(f)
        except FileNotFoundError:
            raise InvalidArgument(f"config.json not found in bundle {bundle}") from None
        except json.JSONDecodeError as exc:
            raise InvalidArgument(f"config.json: {exc}") from None
    cfg = from_oci(spec, os.path.abspath(bundle))
    validate(cfg)
    filt = seccomp.compile_rules(cfg.seccomp) if cfg.seccomp else None
    state_dir = os.path.join(root, cid)
    os.makedirs(root, mode=0o700, exist_ok=True)
    try:
        os.mkdir(state_dir, 0o700)
    except FileExistsError:
        raise AlreadyExists(f"container with id {cid} already exists") from None
    cg = cgroups.manager(cfg.cgroups_path) if cfg.cgroups_path else None

    def place(pid: int) -> None:
        cg.create()
        cg.apply(with_allowed_devices(cfg.resources))
        cg.add(pid)

    try:
        fifo = os.path.join(state_dir, "exec.fifo")
        os.mkfifo(fifo)
        # Any user may write the fifo: the init opens it after switching to the container's user.
        os.chmod(fifo, 0o622)
        created = process.create(cfg, fifo, stdio, Prepared(filt, place if cg else None))
        c = Container(root, cid, cfg.bundle, created.pid, _start_time(created.pid),
                      timefmt.now(), cfg.annotations, cfg.cgroups_path)
        c.save()
    except BaseException:
        if cg is not None:
            cg.destroy()
        shutil.rmtree(state_dir, ignore_errors=True)
        raise
    return c, created


# runc adds these to every container's device rules (specconv.AllowedDevices): mknod of
# anything, the standard character devices, ptys and tun.
ALLOWED_DEVICES = (
    {"allow": True, "type": "c", "access": "m"}, {"allow": True, "type": "b", "access": "m"},
    {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
    {"allow": True, "type": "c", "major": 1, "minor": 8, "access": "rwm"},
    {"allow": True, "type": "c", "major": 1, "minor": 7, "access": "rwm"},
    {"allow": True, "type": "c", "major": 5, "minor": 0, "access": "rwm"},
    {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "rwm"},
    {"allow": True, "type": "c", "major": 1, "minor": 9, "access": "rwm"},
    {"allow": True, "type": "c", "major": 136, "access": "rwm"},
    {"allow": True, "type": "c", "major": 5, "minor": 2, "access": "rwm"},
    {"allow": True, "type": "c", "major": 10, "minor": 200, "access": "rwm"},
)


def with_allowed_devices(resources: dict) -> dict:
    if "devices" not in resources:
        return resources
    return {**resources, "devices": list(resources["devices"]) + list(ALLOWED_DEVICES)}
