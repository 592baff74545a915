"""``ketch volume``: create, ls, inspect, rm, prune (docker/cli's cli/command/volume:
flags, bodies, output and errors as docker 28 has them)."""

import sys

from ketch.cli.commands import API_ERRORS, daemon_error, noun_usage, parse_args
from ketch.cli.commands.container import parse_filters
from ketch.cli.commonflags import FORMAT_HELP, INSPECT_FORMAT_HELP, validate_filter, validate_label
from ketch.cli.flags import Command, FlagSpec
from ketch.cli.main import StatusError

USE = "ketch volume COMMAND"  # cobra's Use of docker's volume command (network's is bare)
SUBCOMMANDS = (
    ("create", "Create a volume"),
    ("inspect", "Display detailed information on one or more volumes"),
    ("ls", "List volumes"),
    ("prune", "Remove unused local volumes"),
    ("rm", "Remove one or more volumes"),
)


def usage() -> str:
    """``ketch volume --help`` (``update``, for swarm's cluster volumes, is hidden as
    docker hides it outside a swarm)."""
    return noun_usage("volume", SUBCOMMANDS)


# -- create ---------------------------------------------------------------------------

_CLUSTER = True  # the swarm flags: hidden outside a swarm, as docker hides them
CREATE = Command("volume create", "ketch volume create [OPTIONS] [VOLUME]", "Create a volume", (
    FlagSpec("availability", None, "string", "active", hidden=_CLUSTER,
             help='Cluster Volume availability ("active", "pause", "drain")'),
    FlagSpec("driver", "d", "string", "local", help="Specify volume driver name"),
    FlagSpec("group", None, "string", hidden=_CLUSTER, help="Cluster Volume group (cluster volumes)"),
    FlagSpec("label", None, "list", help="Set metadata for a volume", convert=validate_label),
    FlagSpec("limit-bytes", None, "bytes", 0, hidden=_CLUSTER,
             help="Minimum size of the Cluster Volume in bytes"),
    FlagSpec("name", None, "string", hidden=True, help="Specify volume name"),
    FlagSpec("opt", "o", "map", help="Set driver specific options"),
    FlagSpec("required-bytes", None, "bytes", 0, hidden=_CLUSTER,
             help="Maximum size of the Cluster Volume in bytes"),
    FlagSpec("scope", None, "string", "single", hidden=_CLUSTER,
             help='Cluster Volume access scope ("single", "multi")'),
    FlagSpec("secret", None, "map", hidden=_CLUSTER, help="Cluster Volume secrets"),
    FlagSpec("sharing", None, "string", "none", hidden=_CLUSTER,
             help='Cluster Volume access sharing ("none", "readonly", "onewriter", "all")'),
    FlagSpec("topology-preferred", None, "list", hidden=_CLUSTER,
             help="A topology that the Cluster Volume would be preferred in"),
    FlagSpec("topology-required", None, "list", hidden=_CLUSTER,
             help="A topology that the Cluster Volume must be accessible from"),
    FlagSpec("type", None, "string", "block", hidden=_CLUSTER,
             help='Cluster Volume access type ("mount", "block")'),
), max_args=1)

# docker/cli's hasClusterVolumeOptionSet (its "secrets" names no flag: --secret alone does not count)
_CLUSTER_FLAGS = ("group", "scope", "sharing", "availability", "type", "secrets", "limit-bytes",
                  "required-bytes")


def _topology(items: list[str]) -> list[dict]:
    return [{"Segments": dict(seg.partition("=")[::2] for seg in item.split(","))} for item in items]


def cluster_spec(opts) -> dict:
    """The ClusterVolumeSpec docker sends when a swarm flag is set (omitempty fields left out)."""
    access = {"Scope": opts["scope"], "Sharing": opts["sharing"]}
    if opts["type"] == "mount":
        access["MountVolume"] = {}
    elif opts["type"] == "block":
        access["BlockVolume"] = {}
    spec = {"Group": opts["group"], "AccessMode": access}
    topology = {"Requisite": _topology(opts["topology-required"]),
                "Preferred": _topology(opts["topology-preferred"])}
    spec["AccessibilityRequirements"] = {k: v for k, v in topology.items() if v}
    spec["CapacityRange"] = {"RequiredBytes": opts["required-bytes"], "LimitBytes": opts["limit-bytes"]}
    secrets = [{"Key": k, "Secret": v} for k, v in sorted(opts["secret"].items())]
    if secrets:
        spec["Secrets"] = secrets
    spec["Availability"] = opts["availability"]
    return {k: v for k, v in spec.items() if v not in ("", None)}


def create_body(opts, name: str) -> dict:
    """docker/cli's runCreate: volume.CreateOptions as Go's client marshals it (omitempty)."""
    body: dict = {}
    if any(flag in opts.changed for flag in _CLUSTER_FLAGS):
        body["ClusterVolumeSpec"] = cluster_spec(opts)
    if opts["driver"]:
        body["Driver"] = opts["driver"]
    if opts["opt"]:
        body["DriverOpts"] = dict(opts["opt"])
    labels = {k: v for k, _, v in (item.partition("=") for item in opts["label"])}
    if labels:
        body["Labels"] = labels
    if name:
        body["Name"] = name
    return body


def create(cli, args, path):
    opts, rest = parse_args(CREATE, args, path)
    name = opts["name"]
    if rest:
        if name:
            raise StatusError(1, "conflicting options: cannot specify a volume-name through both "
                                 "--name and as a positional arg")
        name = rest[0]
    try:
        answer = cli.client.create_volume(create_body(opts, name))
    except API_ERRORS as exc:
        raise StatusError(1, daemon_error(exc))
    print(answer.get("Name", ""))
    return 0


# -- ls -------------------------------------------------------------------------------

LS = Command("volume ls", "ketch volume ls [OPTIONS]", "List volumes", (
    FlagSpec("cluster", None, "bool", hidden=_CLUSTER,
             help="Display only cluster volumes, and use cluster volume list formatting"),
    FlagSpec("filter", "f", "list", metavar="filter", convert=validate_filter,
             help='Provide filter values (e.g. "dangling=true")'),
    FlagSpec("format", None, "string", help=FORMAT_HELP),
    FlagSpec("quiet", "q", "bool", help="Only display volume names"),
), max_args=0, aliases=("ketch volume ls", "ketch volume list"))

CLUSTER_TABLE = "table {{.Name}}\t{{.Group}}\t{{.Driver}}\t{{.Availability}}\t{{.Status}}"


def render_list(volumes: list[dict], fmt: str, quiet: bool) -> str:
    """docker/cli's volume runList after the answer: sorted by name, naturally."""
    from ketch.cli.format import formatter
    from ketch.cli.format.sortorder import natural_key
    from ketch.cli.format.volumes import VOLUME_HEADERS, VOLUME_TABLE, VolumeRow, list_format
    rows = [VolumeRow(v) for v in sorted(volumes, key=lambda v: natural_key(v.get("Name") or ""))]
    return formatter.render(list_format(fmt, quiet), rows, VOLUME_HEADERS, VOLUME_TABLE)


def ls(cli, args, path):
    opts, _ = parse_args(LS, args, path)
    from ketch.cli.format.formatter import FormatError
    filters = parse_filters(opts["filter"])
    try:
        volumes = cli.client.volumes(filters).get("Volumes") or []
    except API_ERRORS as exc:
        raise StatusError(1, daemon_error(exc))
    fmt = opts["format"]
    if opts["cluster"]:  # no cluster volumes outside a swarm: none to show
        volumes = [v for v in volumes if v.get("ClusterVolume")]
        fmt = fmt or ("table" if opts["quiet"] else CLUSTER_TABLE)
    elif not fmt:
        fmt = "" if opts["quiet"] else cli.setting("volumesFormat")
    try:
        sys.stdout.write(render_list(volumes, fmt, opts["quiet"]))
    except FormatError as exc:
        raise StatusError(1, str(exc))
    return 0


# -- inspect --------------------------------------------------------------------------

INSPECT = Command("volume inspect", "ketch volume inspect [OPTIONS] VOLUME [VOLUME...]",
                  "Display detailed information on one or more volumes", (
    FlagSpec("format", "f", "string", help=INSPECT_FORMAT_HELP),
), min_args=1)


def inspect(cli, args, path):
    from ketch.cli.commands.system import inspect_objects
    return inspect_objects(cli, args, path, "volume")


# -- rm -------------------------------------------------------------------------------

RM = Command("volume rm", "ketch volume rm [OPTIONS] VOLUME [VOLUME...]", "Remove one or more volumes", (
    FlagSpec("force", "f", "bool", help="Force the removal of one or more volumes"),
), min_args=1, aliases=("ketch volume rm", "ketch volume remove"),
   long="Remove one or more volumes. You cannot remove a volume that is in use by a container.")


def rm(cli, args, path):
    """docker/cli's runRemove: each name in turn, the errors joined at the end."""
    from ketch.client.http import ConnectionFailed
    opts, names = parse_args(RM, args, path)
    errors = []
    for name in names:
        try:
            cli.client.remove_volume(name, opts["force"])
        except API_ERRORS as exc:
            errors.append(daemon_error(exc))
            if isinstance(exc, ConnectionFailed):
                break
            continue
        print(name)
    if errors:
        raise StatusError(1, "\n".join(errors))
    return 0


# -- prune ----------------------------------------------------------------------------

PRUNE = Command("volume prune", "ketch volume prune [OPTIONS]", "Remove unused local volumes", (
    FlagSpec("all", "a", "bool", help="Remove all unused volumes, not just anonymous ones"),
    FlagSpec("filter", None, "list", metavar="filter", convert=validate_filter,
             help='Provide filter values (e.g. "label=<label>")'),
    FlagSpec("force", "f", "bool", help="Do not prompt for confirmation"),
), max_args=0)

UNUSED_WARNING = ("WARNING! This will remove anonymous local volumes not used by at least one container.\n"
                  "Are you sure you want to continue?")
ALL_WARNING = ("WARNING! This will remove all local volumes not used by at least one container.\n"
               "Are you sure you want to continue?")


def prune(cli, args, path):
    from ketch.cli.commands.prune import run_prune, volumes_report
    opts, _ = parse_args(PRUNE, args, path)
    filters = parse_filters(opts["filter"], "--filter")
    warning = UNUSED_WARNING
    if opts["all"]:
        if "all" in filters:
            raise StatusError(1, "conflicting options: cannot specify both --all and --filter all=1")
        filters["all"] = ["true"]
        warning = ALL_WARNING
    return run_prune(opts["force"], warning, lambda: volumes_report(cli.client.prune_volumes(filters)))


# -- update (cluster volumes only) ----------------------------------------------------

UPDATE = Command("volume update", "ketch volume update [OPTIONS] [VOLUME]",
                 "Update a volume (cluster volumes only)", (
    FlagSpec("availability", None, "string", "active",
             help='Cluster Volume availability ("active", "pause", "drain")'),
), min_args=1, max_args=1)


def update(cli, args, path):
    """docker/cli's runUpdate: only a cluster volume (swarm's) can be updated, and ketch
    has none, so after the lookup it says so."""
    _, rest = parse_args(UPDATE, args, path)
    try:
        doc = cli.client.inspect_volume(rest[0])
    except API_ERRORS as exc:
        raise StatusError(1, daemon_error(exc))
    if not doc.get("ClusterVolume"):
        raise StatusError(1, "can only update cluster volumes")
    return 0
