"""``ketch-runtime``: the runc-compatible command line over the runtime library.

Each command is a few lines that call ``runtime.container`` (create) or
``runtime.state`` (everything else). The flags are the ones containerd, conmon and
the OCI runtime-tools pass to runc. Parsing is by hand, not argparse, and imports
are per command: a shim runs three of these per container, and runc is the
benchmark (``bench/runtime_cycle.py``).
"""

import os
import sys

from ketch.errors import KetchError

DEFAULT_ROOT = "/run/ketch-runtime"
USAGE = """usage: ketch-runtime [--root DIR] [--log FILE] [--log-format text|json] COMMAND [OPTIONS] ID
       ketch-runtime --version

commands:
  create  [--bundle DIR] [--pid-file FILE] [--console-socket SOCK] ID
  run     [--bundle DIR] [--pid-file FILE] [--console-socket SOCK] [--detach] ID
  start   ID
  state   ID
  kill    [--all] ID [SIGNAL]
  pause   ID
  resume  ID
  delete  [--force] ID
  exec    [--process FILE] [--tty] [--console-socket SOCK] [--pid-file FILE] [--detach]
          [--env K=V]... [--cwd DIR] [--user UID[:GID]] [--no-new-privs] ID [COMMAND...]
  ps      [--format table|json] ID
  list    [--quiet]
  spec    [--bundle DIR]
  features
"""
# option -> takes a value; the global ones come before the command, as with runc
GLOBAL = {"--root": True, "--log": True, "--log-format": True, "--debug": False,
          "--systemd-cgroup": False, "--criu": True, "--rootless": True}
COMMAND = {"--bundle": True, "-b": True, "--pid-file": True, "--console-socket": True,
           "--detach": False, "-d": False, "--force": False, "-f": False, "--all": False,
           "-a": False, "--no-pivot": False, "--no-new-keyring": False, "--quiet": False,
           "-q": False, "--format": True, "--preserve-fds": True, "--keep": False,
           "--process": True, "-p": True, "--tty": False, "-t": False, "--env": True, "-e": True,
           "--cwd": True, "--user": True, "-u": True, "--no-new-privs": False, "--cap": True,
           "-c": True, "--additional-gids": True, "-g": True}
ALIASES = {"-b": "--bundle", "-d": "--detach", "-f": "--force", "-a": "--all", "-q": "--quiet",
           "-p": "--process", "-t": "--tty", "-e": "--env", "-u": "--user", "-c": "--cap",
           "-g": "--additional-gids"}
MULTI = {"--env", "--cap", "--additional-gids"}  # flags that may be given several times


class UsageError(KetchError):
    pass


def parse(argv: list[str]) -> tuple[dict, str, dict, list[str]]:
    """(global options, command, command options, positionals)."""
    opts: dict = {"--root": DEFAULT_ROOT}
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        name, eq, value = argv[i].partition("=")
        if name in ("-h", "--help"):
            return opts, "help", {}, []
        if name in ("-v", "--version"):
            return opts, "version", {}, []
        if name not in GLOBAL:
            raise UsageError(f"flag provided but not defined: {name}")
        if GLOBAL[name] and not eq:
            i += 1
            value = argv[i] if i < len(argv) else ""
        opts[name] = value if GLOBAL[name] else True
        i += 1
    if i >= len(argv):
        return opts, "help", {}, []
    command, cmd_opts, args = argv[i], {}, []
    pending = None  # a flag still waiting for its value
    for arg in argv[i + 1:]:
        if arg.startswith("-") and not args and arg != "-":
            name, eq, value = arg.partition("=")
            name = ALIASES.get(name, name)
            if ALIASES.get(name, name) not in COMMAND and name not in COMMAND:
                raise UsageError(f"flag provided but not defined: {name}")
            if name in MULTI:
                cmd_opts.setdefault(name, []).append(value if eq else None)
                pending = None if eq else name
            else:
                cmd_opts[name] = value if eq else (None if COMMAND.get(name) else True)
                pending = name if COMMAND.get(name) and not eq else None
        elif pending is not None and not args:
            if pending in MULTI:
                cmd_opts[pending][-1] = arg
            else:
                cmd_opts[pending] = arg  # the value of the flag before
            pending = None
        else:
            args.append(arg)
    return opts, command, cmd_opts, args


def _write_pid_file(path: str | None, pid: int) -> None:
    if path:
        from ketch.linux.atomic import write_file
        write_file(path, str(pid).encode(), 0o644)  # runc's mode, whatever the umask


def _send_console(socket_path: str, master: int) -> None:
    """runc's --console-socket protocol: the pty master goes to the caller with SCM_RIGHTS."""
    import array
    import socket
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(socket_path)
        s.sendmsg([b"/dev/ptmx"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [master]))])
    os.close(master)


def _create(root: str, cid: str, o: dict):
    from ketch.linux import syscalls as sc
    from ketch.runtime import container
    from ketch.runtime.process import Stdio
    sc.prctl(sc.PR_SET_CHILD_SUBREAPER, 1)
    c, created = container.create(root, cid, o.get("--bundle") or ".", Stdio(0, 1, 2))
    if created.console_fd >= 0:
        if not o.get("--console-socket"):
            os.close(created.console_fd)
            c.delete(force=True)
            raise UsageError("cannot allocate tty if runc will detach without setting console socket")
        _send_console(o["--console-socket"], created.console_fd)
    _write_pid_file(o.get("--pid-file"), c.pid)
    return c


def cmd_run(root: str, cid: str, o: dict) -> int:
    c = _create(root, cid, o)
    c.start()
    if o.get("--detach"):
        return 0
    while True:
        pid, status = os.waitpid(-1, 0)
        if pid == c.pid:
            break
    c.delete(force=True)
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code


def _load(root: str, cid: str):
    from ketch.runtime import state
    return state.load(root, cid)


def cmd_state(root: str, cid: str, o: dict) -> int:
    from ketch import fastjson
    print(fastjson.dumps(_load(root, cid).state()))
    return 0


def cmd_list(root: str, o: dict) -> int:
    from ketch.runtime import state
    ids = state.list_ids(root)
    if o.get("--quiet"):
        print("\n".join(ids))
        return 0
    print("ID\tPID\tSTATUS\tBUNDLE\tCREATED")
    for cid in ids:
        s = _load(root, cid).state()
        print(f"{cid}\t{s['pid']}\t{s['status']}\t{s['bundle']}\t{s['created']}")
    return 0


def cmd_spec(o: dict) -> int:
    """A default config.json (busybox sh), like `runc spec`."""
    from ketch import fastjson
    bundle = o.get("--bundle") or "."
    path = os.path.join(bundle, "config.json")
    if os.path.exists(path):
        raise UsageError("File config.json exists. Remove it first")
    from ketch.runtime.defaults import default_spec
    with open(path, "w") as f:
        f.write(fastjson.dumps(default_spec()))
    return 0


def cmd_features() -> int:
    from ketch import fastjson
    from ketch.runtime.defaults import features
    print(fastjson.dumps(features()))
    return 0


def _exec_process(c, o: dict, command: list[str]):
    """The process to exec: --process, or the container's own with the command line's changes."""
    from ketch import fastjson
    from ketch.runtime.specconv import from_oci
    with open(os.path.join(c.bundle, "config.json"), "rb") as f:
        spec = fastjson.loads(f.read())
    if o.get("--process"):
        with open(o["--process"], "rb") as f:
            spec["process"] = fastjson.loads(f.read())
    else:
        proc = dict(spec["process"])
        if not command:
            raise UsageError("exec needs a command or --process")
        proc["args"] = command
        proc["terminal"] = bool(o.get("--tty"))
        proc.pop("consoleSize", None)
        proc["env"] = list(proc.get("env") or []) + list(o.get("--env") or [])
        if o.get("--cwd"):
            proc["cwd"] = o["--cwd"]
        if o.get("--user"):
            uid, _, gid = o["--user"].partition(":")
            proc["user"] = {"uid": int(uid), "gid": int(gid or 0),
                            "additionalGids": [int(g) for g in o.get("--additional-gids") or []]}
        if o.get("--no-new-privs"):
            proc["noNewPrivileges"] = True
        if o.get("--cap"):
            caps = proc.get("capabilities") or {}
            for kind in ("bounding", "effective", "permitted"):
                caps[kind] = sorted(set(caps.get(kind) or []) | set(o["--cap"]))
            proc["capabilities"] = caps
        spec["process"] = proc
    return from_oci(spec, c.bundle)


def cmd_exec(root: str, cid: str, o: dict, command: list[str]) -> int:
    from ketch.linux import syscalls as sc
    from ketch.runtime import execute
    from ketch.runtime.process import Prepared, Stdio
    c = _load(root, cid)
    if c.status() != "running":
        raise UsageError(f"cannot exec in a {c.status()} container")
    cfg = _exec_process(c, o, command)
    filt = None
    if cfg.seccomp:
        from ketch.runtime import seccomp
        filt = seccomp.prepare(seccomp.compile_rules(cfg.seccomp), os.path.join(root, ".bpf"))
    place = None
    if c.cgroups_path:
        from ketch.runtime import cgroups
        place = cgroups.manager(c.cgroups_path).add
    sc.prctl(sc.PR_SET_CHILD_SUBREAPER, 1)
    created = execute.start(c.pid, {ns.type for ns in cfg.namespaces}, cfg.process, Stdio(0, 1, 2),
                            Prepared(filt, place))
    if created.console_fd >= 0:
        if not o.get("--console-socket"):
            os.close(created.console_fd)
            raise UsageError("cannot allocate tty without setting console socket")
        _send_console(o["--console-socket"], created.console_fd)
    _write_pid_file(o.get("--pid-file"), created.pid)
    if o.get("--detach"):
        return 0
    while True:
        pid, status = os.waitpid(-1, 0)
        if pid == created.pid:
            code = os.waitstatus_to_exitcode(status)
            return code if code >= 0 else 128 - code


def cmd_ps(root: str, cid: str, o: dict) -> int:
    """The container's processes: pids as JSON, or `ps -ef` rows (as runc ps)."""
    c = _load(root, cid)
    if c.status() == "stopped":
        raise UsageError("container is not running")
    if c.cgroups_path:
        from ketch.runtime import cgroups
        pids = cgroups.manager(c.cgroups_path).pids()
    else:
        pids = _pids_in_namespace(c.pid)
    if o.get("--format") == "json":
        print("[" + ",".join(map(str, pids)) + "]")
        return 0
    import subprocess
    lines = subprocess.run(["ps", "-ef"], capture_output=True, text=True).stdout.splitlines()
    wanted = set(pids)
    print(lines[0])
    for line in lines[1:]:
        fields = line.split()
        if len(fields) > 1 and fields[1].isdigit() and int(fields[1]) in wanted:
            print(line)
    return 0


def _pids_in_namespace(init_pid: int) -> list[int]:
    target = os.readlink(f"/proc/{init_pid}/ns/pid")
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.readlink(f"/proc/{entry}/ns/pid") == target:
                    out.append(int(entry))
            except OSError:
                pass
    return sorted(out)


def dispatch(root: str, command: str, o: dict, args: list[str]) -> int:
    if command == "list":
        return cmd_list(root, o)
    if command == "spec":
        return cmd_spec(o)
    if command == "features":
        return cmd_features()
    if not args:
        raise UsageError(f'"{command}" requires a container id')
    cid = args[0]
    if command == "create":
        _create(root, cid, o)
    elif command == "run":
        return cmd_run(root, cid, o)
    elif command == "start":
        _load(root, cid).start()
    elif command == "state":
        return cmd_state(root, cid, o)
    elif command == "exec":
        return cmd_exec(root, cid, o, args[1:])
    elif command == "ps":
        return cmd_ps(root, cid, o)
    elif command == "kill":
        from ketch.signals import parse_runc
        _load(root, cid).kill(parse_runc(args[1] if len(args) > 1 else "SIGTERM"))
    elif command == "pause":
        _load(root, cid).pause()
    elif command == "resume":
        _load(root, cid).resume()
    elif command == "delete":
        try:
            c = _load(root, cid)
        except KetchError:
            if o.get("--force"):
                return 0
            raise
        c.delete(force=bool(o.get("--force")))
    else:
        raise UsageError(f"unknown command {command!r}")
    return 0


def _log_error(g: dict, message: str) -> None:
    """runc's --log: where a shim looks for the runtime's own errors (JSON lines with
    --log-format json, as containerd asks for)."""
    path = g.get("--log")
    if not path:
        return
    from ketch import fastjson, timefmt
    if g.get("--log-format") == "json":
        line = fastjson.dumps({"level": "error", "msg": message, "time": timefmt.now()})
    else:
        line = f'time="{timefmt.now()}" level=error msg="{message}"'
    try:
        with open(path, "a") as f:
            f.write(line + "\n")
    except OSError:
        pass


def _version() -> str:
    """runc --version's shape ("... version X", "spec: ", "libseccomp: "), which
    containerd's go-runc and docker info read."""
    from ketch import __version__
    from ketch.runtime.defaults import default_spec
    lines = [f"ketch-runtime version {__version__}", f"spec: {default_spec()['ociVersion']}",
             f"python: {sys.version.split()[0]}"]
    try:
        from ketch.linux import seccomp
        lines.append(f"libseccomp: {seccomp.library_version()}")
    except OSError:
        pass
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    g: dict = {}
    try:
        g, command, o, args = parse(list(sys.argv[1:] if argv is None else argv))
        if command == "help":
            sys.stdout.write(USAGE)
            return 0
        if command == "version":
            sys.stdout.write(_version())
            return 0
        return dispatch(g["--root"], command, o, args)
    except (KetchError, OSError) as exc:
        print(f"ketch-runtime: {exc}", file=sys.stderr)
        _log_error(g, str(exc))
        return 1


if __name__ == "__main__":
    sys.exit(main())
