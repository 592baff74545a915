"""Networks, their address pools, endpoints and published ports: the typed values that
the network package, the engine and the API views share.

Addresses are strings in the forms Docker's API uses ("172.18.0.0/16" for a subnet,
"172.18.0.2" for an address, "172.18.0.2/16" for an interface's address), parsed with
``ipaddress`` where arithmetic is needed.
"""

from dataclasses import dataclass, field

PROTOCOLS = ("tcp", "udp", "sctp")

# The drivers of networks ketch makes. "host" and "null" are the predefined networks
# of the same names (one each, never created by users).
BRIDGE, HOST, NULL = "bridge", "host", "null"

# Driver options of the bridge driver (moby's libnetwork/drivers/bridge labels).
OPT_BRIDGE_NAME = "com.docker.network.bridge.name"
OPT_ICC = "com.docker.network.bridge.enable_icc"
OPT_MASQUERADE = "com.docker.network.bridge.enable_ip_masquerade"
OPT_HOST_BINDING_IPV4 = "com.docker.network.bridge.host_binding_ipv4"
OPT_DEFAULT_BRIDGE = "com.docker.network.bridge.default_bridge"
OPT_MTU = "com.docker.network.driver.mtu"


@dataclass(frozen=True)
class Pool:
    """One entry of a network's IPAM.Config."""
    subnet: str  # "172.18.0.0/16" or "fd00:1::/64"
    gateway: str = ""  # "172.18.0.1"; "" before IPAM picks one
    ip_range: str = ""  # addresses for containers come from here when set
    aux: tuple[tuple[str, str], ...] = ()  # --aux-address name=address, never handed out
    # The user gave this subnet (IPAM.Config), and the gateway too: only such a subnet takes
    # --ip, and inspect shows the entry as given (no Gateway unless one was given), moby's way.
    configured: bool = False
    gateway_given: bool = False


@dataclass(frozen=True)
class Network:
    id: str  # 64 hex
    name: str
    driver: str  # BRIDGE, HOST or NULL
    created: str  # RFC 3339 with nanoseconds, as moby prints it
    pools: tuple[Pool, ...] = ()
    ipv6: bool = False
    internal: bool = False
    attachable: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)  # driver options, as given
    bridge: str = ""  # the Linux bridge's name (bridge driver)
    mtu: int = 0  # 0: the daemon's default
    icc: bool = True  # containers on the bridge may reach each other
    masquerade: bool = True  # outbound NAT
    predefined: bool = False  # bridge, host, none: never removed by users
    bridge_owned: bool = False  # ketch made the Linux bridge (so ketch may delete it)
    # IPAM.Options as the create request gave them; None (shown as null) when it gave none
    # (the docker CLI always sends {}, the predefined networks have None)
    ipam_options: dict[str, str] | None = None

    def pools_of(self, version: int) -> tuple[Pool, ...]:
        return tuple(p for p in self.pools if (":" in p.subnet) == (version == 6))


@dataclass(frozen=True)
class Endpoint:
    """A container's attachment to one network."""
    id: str  # 64 hex
    network_id: str
    container_id: str
    ipv4: str = ""  # "172.18.0.2/16": the address with its prefix length
    ipv6: str = ""
    mac: str = ""
    gateway4: str = ""
    gateway6: str = ""
    aliases: tuple[str, ...] = ()  # --network-alias, plus what the engine adds (short id)
    links: tuple[str, ...] = ()  # "container:alias" (--link on a user network)
    ipam_ipv4: str = ""  # the address the user asked for (--ip); kept across restarts
    ipam_ipv6: str = ""
    host_ifname: str = ""  # the host end of the veth pair
    ifname: str = ""  # its name in the container ("eth0")
    ports: tuple["PortBinding", ...] = ()  # what is published through this endpoint
    dns: bool = False  # names resolve through the embedded DNS (user-defined networks)

    @property
    def address4(self) -> str:
        return self.ipv4.partition("/")[0]

    @property
    def address6(self) -> str:
        return self.ipv6.partition("/")[0]


@dataclass(frozen=True)
class PortBinding:
    """One -p: a container port published on a host address and port."""
    proto: str  # "tcp", "udp" or "sctp"
    container_port: int
    host_ip: str = ""  # "" or "0.0.0.0": every IPv4 address of the host; "::" every IPv6
    host_port: int = 0  # 0 before one is picked from the ephemeral range


@dataclass(frozen=True)
class PortForward:
    """A published port as the firewall sees it: traffic to (host_ip, host_port) goes to
    (container_ip, container_port) through ``bridge``."""
    proto: str
    host_ip: str  # "" (every address of the family of container_ip) or one address
    host_port: int
    container_ip: str
    container_port: int
    bridge: str
