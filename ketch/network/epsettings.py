"""An endpoint's settings checked against its network before connecting, as moby 26.1's
validateEndpointSettings checks them (connect, and each network of a create's
NetworkingConfig): every error found, joined, under "invalid endpoint settings:" (a 400).
"""

import ipaddress

from ketch.apitypes.network import EndpointSettings
from ketch.errors import InvalidArgument
from ketch.network.ipam import join_errors
from ketch.network.model import Network

# runconfig's errors, word for word
IP_ON_PREDEFINED = "user specified IP address is supported on user defined networks only"
ALIAS_ON_PREDEFINED = "network-scoped alias is supported only for containers in user defined networks"
IP_WITHOUT_SUBNET = ("user specified IP address is supported only when connecting to networks "
                     "with user configured subnets")


def check_endpoint(network: Network | None, settings: EndpointSettings) -> None:
    """Raise InvalidArgument with moby's message when ``settings`` cannot be used on
    ``network`` (None: the network is not known yet, only the addresses are checked)."""
    errs: list[str] = []
    if network is not None and network.predefined:
        if settings.ipv4_address or settings.ipv6_address:
            errs.append(IP_ON_PREDEFINED)
        if settings.aliases:
            errs.append(ALIAS_ON_PREDEFINED)
    errs += _address_errors(settings)
    if network is not None:
        for version, address in ((4, settings.ipv4_address), (6, settings.ipv6_address)):
            if (err := _in_range_error(network, version, address)) is not None:
                errs.append(err)
    if settings.mac_address and not _is_mac(settings.mac_address):
        raise InvalidArgument(f"invalid MAC address {settings.mac_address}")
    if errs:
        raise InvalidArgument("invalid endpoint settings:\n" + join_errors(errs))


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _is_v4(addr) -> bool:
    """net.IP.To4() != nil: IPv4, or IPv4 mapped into IPv6."""
    return addr.version == 4 or addr.ipv4_mapped is not None


def _address_errors(settings: EndpointSettings) -> list[str]:
    """EndpointIPAMConfig.Validate."""
    errs = []
    if settings.ipv4_address:
        addr = _ip(settings.ipv4_address)
        if addr is None or not _is_v4(addr) or addr.is_unspecified:
            errs.append(f"invalid IPv4 address: {settings.ipv4_address}")
    if settings.ipv6_address:
        addr = _ip(settings.ipv6_address)
        if addr is None or _is_v4(addr) or addr.is_unspecified:
            errs.append(f"invalid IPv6 address: {settings.ipv6_address}")
    for text in settings.link_local_ips:
        addr = _ip(text)
        if addr is None or addr.is_unspecified:
            errs.append(f"invalid link-local IP address: {text}")
    return errs


def _in_range_error(network: Network, version: int, address: str) -> str | None:
    """EndpointIPAMConfig.IsInRange for one family: only a subnet the user configured
    takes a static address, and it must contain it."""
    if not address:
        return None
    addr = _ip(address)
    static = [p for p in network.pools_of(version) if p.configured]
    for pool in static:
        if addr is not None and addr.version == version and addr in ipaddress.ip_network(pool.subnet):
            return None
    if static:
        return f"no configured subnet or ip-range contain the IP address {address}"
    return IP_WITHOUT_SUBNET


def _is_mac(text: str) -> bool:
    """net.ParseMAC for the 6-byte forms: xx:xx:xx:xx:xx:xx, xx-xx-..., xxxx.xxxx.xxxx."""
    for sep, width in ((":", 2), ("-", 2), (".", 4)):
        parts = text.split(sep)
        if len(parts) == 48 // (4 * width) and all(
                len(p) == width and all(c in "0123456789abcdefABCDEF" for c in p) for p in parts):
            return True
    return False
