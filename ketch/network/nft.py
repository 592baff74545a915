"""ketch's firewall: one nftables ruleset rendered from a typed value and swapped in whole.

Why one rendered document: the rules are a pure function of the networks and published
ports the engine knows (``Ruleset``), so ``render`` can be golden-tested and printed, and
``apply`` replaces ketch's tables in ONE kernel transaction (libnftables' JSON API, never
the ``nft`` CLI). The document starts with add-table / delete-table / add-table, which
empties the table whether or not it existed, then adds every chain and rule: the kernel
commits all of it or, on any error, none of it, so a bad rule leaves the previous ruleset
in place and traffic never sees a half-built firewall.

ketch owns exactly two tables, both named by the caller (default ``ketch``; tests and
parallel daemons use their own names): ``inet <table>`` and ``bridge <table>``. It never
reads, changes or deletes any other table, and every base chain has policy accept: ketch
only drops traffic that touches its own bridges.

What the rules do (Docker's bridge driver, as moby writes it with iptables and
``--userland-proxy=false``, expressed in nftables):

inet <table>
  prerouting (nat, dstnat): packets to a local address (``fib daddr type local``) jump
      to ``ports``, except loopback destinations, which must never be NATed for packets
      from outside (CVE-2020-8558: route_localnet would let a neighbour reach 127.0.0.1).
  output (nat, dstnat): locally generated packets to a local address, 127.0.0.1 included,
      jump to ``ports``: ``curl 127.0.0.1:PORT`` and ``curl <host-ip>:PORT`` from the host.
      Not ::1, which NAT cannot take out of the host (see IPv6 below).
  ports: one DNAT per published port: (host_ip or any local address of the container's
      family, proto, host_port) -> (container_ip, container_port).
  postrouting (nat, srcnat), per bridge:
      - outbound NAT: source in the bridge's subnets, leaving through another interface
        (when masquerade; never for internal networks);
      - source 127.0.0.0/8 leaving through the bridge: host connections to 127.0.0.1:PORT
        after DNAT (the lead sets ``net.ipv4.conf.<bridge>.route_localnet=1`` so the kernel
        routes them at all);
      - DNATed traffic from the bridge's own subnet going back out through the bridge:
        hairpin (a container reaching its own published port via a host address) and a
        neighbour on the same bridge. Without br_netfilter that traffic is routed by the
        host, and without the masquerade the reply would go container-to-container on
        the bridge, past conntrack, and be dropped by the client as unknown.
  localnet (filter, prerouting, raw priority): packets from a ketch bridge to 127.0.0.0/8
      are dropped; route_localnet would otherwise let containers reach the host's
      loopback-only services.
  forward (filter): an internal network's bridge forwards nothing to or from another
      interface; DNATed traffic (published ports) is accepted; traffic between two
      different ketch bridges is dropped (network isolation).

bridge <table>
  forward (filter): on a bridge with icc=false, IP frames switched from one container to
      another (source and destination both in the bridge's subnet) are dropped; ARP
      passes, as with Docker.

Why icc lives in a bridge-family table: frames switched between two ports of one bridge
reach the inet forward hook only when br_netfilter is loaded (bridge-nf-call-iptables=1),
but the bridge family's forward hook sees them always. Isolation between bridges and
internal networks are routed traffic, which the inet forward hook sees either way. So the
ruleset behaves the same with and without br_netfilter (tests run both). The rule names
the subnet rather than the bridge because ``meta ibrname`` needs CONFIG_NFT_BRIDGE_META,
which not every kernel has (this project's CI kernel lacks it); ketch's IPAM never gives
two networks overlapping subnets, so the subnet names the bridge. One difference remains
with br_netfilter loaded: a container reaching a neighbour's published port through a host
address on an icc=false bridge is switched after DNAT, and so dropped.

Hosts with an iptables FORWARD policy of DROP (Docker installed sets it): a packet is
forwarded only if every base chain on the hook accepts it, and ketch's accept cannot
overrule Docker's drop. Routed traffic of ketch bridges (outbound, published ports from
outside, and with br_netfilter even container to container) is then dropped by Docker's
chains. ketch never edits tables it does not own, so it does not work around this; the
fix is the one Docker documents for foreign bridges, in its DOCKER-USER chain:
``iptables -I DOCKER-USER -i ketch0 -j ACCEPT; iptables -I DOCKER-USER -o ketch0 -j ACCEPT``.

What the caller must set for these rules to work (the lead's bridge code): ip_forward (and
IPv6 forwarding for v6 subnets); ``route_localnet=1`` on each bridge for 127.0.0.1; hairpin
mode on each container's bridge port, because with br_netfilter a hairpin connection is
switched back out of the port it came in (Docker sets it too when it runs without its
userland proxy).

IPv6: v6 subnets get the same masquerade, isolation and DNAT (for v6 container
addresses). ``[::1]:PORT`` cannot be served by NAT (there is no route_localnet for IPv6,
and a packet from ::1 never leaves the host, masqueraded or not), nor can IPv6 clients of
a container that has only IPv4: those connections reach ketchd's reservation socket for
the port (portalloc.py), where the userland proxy (proxy.py) serves them, as docker-proxy.
"""

import ipaddress
import threading
from dataclasses import dataclass

from ketch import errors
from ketch.network import model

DEFAULT_TABLE = "ketch"

# nftables' standard priorities (``nft`` names them raw, dstnat, filter, srcnat)
_RAW, _DSTNAT, _FILTER, _SRCNAT = -300, -100, 0, 100


@dataclass(frozen=True)
class BridgeRules:
    """What the firewall needs to know about one ketch bridge."""
    bridge: str  # the Linux bridge's name
    subnets: tuple[str, ...]  # its v4 and/or v6 CIDRs
    internal: bool = False
    icc: bool = True
    masquerade: bool = True


@dataclass(frozen=True)
class Ruleset:
    table: str = DEFAULT_TABLE
    bridges: tuple[BridgeRules, ...] = ()
    ports: tuple[model.PortForward, ...] = ()


def bridge_rules(net: model.Network) -> BridgeRules:
    """The firewall's view of a bridge network."""
    return BridgeRules(net.bridge, tuple(p.subnet for p in net.pools), net.internal, net.icc, net.masquerade)


class NftError(errors.Internal):
    """The kernel (or libnftables) refused ketch's ruleset; nothing was changed."""


# -- rendering (pure) -------------------------------------------------------------------

def render(rs: Ruleset) -> dict:
    """The libnftables JSON document that replaces ketch's tables with ``rs``."""
    inet = _Table("inet", rs.table)
    inet.chain("prerouting", "nat", "prerouting", _DSTNAT)
    inet.chain("output", "nat", "output", _DSTNAT)
    inet.chain("ports")
    inet.chain("postrouting", "nat", "postrouting", _SRCNAT)
    inet.chain("localnet", "filter", "prerouting", _RAW)
    inet.chain("forward", "filter", "forward", _FILTER)
    bridge = _Table("bridge", rs.table)
    bridge.chain("forward", "filter", "forward", _FILTER)

    # loopback destinations from outside never reach the port map (see the docstring)
    inet.rule("prerouting", [_eq(_payload("ip", "daddr"), _prefix("127.0.0.0/8")), {"return": None}])
    for chain in ("prerouting", "output"):
        # [::1] cannot be NATed out of the host (IPv6 has no route_localnet): it must reach
        # ketchd's socket on the port (refused, or served by the userland proxy), not a black hole
        inet.rule(chain, [_eq(_payload("ip6", "daddr"), "::1"), {"return": None}])
        inet.rule(chain, [_eq({"fib": {"result": "type", "flags": ["daddr"]}}, "local"),
                          {"jump": {"target": "ports"}}])
    for fwd in rs.ports:
        inet.rule("ports", _dnat(fwd), _describe(fwd))

    names = [b.bridge for b in rs.bridges]
    if names:
        inet.rule("localnet", [_eq(_meta("iifname"), _set(names)),
                               _eq(_payload("ip", "daddr"), _prefix("127.0.0.0/8")), {"drop": None}])
    for b in rs.bridges:
        _postrouting(inet, b)
    for b in rs.bridges:
        if b.internal:
            inet.rule("forward", [_eq(_meta("iifname"), b.bridge), _ne(_meta("oifname"), b.bridge),
                                  {"drop": None}], f"internal network {b.bridge}")
            inet.rule("forward", [_eq(_meta("oifname"), b.bridge), _ne(_meta("iifname"), b.bridge),
                                  {"drop": None}], f"internal network {b.bridge}")
    if len(names) > 1:
        inet.rule("forward", [_in(_ct("status"), "dnat"), {"accept": None}], "published ports")
        for b in rs.bridges:
            others = [n for n in names if n != b.bridge]
            inet.rule("forward", [_eq(_meta("iifname"), b.bridge), _eq(_meta("oifname"), _set(others)),
                                  {"drop": None}], f"isolation of {b.bridge}")
    for b in rs.bridges:
        if not b.icc:
            for subnet in b.subnets:
                fam = _family(subnet)
                bridge.rule("forward", [_eq(_payload(fam, "saddr"), _prefix(subnet)),
                                        _eq(_payload(fam, "daddr"), _prefix(subnet)), {"drop": None}],
                            f"icc=false on {b.bridge}")
    return {"nftables": [{"metainfo": {"json_schema_version": 1}}]
            + _replace(inet) + _replace(bridge)}


def removal(table: str = DEFAULT_TABLE) -> dict:
    """The document that deletes ketch's tables, whether or not they exist."""
    commands = []
    for family in ("inet", "bridge"):
        t = {"family": family, "name": table}
        commands += [{"add": {"table": dict(t)}}, {"delete": {"table": dict(t)}}]
    return {"nftables": commands}


def _postrouting(inet: "_Table", b: BridgeRules) -> None:
    for subnet in b.subnets:
        fam = _family(subnet)
        if b.masquerade and not b.internal:
            inet.rule("postrouting", [_eq(_payload(fam, "saddr"), _prefix(subnet)),
                                      _ne(_meta("oifname"), b.bridge), {"masquerade": None}],
                      f"outbound NAT of {b.bridge}")
        inet.rule("postrouting", [_eq(_meta("oifname"), b.bridge), _eq(_payload(fam, "saddr"), _prefix(subnet)),
                                  _in(_ct("status"), "dnat"), {"masquerade": None}],
                  f"hairpin on {b.bridge}")
    if any(_family(s) == "ip" for s in b.subnets):
        inet.rule("postrouting", [_eq(_meta("oifname"), b.bridge),
                                  _eq(_payload("ip", "saddr"), _prefix("127.0.0.0/8")), {"masquerade": None}],
                  f"loopback to {b.bridge}")


def _dnat(fwd: model.PortForward) -> list:
    if fwd.proto not in model.PROTOCOLS:
        raise errors.InvalidArgument(f"unknown protocol {fwd.proto!r}")
    fam = _family(fwd.container_ip)
    expr = []
    if fwd.host_ip in ("", "0.0.0.0", "::"):
        if fwd.host_ip and _family(fwd.host_ip) != fam:
            raise errors.InvalidArgument(f"cannot forward {fwd.host_ip} to {fwd.container_ip}: "
                                         "address families differ")
        expr.append(_eq(_meta("nfproto"), "ipv4" if fam == "ip" else "ipv6"))
    else:
        if _family(fwd.host_ip) != fam:
            raise errors.InvalidArgument(f"cannot forward {fwd.host_ip} to {fwd.container_ip}: "
                                         "address families differ")
        expr.append(_eq(_payload(fam, "daddr"), fwd.host_ip))
    expr += [_eq(_meta("l4proto"), fwd.proto), _eq(_payload("th", "dport"), fwd.host_port),
             {"dnat": {"family": fam, "addr": fwd.container_ip, "port": fwd.container_port}}]
    return expr


def _describe(fwd: model.PortForward) -> str:
    def hostport(ip: str, port: int) -> str:
        return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"
    return (f"{fwd.proto} {hostport(fwd.host_ip or '*', fwd.host_port)} -> "
            f"{hostport(fwd.container_ip, fwd.container_port)} on {fwd.bridge}")


def _family(address: str) -> str:
    return "ip6" if ipaddress.ip_network(address, strict=False).version == 6 else "ip"


class _Table:
    def __init__(self, family: str, name: str):
        self.family, self.name = family, name
        self.commands: list[dict] = []

    def chain(self, name: str, type_: str = "", hook: str = "", prio: int = 0) -> None:
        c = {"family": self.family, "table": self.name, "name": name}
        if hook:
            c.update(type=type_, hook=hook, prio=prio, policy="accept")
        self.commands.append({"add": {"chain": c}})

    def rule(self, chain: str, expr: list, comment: str = "") -> None:
        r = {"family": self.family, "table": self.name, "chain": chain, "expr": expr}
        if comment:
            r["comment"] = comment
        self.commands.append({"add": {"rule": r}})


def _replace(t: _Table) -> list:
    table = {"family": t.family, "name": t.name}
    return [{"add": {"table": dict(table)}}, {"delete": {"table": dict(table)}},
            {"add": {"table": dict(table)}}] + t.commands


def _eq(left, right) -> dict:
    return {"match": {"op": "==", "left": left, "right": right}}


def _ne(left, right) -> dict:
    return {"match": {"op": "!=", "left": left, "right": right}}


def _in(left, right) -> dict:
    return {"match": {"op": "in", "left": left, "right": right}}


def _meta(key: str) -> dict:
    return {"meta": {"key": key}}


def _ct(key: str) -> dict:
    return {"ct": {"key": key}}


def _payload(protocol: str, field: str) -> dict:
    return {"payload": {"protocol": protocol, "field": field}}


def _prefix(cidr: str) -> dict:
    net = ipaddress.ip_network(cidr, strict=False)
    return {"prefix": {"addr": str(net.network_address), "len": net.prefixlen}}


def _set(items: list) -> dict:
    return {"set": list(items)}


# -- applying (one kernel transaction each) ---------------------------------------------

def apply(rs: Ruleset) -> None:
    """Replace ketch's tables with ``rs`` atomically; on error nothing changes."""
    _run(render(rs))


def remove(table: str = DEFAULT_TABLE) -> None:
    """Delete ketch's tables if they exist (idempotent)."""
    _run(removal(table))


_context = None
_lock = threading.Lock()


def _ctx():
    """The process's libnftables context (callers hold ``_lock``)."""
    global _context
    if _context is None:
        import nftables  # Debian's binding over libnftables; loaded only where rules change

        _context = nftables.Nftables()
        _context.set_json_output(True)
    return _context


def warm() -> None:
    """Load libnftables now (tens of ms), off the path of a container's first start."""
    with _lock:
        _ctx()


def _run(document: dict) -> None:
    with _lock:  # a libnftables context is not thread-safe; one is kept (creating one costs ms)
        rc, _out, err = _ctx().json_cmd(document)
    if rc != 0:
        raise NftError(f"nftables: {err.strip() or f'error {rc}'}")
