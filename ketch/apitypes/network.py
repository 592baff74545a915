"""The network request bodies (create, connect, disconnect): moby's API types as field
tables, checked once at the API edge into frozen values.

Each table is the Go struct of moby v26.1 (API 1.45): ``types.NetworkCreateRequest``
(``NetworkCreate`` embedded, then ``Name``), ``types.NetworkConnect`` and
``types.NetworkDisconnect``, so a field of the wrong JSON type gets Go's own message and
a 400. As moby's ``httputils.ReadJSON`` reads them, an empty body is the zero struct (a
create then fails on its empty name), white space alone is "got EOF".
"""

from dataclasses import dataclass, field

from ketch.apitypes.container import ENDPOINT
from ketch.apitypes.gojson import Bool, Map, Ptr, Slice, String, Struct, read_json, struct
from ketch.errors import InvalidArgument

S, B = String(), Bool()
SMAP = Map("map[string]string", S)

IPAM_CONFIG = struct(
    "network.IPAMConfig", "IPAMConfig", ("Subnet", S), ("IPRange", S), ("Gateway", S),
    ("AuxiliaryAddresses", SMAP))
IPAM = struct(
    "network.IPAM", "IPAM", ("Driver", S), ("Options", SMAP),
    ("Config", Slice("[]network.IPAMConfig", IPAM_CONFIG)))
CREATE_REQUEST = Struct("types.NetworkCreateRequest", "NetworkCreateRequest", (
    ("CheckDuplicate", B), ("Driver", S), ("Scope", S), ("EnableIPv6", B),
    ("IPAM", Ptr("*network.IPAM", IPAM)), ("Internal", B), ("Attachable", B), ("Ingress", B),
    ("ConfigOnly", B),
    ("ConfigFrom", Ptr("*network.ConfigReference", struct(
        "network.ConfigReference", "ConfigReference", ("Network", S)))),
    ("Options", SMAP), ("Labels", SMAP), ("Name", S)))
CONNECT_REQUEST = struct(
    "types.NetworkConnect", "NetworkConnect", ("Container", S),
    ("EndpointConfig", Ptr("*network.EndpointSettings", ENDPOINT)))
DISCONNECT_REQUEST = struct("types.NetworkDisconnect", "NetworkDisconnect", ("Container", S), ("Force", B))


@dataclass(frozen=True)
class IPAMConfig:
    """One IPAM.Config entry as the request gave it (the field names of network.model.Pool,
    so ipam reads either)."""
    subnet: str = ""
    ip_range: str = ""
    gateway: str = ""
    aux: tuple[tuple[str, str], ...] = ()  # AuxiliaryAddresses, sorted by name


@dataclass(frozen=True)
class NetworkCreate:
    name: str
    driver: str = ""  # "": the daemon's default (bridge)
    scope: str = ""
    check_duplicate: bool = False  # ignored since API 1.44: a duplicate name is always refused
    enable_ipv6: bool = False
    internal: bool = False
    attachable: bool = False
    ingress: bool = False
    config_only: bool = False
    config_from: str = ""  # ConfigFrom.Network
    ipam_driver: str = ""  # "" or "default": the built-in IPAM
    ipam_options: dict[str, str] | None = None  # None: not sent (inspect shows null)
    ipam_config: tuple[IPAMConfig, ...] = ()
    options: dict[str, str] = field(default_factory=dict)  # driver options (-o)
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class EndpointSettings:
    """network.EndpointSettings: what a client asks of an endpoint (connect, or a create's
    NetworkingConfig). The operational fields (NetworkID ... GlobalIPv6PrefixLen) are
    read but mean nothing on the way in."""
    ipv4_address: str = ""  # IPAMConfig.IPv4Address (--ip)
    ipv6_address: str = ""  # IPAMConfig.IPv6Address (--ip6)
    link_local_ips: tuple[str, ...] = ()
    links: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    mac_address: str = ""
    driver_opts: dict[str, str] = field(default_factory=dict)
    network_id: str = ""
    endpoint_id: str = ""
    gateway: str = ""
    ip_address: str = ""
    ip_prefix_len: int = 0
    ipv6_gateway: str = ""
    global_ipv6_address: str = ""
    global_ipv6_prefix_len: int = 0
    dns_names: tuple[str, ...] = ()
    has_ipam_config: bool = False  # IPAMConfig was sent (inspect echoes it, null otherwise)


@dataclass(frozen=True)
class NetworkConnect:
    container: str
    settings: EndpointSettings = EndpointSettings()


@dataclass(frozen=True)
class NetworkDisconnect:
    container: str
    force: bool = False


def _read(data: bytes | None, t: Struct) -> dict:
    """moby's httputils.ReadJSON into ``t``: no body (or null) is the zero value."""
    out = read_json(data, t)
    return out if isinstance(out, dict) else {}


def _strs(value) -> tuple[str, ...]:
    return tuple(value or ())


def _ipam_options(ipam: dict | None) -> dict[str, str] | None:
    """IPAM.Options: a nil Go map (absent or null) stays None; {} is a value."""
    if ipam is None or not isinstance(ipam.get("Options"), dict):
        return None
    return dict(ipam["Options"])


def decode_create(data: bytes | None) -> NetworkCreate:
    body = _read(data, CREATE_REQUEST)
    name = body.get("Name") or ""
    if not name.strip():
        raise InvalidArgument(f"invalid name: {name}")  # libnetwork's ErrInvalidName
    ipam = body.get("IPAM")
    ipam = ipam if isinstance(ipam, dict) else None
    configs = tuple(
        IPAMConfig(c.get("Subnet") or "", c.get("IPRange") or "", c.get("Gateway") or "",
                   tuple(sorted((c.get("AuxiliaryAddresses") or {}).items())))
        for c in ((ipam or {}).get("Config") or ()))
    return NetworkCreate(
        name=name, driver=body.get("Driver") or "", scope=body.get("Scope") or "",
        check_duplicate=bool(body.get("CheckDuplicate")), enable_ipv6=bool(body.get("EnableIPv6")),
        internal=bool(body.get("Internal")), attachable=bool(body.get("Attachable")),
        ingress=bool(body.get("Ingress")), config_only=bool(body.get("ConfigOnly")),
        config_from=((body.get("ConfigFrom") or {}).get("Network") or ""),
        ipam_driver=(ipam or {}).get("Driver") or "",
        ipam_options=_ipam_options(ipam), ipam_config=configs,
        options=dict(body.get("Options") or {}), labels=dict(body.get("Labels") or {}))


def endpoint_settings(doc: dict | None) -> EndpointSettings:
    """A checked network.EndpointSettings (from ``gojson.decode``) as a value."""
    if not doc:
        return EndpointSettings()
    ipam = doc.get("IPAMConfig")
    ipam_doc = ipam if isinstance(ipam, dict) else {}
    return EndpointSettings(
        ipv4_address=ipam_doc.get("IPv4Address") or "", ipv6_address=ipam_doc.get("IPv6Address") or "",
        link_local_ips=_strs(ipam_doc.get("LinkLocalIPs")), links=_strs(doc.get("Links")),
        aliases=_strs(doc.get("Aliases")), mac_address=doc.get("MacAddress") or "",
        driver_opts=dict(doc.get("DriverOpts") or {}), network_id=doc.get("NetworkID") or "",
        endpoint_id=doc.get("EndpointID") or "", gateway=doc.get("Gateway") or "",
        ip_address=doc.get("IPAddress") or "", ip_prefix_len=doc.get("IPPrefixLen") or 0,
        ipv6_gateway=doc.get("IPv6Gateway") or "",
        global_ipv6_address=doc.get("GlobalIPv6Address") or "",
        global_ipv6_prefix_len=doc.get("GlobalIPv6PrefixLen") or 0,
        dns_names=_strs(doc.get("DNSNames")), has_ipam_config=isinstance(ipam, dict))


def decode_connect(data: bytes | None) -> NetworkConnect:
    body = _read(data, CONNECT_REQUEST)
    return NetworkConnect(body.get("Container") or "", endpoint_settings(body.get("EndpointConfig")))


def decode_disconnect(data: bytes | None) -> NetworkDisconnect:
    body = _read(data, DISCONNECT_REQUEST)
    return NetworkDisconnect(body.get("Container") or "", bool(body.get("Force")))
