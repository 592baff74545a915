"""``compose exec``, ``attach``, ``cp`` and ``run``: a service's container, up close.

exec, attach and cp find the service's container (compose's getSpecifiedContainer) and
then do what the ketch CLI's own commands do, through them: the same streams, raw
terminal, detach keys and exit codes. run is in runone (it starts dependencies and
creates a one-off container).
"""


from ketch.cli.commands import parse_args
from ketch.cli.flags import Command, FlagSpec
from ketch.compose import containers as C
from ketch.compose.errors import ComposeError


def _cli(ctx):
    from ketch.cli.main import Cli
    return Cli(ctx.host)


EXEC = Command("exec", "ketch compose exec [OPTIONS] SERVICE COMMAND [ARGS...]",
               "Execute a command in a running container", (
    FlagSpec("detach", "d", "bool", help="Detached mode: Run command in the background"),
    FlagSpec("env", "e", "list", help="Set environment variables"),
    FlagSpec("index", None, "int", 0, help="Index of the container if service has multiple replicas"),
    FlagSpec("interactive", "i", "bool", True, hidden=True, help="Keep STDIN open even if not attached"),
    FlagSpec("no-tty", "T", "bool", help="Disable pseudo-TTY allocation. By default 'docker compose exec' allocates a TTY."),
    FlagSpec("privileged", None, "bool", help="Give extended privileges to the process"),
    FlagSpec("tty", "t", "bool", True, hidden=True, help="Allocate a pseudo-TTY"),
    FlagSpec("user", "u", "string", help="Run the command as this user"),
    FlagSpec("workdir", "w", "string", help="Path to workdir directory for this command"),
), interspersed=False, min_args=2)


def resolve_env(items: list[str], lookup) -> list[str]:
    """compose's NewMappingWithEquals(...).Resolve: ``KEY`` takes its value from the
    environment (left out when unset), ``KEY=value`` stays."""
    out = []
    for item in items:
        key, sep, _ = item.partition("=")
        if sep:
            out.append(item)
        else:
            value = lookup(key)
            if value is not None:
                out.append(f"{key}={value}")
    return out


def exec_(ctx, args, path):
    opts, rest = parse_args(EXEC, args, path)
    from ketch.cli.commands.exec import exec_ as cli_exec
    service, command = rest[0], rest[1:]
    no_tty = opts["no-tty"] if "no-tty" in opts.changed else not ctx.out.isatty()
    c = C.specified_container(ctx.client(), C.project_name(ctx), service, opts["index"],
                              oneoff=C.INCLUDE, all=False)
    argv = ["--privileged=" + str(opts["privileged"]).lower(), "--detach=" + str(opts["detach"]).lower(),
            "--interactive=" + str(opts["interactive"]).lower(), "--tty=" + str(not no_tty).lower()]
    for item in resolve_env(opts["env"], ctx.environ.get):
        argv += ["-e", item]
    if opts["user"]:
        argv += ["-u", opts["user"]]
    if opts["workdir"]:
        argv += ["-w", opts["workdir"]]
    return cli_exec(_cli(ctx), argv + [c["Id"], *command], path)


ATTACH = Command("attach", "ketch compose attach [OPTIONS] SERVICE",
                 "Attach local standard input, output, and error streams to a service's running container", (
    FlagSpec("detach-keys", None, "string", help="Override the key sequence for detaching from a container."),
    FlagSpec("index", None, "int", 0, help="index of the container if service has multiple replicas."),
    FlagSpec("no-stdin", None, "bool", help="Do not attach STDIN"),
    FlagSpec("sig-proxy", None, "bool", True, help="Proxy all received signals to the process"),
), min_args=1)


def attach(ctx, args, path):
    opts, rest = parse_args(ATTACH, args, path)
    from ketch.cli.commands.container import attach as cli_attach
    c = C.specified_container(ctx.client(), C.project_name(ctx), rest[0], opts["index"],
                              oneoff=C.INCLUDE, all=False)
    argv = ["--no-stdin=" + str(opts["no-stdin"]).lower(), "--sig-proxy=" + str(opts["sig-proxy"]).lower()]
    if opts["detach-keys"]:
        argv += ["--detach-keys", opts["detach-keys"]]
    return cli_attach(_cli(ctx), argv + [c["Id"]], path)


CP = Command("cp", "ketch compose cp [OPTIONS] SERVICE:SRC_PATH DEST_PATH|-\n"
                   "\tketch compose cp [OPTIONS] SRC_PATH|- SERVICE:DEST_PATH",
             "Copy files/folders between a service container and the local filesystem", (
    FlagSpec("all", None, "bool", help="Include containers created by the run command"),
    FlagSpec("archive", "a", "bool", help="Archive mode (copy all uid/gid information)"),
    FlagSpec("follow-link", "L", "bool", help="Always follow symbol link in SRC_PATH"),
    FlagSpec("index", None, "int", 0, help="Index of the container if service has multiple replicas"),
), min_args=2, max_args=2)


def cp(ctx, args, path):
    opts, (source, dest) = parse_args(CP, args, path)
    if not source:
        raise ComposeError("source can not be empty")
    if not dest:
        raise ComposeError("destination can not be empty")
    from ketch.cli.commands.cp import cp as cli_cp, split_cp_arg
    src_service, src_path = split_cp_arg(source)
    dst_service, dst_path = split_cp_arg(dest)
    if src_service and dst_service:
        raise ComposeError("copying between services is not supported")
    if not src_service and not dst_service:
        raise ComposeError("unknown copy direction")
    service = src_service or dst_service
    client, name = ctx.client(), C.project_name(ctx)
    if opts["index"] > 0:
        targets = [C.specified_container(client, name, service, opts["index"])]
    else:
        targets = C.list_containers(client, name, oneoff=C.INCLUDE if opts["all"] else C.EXCLUDE,
                                    services=[service])
        if not targets:
            raise ComposeError(f'no container found for service "{service}"')
        targets.sort(key=C.canonical_name)
        if src_service:  # from the service: its first container only
            targets = targets[:1]
    flags = ["-q", "--archive=" + str(opts["archive"]).lower(),
             "--follow-link=" + str(opts["follow-link"]).lower()]
    for c in targets:
        pair = ([f"{c['Id']}:{src_path}", dst_path] if src_service
                else [src_path, f"{c['Id']}:{dst_path}"])
        code = cli_cp(_cli(ctx), flags + pair, path)
        if code:
            return code
    return 0


def run(ctx, args, path):
    from ketch.compose.runone import run as run_one
    return run_one(ctx, args, path)
