"""Forking the container: caller -> intermediate -> init (see ``sync.py`` for the protocol).

The intermediate exists because entering a new pid namespace only applies to the
children of the process that unshares; the init is its child and becomes pid 1.
Callers must be single-threaded (``fork`` from a threaded process is unsafe), which is
why ketchd never calls this itself: its monitors do, forked from a single-threaded
fork server.
"""

import fcntl
import os
import resource
import struct
import sys
import termios

# The C modules under signal.py and socket.py: those import enum, several milliseconds
# of every ketch-runtime command on a slow machine.
import _signal as signal
import _socket as socket

from ketch.value import Value
from ketch.errors import ExecFailed, Internal, InvalidArgument
from ketch.linux import netdev
from ketch.linux import syscalls as sc
from ketch.runtime import capabilities, rootfs, sync
from ketch.runtime.specconv import NAMESPACE_FLAGS, ContainerConfig, Process

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# setns order matters: the user namespace first, the mount namespace last (paths).
_SETNS_ORDER = ("user", "ipc", "uts", "network", "pid", "cgroup", "time", "mount")


class Stdio(Value):
    """File descriptors the init gets as 0, 1 and 2 (ignored for a terminal)."""
    # stdin: int
    # stdout: int
    # stderr: int
    FIELDS = __slots__ = ("stdin", "stdout", "stderr")


class Prepared(Value):
    """What the caller worked out before forking: the compiled seccomp filter (so a bad
    profile fails in the caller) and how to place a pid into the container's cgroups."""
    # seccomp: object  a compiled runtime.seccomp.Filter
    # place: Callable[[int], None] | None
    FIELDS = __slots__ = ("seccomp", "place")
    DEFAULTS = {"seccomp": None, "place": None}


class Created(Value):
    # pid: int
    # console_fd: int  the pty master, when the process has a terminal
    FIELDS = __slots__ = ("pid", "console_fd")
    DEFAULTS = {"console_fd": -1}


def _start_failed(message: str) -> str:
    return f"OCI runtime create failed: ketch create failed: unable to start container process: {message}: unknown"


def lookpath(file: str, env_path: str) -> str:
    """Go's exec.LookPath as runc uses it, with runc's error texts and Docker's exit codes."""
    if "/" in file:
        try:
            st = os.stat(file)
        except FileNotFoundError:
            raise ExecFailed(f'exec: "{file}": stat {file}: no such file or directory', 127) from None
        if os.path.isdir(file) or not st.st_mode & 0o111 or not os.access(file, os.X_OK):
            raise ExecFailed(f'exec: "{file}": permission denied', 126)
        return file
    denied = None
    for d in env_path.split(":"):
        candidate = os.path.join(d or ".", file)
        try:
            st = os.stat(candidate)
        except OSError:
            continue
        if not os.path.isdir(candidate) and st.st_mode & 0o111 and os.access(candidate, os.X_OK):
            return candidate
        denied = candidate
    if denied:
        raise ExecFailed(f'exec: "{file}": permission denied', 126)
    raise ExecFailed(f'exec: "{file}": executable file not found in $PATH', 127)


def env_value(env: tuple[str, ...], key: str) -> str | None:
    prefix = key + "="
    for item in reversed(env):
        if item.startswith(prefix):
            return item[len(prefix):]
    return None


def home_of(uid: int) -> str:
    try:
        with open("/etc/passwd") as f:
            for line in f:
                fields = line.rstrip("\n").split(":")
                if len(fields) >= 6 and fields[2] == str(uid):
                    return fields[5] or "/"
    except OSError:
        pass
    return "/"


def _enter_namespaces(cfg: ContainerConfig) -> None:
    flags = 0
    joins = []
    for ns in cfg.namespaces:
        if ns.path:
            joins.append(ns)
        else:
            flags |= NAMESPACE_FLAGS[ns.type]
    for kind in _SETNS_ORDER:
        for ns in joins:
            if ns.type == kind:
                fd = os.open(ns.path, os.O_RDONLY | os.O_CLOEXEC)
                try:
                    sc.setns(fd, NAMESPACE_FLAGS[kind])
                finally:
                    os.close(fd)
    if flags:
        sc.unshare(flags)


def _init(cfg: ContainerConfig, chan: socket.socket, fifo_path: str, prepared: Prepared) -> None:
    """Pid 1 of the container, up to exec (runc's standard_init order). Reports on ``chan``."""
    proc = cfg.process
    # Until exec this process is the host's python: not dumpable, so nothing that gets
    # into the container can ptrace it or open /proc/<pid>/exe (the CVE-2019-5736 class).
    # execve makes the container's own program dumpable again.
    sc.prctl(sc.PR_SET_DUMPABLE, 0)
    os.setsid()
    fifo = os.open(fifo_path, os.O_PATH | os.O_CLOEXEC)
    if cfg.namespace("network") and not cfg.namespace("network").path:
        netdev.loopback_up()
    if cfg.hostname:
        socket.sethostname(cfg.hostname)
    if cfg.domainname:
        sc.setdomainname(cfg.domainname)
    rootfs.prepare(cfg)
    if proc.terminal:
        setup_terminal(proc, chan)
    _write_sysctls(cfg.sysctl)
    rootfs.finish(cfg)
    apply_limits(proc)
    env = list(proc.env)
    path = env_value(proc.env, "PATH")
    if path is None:
        path = DEFAULT_PATH
        env.append(f"PATH={path}")
    if env_value(proc.env, "HOME") is None:
        env.append(f"HOME={home_of(proc.uid)}")
    os.makedirs(proc.cwd, mode=0o755, exist_ok=True)
    finalize_identity(proc, prepared)
    executable = lookpath(proc.args[0], path)
    if prepared.seccomp is not None and proc.no_new_privileges:
        from ketch.runtime import seccomp
        seccomp.load(prepared.seccomp)  # as late as possible: few syscalls after it
    sync.send(chan, sync.Message(sync.READY))
    # Blocks until `start` opens the fifo for reading.
    release = os.open(f"/proc/self/fd/{fifo}", os.O_WRONLY | os.O_CLOEXEC)
    os.write(release, b"0")
    os.close(release)
    os.close(fifo)
    reset_signals()
    os.closerange(3, chan.fileno())
    os.closerange(chan.fileno() + 1, 65536)
    try:
        os.execve(executable, list(proc.args), dict(e.split("=", 1) for e in env if "=" in e))
    except OSError as exc:
        os.write(2, f"exec {executable}: {exc.strerror.lower()}\n".encode())
        os._exit(255)


def setup_terminal(proc: Process, chan: socket.socket, console: bool = True) -> None:
    """A pty from the container's own devpts; the master goes to the caller. Only the
    init's becomes /dev/console: an exec shares the container's mounts and leaves them be."""
    master, slave = os.openpty()
    if proc.console_size:
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", *proc.console_size, 0, 0))
    if console:
        rootfs.bind_console(os.ttyname(slave))
    sync.send(chan, sync.Message(sync.CONSOLE, fd=master))
    os.close(master)
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    if slave > 2:
        os.close(slave)


def _write_sysctls(sysctl: dict) -> None:
    for key, value in sysctl.items():
        path = "/proc/sys/" + key.replace(".", "/")
        try:
            with open(path, "w") as f:
                f.write(value)
        except OSError as exc:
            raise InvalidArgument(f"cannot set sysctl {key}={value}: {exc.strerror.lower()}") from None


def apply_limits(proc: Process) -> None:
    if proc.oom_score_adj is not None:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write(str(proc.oom_score_adj))
    for number, soft, hard in proc.rlimits:
        _setrlimit(number, soft, hard)


def _setrlimit(number: int, soft: int, hard: int) -> None:
    """Set an rlimit; above the hard limit we may not raise (no CAP_SYS_RESOURCE on this
    host), keep the highest one allowed rather than fail the container."""
    infinity = resource.RLIM_INFINITY
    soft = infinity if soft >= 2**63 - 1 else soft
    hard = infinity if hard >= 2**63 - 1 else hard
    try:
        resource.setrlimit(number, (soft, hard))
    except (OSError, ValueError):
        _cur_soft, cur_hard = resource.getrlimit(number)
        cap = hard if cur_hard == infinity else (cur_hard if hard == infinity else min(hard, cur_hard))
        resource.setrlimit(number, (min(soft, cap) if soft != infinity else cap, cap))


def finalize_identity(proc: Process, prepared: Prepared) -> None:
    """Seccomp (before dropping caps unless no_new_privs), capabilities, user, cwd: runc's
    finalizeNamespace. KEEPCAPS keeps the permitted set across setuid to a non-root user."""
    if prepared.seccomp is not None and not proc.no_new_privileges:
        from ketch.runtime import seccomp
        seccomp.load(prepared.seccomp)  # needs CAP_SYS_ADMIN, which we still hold
    if proc.capabilities is not None:
        capabilities.drop_bounding(proc.capabilities["bounding"])
        sc.prctl(sc.PR_SET_KEEPCAPS, 1)
    os.setgroups(list(proc.additional_gids))
    os.setgid(proc.gid)
    os.setuid(proc.uid)
    if proc.capabilities is not None:
        sc.prctl(sc.PR_SET_KEEPCAPS, 0)
        capabilities.apply(proc.capabilities)
    if proc.no_new_privileges:
        sc.prctl(sc.PR_SET_NO_NEW_PRIVS, 1)
    if proc.umask is not None:
        os.umask(proc.umask)
    try:
        os.chdir(proc.cwd)
    except OSError as exc:
        raise InvalidArgument(f"chdir to cwd (\"{proc.cwd}\") set in config.json failed: "
                              f"{exc.strerror.lower()}") from None


def reset_signals() -> None:
    # Python ignores SIGPIPE and SIGXFSZ, and an ignored signal stays ignored across
    # exec: the container's process must start with every disposition at its default.
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    for sig in signal.valid_signals():
        if sig not in (signal.SIGKILL, signal.SIGSTOP):
            try:
                signal.signal(sig, signal.SIG_DFL)
            except (OSError, ValueError):
                pass


def report_and_exit(chan: socket.socket, exc: BaseException) -> None:
    if isinstance(exc, ExecFailed):
        msg = sync.Message(sync.ERROR, message=str(exc), exit_code=exc.exit_code)
    elif isinstance(exc, OSError):
        where = f" {exc.filename}" if exc.filename else ""
        msg = sync.Message(sync.ERROR, message=f"{exc.strerror}{where}".lower(), exit_code=125)
    else:
        msg = sync.Message(sync.ERROR, message=str(exc), exit_code=125)
    try:
        sync.send(chan, msg)
    finally:
        os._exit(1)


def child_stdio(stdio: Stdio | None) -> None:
    if stdio is None:
        return
    for target, fd in ((0, stdio.stdin), (1, stdio.stdout), (2, stdio.stderr)):
        if fd != target:
            os.dup2(fd, target)


def _intermediate(cfg: ContainerConfig, chan: socket.socket, stdio: Stdio | None,
                  fifo_path: str, prepared: Prepared) -> None:
    try:
        child_stdio(stdio)
        msg = sync.recv(chan)  # the caller has put us in the container's cgroups
        if msg is None or msg.type != sync.GO:
            os._exit(1)
        _enter_namespaces(cfg)
        pid = os.fork()
        if pid == 0:
            try:
                _init(cfg, chan, fifo_path, prepared)
            except BaseException as exc:  # noqa: BLE001 - everything must reach the caller
                report_and_exit(chan, exc)
        sync.send(chan, sync.Message(sync.PID, pid=pid))
        os._exit(0)
    except BaseException as exc:  # noqa: BLE001
        report_and_exit(chan, exc)


def create(cfg: ContainerConfig, fifo_path: str, stdio: Stdio | None,
           prepared: Prepared | None = None) -> Created:
    """Fork the container up to the point where only exec is left; return its pid.

    ``prepared.place(pid)`` puts the intermediate into the container's cgroups before
    it creates the namespaces (so a cgroup namespace is rooted at the container's
    cgroup) and before the init exists, so every process of the container is counted.
    The caller should be a child subreaper so that the init, orphaned when the
    intermediate exits, is reparented to it.
    """
    prepared = prepared or Prepared()
    ours, theirs = sync.pair()
    sys.stdout.flush()
    sys.stderr.flush()
    child = os.fork()
    if child == 0:  # never returns: a forked child must not run the caller's code
        try:
            ours.close()
            _intermediate(cfg, theirs, stdio, fifo_path, prepared)
        finally:
            os._exit(1)
    theirs.close()
    return await_child(ours, child, prepared, _start_failed)


def await_child(ours: socket.socket, child: int, prepared: Prepared, describe) -> Created:
    """The parent's half of the sync protocol (see ``sync.py``), for create and exec alike.

    PID comes from the intermediate and READY from the process it forked: two processes
    writing to one socket, so READY may arrive first under load. Only both together
    make a created process; until then neither is returned.
    """
    pid, console, ready = 0, -1, False
    try:
        if prepared.place is not None:
            prepared.place(child)
        sync.send(ours, sync.Message(sync.GO))
        while not (pid > 0 and ready):
            msg = sync.recv(ours)
            if msg is None:
                raise Internal(describe("the process exited without reporting"))
            if msg.type == sync.PID:
                if msg.pid <= 0:
                    raise Internal(describe(f"invalid pid {msg.pid}"))
                pid = msg.pid
                os.waitpid(child, 0)
                child = 0  # reaped: its pid may be anyone's now
            elif msg.type == sync.CONSOLE:
                console = msg.fd
            elif msg.type == sync.ERROR:
                if not pid:  # the failed process's pid: it must be gone when this returns
                    pid = _pid_after_error(ours)
                if msg.exit_code in (126, 127):
                    raise ExecFailed(describe(msg.message), msg.exit_code)
                raise InvalidArgument(describe(msg.message))
            elif msg.type == sync.READY:
                ready = True
        return Created(pid, console)
    except BaseException:
        if console >= 0:
            os.close(console)
        if child:
            kill_quietly(child)
        if pid:
            kill_quietly(pid)
        raise
    finally:
        ours.close()


def _pid_after_error(ours: socket.socket) -> int:
    """The intermediate's PID message when the process's ERROR overtook it; 0 if it died first."""
    while (msg := sync.recv(ours)) is not None:
        if msg.type == sync.PID:
            return max(msg.pid, 0)
        if msg.fd >= 0:
            os.close(msg.fd)
    return 0


def _reap_quietly(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def kill_quietly(pid: int) -> None:
    """Kill ``pid`` and return once it is dead: reaped when it is our child (as a
    subreaper's grandchild is once its parent is gone), else waited for on a pidfd."""
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except ProcessLookupError:
        pass
    except ChildProcessError:
        _await_exit(pid)


def _await_exit(pid: int) -> None:
    import select
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        select.select([fd], [], [])  # readable once the process has exited
    finally:
        os.close(fd)
