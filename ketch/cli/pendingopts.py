"""``run``/``create`` flags for features ketchd does not implement yet: volumes, ports,
networks, links, DNS, logging drivers, tmpfs and namespace modes.

They are parsed into the fields docker/cli sends, so the daemon's answer names what is
not supported (and a real dockerd behind ``-H`` gets what it expects). Parsing is the
plain shape of docker/cli's; the full validation comes with each feature.
"""

from ketch.cli.flags import FlagSpec

FLAGS = (
    FlagSpec("add-host", None, "list", help="Add a custom host-to-IP mapping (host:ip)"),
    FlagSpec("dns", None, "list", help="Set custom DNS servers"),
    FlagSpec("dns-option", None, "list", help="Set DNS options"),
    FlagSpec("dns-search", None, "list", help="Set custom DNS search domains"),
    FlagSpec("expose", None, "list", help="Expose a port or a range of ports"),
    FlagSpec("ipc", None, "string", help="IPC mode to use"),
    FlagSpec("link", None, "list", help="Add link to another container"),
    FlagSpec("log-driver", None, "string", help="Logging driver for the container"),
    FlagSpec("log-opt", None, "list", help="Log driver options"),
    FlagSpec("mac-address", None, "string", help="Container MAC address (e.g., 92:d0:c6:0a:29:33)"),
    FlagSpec("mount", None, "list", help="Attach a filesystem mount to the container"),
    FlagSpec("network", None, "string", help="Connect a container to a network"),
    FlagSpec("network-alias", None, "list", help="Add network-scoped alias for the container"),
    FlagSpec("pid", None, "string", help="PID namespace to use"),
    FlagSpec("publish", "p", "list", help="Publish a container's port(s) to the host"),
    FlagSpec("publish-all", "P", "bool", help="Publish all exposed ports to random ports"),
    FlagSpec("tmpfs", None, "list", help="Mount a tmpfs directory"),
    FlagSpec("userns", None, "string", help="User namespace to use"),
    FlagSpec("uts", None, "string", help="UTS namespace to use"),
    FlagSpec("volume", "v", "list", help="Bind mount a volume"),
    FlagSpec("volume-driver", None, "string", help="Optional volume driver for the container"),
    FlagSpec("volumes-from", None, "list", help="Mount volumes from the specified container(s)"),
)


def _port_key(spec: str) -> str:
    port, _, proto = spec.partition("/")
    return f"{port}/{proto or 'tcp'}"


def _publish(spec: str) -> tuple[str, dict]:
    """``[ip:][host-port:]container-port[/proto]`` -> (port key, binding)."""
    container, _, proto = spec.partition("/")
    parts = container.rsplit(":", 2)
    host_ip, host_port = ("", "") if len(parts) == 1 else (
        ("", parts[0]) if len(parts) == 2 else (parts[0].strip("[]"), parts[1]))
    return _port_key(parts[-1] + (f"/{proto}" if proto else "")), {"HostIp": host_ip, "HostPort": host_port}


def _mount(spec: str) -> dict:
    names = {"src": "Source", "source": "Source", "dst": "Target", "destination": "Target",
             "target": "Target", "type": "Type"}
    out: dict = {"Type": "volume"}
    for item in spec.split(","):
        key, sep, value = item.partition("=")
        if key.lower() in names:
            out[names[key.lower()]] = value
        elif key.lower() in ("ro", "readonly"):
            out["ReadOnly"] = not sep or value.lower() in ("1", "true")
    return out


def apply(opts, config: dict) -> None:
    """Add the flags' fields to the create body ``config`` (HostConfig inside it)."""
    hc = config["HostConfig"]
    binds = [v for v in opts["volume"] if ":" in v]
    anonymous = {v: {} for v in opts["volume"] if ":" not in v}
    hc["Binds"] = binds or None
    config["Volumes"] = anonymous
    if opts["mount"]:
        hc["Mounts"] = [_mount(m) for m in opts["mount"]]
    exposed = {_port_key(p): {} for p in opts["expose"]}
    bindings: dict = {}
    for spec in opts["publish"]:
        key, binding = _publish(spec)
        exposed[key] = {}
        bindings.setdefault(key, []).append(binding)
    if exposed:
        config["ExposedPorts"] = exposed
    hc["PortBindings"] = bindings
    hc["PublishAllPorts"] = opts["publish-all"]
    network = opts["network"] or "default"
    hc["NetworkMode"] = network
    endpoints = {}
    if network not in ("none", "host") and not network.startswith("container:"):
        endpoints[network] = {"Aliases": opts["network-alias"] or None,
                              "MacAddress": opts["mac-address"] or ""}
    config["NetworkingConfig"] = {"EndpointsConfig": endpoints}
    hc["Links"] = opts["link"] or None
    hc["Dns"], hc["DnsOptions"], hc["DnsSearch"] = opts["dns"], opts["dns-option"], opts["dns-search"]
    hc["ExtraHosts"] = opts["add-host"] or None
    log_opts = dict(o.partition("=")[::2] for o in opts["log-opt"])
    hc["LogConfig"] = {"Type": opts["log-driver"], "Config": log_opts}
    if opts["tmpfs"]:
        hc["Tmpfs"] = {t.partition(":")[0]: t.partition(":")[2] for t in opts["tmpfs"]}
    hc["VolumeDriver"] = opts["volume-driver"]
    hc["VolumesFrom"] = opts["volumes-from"] or None
    for flag, field in (("ipc", "IpcMode"), ("pid", "PidMode"), ("uts", "UTSMode"), ("userns", "UsernsMode")):
        hc[field] = opts[flag]
