"""A create's networking, checked as moby's verifyNetworkingConfig checks it, and what the
container's record keeps of it: network name -> the endpoint settings asked for."""

from ketch import errors
from ketch.apitypes import network as apinet
from ketch.engine.containers.records import Registry
from ketch.engine.networks import etcfiles, modes
from ketch.engine.networks.firewall import port_requests
from ketch.engine.networks.registry import NetworkRegistry
from ketch.network import epsettings


def same_network(networks: NetworkRegistry, a: str, b: str) -> bool:
    """Do two references (names, ids, prefixes) name one network?"""
    try:
        return networks.find(a).id == networks.find(b).id
    except errors.NotFound:
        return False


def check_create(networks: NetworkRegistry, containers: Registry, host_gateway: str,
                 config: dict, host_config: dict, endpoints_config: dict | None) -> dict:
    mode = modes.parse(host_config.get("NetworkMode"))
    modes.conflicts(mode, config, host_config)
    for item in host_config.get("Links") or ():  # moby's registerLinks, at create
        name = item.partition(":")[0].strip("/")
        if containers.find(name) is None:
            # a 400, not a 404: on a 404 the docker CLI pulls the image and retries
            raise errors.InvalidArgument(f"could not get container for {name}: No such container: {name}")
    if mode.kind == "container":  # the container is looked up at start, as in moby
        return {}
    if mode.kind in ("host", "none"):
        return {mode.kind: {**modes.endpoint_settings((endpoints_config or {}).get(mode.kind)),
                            "NetworkID": networks.find(mode.kind).id}}
    out = {}
    wanted = dict(endpoints_config or {})
    if mode.target not in wanted and not any(same_network(networks, mode.target, k) for k in wanted):
        wanted[mode.target] = {}
    for ref, settings in wanted.items():
        try:
            net = networks.find("bridge" if ref == "default" else ref)
        except errors.NotFound:
            net = None  # moby creates the container anyway: its start fails "network X not found"
        try:
            epsettings.check_endpoint(net, apinet.endpoint_settings(settings))
        except errors.KetchError as exc:
            raise type(exc)(f"invalid config for network {net.name if net else ref}: {exc}") from None
        settings = modes.endpoint_settings(settings)
        if net is None:
            out[ref] = settings
            continue
        if ref == mode.target and not net.predefined and host_config.get("Links"):
            # --link on a user-defined network: a name only the linking container resolves
            settings["Links"] = list(settings.get("Links") or ()) + list(host_config["Links"])
        out[net.name] = {**settings, "NetworkID": net.id}
    etcfiles.extra_hosts(host_config.get("ExtraHosts"), host_gateway)
    port_requests(host_config, config.get("ExposedPorts"))  # checked now, allocated at start
    return out
