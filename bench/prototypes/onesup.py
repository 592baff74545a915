"""Prototype (b): one supervisor process for many containers.

One single-threaded Python process, a child subreaper, with one selectors loop holding
every container's fds: its stdout/stderr pipes, its json-file log, its own monitor.sock
listener (so ketchd's protocol stays per container), and the subscribers. SIGCHLD
through set_wakeup_fd; every exit is written to that container's exit.json.

The driver starts the supervisor detached (double fork + setsid, as a monitor is today),
asks it over its control socket to "run" N containers (children `sh -c 'echo; exec sleep
3600'`), and reads Pss/Rss at 0 containers and after each step, so the marginal cost per
container is the slope. Then it ends every child with SIGTERM, checks exit.json (143) for
each, and stops the supervisor by pid.

    .venv/bin/python3 -I -S bench/prototypes/onesup.py --count 500 [--steps 0,100,500]
"""

import json
import os
import selectors
import signal
import socket
import sys
import time

CHILD = ["/bin/sh", "-c", "echo hello from $$; echo to stderr >&2; exec sleep 3600"]


def rfc3339(ns: int) -> str:
    s, frac = divmod(ns, 10**9)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s)) + (".%09d" % frac).rstrip("0").rstrip(".") + "Z"


def frame(stream: int, payload: bytes) -> bytes:
    return bytes((stream, 0, 0, 0)) + len(payload).to_bytes(4, "big") + payload


class Container:
    __slots__ = ("id", "dir", "pid", "log", "outputs", "partial", "listener", "clients", "exit_code")

    def __init__(self, cid: str, state_dir: str) -> None:
        self.id, self.dir = cid, state_dir
        self.pid = 0
        self.log = -1
        self.outputs: dict[int, int] = {}
        self.partial = [b"", b"", b""]
        self.listener = None
        self.clients: list[socket.socket] = []
        self.exit_code = None


class Supervisor:
    def __init__(self, ctl_path: str) -> None:
        import ctypes
        ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
        self.sel = selectors.DefaultSelector()
        self.by_pid: dict[int, Container] = {}
        self.sigr, sigw = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(sigw)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        self.sel.register(self.sigr, selectors.EVENT_READ, (self.on_signal, None))
        self.ctl = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.ctl.bind(ctl_path)
        self.ctl.listen(16)
        self.sel.register(self.ctl, selectors.EVENT_READ, (self.on_ctl, None))

    # ketchd -> supervisor: one JSON request per connection, one JSON answer
    def on_ctl(self, _c, _fd) -> None:
        conn, _ = self.ctl.accept()
        with conn:
            req = json.loads(conn.makefile().readline())
            for i in range(req["count"]):
                self.run(req["prefix"] + str(i), os.path.join(req["dir"], req["prefix"] + str(i)))
            conn.sendall(json.dumps({"ok": True, "running": len(self.by_pid)}).encode() + b"\n")

    def run(self, cid: str, state_dir: str) -> None:
        os.makedirs(state_dir, exist_ok=True)
        c = Container(cid, state_dir)
        c.log = os.open(os.path.join(state_dir, "json.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640)
        ends = []
        for stream in (1, 2):
            r, w = os.pipe2(os.O_CLOEXEC)
            os.set_blocking(r, False)
            c.outputs[r] = stream
            ends.append(w)
        null = os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)
        c.pid = os.posix_spawn(CHILD[0], CHILD, {"PATH": "/usr/bin:/bin"},
                               file_actions=[(os.POSIX_SPAWN_DUP2, null, 0),
                                             (os.POSIX_SPAWN_DUP2, ends[0], 1),
                                             (os.POSIX_SPAWN_DUP2, ends[1], 2)])
        for fd in ends + [null]:
            os.close(fd)
        for r in c.outputs:
            self.sel.register(r, selectors.EVENT_READ, (self.on_output, c))
        c.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.listener.bind(os.path.join(state_dir, "monitor.sock"))
        c.listener.listen(8)
        c.listener.setblocking(False)
        self.sel.register(c.listener, selectors.EVENT_READ, (self.on_accept, c))
        self.by_pid[c.pid] = c

    def on_accept(self, c: Container, _fd) -> None:
        conn, _ = c.listener.accept()
        c.clients.append(conn)
        self.sel.register(conn, selectors.EVENT_READ, (self.on_client, c))

    def on_client(self, c: Container, fd) -> None:
        conn = next(s for s in c.clients if s.fileno() == fd)
        if not conn.recv(65536):
            c.clients.remove(conn)
            self.sel.unregister(conn)
            conn.close()

    def on_output(self, c: Container, fd: int) -> None:
        data = os.read(fd, 65536)
        stream = c.outputs[fd]
        if not data:
            self.sel.unregister(fd)
            os.close(fd)
            del c.outputs[fd]
            if c.exit_code is not None and not c.outputs:
                self.finish(c)
            return
        buf = c.partial[stream] + data
        lines = buf.split(b"\n")
        c.partial[stream] = lines.pop()
        now = rfc3339(time.time_ns())
        name = "stdout" if stream == 1 else "stderr"
        out = [json.dumps({"log": (ln + b"\n").decode("utf-8", "replace"), "stream": name, "time": now},
                          separators=(",", ":")).encode() + b"\n" for ln in lines]
        if out:
            os.write(c.log, b"".join(out))
        for s in c.clients:
            s.sendall(frame(stream, data))

    def on_signal(self, _c, _fd) -> None:
        os.read(self.sigr, 4096)
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            c = self.by_pid.get(pid)
            if c is not None:
                code = os.waitstatus_to_exitcode(status)
                c.exit_code = code if code >= 0 else 128 - code
                if not c.outputs:  # else: when the pipes reach EOF (a real one adds a drain timeout)
                    self.finish(c)

    def finish(self, c: Container) -> None:
        os.close(c.log)
        tmp = os.path.join(c.dir, "exit.json.tmp")
        with open(tmp, "w") as f:
            json.dump({"exit_code": c.exit_code, "finished_at": rfc3339(time.time_ns()), "oom_killed": False}, f)
        os.rename(tmp, os.path.join(c.dir, "exit.json"))
        self.sel.unregister(c.listener)
        c.listener.close()
        for s in c.clients:
            self.sel.unregister(s)
            s.close()
        del self.by_pid[c.pid]

    def serve(self) -> None:
        while True:
            for key, _ in self.sel.select():
                fn, c = key.data
                fn(c, key.fd)


# -- driver -------------------------------------------------------------------------------------
def rollup(pid: int) -> dict:
    out = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
                out[parts[0][:-1]] = int(parts[1])
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmPTE:", "FDSize:")):
                out[line.split(":")[0]] = int(line.split()[1])
    out["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
    return out


def children(ppid: int) -> list[int]:
    out = []
    for n in os.listdir("/proc"):
        if n.isdigit():
            try:
                data = open(f"/proc/{n}/stat").read()
            except OSError:
                continue
            if int(data[data.rindex(")") + 2:].split()[1]) == ppid:
                out.append(int(n))
    return out


def request(path: str, doc: dict) -> dict:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(path)
        s.sendall(json.dumps(doc).encode() + b"\n")
        return json.loads(s.makefile().readline())


def main() -> int:
    import resource
    import shutil
    import subprocess
    import tempfile
    args = sys.argv[1:]
    if args[:1] == ["--serve"]:
        sup = Supervisor(args[1])
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        sup.serve()
        return 0
    count = int(args[args.index("--count") + 1]) if "--count" in args else 500
    steps = [int(x) for x in args[args.index("--steps") + 1].split(",")] if "--steps" in args else [0, 100, count]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))
    work = tempfile.mkdtemp(prefix="onesup-", dir="/tmp")
    ctl = os.path.join(work, "supervisor.sock")
    proc = subprocess.Popen([sys.executable, "-I", "-S", os.path.abspath(__file__), "--serve", ctl],
                            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, start_new_session=True)
    status = 0
    results = []
    try:
        if proc.stdout.readline().strip() != b"ready":
            raise RuntimeError("supervisor did not start")
        running = 0
        for step in steps:
            if step > running:
                request(ctl, {"count": step - running, "prefix": f"s{step}-", "dir": work})
                running = step
            time.sleep(1.0)
            ro = rollup(proc.pid)
            results.append((step, ro))
            print(f"one supervisor, {step:4d} containers: Pss {ro['Pss']} kB Rss {ro['Rss']} kB "
                  f"Private_Dirty {ro['Private_Dirty']} kB VmPTE {ro['VmPTE']} kB fds {ro['fds']}")
        (n0, r0), (n1, r1) = results[0], results[-1]
        per = (r1["Pss"] - r0["Pss"]) / (n1 - n0)
        print(f"marginal Pss per container {per:.1f} kB; total Pss / container at {n1}: {r1['Pss'] / n1:.1f} kB")
        logs = sum(1 for d in os.listdir(work) if os.path.isdir(os.path.join(work, d))
                   and b"hello from" in open(os.path.join(work, d, "json.log"), "rb").read())
        print(f"logs written: {logs}/{n1}")
        if "--json" in args:
            print(json.dumps({"design": "one Python supervisor", "steps": results, "marginal_pss": per,
                              "per_container_pss": r1["Pss"] / n1, "per_container_rss": r1["Rss"] / n1}))
    finally:
        kids = children(proc.pid)
        for k in kids:
            os.kill(k, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while children(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.3)
        dirs = [d for d in os.listdir(work) if os.path.isdir(os.path.join(work, d))]
        bad = 0
        for d in dirs:
            try:
                with open(os.path.join(work, d, "exit.json")) as f:
                    bad += json.load(f)["exit_code"] != 143
            except OSError:
                bad += 1
        if bad:
            print(f"{bad}/{len(dirs)} containers without exit.json 143", file=sys.stderr)
            status = 1
        for k in children(proc.pid):
            os.kill(k, signal.SIGKILL)
        proc.kill()
        proc.wait()
        shutil.rmtree(work, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
