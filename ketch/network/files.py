"""/etc/hosts, /etc/hostname and /etc/resolv.conf for a container (pure rendering)."""

DEFAULT_NAMESERVERS = ("8.8.8.8", "8.8.4.4")
_LOCAL_PREFIXES = ("127.", "::1")


def hosts(hostname: str = "", address: str | None = None, extra: list[tuple[str, str]] = ()) -> str:
    """Docker's /etc/hosts: the loopback names, then the container's own address if any."""
    lines = [
        "127.0.0.1\tlocalhost",
        "::1\tlocalhost ip6-localhost ip6-loopback",
        "fe00::0\tip6-localnet",
        "ff00::0\tip6-mcastprefix",
        "ff02::1\tip6-allnodes",
        "ff02::2\tip6-allrouters",
    ]
    lines += [f"{ip}\t{name}" for name, ip in extra]
    if address:
        lines.append(f"{address}\t{hostname}")
    return "\n".join(lines) + "\n"


def hostname_file(hostname: str) -> str:
    return hostname + "\n"


def resolv_conf(host_text: str) -> str:
    """The host's resolv.conf without loopback nameservers, which mean nothing inside
    a container's own network namespace (Docker's rule); Google's servers if none remain."""
    out, servers = [], 0
    for line in host_text.splitlines():
        words = line.split()
        if words and words[0] == "nameserver":
            # Loopback servers mean nothing in the container's netns, and without IPv6
            # in the container an IPv6 server is unreachable (libnetwork drops both).
            if len(words) < 2 or words[1].startswith(_LOCAL_PREFIXES) or ":" in words[1]:
                continue
            servers += 1
        out.append(line)
    if not servers:
        out += [f"nameserver {ns}" for ns in DEFAULT_NAMESERVERS]
    return "\n".join(out).strip("\n") + "\n"
