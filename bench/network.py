#!/usr/bin/env python3
"""What networking costs: `run --rm` on the default bridge vs `--network none`, and TCP
through a published port (connections/s, MB/s), for ketch and beside Docker.

    flock /tmp/ketch-test.lock timeout 900 .venv/bin/python3 bench/network.py
    .venv/bin/python3 bench/network.py --no-docker -n 30
    .venv/bin/python3 bench/network.py --docker-host unix:///path/docker.sock

1. `run --rm busybox true` with the default bridge and with `--network none`, interleaved
   (ketch bridge, ketch none, docker bridge, docker none, ...) so all four see the same
   machine noise; median and p90 of each, and what the bridge adds (difference of medians).
2. A container running bench/netsink.c (built here with `gcc -static`), published with
   `-p 80 -p 81` (random host ports), reached from the host three ways: 127.0.0.1:PORT, the
   host's address:PORT, and the container's bridge address:80 directly. Connection rate:
   clients doing connect, read the server's one byte, reset (SO_LINGER 0: no TIME_WAIT, see
   netsink.c), for a few seconds (the byte proves the connection reached the container,
   not a proxy in front of it).
   Throughput: one connection sending --mib MiB, timed until the server has read all of it
   (its close after the client's end of stream). Connection rates are medians of
   --rate-rounds rounds; throughput the median and the best of --rounds, each round over
   the three targets in a rotating order. The best is the steadier figure on a shared
   machine (other load only ever slows a round down), so the "% of direct" is given for both.

ketch: a ketchd of this checkout on a root of its own (bridge, subnet and nftables table
of its own, as the integration tests' daemons have), removed at the end.

Docker: unless --docker-host names one, a dockerd of the bench's own runs in a network
namespace of its own (`ip netns exec kb-dockerd-PID dockerd ...`, its own roots, --bip
10.215.0.1/24): with networking on, dockerd rewrites iptables (DOCKER chains, FORWARD
policy DROP), and inside that namespace this touches no one else's traffic. The
namespace gets a veth pair (10.216.0.1 on one end) as its "host address"; the clients of
Docker's published port run in the namespace too (`ip netns exec`). dockerd runs with
its defaults there: the userland proxy (docker-proxy) takes 127.0.0.1, iptables DNAT the
host address. Busybox and the sink are `docker import`ed. Everything (containers, dockerd
and its containerd by pid, the namespace, the roots) is removed at the end, on failure too.
"""

import argparse
import json
import os
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
PYTHON = os.path.join(REPO, ".venv", "bin", "python3")
SINK_SOURCE = os.path.join(REPO, "bench", "netsink.c")
SINK_IMAGE = "kbench-netsink:latest"
HELLO, SINK = 80, 81  # netsink.c's ports
MB = 1_000_000
DOCKER_BIP = "10.215.0.1/24"
DOCKER_HOST_ADDR = "10.216.0.1"


# -- the client side (runs in the host's namespace or, for Docker's, in dockerd's) --------

_RESET = struct.pack("ii", 1, 0)


def _hello_loop(host: str, port: int, seconds: float, out: int) -> None:
    """Child process: connect, read, reset in a loop; writes "count errors slow" to ``out``
    (slow: connections that took over 200 ms, the mark of a SYN sent again)."""
    count = errors = slow = 0
    deadline = time.perf_counter() + seconds
    while (t0 := time.perf_counter()) < deadline:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(5)
        try:
            s.connect((host, port))
            if s.recv(1) != b"k":
                errors += 1
            else:
                count += 1
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)  # see netsink.c
        except OSError:
            errors += 1
        finally:
            s.close()
        slow += time.perf_counter() - t0 > 0.2
    os.write(out, f"{count} {errors} {slow}".encode())


def connection_rate(host: str, port: int, seconds: float, clients: int) -> tuple[float, int, int]:
    """(connections/s over all clients, failed connections, slow connections)."""
    children = []
    for _ in range(clients):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            try:
                _hello_loop(host, port, seconds, w)
            finally:
                os._exit(0)
        os.close(w)
        children.append((pid, r))
    total = errors = slow = 0
    for pid, r in children:
        data = b""
        while chunk := os.read(r, 64):
            data += chunk
        os.close(r)
        os.waitpid(pid, 0)
        count, err, late = map(int, data.split()) if data else (0, 1, 0)
        total += count
        errors += err
        slow += late
    return total / seconds, errors, slow


def throughput(host: str, port: int, nbytes: int) -> float:
    """MB/s of one connection sending ``nbytes``, until the server has read them all."""
    chunk = memoryview(bytes(4 << 20))
    with socket.create_connection((host, port), timeout=60) as s:
        t0 = time.perf_counter()
        left = nbytes
        while left > 0:
            n = min(left, len(chunk))
            s.sendall(chunk[:n])
            left -= n
        s.shutdown(socket.SHUT_WR)
        if s.recv(1) != b"":
            raise RuntimeError("the sink answered data")
        elapsed = time.perf_counter() - t0
    return nbytes / MB / elapsed


def client_main(argv: list[str]) -> int:
    """Measures the targets (HOST:HELLO_PORT:SINK_PORT); prints JSON. Connection rates one
    target after the other, in the order given: a userland proxy closes its connections to
    the container first, and the thousands of TIME_WAIT sockets it leaves behind (for a
    minute) slow down the connect() of whatever comes next from the same address, so the
    proxied target goes last. Throughput round after round over all the targets, so that
    all see the same machine noise."""
    p = argparse.ArgumentParser(prog="network.py client")
    p.add_argument("targets", nargs="+")
    p.add_argument("--seconds", type=float, default=3)
    p.add_argument("--clients", type=int, default=1)
    p.add_argument("--bytes", type=int, default=1 << 30)
    p.add_argument("--rate-rounds", type=int, default=3)
    p.add_argument("--rounds", type=int, default=9)
    a = p.parse_args(argv)
    targets = [(host, int(hello), int(sink)) for host, hello, sink in (t.split(":") for t in a.targets)]
    out = {t: {"rates": [], "tputs": [], "errors": 0, "slow": 0} for t in a.targets}
    for host, hello, _ in targets:
        connection_rate(host, hello, 0.3, 1)  # warm: ARP, conntrack, a proxy's start
    for t, (host, hello, _) in zip(a.targets, targets):
        for _ in range(a.rate_rounds):
            rate, errors, slow = connection_rate(host, hello, a.seconds, a.clients)
            out[t]["rates"].append(rate)
            out[t]["errors"] += errors
            out[t]["slow"] += slow
    order = list(zip(a.targets, targets))
    for i in range(a.rounds):
        for t, (host, _, sink) in order[i % len(order):] + order[:i % len(order)]:
            out[t]["tputs"].append(throughput(host, sink, a.bytes))
    print(json.dumps(out))
    return 0


# -- the engines --------------------------------------------------------------------------

class Engine:
    """One engine's CLI; ``wrap`` runs a client command where its published ports live."""
    name = ""
    host_address = ""

    def cmd(self, *args: str) -> list[str]:
        raise NotImplementedError

    env: dict = {}

    def wrap(self, argv: list[str]) -> list[str]:
        return argv

    def run(self, *args: str, timeout: float = 120) -> str:
        res = subprocess.run(self.cmd(*args), env=self.env, capture_output=True, text=True,
                             timeout=timeout, stdin=subprocess.DEVNULL)
        if res.returncode != 0:
            raise RuntimeError(f"{self.name} {' '.join(args)} exited {res.returncode}: {res.stderr}")
        return res.stdout

    def timed(self, *args: str) -> float:
        t0 = time.perf_counter()
        res = subprocess.run(self.cmd(*args), env=self.env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, timeout=120)
        elapsed = (time.perf_counter() - t0) * 1000
        if res.returncode != 0:
            raise RuntimeError(f"{self.name} {' '.join(args)} failed: {res.stderr.decode()}")
        return elapsed


class Ketch(Engine):
    name = "ketch"

    def __init__(self) -> None:
        from tests.integration import conftest
        self.conftest = conftest
        self.daemon = conftest.Daemon(tempfile.mkdtemp(prefix="kt-", dir="/tmp"))
        self.env = self.daemon.env()
        self.host_address = _host_address()

    def cmd(self, *args: str) -> list[str]:
        return self.daemon._ketch_cmd(args)

    def start(self) -> None:
        """As conftest's Daemon.start, without --debug (its logging is not what we measure)."""
        d = self.daemon
        with open(os.path.join(d.root, "daemon.json"), "w") as f:
            json.dump({"cgroup-parent": d.cgroup_parent, "bridge": d.bridge, "bip": d.bip,
                       "firewall-table": d.firewall_table}, f)
        with open(d.log_path, "ab") as log:
            d.proc = subprocess.Popen(
                [PYTHON, "-I", "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
                 "from ketch.daemon.main import main; sys.exit(main(sys.argv[2:]))", REPO,
                 "-H", d.host, "--data-root", d.data_root, "--exec-root", d.exec_root,
                 "--config-file", os.path.join(d.root, "daemon.json")],
                stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while not d._pingable():
            if d.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"ketchd did not come up:\n{d.log()}")
            time.sleep(0.05)

    def stop(self) -> list[str]:
        import shutil
        problems = self.conftest._teardown(self.daemon)
        shutil.rmtree(self.daemon.root, ignore_errors=True)
        return problems


def _host_address() -> str:
    """The host's source address towards the default route (or its first global one)."""
    out = subprocess.run(["ip", "-4", "route", "get", "1.1.1.1"], capture_output=True, text=True).stdout
    words = out.split()
    if "src" in words:
        return words[words.index("src") + 1]
    out = subprocess.run(["ip", "-4", "-o", "addr", "show", "scope", "global"], capture_output=True,
                         text=True).stdout
    for line in out.splitlines():
        return line.split()[3].partition("/")[0]
    raise SystemExit("no IPv4 address on this host besides loopback")


class Docker(Engine):
    name = "docker"

    def __init__(self, host: str, netns: str | None = None, host_address: str = "") -> None:
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        self.env["DOCKER_HOST"] = host
        self.netns = netns
        self.host_address = host_address or _host_address()

    def cmd(self, *args: str) -> list[str]:
        return ["docker", *args]

    def wrap(self, argv: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.netns, *argv] if self.netns else argv


def netns_dockerd(netns: str):
    """A Dockerd (the differential tests') whose dockerd runs in ``netns`` with networking on."""
    from tests.integration.differential import dockerd as mod

    class NetnsDockerd(mod.Dockerd):
        def start(self, timeout: float = 60.0) -> None:
            self.join_host_paths()
            config = os.path.join(self.root, "daemon.json")
            with open(config, "w") as f:
                f.write("{}\n")
            with open(self.log_path, "ab") as log:
                # nsenter enters the network namespace alone (`ip netns exec` would also
                # mount a sysfs of the namespace on /sys, hiding the cgroup mounts) and
                # execs dockerd: self.proc's pid is dockerd's.
                self.proc = subprocess.Popen(
                    ["nsenter", f"--net=/run/netns/{netns}", mod.DOCKERD, "--data-root", self.data_root,
                     "--exec-root", self.exec_root, "-H", self.host, "--pidfile", self.pidfile,
                     "--config-file", config, "--bip", DOCKER_BIP, "--cgroup-parent", self.cgroup_parent],
                    stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise mod.DockerdUnavailable(f"dockerd exited with {self.proc.returncode}:\n{self.log()}")
                try:
                    if mod.api(self.socket, "GET", "/_ping", timeout=2)[0] == 200:
                        return
                except OSError:
                    pass
                time.sleep(0.1)
            raise mod.DockerdUnavailable(f"dockerd did not answer within {timeout:.0f}s:\n{self.log()}")

        def processes(self) -> dict[int, str]:
            """Also whatever runs in the namespace (docker-proxy is neither under the root
            nor in the cgroup parent)."""
            found = super().processes()
            try:
                ns = os.stat(f"/run/netns/{netns}").st_ino
            except OSError:
                return found
            for name in filter(str.isdigit, os.listdir("/proc")):
                try:
                    if os.stat(f"/proc/{name}/ns/net").st_ino == ns and int(name) != os.getpid():
                        with open(f"/proc/{name}/cmdline", "rb") as f:
                            found[int(name)] = f.read().replace(b"\0", b" ").decode(errors="replace")[:120]
                except OSError:
                    continue
            return found

    return NetnsDockerd(), mod.DockerdUnavailable


def clean_up(dockerd, netns: str | None, ketch, workdir: str) -> list[str]:
    """A bench's end, interrupted or not: stop the engines it started, delete the netns
    it made and its work directory; what was left behind, also printed."""
    import shutil
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # cleanup is not to be interrupted
    problems: list[str] = []
    if dockerd is not None:
        left = dockerd.stop()
        if left:
            problems.append(f"dockerd left: {left}")
    if netns:
        subprocess.run(["ip", "netns", "del", netns], check=False)
    if ketch is not None:
        problems += ketch.stop()
    shutil.rmtree(workdir, ignore_errors=True)
    for problem in problems:
        print(f"LEFT BEHIND: {problem}", file=sys.stderr)
    return problems


def make_netns(name: str) -> None:
    for argv in (["netns", "add", name], ["-n", name, "link", "set", "lo", "up"],
                 ["-n", name, "link", "add", "kbh0", "type", "veth", "peer", "name", "kbh1"],
                 ["-n", name, "addr", "add", f"{DOCKER_HOST_ADDR}/24", "dev", "kbh0"],
                 ["-n", name, "link", "set", "kbh0", "up"], ["-n", name, "link", "set", "kbh1", "up"]):
        subprocess.run(["ip", *argv], check=True, capture_output=True)


# -- images -------------------------------------------------------------------------------

def sink_image_tar(workdir: str) -> str:
    """A rootfs of netsink alone (and the directories a runtime mounts on), as a tar."""
    from ketch.image.archive import write_tar
    root = os.path.join(workdir, "sink")
    for d in ("dev", "etc", "proc", "sys", "tmp"):
        os.makedirs(os.path.join(root, d))
    built = subprocess.run(["gcc", "-static", "-O2", "-Wall", "-o", os.path.join(root, "netsink"), SINK_SOURCE],
                           capture_output=True, text=True)
    if built.returncode != 0:
        raise SystemExit(f"gcc -static failed (gcc and libc6-dev: scripts/install.sh --with-tests):\n"
                         f"{built.stderr}")
    tar = os.path.join(workdir, "sink.tar")
    with open(tar, "wb") as out:
        write_tar(root, out, uid=0, gid=0)
    return tar


def import_busybox(engine: Engine, workdir: str) -> None:
    from ketch.image import embedded
    tar = os.path.join(workdir, "busybox.tar")
    with open(tar, "wb") as f:
        embedded.build_rootfs_tar(f)
    argv = ["import"]
    for change in embedded.CHANGES:
        argv += ["-c", change]
    engine.run(*argv, tar, embedded.REFERENCE)


# -- the measurements ---------------------------------------------------------------------

def summary(samples: list[float]) -> tuple[float, float]:
    s = sorted(samples)
    return statistics.median(s), s[max(0, int(len(s) * 0.9) - 1)]


def run_overhead(engines: list[Engine], runs: int) -> None:
    print(f"\n1. run --rm busybox true: default bridge vs --network none (n={runs}, interleaved)")
    variants = [(e, net) for e in engines for net in ("bridge", "none")]
    samples: dict = {v: [] for v in variants}
    for i in range(3 + runs):
        for e, net in variants:
            t = e.timed("run", "--rm", "--network", net, "busybox", "true")
            if i >= 3:  # the first rounds warm the caches
                samples[(e, net)].append(t)
    print(f"   {'':<8}{'bridge: median':>16}{'p90':>10}{'none: median':>16}{'p90':>10}{'added':>10}")
    for e in engines:
        bm, bp = summary(samples[(e, "bridge")])
        nm, np_ = summary(samples[(e, "none")])
        print(f"   {e.name:<8}{bm:>13.1f} ms{bp:>7.1f} ms{nm:>13.1f} ms{np_:>7.1f} ms{bm - nm:>7.1f} ms")


def published_port(e: Engine, args) -> dict:
    """label -> (host, rates, tputs, errors, slow) of the three ways to the container."""
    cid = e.run("run", "-d", "-p", str(HELLO), "-p", str(SINK), SINK_IMAGE, "/netsink").strip()
    try:
        doc = json.loads(e.run("inspect", cid))[0]["NetworkSettings"]
        hello = int(doc["Ports"][f"{HELLO}/tcp"][0]["HostPort"])
        sink = int(doc["Ports"][f"{SINK}/tcp"][0]["HostPort"])
        targets = {"bridge address:80": f"{doc['IPAddress']}:{HELLO}:{SINK}",  # see client_main
                   "host address:PORT": f"{e.host_address}:{hello}:{sink}",
                   "127.0.0.1:PORT": f"127.0.0.1:{hello}:{sink}"}
        argv = e.wrap([PYTHON, os.path.abspath(__file__), "client", *targets.values(),
                       "--seconds", str(args.seconds), "--clients", str(args.clients),
                       "--bytes", str(args.mib << 20), "--rate-rounds", str(args.rate_rounds),
                       "--rounds", str(args.rounds)])
        res = subprocess.run(argv, capture_output=True, text=True, timeout=1200)
        if res.returncode != 0:
            raise RuntimeError(f"{e.name} client: {res.stderr}")
        got = json.loads(res.stdout)
        return {label: (t.split(":")[0], got[t]["rates"], got[t]["tputs"], got[t]["errors"], got[t]["slow"])
                for label, t in targets.items()}
    finally:
        subprocess.run(e.cmd("rm", "-f", cid), env=e.env, capture_output=True, timeout=60)


def port_table(engines: list[Engine], args) -> None:
    print(f"\n2. TCP from the host to a container's netsink\n"
          f"   conn/s: {args.clients} client(s), median of {args.rate_rounds} rounds of {args.seconds:g} s "
          f"(min-max)\n   MB/s: one connection sending {args.mib} MiB, median and best of {args.rounds} "
          f"rounds; % of the direct path's (median, best)")
    print(f"   {'':<7}{'path':<19}{'address':<13}{'conn/s':>7} {'(min-max)':<14}{'MB/s':>6}{'best':>6}"
          f"  {'% of direct':>11}")
    figures = {}
    for e in engines:
        results = published_port(e, args)
        direct = results["bridge address:80"][2]
        for label, (host, rates, tputs, errors, slow) in results.items():
            rate, tput, best = statistics.median(rates), statistics.median(tputs), max(tputs)
            figures[e.name, label] = (rate, tput, best)
            note = (f"  ({errors} failed)" if errors else "") + (f"  ({slow} over 200 ms)" if slow else "")
            spread = f"({min(rates):.0f}-{max(rates):.0f})"
            print(f"   {e.name:<7}{label:<19}{host:<13}{rate:>7.0f} {spread:<14}{tput:>6.0f}{best:>6.0f}"
                  f"  {100 * tput / statistics.median(direct):>4.0f}%, {100 * best / max(direct):>3.0f}%{note}")
    if len(engines) == 2:
        k, d = (e.name for e in engines)
        print("   ketch/docker (conn/s, MB/s median, MB/s best):")
        for label in ("bridge address:80", "host address:PORT", "127.0.0.1:PORT"):
            ratios = [figures[k, label][i] / figures[d, label][i] for i in range(3)]
            print(f"   {'':<7}{label:<19}" + "  ".join(f"{r:.2f}x" for r in ratios))


def main() -> int:
    if sys.argv[1:2] == ["client"]:
        return client_main(sys.argv[2:])
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-n", "--runs", type=int, default=30, help="runs of each `run --rm` variant")
    p.add_argument("--seconds", type=float, default=2, help="length of a connection-rate round")
    p.add_argument("--clients", type=int, default=1, help="connecting clients at once")
    p.add_argument("--mib", type=int, default=512, help="MiB sent in a throughput round")
    p.add_argument("--rate-rounds", type=int, default=3, help="connection-rate rounds of each target")
    p.add_argument("--rounds", type=int, default=9, help="throughput rounds (over all targets each)")
    p.add_argument("--docker-host", help="a running dockerd to measure (clients in this namespace; "
                   "it needs busybox:latest) instead of one of the bench's own")
    p.add_argument("--no-docker", action="store_true", help="measure ketch only")
    p.add_argument("--skip-run", action="store_true", help="only the published-port part")
    p.add_argument("--skip-tcp", action="store_true", help="only the run --rm part")
    args = p.parse_args()

    # `timeout` and Ctrl-C end the bench through the finally blocks, which clean up.
    def interrupted(signum, frame):
        raise SystemExit(f"interrupted by signal {signum}")
    signal.signal(signal.SIGTERM, interrupted)

    workdir = tempfile.mkdtemp(prefix="kb-net-", dir="/tmp")
    netns = f"kb-dockerd-{os.getpid()}"
    ketch = dockerd = None
    made_netns = False
    problems: list = []
    try:
        sink_tar = sink_image_tar(workdir) if not args.skip_tcp else None
        ketch = Ketch()
        ketch.start()
        engines: list[Engine] = [ketch]
        if sink_tar:
            ketch.run("import", sink_tar, SINK_IMAGE)
        if args.docker_host:
            engines.append(Docker(args.docker_host))
        elif not args.no_docker:
            make_netns(netns)
            made_netns = True
            dockerd, unavailable = netns_dockerd(netns)
            try:
                dockerd.start()
                started = True
            except unavailable as exc:
                print(f"dockerd: not measured ({exc})")
                started = False
            if started:
                docker = Docker(dockerd.host, netns, DOCKER_HOST_ADDR)
                import_busybox(docker, workdir)
                engines.append(docker)
        if len(engines) == 2 and sink_tar:
            engines[1].run("import", sink_tar, SINK_IMAGE)
        print(f"ketch: bridge {ketch.daemon.bridge} ({ketch.daemon.bip}), host address {ketch.host_address}")
        if len(engines) == 2:
            print(f"docker: {engines[1].run('version', '--format', '{{.Server.Version}}').strip()}"
                  + (f" in netns {netns}, --bip {DOCKER_BIP}, host address {DOCKER_HOST_ADDR}" if dockerd else ""))
        if not args.skip_run:
            run_overhead(engines, args.runs)
        if sink_tar:
            port_table(engines, args)
        if args.docker_host and sink_tar:
            engines[1].run("rmi", SINK_IMAGE)
    finally:
        problems += clean_up(dockerd, netns if made_netns else None, ketch, workdir)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
