"""``network create``'s IPAM flags -> the request's IPAM (docker/cli's createIPAMConfig).

``--subnet``, ``--ip-range``, ``--gateway`` and ``--aux-address`` are grouped per subnet:
each range, gateway and auxiliary address goes to the subnet that contains it. Errors are
docker's words; ValueError carries them. Subnets keep the order given (docker's come
from a Go map, in no order).
"""

from ketch.apitypes.netaddr import AddrError, network_contains, parse_cidr, parse_ip


def _matches(subnet: str, data: str) -> bool:
    """docker/cli's subnetMatches: is ``data`` (an address or a CIDR) inside ``subnet``?"""
    try:
        network = parse_cidr(subnet)[1]
    except AddrError as exc:
        raise ValueError(f"invalid subnet: {exc}") from None
    if "/" in data:
        try:
            address = parse_cidr(data)[0]
        except AddrError as exc:
            raise ValueError(str(exc)) from None
    else:
        address = parse_ip(data)
    return network_contains(network, address)


def ipam_config(driver: str, subnets: list[str], ranges: list[str], gateways: list[str],
                aux: dict[str, str], options: dict[str, str]) -> dict:
    if len(subnets) < len(ranges) or len(subnets) < len(gateways):
        raise ValueError("every ip-range or gateway must have a corresponding subnet")
    configs: dict[str, dict] = {}
    for subnet in subnets:
        for other in configs:
            if _matches(subnet, other) or _matches(other, subnet):
                raise ValueError("multiple overlapping subnet configuration is not supported")
        configs[subnet] = {"Subnet": subnet}
    for ip_range in ranges:
        matched = False
        for subnet in subnets:
            try:
                parse_cidr(ip_range)
            except AddrError as exc:
                raise ValueError(str(exc)) from None
            if not _matches(subnet, ip_range):
                continue
            if configs[subnet].get("IPRange"):
                raise ValueError(f"cannot configure multiple ranges ({ip_range}, "
                                 f"{configs[subnet]['IPRange']}) on the same subnet ({subnet})")
            configs[subnet]["IPRange"] = ip_range
            matched = True
        if not matched:
            raise ValueError(f"no matching subnet for range {ip_range}")
    for gateway in gateways:
        matched = False
        for subnet in subnets:
            if not _matches(subnet, gateway):
                continue
            if configs[subnet].get("Gateway"):
                raise ValueError(f"cannot configure multiple gateways ({gateway}, "
                                 f"{configs[subnet]['Gateway']}) for the same subnet ({subnet})")
            configs[subnet]["Gateway"] = gateway
            matched = True
        if not matched:
            raise ValueError(f"no matching subnet for gateway {gateway}")
    for key, address in aux.items():
        matched = False
        for subnet in subnets:
            if _matches(subnet, address):
                configs[subnet].setdefault("AuxiliaryAddresses", {})[key] = address
                matched = True
        if not matched:
            raise ValueError(f"no matching subnet for aux-address {address}")
    # the IPAMConfig fields in Go's order, the empty ones left out (omitempty)
    ordered = [{k: c[k] for k in ("Subnet", "IPRange", "Gateway", "AuxiliaryAddresses") if c.get(k)}
               for c in configs.values()]
    return {"Driver": driver, "Options": dict(options), "Config": ordered}
