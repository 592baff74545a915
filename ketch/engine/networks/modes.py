"""A container's network mode and the endpoint settings it is created with (pure).

``HostConfig.NetworkMode`` is "" or "default" (the default bridge), "bridge", "none",
"host", "container:<name|id>" or the name or id of a user-defined network. The
networks a container is attached to at start are kept on its record as Docker keeps
``NetworkSettings.Networks``: network name -> the endpoint settings it asked for.
"""

from dataclasses import dataclass

from ketch import errors

DEFAULT_BRIDGE = "bridge"
SETTING_KEYS = ("IPAMConfig", "Links", "Aliases", "MacAddress", "DriverOpts")


@dataclass(frozen=True)
class Mode:
    kind: str  # "bridge" (any bridge-driver network), "none", "host", "container"
    target: str = ""  # the network's name, or the container whose namespace is shared


def parse(network_mode: str | None) -> Mode:
    value = network_mode or "default"
    if value == "default":
        return Mode("bridge", DEFAULT_BRIDGE)
    if value in ("none", "host"):
        return Mode(value)
    if value.startswith("container:"):
        target = value.partition(":")[2]
        if not target:
            raise errors.InvalidArgument("Invalid network mode: invalid container format container:<name|id>")
        return Mode("container", target)
    return Mode("bridge", value)


def endpoint_settings(doc: dict | None) -> dict:
    """The user's part of an EndpointSettings (what `docker network connect` and create's
    NetworkingConfig carry); the rest is runtime state."""
    doc = doc or {}
    out = {k: doc[k] for k in SETTING_KEYS if doc.get(k)}
    return out


def conflicts(mode: Mode, config: dict, host_config: dict) -> None:
    """moby's verifyNetworkingConfig / runconfig conflicts: options a mode cannot take."""
    if mode.kind == "container":
        if config.get("Hostname"):  # the user's, before the engine fills in the short id
            raise errors.InvalidArgument("conflicting options: hostname and the network mode")
        if host_config.get("PortBindings") or host_config.get("PublishAllPorts"):
            raise errors.InvalidArgument("conflicting options: port publishing and the container type network mode")
        if host_config.get("Dns") or host_config.get("DnsSearch") or host_config.get("DnsOptions"):
            raise errors.InvalidArgument("conflicting options: dns and the network mode")
        if host_config.get("ExtraHosts"):
            raise errors.InvalidArgument("conflicting options: custom host-to-IP mapping and the network mode")
        if host_config.get("Links"):
            raise errors.InvalidArgument("conflicting options: container type network can't be used with links. This would result in undefined behavior")
    if mode.kind == "host" and host_config.get("Links"):
        raise errors.InvalidArgument("conflicting options: host type networking can't be used with links. This would result in undefined behavior")


PORTS_DISCARDED = "Published ports are discarded when using host network mode"


def warnings(host_config: dict) -> list[str]:
    """moby's create warnings about the network mode (verifyContainerSettings)."""
    if parse(host_config.get("NetworkMode")).kind == "host" and host_config.get("PortBindings"):
        return [PORTS_DISCARDED]
    return []
