"""``compose run``: a one-off container of a service, as compose's RunOneOffContainer.

The service's dependencies are created and started first (as ``up`` would, through the
plan and its executor) unless ``--no-deps``, and their depends_on conditions waited
for; the image is pulled or built if it has to be; then a container named
``<project>-<service>-run-<slug>`` (labelled one-off, no restart policy, no ports
unless ``--service-ports``) is created with the command line's overrides and started:
attached (its exit code is run's) or, with ``-d``, in the background (its ID printed).
"""

import os
import shlex

from ketch.cli.commands import parse_args
from ketch.cli.flags import Command, FlagSpec
from ketch.compose import labels as L
from ketch.compose.errors import ComposeError

RUN = Command("run", "ketch compose run [OPTIONS] SERVICE [COMMAND] [ARGS...]",
              "Run a one-off command on a service", (
    FlagSpec("build", None, "bool", help="Build image before starting container"),
    FlagSpec("cap-add", None, "list", help="Add Linux capabilities"),
    FlagSpec("cap-drop", None, "list", help="Drop Linux capabilities"),
    FlagSpec("detach", "d", "bool", help="Run container in background and print container ID"),
    FlagSpec("entrypoint", None, "string", help="Override the entrypoint of the image"),
    FlagSpec("env", "e", "list", help="Set environment variables"),
    FlagSpec("interactive", "i", "bool", True, help="Keep STDIN open even if not attached"),
    FlagSpec("label", "l", "list", help="Add or override a label"),
    FlagSpec("name", None, "string", help="Assign a name to the container"),
    FlagSpec("no-deps", None, "bool", help="Don't start linked services"),
    FlagSpec("no-tty", "T", "bool", help="Disable pseudo-TTY allocation (default: auto-detected)"),
    FlagSpec("publish", "p", "list", help="Publish a container's port(s) to the host"),
    FlagSpec("pull", None, "string", "policy", help='Pull image before running ("always"|"missing"|"never")'),
    FlagSpec("quiet-pull", None, "bool", help="Pull without printing progress information"),
    FlagSpec("remove-orphans", None, "bool", help="Remove containers for services not defined in the Compose file"),
    FlagSpec("rm", None, "bool", help="Automatically remove the container when it exits"),
    FlagSpec("service-ports", "P", "bool", help="Run command with all service's ports enabled and mapped to the host"),
    FlagSpec("tty", "t", "bool", True, hidden=True, help="Allocate a pseudo-TTY"),
    FlagSpec("use-aliases", None, "bool", help="Use the service's network useAliases in the network(s) the container connects to"),
    FlagSpec("user", "u", "string", help="Run as specified username or uid"),
    FlagSpec("volume", "v", "list", help="Bind mount a volume"),
    FlagSpec("workdir", "w", "string", help="Working directory inside the container"),
), interspersed=False, min_args=1)


def _tty(ctx, opts) -> bool:
    """compose's -t/-T rules: a TTY when stdout is a terminal, not when stdin is not one
    and nothing was asked."""
    changed = opts.changed
    if "tty" in changed:
        if "no-tty" in changed:
            raise ComposeError("--tty and --no-tty can't be used together")
        return opts["tty"]
    if "no-tty" in changed:
        return not opts["no-tty"]
    if "interactive" not in changed and not os.isatty(0):
        return False
    return ctx.out.isatty()


def overrides_of(ctx, opts, command: list[str]):
    """The command line as convert's RunOverrides."""
    from ketch.compose.convert import RunOverrides
    from ketch.compose.runflags import parse_ports, parse_volume
    if opts["publish"] and opts["service-ports"]:
        raise ComposeError("--service-ports and --publish are incompatible")
    entrypoint = None
    if "entrypoint" in opts.changed:
        try:
            entrypoint = shlex.split(opts["entrypoint"])
        except ValueError as exc:
            raise ComposeError(str(exc)) from None
    labels = {}
    for item in opts["label"]:
        key, sep, value = item.partition("=")
        if not sep:
            raise ComposeError("label must be set as KEY=VALUE")
        labels[key] = value
    ports = [p for text in opts["publish"] for p in parse_ports(text)]
    volumes = [parse_volume(text) for text in opts["volume"]]
    tty = _tty(ctx, opts)
    return RunOverrides(command=command or None, entrypoint=entrypoint, env=list(opts["env"]),
                        user=opts["user"] or None, workdir=opts["workdir"] or None, ports=ports,
                        volumes=volumes, service_ports=opts["service-ports"],
                        name=opts["name"] or None, tty=tty, stdin_open=opts["interactive"],
                        labels=labels, rm=opts["rm"], use_aliases=opts["use-aliases"],
                        cap_add=list(opts["cap-add"]), cap_drop=list(opts["cap-drop"]))


def run(ctx, args, path):
    opts, rest = parse_args(RUN, args, path)
    name, command = rest[0], rest[1:]
    project = ctx.project([name])  # naming a service enables its profile
    if name not in project.services:
        raise ComposeError(f"no such service: {name}")
    overrides = overrides_of(ctx, opts, command)
    from ketch.compose import imageops
    from ketch.compose.commands.lifecycle_util import progress as make_progress
    progress = make_progress(ctx)
    pull = None if opts["pull"] == "policy" else opts["pull"]
    build = "always" if opts["build"] else "auto"
    try:
        from ketch.compose.rundeps import start_dependencies
        start_dependencies(ctx, project, name, progress, build=build, pull=pull,
                           remove_orphans=opts["remove-orphans"], no_deps=opts["no-deps"])
        images = imageops.ensure_images(ctx, project, [name], build=build, pull=pull,
                                        quiet_pull=opts["quiet-pull"], progress=progress)
    finally:
        progress.done()
    cid = _create(ctx, project, name, images[name], overrides)
    from ketch.cli.main import Cli
    cli = Cli(ctx.host)
    if opts["detach"]:
        cli.client.start(cid)
        ctx.out.write(cid + "\n")
        return 0
    from ketch.cli.commands.container import start
    return start(cli, ["--attach", f"--interactive={str(opts['interactive']).lower()}", cid],
                 "ketch compose run")


def _create(ctx, project, name: str, image, overrides) -> str:
    """Create the one-off container: networks connected, secrets and configs copied in."""
    from ketch.compose.containers import list_containers, number_of, canonical_name
    from ketch.compose.convert import container_create, files_archive
    client = ctx.client()
    peers: dict[str, list[str]] = {}
    for c in sorted(list_containers(client, project.name), key=number_of):
        peers.setdefault(c["Labels"].get(L.SERVICE, ""), []).append(canonical_name(c))
    made = container_create(project, project.services[name], 1, image=str(image), oneoff=True,
                            overrides=overrides, image_id=getattr(image, "id", "") or None,
                            peers=peers)
    made.body["Labels"].pop(L.CONTAINER_NUMBER, None)  # one-off containers are not numbered
    cid = client.create_container(made.body, made.name, made.platform)["Id"]
    for network, endpoint in made.extra_networks:
        client.connect_network(network, cid, endpoint)
    if made.files:
        client.put_archive(cid, "/", files_archive(made.files),
                           copy_uid_gid=any(f.copy_uid_gid for f in made.files))
    return cid
