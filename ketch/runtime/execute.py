"""Running another process in a running container (``ketch-runtime exec``, later
``docker exec``): join its cgroups and namespaces, then set up the process as the
init was (limits, capabilities, user, seccomp) and exec it.

    caller ── fork ──▶ intermediate: cgroups.add(self), setns(every namespace of the
                       container's init, mount last), fork ──▶ process: identity, exec
           ◀── PID ───┘                     ◀── READY just before exec (or ERROR) ──┘

Joining the pid namespace only applies to children, hence the intermediate again.
The process's view of the filesystem comes from joining the mount namespace, which
also moves its root and working directory to the container's.
"""

import os

from ketch.errors import InvalidArgument
from ketch.linux import syscalls as sc
from ketch.runtime import process, sync
from ketch.runtime.process import DEFAULT_PATH, Prepared, Stdio
from ketch.runtime.specconv import NAMESPACE_FLAGS, Process
from ketch.runtime.state import start_time

# /proc/<pid>/ns names of the OCI namespace types, in the order to join them.
_NS_FILES = (("user", "user"), ("ipc", "ipc"), ("uts", "uts"), ("network", "net"),
             ("pid", "pid"), ("cgroup", "cgroup"), ("time", "time"), ("mount", "mnt"))


def _join(init_pid: int, kinds: set[str]) -> None:
    fds = []
    try:
        for kind, name in _NS_FILES:  # open all first: /proc changes once we join pid/mnt
            if kind in kinds:
                fds.append((kind, os.open(f"/proc/{init_pid}/ns/{name}", os.O_RDONLY | os.O_CLOEXEC)))
        for kind, fd in fds:
            own = os.readlink(f"/proc/self/ns/{dict(_NS_FILES)[kind]}")
            if own != os.readlink(f"/proc/self/fd/{fd}"):
                sc.setns(fd, NAMESPACE_FLAGS[kind])
    finally:
        for _kind, fd in fds:
            os.close(fd)


def _run(proc: Process, chan, prepared: Prepared) -> None:
    """The new process, inside the container: what the init did after its mounts."""
    sc.prctl(sc.PR_SET_DUMPABLE, 0)
    os.setsid()
    if proc.terminal:
        process.setup_terminal(proc, chan, console=False)
    process.apply_limits(proc)
    env = list(proc.env)
    path = process.env_value(proc.env, "PATH")
    if path is None:
        path = DEFAULT_PATH
        env.append(f"PATH={path}")
    if process.env_value(proc.env, "HOME") is None:
        env.append(f"HOME={process.home_of(proc.uid)}")
    process.finalize_identity(proc, prepared)
    executable = process.lookpath(proc.args[0], path)
    if prepared.seccomp is not None and proc.no_new_privileges:
        from ketch.runtime import seccomp
        seccomp.load(prepared.seccomp)
    sync.send(chan, sync.Message(sync.READY))
    process.reset_signals()
    os.closerange(3, 65536)  # the channel too: the caller has READY, and exec needs no more
    try:
        os.execve(executable, list(proc.args), dict(e.split("=", 1) for e in env if "=" in e))
    except OSError as exc:
        os.write(2, f"exec {executable}: {exc.strerror.lower()}\n".encode())
        os._exit(255)


def start(init_pid: int, namespaces: set[str], proc: Process, stdio: Stdio | None,
          prepared: Prepared | None = None) -> process.Created:
    """Start ``proc`` in the container whose init is ``init_pid``; returns its pid (and pty)."""
    prepared = prepared or Prepared()
    if start_time(init_pid) is None:
        raise InvalidArgument("cannot exec in a stopped container")
    ours, theirs = sync.pair()
    child = os.fork()
    if child == 0:
        try:
            ours.close()
            process.child_stdio(stdio)
            msg = sync.recv(theirs)  # the caller has put us in the container's cgroups
            if msg is None or msg.type != sync.GO:
                os._exit(1)
            _join(init_pid, namespaces)
            pid = os.fork()
            if pid == 0:
                try:
                    _run(proc, theirs, prepared)
                except BaseException as exc:  # noqa: BLE001 - everything must reach the caller
                    process.report_and_exit(theirs, exc)
            sync.send(theirs, sync.Message(sync.PID, pid=pid))
            os._exit(0)
        except BaseException as exc:  # noqa: BLE001
            process.report_and_exit(theirs, exc)
        finally:
            os._exit(1)
    theirs.close()
    return process.await_child(ours, child, prepared, _as_is)


def _as_is(message: str) -> str:
    return message


def in_container(root: str, cid: str, process_doc: dict, stdio: Stdio | None) -> process.Created:
    """Start the OCI process ``process_doc`` in the running container ``cid`` of the
    runtime root ``root``, with the container's namespaces, cgroups and seccomp filter:
    ``ketch-runtime exec --process`` as a library call (the exec supervisor's way in)."""
    from ketch import fastjson
    from ketch.runtime import state
    from ketch.runtime.specconv import from_oci
    c = state.load(root, cid)
    status = c.status()
    if status != "running":
        raise InvalidArgument(f"cannot exec in a {status} container")
    with open(os.path.join(c.bundle, "config.json"), "rb") as f:
        spec = fastjson.loads(f.read())
    spec["process"] = process_doc
    cfg = from_oci(spec, c.bundle)
    filt = place = None
    if cfg.seccomp:
        from ketch.runtime import seccomp
        filt = seccomp.prepare(seccomp.compile_rules(cfg.seccomp), os.path.join(root, ".bpf"))
    if c.cgroups_path:
        from ketch.runtime import cgroups
        place = cgroups.manager(c.cgroups_path).add
    return start(c.pid, {ns.type for ns in cfg.namespaces}, cfg.process, stdio, Prepared(filt, place))
