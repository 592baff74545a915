"""``run``/``create`` networking flags -> the create body, as docker/cli 28 builds it.

Ports (``-p``, ``-P``, ``--expose``) go to ``ExposedPorts`` and ``HostConfig.PortBindings``;
``--network`` (also the long form ``name=net,alias=a,ip=...``) to ``HostConfig.NetworkMode``
and ``NetworkingConfig.EndpointsConfig``, where ``--network-alias``, ``--ip``, ``--ip6``,
``--mac-address``, ``--link-local-ip`` and (on a user-defined network) ``--link`` land on
the first network's endpoint; ``--dns*`` and ``--add-host`` in HostConfig. Values are
checked as docker's flag validators check them (a bad one is a flag error), the rest as
docker/cli's ``parse`` does, in its order, with its words.
"""

from ketch.apitypes import ports as portspec
from ketch.apitypes.netaddr import canonical_ip, valid_mac
from ketch.cli.flags import FlagSpec, _read_csv

_GO_TRIM = " \t\n\v\f\r\x85\xa0"  # strings.TrimSpace


class NetOptError(Exception):
    """A networking flag docker/cli's parse refuses (``docker: <message>``, exit 125)."""


# -- flag validators (pflag reports their errors as "invalid argument ... flag: ...") ----

def validate_ip(value: str) -> str:
    """opts.ValidateIPAddress: the address as Go prints it."""
    address = canonical_ip(value.strip(_GO_TRIM))
    if address is None:
        raise ValueError(f"IP address is not correctly formatted: {value}")
    return address


def validate_dns_search(value: str) -> str:
    """opts.ValidateDNSSearch: "." or a domain (its trailing dot dropped)."""
    value = value.strip(" ")
    if value == ".":
        return value
    import re  # only when the flag is given
    label = r"(:?[a-zA-Z0-9]|(:?[a-zA-Z0-9][a-zA-Z0-9\-]*[a-zA-Z0-9]))"  # docker's "(:?" as written
    match = re.match(rf"^(:?{label}(:?\.{label})*)\.?[\t\n\f\r ]*$", value)
    if re.search("[a-zA-Z]", value) is None or match is None or len(match[1]) >= 255:
        raise ValueError(f"{value} is not a valid domain")
    return match[1]


def validate_extra_host(value: str) -> str:
    """opts.ValidateExtraHost: ``host:ip``, ``host=ip`` or ``host=[ip]`` -> ``host:ip``;
    ``host-gateway`` stands for the daemon's host address."""
    from ketch.units import go_quote
    host, sep, address = value.partition("=")
    if not sep:
        host, sep, address = value.partition(":")  # an IPv6 address keeps its colons
    if not sep or not host or ":" in host:
        raise ValueError(f"bad format for add-host: {go_quote(value)}")
    if address != "host-gateway":
        if len(address) > 2 and address[0] == "[" and address[-1] == "]":
            address = address[1:-1]
        if canonical_ip(address.strip(_GO_TRIM)) is None:
            raise ValueError(f"invalid IP address in add-host: {go_quote(address)}")
    return f"{host}:{address}"


def validate_link(value: str) -> str:
    """opts.ValidateLink: ``name`` or ``name:alias``."""
    if not value:
        raise ValueError("empty string specified for links")
    if value.count(":") > 1:
        raise ValueError(f"bad format for links: {value}")
    return value


class Attachment:
    """opts.NetworkAttachmentOpts: one ``--network`` value (a plain class: dataclasses
    would cost every ``run`` ~15 ms of imports)."""

    __slots__ = ("target", "aliases", "driver_opts", "links", "ipv4", "ipv6", "link_local_ips",
                 "mac", "gw_priority")

    def __init__(self, target: str, aliases=(), driver_opts=None, links=(), ipv4: str = "",
                 ipv6: str = "", link_local_ips=(), mac: str = "", gw_priority: int = 0) -> None:
        self.target = target
        self.aliases: list[str] = list(aliases)
        self.driver_opts: dict[str, str] = dict(driver_opts or {})
        self.links: list[str] = list(links)
        self.ipv4 = ipv4
        self.ipv6 = ipv6
        self.link_local_ips: list[str] = list(link_local_ips)
        self.mac = mac
        self.gw_priority = gw_priority

    def copy(self) -> "Attachment":
        return Attachment(self.target, self.aliases, self.driver_opts, self.links, self.ipv4,
                          self.ipv6, self.link_local_ips, self.mac, self.gw_priority)


def _long_syntax(value: str) -> bool:
    """docker's regexp ``\\w+=\\w+(,\\w+=\\w+)*``, unanchored: any ``a=b`` inside."""
    def word(c: str) -> bool:
        return c.isascii() and (c.isalnum() or c == "_")
    return any(value[i] == "=" and word(value[i - 1]) and word(value[i + 1])
               for i in range(1, len(value) - 1))


def parse_network(value: str) -> Attachment:
    """opts.NetworkOpt.Set: a name, or ``name=x,alias=y,ip=...,driver-opt=k=v`` (keys
    and values lower-cased, as docker 28 does)."""
    if not _long_syntax(value):
        return Attachment(value)
    net = Attachment("")
    for item in _read_csv(value):
        key, sep, val = item.lower().partition("=")
        if not sep or not key:
            raise ValueError(f"invalid field {item}")
        key, val = key.strip(_GO_TRIM), val.strip(_GO_TRIM)
        if key == "name":
            net.target = val
        elif key == "alias":
            net.aliases.append(val)
        elif key == "ip":
            net.ipv4 = val
        elif key == "ip6":
            net.ipv6 = val
        elif key == "mac-address":
            net.mac = val
        elif key == "link-local-ip":
            net.link_local_ips.append(val)
        elif key == "driver-opt":
            opt, sep, opt_value = val.partition("=")
            if not sep or not opt:
                raise ValueError("invalid key value pair format in driver options")
            net.driver_opts[opt.strip(_GO_TRIM)] = opt_value.strip(_GO_TRIM)
        elif key == "gw-priority":
            net.gw_priority = _atoi(val)
        else:
            raise ValueError(f"invalid field key {key}")
    if not net.target:
        raise ValueError("network name/id is not specified")
    return net


def _atoi(text: str) -> int:
    """strconv.Atoi for gw-priority, its NumError's reason in docker's message."""
    body = text[1:] if text[:1] in "+-" else text
    if not body or not body.isascii() or not body.isdigit():
        raise ValueError(f"invalid gw-priority ({text}): invalid syntax")
    number = int(text)
    if not -(1 << 63) <= number < (1 << 63):
        raise ValueError(f"invalid gw-priority ({text}): value out of range")
    return number


FLAGS = (
    FlagSpec("add-host", None, "list", help="Add a custom host-to-IP mapping (host:ip)",
             convert=validate_extra_host),
    FlagSpec("dns", None, "list", help="Set custom DNS servers", convert=validate_ip),
    FlagSpec("dns-opt", None, "list", help="Set DNS options", hidden=True, dest="dns-option"),
    FlagSpec("dns-option", None, "list", help="Set DNS options"),
    FlagSpec("dns-search", None, "list", help="Set custom DNS search domains",
             convert=validate_dns_search),
    FlagSpec("expose", None, "list", help="Expose a port or a range of ports"),
    FlagSpec("ip", None, "string", help="IPv4 address (e.g., 172.30.100.104)"),
    FlagSpec("ip6", None, "string", help="IPv6 address (e.g., 2001:db8::33)"),
    FlagSpec("link", None, "list", help="Add link to another container", convert=validate_link),
    FlagSpec("link-local-ip", None, "list", help="Container IPv4/IPv6 link-local addresses"),
    FlagSpec("mac-address", None, "string", help="Container MAC address (e.g., 92:d0:c6:0a:29:33)"),
    FlagSpec("net", None, "list", help="Connect a container to a network", hidden=True,
             convert=parse_network, dest="network"),
    FlagSpec("net-alias", None, "list", help="Add network-scoped alias for the container",
             hidden=True, dest="network-alias"),
    FlagSpec("network", None, "list", help="Connect a container to a network", metavar="network",
             convert=parse_network),
    FlagSpec("network-alias", None, "list", help="Add network-scoped alias for the container"),
    FlagSpec("publish", "p", "list", help="Publish a container's port(s) to the host"),
    FlagSpec("publish-all", "P", "bool", help="Publish all exposed ports to random ports"),
)


def check_mac(opts) -> None:
    """The first check of docker/cli's parse."""
    mac = opts["mac-address"]
    if mac and not valid_mac(mac.strip(_GO_TRIM)):
        raise NetOptError(f"{mac} is not a valid mac address")


def parse_ports(opts) -> tuple[dict, dict]:
    """-p and --expose -> (ExposedPorts, PortBindings)."""
    try:
        specs = [portspec.standard_notation(p) for p in opts["publish"]]
        exposed, bindings = portspec.parse_port_specs(specs)
        for key in portspec.parse_expose(opts["expose"]):
            exposed.setdefault(key, {})
    except portspec.PortSpecError as exc:
        raise NetOptError(str(exc)) from None
    return exposed, bindings


def apply(opts, config: dict, ports: tuple[dict, dict]) -> None:
    """The ports (``parse_ports``), -P, --dns*, --add-host and --link into ``config``."""
    exposed, bindings = ports
    if exposed:  # omitempty
        config["ExposedPorts"] = exposed
    hc = config["HostConfig"]
    hc["PortBindings"] = bindings
    hc["PublishAllPorts"] = opts["publish-all"]
    hc["Dns"], hc["DnsOptions"], hc["DnsSearch"] = opts["dns"], opts["dns-option"], opts["dns-search"]
    hc["ExtraHosts"] = opts["add-host"] or None
    hc["Links"] = opts["link"] or None


def is_user_defined(mode: str) -> bool:
    """container.NetworkMode.IsUserDefined."""
    return mode not in ("default", "bridge", "host", "none") and not mode.startswith("container:")


def apply_network(opts, config: dict) -> None:
    """docker/cli's parseNetworkOpts: NetworkMode and the endpoints, the flags of the old
    syntax applied to the first network."""
    networks = [n.copy() for n in opts["network"]]  # the parsed values stay as given
    config["HostConfig"]["NetworkMode"] = networks[0].target if networks else "default"
    endpoints: dict[str, dict] = {}
    if not networks:
        endpoints["default"] = _endpoint(_with_flags(Attachment("default"), opts))
    user_defined = other = False
    for i, net in enumerate(networks):
        if is_user_defined(net.target):
            user_defined = True
        else:
            other = True
        if i == 0:
            _with_flags(net, opts)
        endpoint = _endpoint(net)
        if net.target in endpoints:
            raise NetOptError(f'network "{net.target}" is specified multiple times')
        if i == 0 and len(networks) == 1 and endpoint == _endpoint(Attachment(net.target)):
            continue  # no settings: the daemon makes the endpoint itself
        endpoints[net.target] = endpoint
    if user_defined and other:
        raise NetOptError("conflicting options: cannot attach both user-defined and "
                          "non-user-defined network-modes")
    config["NetworkingConfig"] = {"EndpointsConfig": endpoints}


_CONFLICTS = (
    ("aliases", "network-alias", "--network-alias and per-network alias"),
    ("links", "link", "--link and per-network links"),
    ("ipv4", "ip", "--ip and per-network IPv4 address"),
    ("ipv6", "ip6", "--ip6 and per-network IPv6 address"),
    ("mac", "mac-address", "--mac-address and per-network MAC address"),
    ("link_local_ips", "link-local-ip", "--link-local-ip and per-network link-local IP addresses"),
)


def _with_flags(net: Attachment, opts) -> Attachment:
    """docker/cli's applyContainerOptions."""
    for attr, flag, words in _CONFLICTS:
        if getattr(net, attr) and opts[flag]:
            raise NetOptError(f"conflicting options: cannot specify both {words}")
    if opts["network-alias"]:
        net.aliases = list(opts["network-alias"])
    if is_user_defined(net.target) and opts["link"]:  # on the default bridge, legacy links
        net.links = list(opts["link"])
    net.ipv4 = opts["ip"] or net.ipv4
    net.ipv6 = opts["ip6"] or net.ipv6
    net.mac = opts["mac-address"] or net.mac
    if opts["link-local-ip"]:
        net.link_local_ips = list(opts["link-local-ip"])
    return net


def _endpoint(net: Attachment) -> dict:
    """docker/cli's parseNetworkAttachmentOpt: the EndpointSettings as Go marshals it."""
    if not net.target.strip(_GO_TRIM):
        raise NetOptError("no name set for network")
    if not is_user_defined(net.target):
        if net.aliases:
            raise NetOptError("network-scoped aliases are only supported for user-defined networks")
        if net.links:
            raise NetOptError("links are only supported for user-defined networks")
    ipam = None
    if net.ipv4 or net.ipv6 or net.link_local_ips:
        ipam = {k: v for k, v in (("IPv4Address", net.ipv4), ("IPv6Address", net.ipv6),
                                  ("LinkLocalIPs", net.link_local_ips)) if v}
    if net.mac and not valid_mac(net.mac.strip(_GO_TRIM)):
        raise NetOptError(f"{net.mac} is not a valid mac address")
    return {"IPAMConfig": ipam, "Links": net.links or None, "Aliases": net.aliases or None,
            "MacAddress": net.mac, "DriverOpts": net.driver_opts or None,
            "GwPriority": net.gw_priority, "NetworkID": "", "EndpointID": "", "Gateway": "",
            "IPAddress": "", "IPPrefixLen": 0, "IPv6Gateway": "", "GlobalIPv6Address": "",
            "GlobalIPv6PrefixLen": 0, "DNSNames": None}
