"""Network namespaces a test makes and removes itself, and real traffic between them.

Everything a test builds lives inside namespaces named ``kt-<random>-<name>``: bridges,
veths, addresses, sysctls and nftables tables are all per network namespace, so the
host's own network and ruleset are never touched, and ``ip netns del`` takes it all away.

Traffic is real sockets: ``serve`` starts a TCP+UDP server in a namespace that answers
every connection or datagram with ``<name> <peer address>``; ``probe`` runs clients in a
namespace, concurrently, and returns each answer or None (refused, unreachable, timed out).
"""

import json
import os
import secrets
import subprocess

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PYTHON = os.path.join(REPO, ".venv", "bin", "python3")

_SERVER = r"""
import socket, sys, threading
name, port = sys.argv[1], int(sys.argv[2])
def peer(addr):
    a = addr[0]
    return a[7:] if a.startswith("::ffff:") else a
t = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
t.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind(("::", port)); t.listen(64)
u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
u.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
u.bind(("::", port))
def udp():
    while True:
        data, addr = u.recvfrom(100)
        u.sendto(f"{name} {peer(addr)}".encode(), addr)
threading.Thread(target=udp, daemon=True).start()
print("ready", flush=True)
while True:
    c, addr = t.accept()
    c.sendall(f"{name} {peer(addr)}".encode()); c.close()
"""

_CLIENT = r"""
import json, socket, sys
from concurrent.futures import ThreadPoolExecutor
timeout = float(sys.argv[1])
def one(target):
    proto, host, port = target
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        if proto == "tcp":
            s.connect((host, port))
            return s.recv(100).decode()
        s.sendto(b"?", (host, port))
        return s.recv(100).decode()
    except OSError:
        return None
    finally:
        s.close()
targets = json.load(sys.stdin)
with ThreadPoolExecutor(max(1, len(targets))) as pool:
    print(json.dumps(list(pool.map(one, targets))))
"""


class Namespaces:
    """A set of named network namespaces; ``close`` ends the servers and deletes them."""

    def __init__(self) -> None:
        self.prefix = f"kt-{secrets.token_hex(3)}-"
        self.names: list[str] = []
        self.servers: list[subprocess.Popen] = []

    def ns(self, name: str) -> str:
        return self.prefix + name

    def add(self, *names: str) -> None:
        for name in names:
            subprocess.run(["ip", "netns", "add", self.ns(name)], check=True)
            self.names.append(name)
            self.ip(name, "link", "set", "lo", "up")

    def ip(self, name: str, *args: str) -> None:
        subprocess.run(["ip", "-n", self.ns(name), *args], check=True, capture_output=True)

    def sysctl(self, name: str, key: str, value: str) -> None:
        path = "/proc/sys/" + key.replace(".", "/")
        self.run(name, ["sh", "-c", f"echo {value} > {path}"], check=True)

    def run(self, name: str, argv: list[str], **kw) -> subprocess.CompletedProcess:
        kw.setdefault("capture_output", True)
        kw.setdefault("text", True)
        return subprocess.run(["ip", "netns", "exec", self.ns(name), *argv], **kw)

    def python(self, name: str, code: str, stdin: str = "", timeout: float = 30) -> subprocess.CompletedProcess:
        """Run ``code`` with the repository importable, inside namespace ``name``."""
        return self.run(name, self.python_argv(code), input=stdin, timeout=timeout)

    @staticmethod
    def python_argv(code: str) -> list[str]:
        return [PYTHON, "-c", f"import sys; sys.path.insert(0, {REPO!r})\n" + code]

    def veth(self, host: str, host_end: str, peer: str, bridge: str = "") -> None:
        """A veth pair: ``host_end`` in ``host`` (on ``bridge`` if given), eth0 in ``peer``."""
        self.ip(host, "link", "add", host_end, "type", "veth", "peer", "name", "eth0", "netns", self.ns(peer))
        if bridge:
            self.ip(host, "link", "set", host_end, "master", bridge)
            # as the lead's veth setup does (and Docker without its userland proxy): with
            # br_netfilter, a hairpin connection is switched back out of the port it came in
            self.ip(host, "link", "set", host_end, "type", "bridge_slave", "hairpin", "on")
        self.ip(host, "link", "set", host_end, "up")
        self.ip(peer, "link", "set", "eth0", "up")

    def serve(self, name: str, port: int) -> None:
        p = subprocess.Popen(["ip", "netns", "exec", self.ns(name), PYTHON, "-c", _SERVER, name, str(port)],
                             stdout=subprocess.PIPE, text=True)
        self.servers.append(p)
        if p.stdout.readline().strip() != "ready":
            raise RuntimeError(f"server in {name} did not start")

    def probe(self, name: str, targets: list[tuple[str, str, int]], timeout: float = 0.6) -> list:
        out = self.run(name, [PYTHON, "-c", _CLIENT, str(timeout)], input=json.dumps(targets),
                       check=True, timeout=30)
        return json.loads(out.stdout)

    def close(self) -> None:
        for p in self.servers:
            p.kill()
            p.wait()
        for name in self.names:
            subprocess.run(["ip", "netns", "del", self.ns(name)], check=False)
        self.names.clear()

    def leftovers(self) -> list[str]:
        out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        return [line.split()[0] for line in out.splitlines() if line.startswith(self.prefix)]
