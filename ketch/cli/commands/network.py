"""``ketch network``: create, ls, inspect, rm, prune, connect, disconnect (docker/cli's
cli/command/network, flags, bodies, output and errors as docker 28 has them)."""

import sys

from ketch.cli.commands import API_ERRORS, daemon_error, noun_usage, parse_args
from ketch.cli.commands.container import parse_filters
from ketch.cli.commonflags import FORMAT_HELP, INSPECT_FORMAT_HELP, validate_filter, validate_label
from ketch.cli.flags import Command, FlagSpec
from ketch.cli.main import StatusError
from ketch.client.http import HTTPError

SUBCOMMANDS = (
    ("connect", "Connect a container to a network"),
    ("create", "Create a network"),
    ("disconnect", "Disconnect a container from a network"),
    ("inspect", "Display detailed information on one or more networks"),
    ("ls", "List networks"),
    ("prune", "Remove all unused networks"),
    ("rm", "Remove one or more networks"),
)


def usage() -> str:
    """``ketch network --help``."""
    return noun_usage("network", SUBCOMMANDS)


# -- create ---------------------------------------------------------------------------

CREATE = Command("network create", "ketch network create [OPTIONS] NETWORK", "Create a network", (
    FlagSpec("attachable", None, "bool", help="Enable manual container attachment"),
    FlagSpec("aux-address", None, "map", help="Auxiliary IPv4 or IPv6 addresses used by Network driver"),
    FlagSpec("config-from", None, "string", help="The network from which to copy the configuration"),
    FlagSpec("config-only", None, "bool", help="Create a configuration only network"),
    FlagSpec("driver", "d", "string", "bridge", help="Driver to manage the Network"),
    FlagSpec("gateway", None, "slice", help="IPv4 or IPv6 Gateway for the master subnet"),
    FlagSpec("ingress", None, "bool", help="Create swarm routing-mesh network"),
    FlagSpec("internal", None, "bool", help="Restrict external access to the network"),
    FlagSpec("ip-range", None, "slice", help="Allocate container ip from a sub-range"),
    FlagSpec("ipam-driver", None, "string", "default", help="IP Address Management Driver"),
    FlagSpec("ipam-opt", None, "map", help="Set IPAM driver specific options"),
    FlagSpec("ipv4", None, "bool", True, help="Enable or disable IPv4 address assignment"),
    FlagSpec("ipv6", None, "bool", help="Enable or disable IPv6 address assignment"),
    FlagSpec("label", None, "list", help="Set metadata on a network", convert=validate_label),
    FlagSpec("opt", "o", "map", help="Set driver specific options"),
    FlagSpec("scope", None, "string", help="Control the network's scope"),
    FlagSpec("subnet", None, "slice", help="Subnet in CIDR format that represents a network segment"),
), min_args=1, max_args=1)


def create_body(opts, name: str) -> dict:
    """docker/cli's runCreate: the CreateRequest (ValueError with docker's words)."""
    from ketch.cli.netconfig import ipam_config
    body = {"Driver": opts["driver"], "Scope": opts["scope"]}
    if "ipv4" in opts.changed:
        body["EnableIPv4"] = opts["ipv4"]
    if "ipv6" in opts.changed:
        body["EnableIPv6"] = opts["ipv6"]
    body.update({
        "IPAM": ipam_config(opts["ipam-driver"], opts["subnet"], opts["ip-range"], opts["gateway"],
                            opts["aux-address"], opts["ipam-opt"]),
        "Internal": opts["internal"], "Attachable": opts["attachable"], "Ingress": opts["ingress"],
        "ConfigOnly": opts["config-only"],
        "ConfigFrom": {"Network": opts["config-from"]} if opts["config-from"] else None,
        "Options": dict(opts["opt"]),
        "Labels": {k: v for k, _, v in (item.partition("=") for item in opts["label"])},
        "Name": name,
    })
    return body


def create(cli, args, path):
    opts, rest = parse_args(CREATE, args, path)
    try:
        body = create_body(opts, rest[0])
    except ValueError as exc:
        raise StatusError(1, str(exc))
    try:
        answer = cli.client.create_network(body)
    except API_ERRORS as exc:
        raise StatusError(1, daemon_error(exc))
    print(answer.get("Id", ""))
    return 0


# -- ls -------------------------------------------------------------------------------

LS = Command("network ls", "ketch network ls [OPTIONS]", "List networks", (
    FlagSpec("filter", "f", "list", metavar="filter", convert=validate_filter,
             help='Provide filter values (e.g. "driver=bridge")'),
    FlagSpec("format", None, "string", help=FORMAT_HELP),
    FlagSpec("no-trunc", None, "bool", help="Do not truncate the output"),
    FlagSpec("quiet", "q", "bool", help="Only display network IDs"),
), max_args=0, aliases=("ketch network ls", "ketch network list"))


def render_list(networks: list[dict], fmt: str, quiet: bool, trunc: bool) -> str:
    """docker/cli's network runList after the answer: sorted by name, naturally."""
    from ketch.cli.format import formatter
    from ketch.cli.format.networks import NETWORK_HEADERS, NETWORK_TABLE, NetworkRow
    from ketch.cli.format.sortorder import natural_key
    if fmt in ("", "table") and quiet:
        fmt = "{{.ID}}"
    elif fmt == "raw":  # docker's NewFormat for networks
        fmt = ("network_id: {{.ID}}" if quiet else
               "network_id: {{.ID}}\\nname: {{.Name}}\\ndriver: {{.Driver}}\\nscope: {{.Scope}}\\n")
    rows = [NetworkRow(n, trunc) for n in sorted(networks, key=lambda n: natural_key(n.get("Name") or ""))]
    return formatter.render(fmt, rows, NETWORK_HEADERS, NETWORK_TABLE)


def ls(cli, args, path):
    opts, _ = parse_args(LS, args, path)
    from ketch.cli.format.formatter import FormatError
    filters = parse_filters(opts["filter"])
    try:
        networks = cli.client.networks(filters)
    except API_ERRORS as exc:
        raise StatusError(1, daemon_error(exc))
    fmt = opts["format"] or ("" if opts["quiet"] else cli.setting("networksFormat"))
    try:
        sys.stdout.write(render_list(networks, fmt, opts["quiet"], not opts["no-trunc"]))
    except FormatError as exc:
        raise StatusError(1, str(exc))
    return 0


# -- inspect --------------------------------------------------------------------------

INSPECT = Command("network inspect", "ketch network inspect [OPTIONS] NETWORK [NETWORK...]",
                  "Display detailed information on one or more networks", (
    FlagSpec("format", "f", "string", help=INSPECT_FORMAT_HELP),
    FlagSpec("verbose", "v", "bool", help="Verbose output for diagnostics"),
), min_args=1)


def inspect(cli, args, path):
    from ketch.cli.commands.system import inspect_objects
    return inspect_objects(cli, args, path, "network")


# -- rm -------------------------------------------------------------------------------

RM = Command("network rm", "ketch network rm NETWORK [NETWORK...]", "Remove one or more networks", (
    FlagSpec("force", "f", "bool", help="Do not error if the network does not exist"),
), min_args=1, aliases=("ketch network rm", "ketch network remove"))

INGRESS_WARNING = ("WARNING! Before removing the routing-mesh network, make sure all the nodes "
                   "in your swarm run the same docker engine version. Otherwise, removal may not "
                   "be effective and functionality of newly create ingress networks will be "
                   "impaired.\nAre you sure you want to continue?")


def rm(cli, args, path):
    """docker/cli's runRemove: each name in turn, errors as they come, then "exit status 1"."""
    from ketch.cli.commands.prune import confirm
    from ketch.client.http import ConnectionFailed
    opts, names = parse_args(RM, args, path)
    client, failed = cli.client, False
    for name in names:
        try:
            ingress = client.inspect_network(name).get("Ingress")
        except API_ERRORS:
            ingress = False
        if ingress and not confirm(INGRESS_WARNING):
            continue
        try:
            client.remove_network(name)
        except API_ERRORS as exc:
            if opts["force"] and isinstance(exc, HTTPError) and exc.status == 404:
                continue
            print(daemon_error(exc), file=sys.stderr)
            failed = True
            if isinstance(exc, ConnectionFailed):
                break
            continue
        print(name)
    if failed:
        raise StatusError(1, "exit status 1")
    return 0


# -- prune ----------------------------------------------------------------------------

PRUNE = Command("network prune", "ketch network prune [OPTIONS]", "Remove all unused networks", (
    FlagSpec("filter", None, "list", metavar="filter", convert=validate_filter,
             help='Provide filter values (e.g. "until=<timestamp>")'),
    FlagSpec("force", "f", "bool", help="Do not prompt for confirmation"),
), max_args=0)

PRUNE_WARNING = ("WARNING! This will remove all custom networks not used by at least one container.\n"
                 "Are you sure you want to continue?")


def prune(cli, args, path):
    from ketch.cli.commands.prune import networks_report, run_prune
    opts, _ = parse_args(PRUNE, args, path)
    filters = parse_filters(opts["filter"], "--filter")
    return run_prune(opts["force"], PRUNE_WARNING,
                     lambda: networks_report(cli.client.prune_networks(filters)), space=False)


# -- connect / disconnect -------------------------------------------------------------

def _link(value: str) -> str:
    from ketch.cli.netopts import validate_link
    return validate_link(value)


CONNECT = Command("network connect", "ketch network connect [OPTIONS] NETWORK CONTAINER",
                  "Connect a container to a network", (
    FlagSpec("alias", None, "slice", help="Add network-scoped alias for the container"),
    FlagSpec("driver-opt", None, "slice", help="driver options for the network"),
    FlagSpec("gw-priority", None, "int", help="Highest gw-priority provides the default gateway. "
                                              "Accepts positive and negative values."),
    FlagSpec("ip", None, "string", help='IPv4 address (e.g., "172.30.100.104")'),
    FlagSpec("ip6", None, "string", help='IPv6 address (e.g., "2001:db8::33")'),
    FlagSpec("link", None, "list", help="Add link to another container", convert=_link),
    FlagSpec("link-local-ip", None, "slice", help="Add a link-local address for the container"),
), min_args=2, max_args=2)


def endpoint_config(opts) -> dict:
    """docker/cli's runConnect: the EndpointSettings it sends (ValueError for a bad
    --driver-opt)."""
    driver_opts = {}
    for item in opts["driver-opt"]:
        key, sep, value = item.partition("=")
        key = key.strip(" \t\n\v\f\r")
        if not sep or not key:
            raise ValueError("invalid key/value pair format in driver options")
        driver_opts[key] = value.strip(" \t\n\v\f\r")
    ipam = {k: v for k, v in (("IPv4Address", opts["ip"]), ("IPv6Address", opts["ip6"]),
                              ("LinkLocalIPs", opts["link-local-ip"])) if v}
    return {"IPAMConfig": ipam, "Links": opts["link"] or None, "Aliases": list(opts["alias"]),
            "MacAddress": "", "DriverOpts": driver_opts, "GwPriority": opts["gw-priority"],
            "NetworkID": "", "EndpointID": "", "Gateway": "", "IPAddress": "", "IPPrefixLen": 0,
            "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "DNSNames": None}


def connect(cli, args, path):
    opts, (network, container) = parse_args(CONNECT, args, path)
    try:
        endpoint = endpoint_config(opts)
    except ValueError as exc:
        raise StatusError(1, str(exc))
    try:
        cli.client.connect_network(network, container, endpoint)
    except API_ERRORS as exc:
        raise StatusError(1, daemon_error(exc))
    return 0


DISCONNECT = Command("network disconnect", "ketch network disconnect [OPTIONS] NETWORK CONTAINER",
                     "Disconnect a container from a network", (
    FlagSpec("force", "f", "bool", help="Force the container to disconnect from a network"),
), min_args=2, max_args=2)


def disconnect(cli, args, path):
    opts, (network, container) = parse_args(DISCONNECT, args, path)
    try:
        cli.client.disconnect_network(network, container, opts["force"])
    except API_ERRORS as exc:
        raise StatusError(1, daemon_error(exc))
    return 0
