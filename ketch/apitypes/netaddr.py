"""Go's ``net`` address parsing, as docker's client and daemon judge an address.

Docker's flags and API fields are checked with Go's ``net.ParseIP``, ``net.ParseCIDR``,
``net.ParseMAC``, ``net.SplitHostPort`` and ``net.JoinHostPort``; their errors reach the
user word for word. Python's ``ipaddress`` does the arithmetic (imported only when an
address is parsed, to keep the CLI's start-up light); the differences are handled here:
Go refuses an IPv6 zone (``fe80::1%eth0``) and prints an IPv4-mapped address as IPv4.
"""


class AddrError(ValueError):
    """Go's ``*net.AddrError`` / ``*net.ParseError``: the message as Go formats it."""


def parse_ip(text: str):
    """Go's ``net.ParseIP``: an ``ipaddress`` address, or None when Go's gives nil."""
    if not text or "%" in text or not text.isascii():
        return None
    import ipaddress
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def ip_string(address) -> str:
    """Go's ``net.IP.String()``: an IPv4-mapped IPv6 address prints as IPv4."""
    mapped = getattr(address, "ipv4_mapped", None)
    return str(mapped if mapped is not None else address)


def canonical_ip(text: str) -> str | None:
    """The address as Go prints it after parsing (``0:0::1`` -> ``::1``), or None."""
    address = parse_ip(text)
    return None if address is None else ip_string(address)


def is_ipv4(address) -> bool:
    """Go's ``ip.To4() != nil``: IPv4, or IPv6 that maps one."""
    return address.version == 4 or getattr(address, "ipv4_mapped", None) is not None


def parse_cidr(text: str):
    """Go's ``net.ParseCIDR``: (the address, its network), or AddrError as Go words it."""
    addr, sep, mask = text.partition("/")
    address = parse_ip(addr) if sep else None
    bits = 32 if address is not None and address.version == 4 else 128
    if address is None or not mask.isdigit() or not mask.isascii() or int(mask) > bits:
        raise AddrError(f"invalid CIDR address: {text}")
    import ipaddress
    return address, ipaddress.ip_network(f"{address}/{int(mask)}", strict=False)


def network_contains(network, address) -> bool:
    """Go's ``IPNet.Contains`` for an address of either family."""
    if address is None:
        return False
    if network.version == 4 and address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.version == network.version and address in network


def join_host_port(host: str, port: str | int) -> str:
    """Go's ``net.JoinHostPort``: an IPv6 host in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def split_host_port(hostport: str) -> tuple[str, str]:
    """Go's ``net.SplitHostPort``, with its errors (``address x: missing port in address``)."""
    def fail(why: str):
        raise AddrError(f"address {hostport}: {why}")

    i = hostport.rfind(":")
    if i < 0:
        fail("missing port in address")
    j = k = 0
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            fail("missing ']' in address")
        if end + 1 == len(hostport):
            fail("missing port in address")
        if end + 1 != i:
            fail("too many colons in address" if hostport[end + 1] == ":" else "missing port in address")
        host = hostport[1:end]
        j, k = 1, end + 1
    else:
        host = hostport[:i]
        if ":" in host:
            fail("too many colons in address")
    if "[" in hostport[j:]:
        fail("unexpected '[' in address")
    if "]" in hostport[k:]:
        fail("unexpected ']' in address")
    return host, hostport[i + 1:]


_HEX = frozenset("0123456789abcdefABCDEF")


def _hex_pairs(text: str, sep: str, width: int) -> bool:
    groups = text.split(sep)
    return all(len(g) == width and set(g) <= _HEX for g in groups)


def valid_mac(text: str) -> bool:
    """Go's ``net.ParseMAC`` succeeds: 6, 8 or 20 bytes as ``aa:bb:..``, ``aa-bb-..`` or
    ``aabb.ccdd...``."""
    if len(text) < 14:
        return False
    if text[2] in ":-":
        if (len(text) + 1) % 3 or (len(text) + 1) // 3 not in (6, 8, 20):
            return False
        return _hex_pairs(text, text[2], 2)
    if text[4] == ".":
        if (len(text) + 1) % 5 or 2 * (len(text) + 1) // 5 not in (6, 8, 20):
            return False
        return _hex_pairs(text, ".", 4)
    return False
