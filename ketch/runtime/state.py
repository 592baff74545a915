"""A created container's state, and the operations that need nothing more: start, kill,
delete, state. Kept light (no sockets, no ctypes, no cgroup code unless there is a
cgroup) because each of them is a fresh ``ketch-runtime`` process.

State lives under the runtime root, one directory per container::

    <root>/<id>/state        "key=value" lines: id, bundle, pid, start_time (with the pid
                             it guards against pid reuse), created, cgroups_path, and
                             annotations as JSON; plain lines so that start and delete
                             need no JSON decoder
    <root>/<id>/exec.fifo    exists between create and start; start reads it to release init
    <root>/<id>/paused       exists while pause has the container's cgroup frozen

Status follows the OCI runtime spec: ``created`` while the fifo exists and the init is
alive, ``running`` after start (``paused`` while frozen, as runc reports it), ``stopped``
once the init is gone.
"""

import os
import select

from ketch.errors import Internal, InvalidArgument, NotFound
from ketch.linux.atomic import write_file

OCI_VERSION = "1.2.0"
SIGKILL, SIGTERM = 9, 15  # numbers, not the signal module: it imports enum


def start_time(pid: int) -> str | None:
    """Field 22 of /proc/<pid>/stat: with the pid, it identifies one process for ever."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    if fields[0] == b"Z":
        return None
    return fields[19].decode()


def valid_id(cid: str) -> str:
    if not cid or "/" in cid or cid in (".", "..") or len(cid) > 1024:
        raise InvalidArgument(f"invalid container id {cid!r}")
    return cid


class Container:
    __slots__ = ("root", "id", "bundle", "pid", "start_time", "created", "annotations",
                 "cgroups_path")

    def __init__(self, root: str, cid: str, bundle: str, pid: int, start_time: str | None,
                 created: str, annotations: dict, cgroups_path: str = "") -> None:
        self.root, self.id, self.bundle, self.pid = root, cid, bundle, pid
        self.start_time, self.created = start_time, created
        self.annotations, self.cgroups_path = annotations, cgroups_path

    @property
    def dir(self) -> str:
        return os.path.join(self.root, self.id)

    @property
    def fifo(self) -> str:
        return os.path.join(self.dir, "exec.fifo")

    @property
    def paused_marker(self) -> str:
        return os.path.join(self.dir, "paused")

    def status(self) -> str:
        if self.pid <= 0 or start_time(self.pid) != self.start_time:
            return "stopped"
        if os.path.exists(self.fifo):
            return "created"
        return "paused" if os.path.exists(self.paused_marker) else "running"

    def state(self) -> dict:
        """The OCI state document (``ketch-runtime state``)."""
        from ketch import fastjson
        annotations = self.annotations
        if isinstance(annotations, str):
            annotations = fastjson.loads(annotations or "{}")
        status = self.status()
        return {"ociVersion": OCI_VERSION, "id": self.id, "status": status,
                "pid": self.pid if status != "stopped" else 0, "bundle": self.bundle,
                "created": self.created, "annotations": annotations}

    def save(self) -> None:
        from ketch import fastjson
        fields = {"id": self.id, "bundle": self.bundle, "pid": str(self.pid),
                  "start_time": self.start_time or "", "created": self.created,
                  "cgroups_path": self.cgroups_path,
                  "annotations": fastjson.dumps(self.annotations or {})}
        for key, value in fields.items():
            if "\n" in value:
                raise InvalidArgument(f"invalid {key} {value!r}: contains a newline")
        text = "".join(f"{k}={v}\n" for k, v in fields.items())
        write_file(os.path.join(self.dir, "state"), text.encode(), 0o600)

    def start(self, timeout: float = 10.0) -> None:
        """Release the init: it execs its process once we open and read the fifo."""
        status = self.status()
        if status != "created":
            raise InvalidArgument(f"cannot start a container in the {status} state")
        try:
            fd = os.open(self.fifo, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except FileNotFoundError:
            raise InvalidArgument("cannot start a container that has already started") from None
        try:
            poller = select.poll()
            poller.register(fd, select.POLLIN)
            for _ in range(int(timeout / 0.05)):
                if poller.poll(50) and os.read(fd, 1) == b"0":
                    os.unlink(self.fifo)
                    return
                if start_time(self.pid) is None:
                    raise InvalidArgument("cannot start a container that has stopped")
            raise Internal("timed out waiting for the container to start")
        finally:
            os.close(fd)

    def kill(self, sig: int = SIGTERM) -> None:
        if self.status() == "stopped":
            raise InvalidArgument("container not running")
        os.kill(self.pid, sig)

    def pause(self) -> None:
        """Freeze every process of the container (runc pause): its cgroup's freezer."""
        if self.status() != "running":
            raise InvalidArgument("container not running")
        self._cgroup("pause").freeze()
        write_file(self.paused_marker, b"", 0o600)

    def resume(self) -> None:
        if self.status() != "paused":
            raise InvalidArgument("container not paused")
        self._cgroup("resume").thaw()
        os.unlink(self.paused_marker)

    def _cgroup(self, verb: str):
        if not self.cgroups_path:
            raise InvalidArgument(f"cannot {verb} container {self.id}: it has no cgroup (linux.cgroupsPath)")
        from ketch.runtime import cgroups
        return cgroups.manager(self.cgroups_path)

    def delete(self, force: bool = False) -> None:
        status = self.status()
        if status in ("running", "paused") and not force:
            raise InvalidArgument(f"cannot delete container {self.id} that is not stopped: {status}")
        if status != "stopped":
            try:
                os.kill(self.pid, SIGKILL)
            except ProcessLookupError:
                pass
        if self.cgroups_path:
            from ketch.runtime import cgroups
            cgroups.manager(self.cgroups_path).destroy()
        remove_dir(self.dir)


def remove_dir(path: str) -> None:
    """Remove a container's state directory (flat: files only). Not shutil.rmtree,
    whose import (fnmatch, re) would double this command's start-up."""
    try:
        names = os.listdir(path)
    except FileNotFoundError:
        return
    for name in names:
        try:
            os.unlink(os.path.join(path, name))
        except FileNotFoundError:
            pass
    try:
        os.rmdir(path)
    except FileNotFoundError:
        pass


def load(root: str, cid: str) -> Container:
    path = os.path.join(root, valid_id(cid), "state")
    try:
        with open(path) as f:
            doc = dict(line.rstrip("\n").partition("=")[::2] for line in f if "=" in line)
    except FileNotFoundError:
        raise NotFound(f"container {cid} does not exist") from None
    return Container(root, doc["id"], doc["bundle"], int(doc["pid"]), doc.get("start_time") or None,
                     doc.get("created", ""), doc.get("annotations", "{}"),
                     doc.get("cgroups_path", ""))


def list_ids(root: str) -> list[str]:
    try:
        return sorted(d for d in os.listdir(root) if os.path.exists(os.path.join(root, d, "state")))
    except FileNotFoundError:
        return []
