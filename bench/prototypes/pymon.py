"""Prototype (a): what a forked Python monitor costs, and what makes it cheaper.

This process plays the fork server: it imports a module set, optionally freezes the GC,
then forks N monitors. Each monitor is realistic but small: it is a child subreaper,
spawns its "container" (`sh -c 'echo ...; exec sleep 3600'`) with stdout/stderr pipes,
pumps them into a json-file log, serves a unix socket (monitor.sock) with Docker-framed
output for subscribers, reaps the child, writes exit.json and exits.

    .venv/bin/python3 -I -S bench/prototypes/pymon.py --count 100 [--imports stdlib|ketch]
        [--loop lean|ketch] [--freeze] [--gc-disable] [--json] [--smaps-dump FILE]

--imports ketch   the fork server imports what ketch's fork server imports today
                  (ketch.monitor.forkserver, hence monitor, runtime, cgroups, seccomp)
--loop ketch      run ketch's own Monitor class (ketch.monitor.monitor) with a stand-in
                  runtime that spawns the child instead of creating a container
--loop exec-cmon  the forked child "creates" the container in Python (spawns it with its
                  pipes), then exec()s the C monitor (cmon.c, --cmon PATH) with --adopt:
                  the pid, the child and the fds stay; the Python image is gone
--freeze          gc.freeze() in the fork server after the imports, before forking
--gc-disable      gc.disable() in the fork server (inherited by the monitors)

Measures Pss/Rss (smaps_rollup) of the fork server and every monitor, then ends each
"container" with SIGTERM, checks that every monitor wrote exit.json (143) and exited.
Only processes this script started are signalled, by pid.
"""

import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ARGS = sys.argv[1:]
COUNT = int(ARGS[ARGS.index("--count") + 1]) if "--count" in ARGS else 100
IMPORTS = ARGS[ARGS.index("--imports") + 1] if "--imports" in ARGS else "stdlib"
LOOP = ARGS[ARGS.index("--loop") + 1] if "--loop" in ARGS else "lean"
if LOOP == "ketch":
    IMPORTS = "ketch"  # ketch's Monitor class needs them
CHILD_ARGV = ["/bin/sh", "-c", "echo hello from $$; echo to stderr >&2; exec sleep 3600"]

# -- the module set the fork server holds ----------------------------------------------------
import ctypes  # noqa: E402  prctl (child subreaper, process name): a real monitor needs it
import json  # noqa: E402
import selectors  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import time  # noqa: E402

if IMPORTS == "ketch" or LOOP == "ketch":
    sys.path.insert(0, REPO)
    import importlib  # noqa: E402
    importlib.import_module("ketch.monitor.forkserver")  # everything today's fork server preloads
    from ketch.monitor import monitor as kmon  # noqa: E402
    from ketch.monitor import runtimes as kruntimes  # noqa: E402
    from ketch.monitor import protocol as kproto  # noqa: E402

libc = ctypes.CDLL(None, use_errno=True)
PR_SET_NAME, PR_SET_CHILD_SUBREAPER = 15, 36


# -- the lean monitor -------------------------------------------------------------------------
def rfc3339(ns: int) -> str:
    s, frac = divmod(ns, 10**9)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s)) + (".%09d" % frac).rstrip("0").rstrip(".") + "Z"


def frame(stream: int, payload: bytes) -> bytes:
    return bytes((stream, 0, 0, 0)) + len(payload).to_bytes(4, "big") + payload


def spawn_child(stdout_w: int, stderr_w: int) -> int:
    null = os.open("/dev/null", os.O_RDONLY)
    pid = os.posix_spawn(CHILD_ARGV[0], CHILD_ARGV, {"PATH": "/usr/bin:/bin"},
                         file_actions=[(os.POSIX_SPAWN_DUP2, null, 0),
                                       (os.POSIX_SPAWN_DUP2, stdout_w, 1),
                                       (os.POSIX_SPAWN_DUP2, stderr_w, 2)])
    os.close(null)
    return pid


def lean_monitor(state_dir: str) -> int:
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    sel = selectors.DefaultSelector()
    log = os.open(os.path.join(state_dir, "json.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
    partial = {1: b"", 2: b""}
    names = {1: "stdout", 2: "stderr"}
    outputs = {}
    for stream in (1, 2):
        r, w = os.pipe2(os.O_CLOEXEC)
        os.set_blocking(r, False)
        outputs[r] = (stream, w)
    pid = spawn_child(*(w for _s, w in outputs.values()))
    for r, (stream, w) in list(outputs.items()):
        os.close(w)
        outputs[r] = stream
    sigr, sigw = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.set_wakeup_fd(sigw)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(os.path.join(state_dir, "monitor.sock"))
    listener.listen(8)
    listener.setblocking(False)
    clients = []
    sel.register(sigr, selectors.EVENT_READ, "sig")
    sel.register(listener, selectors.EVENT_READ, "accept")
    for r in outputs:
        sel.register(r, selectors.EVENT_READ, "out")
    exit_code = None

    def write_log(stream: int, data: bytes, now: int) -> None:
        buf = partial[stream] + data
        lines = buf.split(b"\n")
        partial[stream] = lines.pop()
        out = [json.dumps({"log": (ln + b"\n").decode("utf-8", "replace"), "stream": names[stream],
                           "time": rfc3339(now)}, separators=(",", ":")).encode() + b"\n" for ln in lines]
        if out:
            os.write(log, b"".join(out))

    def on_output(fd: int) -> None:
        data = os.read(fd, 65536) if fd in outputs else b""
        if not data:
            sel.unregister(fd)
            os.close(fd)
            del outputs[fd]
            return
        write_log(outputs[fd], data, time.time_ns())
        for c in list(clients):
            try:
                c.sendall(frame(outputs[fd], data))
            except OSError:
                clients.remove(c)
                sel.unregister(c)
                c.close()

    while exit_code is None or outputs:
        for key, _ in sel.select(timeout=None if exit_code is None else 0.05):
            if key.data == "sig":
                os.read(sigr, 512)
                while True:
                    try:
                        wpid, status = os.waitpid(-1, os.WNOHANG)
                    except ChildProcessError:
                        break
                    if wpid == 0:
                        break
                    if wpid == pid:
                        code = os.waitstatus_to_exitcode(status)
                        exit_code = code if code >= 0 else 128 - code
            elif key.data == "accept":
                conn, _ = listener.accept()
                clients.append(conn)
                sel.register(conn, selectors.EVENT_READ, "client")
            elif key.data == "client":
                if not key.fileobj.recv(65536):
                    clients.remove(key.fileobj)
                    sel.unregister(key.fileobj)
                    key.fileobj.close()
            else:
                on_output(key.fd)
    os.close(log)
    tmp = os.path.join(state_dir, "exit.json.tmp")
    with open(tmp, "w") as f:
        json.dump({"exit_code": exit_code, "finished_at": rfc3339(time.time_ns()), "oom_killed": False}, f)
    os.rename(tmp, os.path.join(state_dir, "exit.json"))
    return 0


# -- ketch's own Monitor with a stand-in runtime ----------------------------------------------
class SpawnRuntime:
    """The runtime slot filled by a plain spawn: create = spawn, start/delete = nothing."""

    def __init__(self, *_a) -> None:
        pass

    def create(self, bundle, stdio, terminal):
        pid = spawn_child(stdio.stdout, stdio.stderr)
        return kruntimes.Created(pid)

    def start(self) -> None:
        pass

    def delete(self) -> None:
        pass


def ketch_monitor(state_dir: str, conn: socket.socket) -> int:
    kruntimes.make = lambda *a: SpawnRuntime()
    req = kproto.MonitorRequest(id=os.path.basename(state_dir), bundle="", runtime_root=state_dir,
                              state_dir=state_dir, log_path=os.path.join(state_dir, "json.log"))
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    m = kmon.Monitor(req, conn)
    m.run()
    return 0


# -- create in Python, then become the C monitor ---------------------------------------------
def exec_cmon(state_dir: str) -> int:
    cmon = ARGS[ARGS.index("--cmon") + 1] if "--cmon" in ARGS else "/tmp/cmon"
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    fds = []
    ends = []
    for _stream in (1, 2):
        r, w = os.pipe()  # inheritable read ends: they cross the exec
        fds.append(r)
        ends.append(w)
    pid = spawn_child(*ends)  # stands in for ketch's runtime create, run in this warm process
    for w in ends:
        os.close(w)
    for r in fds:
        os.set_inheritable(r, True)
    os.execv(cmon, [cmon, state_dir, os.path.join(state_dir, "json.log"), "--adopt", str(pid),
                    str(fds[0]), str(fds[1])])


# -- the fork server and the measurement --------------------------------------------------------
def rollup(pid: int) -> dict:
    out = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
                out[parts[0][:-1]] = int(parts[1])
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmPTE:"):
                out["VmPTE"] = int(line.split()[1])
    return out


def children(ppid: int) -> list[int]:
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    data = f.read()
            except OSError:
                continue
            if int(data[data.rindex(")") + 2:].split()[1]) == ppid:
                out.append(int(name))
    return out


def main() -> int:
    import gc
    import tempfile
    if "--gc-disable" in ARGS:
        gc.disable()
    if "--freeze" in ARGS:
        gc.freeze()
    work = tempfile.mkdtemp(prefix="pymon-", dir="/tmp")
    monitors: dict[int, str] = {}
    keep = []  # ketchd's ends of the ketch-loop monitors' connections
    status = 0
    try:
        for i in range(COUNT):
            d = os.path.join(work, f"c{i}")
            os.mkdir(d)
            if LOOP == "ketch":
                ours, theirs = socket.socketpair()
                keep.append(ours)
            pid = os.fork()
            if pid == 0:
                code = 1
                try:
                    libc.prctl(PR_SET_NAME, b"pymon", 0, 0, 0)
                    for s in keep:  # ketchd's ends: not the monitor's
                        s.close()
                    if LOOP == "exec-cmon":
                        exec_cmon(d)
                    code = ketch_monitor(d, theirs) if LOOP == "ketch" else lean_monitor(d)
                except BaseException:  # noqa: BLE001
                    import traceback
                    traceback.print_exc()
                finally:
                    os._exit(code)
            if LOOP == "ketch":
                theirs.close()
            monitors[pid] = d
        time.sleep(2.0)
        for s in keep:  # ketchd would read these; drain the "created" events
            s.setblocking(False)
            try:
                s.recv(65536)
            except BlockingIOError:
                pass
        logs_ok = sum(1 for d in monitors.values()
                      if b"hello from" in open(os.path.join(d, "json.log"), "rb").read())
        if "--smaps-dump" in ARGS:
            import shutil as _sh
            _sh.copyfile(f"/proc/{list(monitors)[-1]}/smaps", ARGS[ARGS.index("--smaps-dump") + 1])
        fs = rollup(os.getpid())
        mons = [rollup(p) for p in monitors]
        n = len(mons)
        keys = ("Pss", "Rss", "Private_Dirty", "Pss_Anon", "Pss_File", "VmPTE")
        mean = {k: sum(m.get(k, 0) for m in mons) / n for k in keys}
        per = {k: (fs.get(k, 0) + sum(m.get(k, 0) for m in mons)) / n for k in keys}
        res = {"design": f"pymon imports={IMPORTS} loop={LOOP} freeze={'--freeze' in ARGS} "
                         f"gc_disable={'--gc-disable' in ARGS}", "n": n, "logs_ok": logs_ok,
               "fork_server_pss": fs["Pss"], "fork_server_rss": fs["Rss"],
               "monitor_mean": mean, "per_container": per}
        print(f"{res['design']}: n={n} logs={logs_ok}/{n}  fork server Pss {fs['Pss']} kB Rss {fs['Rss']} kB | "
              f"monitor mean Pss {mean['Pss']:.0f} kB Rss {mean['Rss']:.0f} kB Private_Dirty "
              f"{mean['Private_Dirty']:.0f} kB VmPTE {mean['VmPTE']:.0f} kB | per container (fs+monitors) "
              f"Pss {per['Pss']:.0f} kB Rss {per['Rss']:.0f} kB")
        if "--json" in ARGS:
            print(json.dumps(res))
    finally:
        # End every "container" (the monitors' children), then the monitors must finish alone.
        for mpid in monitors:
            for cpid in children(mpid):
                try:
                    os.kill(cpid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 10
        left = set(monitors)
        while left and time.monotonic() < deadline:
            for mpid in list(left):
                if os.waitpid(mpid, os.WNOHANG)[0]:
                    left.discard(mpid)
            time.sleep(0.05)
        for mpid in left:
            print(f"monitor {mpid} did not exit; killing it and its children", file=sys.stderr)
            for cpid in children(mpid):
                os.kill(cpid, signal.SIGKILL)
            os.kill(mpid, signal.SIGKILL)
            os.waitpid(mpid, 0)
            status = 1
        bad = []
        for d in monitors.values():
            try:
                with open(os.path.join(d, "exit.json")) as f:
                    if json.load(f)["exit_code"] != 143:
                        bad.append(d)
            except OSError:
                bad.append(d)
        if bad:
            print(f"{len(bad)} monitors without exit.json 143, e.g. {bad[0]}", file=sys.stderr)
            status = 1
        import shutil
        shutil.rmtree(work, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
