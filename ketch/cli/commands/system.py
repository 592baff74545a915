"""System commands: version, info, inspect."""

import os
import sys

from ketch import __version__
from ketch.cli.commands import API_ERRORS, daemon_error, parse_args
from ketch.cli.flags import Command, FlagSpec
from ketch.cli.main import StatusError

API_VERSION = "1.45"

VERSION = Command("version", "ketch version [OPTIONS]", "Show the ketch version information", (
    FlagSpec("format", "f", "string", help="Format output using a custom template"),
), max_args=0)



def _client_doc(cli) -> dict:
    machine = os.uname().machine
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)
    return {"Platform": {"Name": "ketch"}, "Version": __version__, "ApiVersion": API_VERSION,
            "DefaultAPIVersion": API_VERSION, "GitCommit": "", "GoVersion": f"python{sys.version.split()[0]}",
            "Os": "linux", "Arch": arch, "BuildTime": "", "Context": "default"}


def version(cli, args, path):
    opts, _ = parse_args(VERSION, args, path)
    tmpl = None
    if opts["format"]:  # parsed before the daemon is asked, as docker does
        from ketch.cli.format import gotemplate
        text = "{{json .}}" if opts["format"] == "json" else opts["format"]
        try:
            tmpl = gotemplate.parse(text, name="version")
        except gotemplate.TemplateError as exc:
            raise StatusError(64, f"template parsing error: {exc}")
    client_doc = _client_doc(cli)
    server, error = None, None
    try:
        server = cli.client.version_info()
    except API_ERRORS as exc:
        error = daemon_error(exc)
    if tmpl is not None:
        _print_template(tmpl, _version_struct(client_doc, server), error, tabs=True)
    else:
        c = client_doc
        lines = ["Client:", f" Version:           {c['Version']}", f" API version:       {c['ApiVersion']}",
                 f" Python version:    {c['GoVersion'][6:]}", f" OS/Arch:           {c['Os']}/{c['Arch']}",
                 f" Context:           {c['Context']}"]
        if server:
            lines += ["", f"Server: {server.get('Platform', {}).get('Name', '')}"]
            for comp in server.get("Components") or []:
                d = comp.get("Details") or {}
                lines.append(f" {comp['Name']}:")
                lines.append(f"  Version:          {comp['Version']}")
                if comp["Name"] == "Engine":
                    lines += [f"  API version:      {d.get('ApiVersion')} (minimum version {d.get('MinAPIVersion')})",
                              f"  Python version:   {d.get('GoVersion', '')[6:]}",
                              f"  OS/Arch:          {d.get('Os')}/{d.get('Arch')}",
                              f"  Experimental:     {d.get('Experimental')}"]
        print("\n".join(lines))
    if error:
        raise StatusError(1, error)
    return 0


INFO = Command("info", "ketch info [OPTIONS]", "Display system-wide information", (
    FlagSpec("format", "f", "string", help="Format output using a custom template"),
), max_args=0, aliases=("ketch system info",))


def info(cli, args, path):
    opts, _ = parse_args(INFO, args, path)
    if opts["format"]:
        return _info_template(cli, opts["format"])
    try:
        doc = cli.client.info()
    except API_ERRORS as exc:
        print(f"Client:\n Version:    {__version__}\n Context:    default\n Debug Mode: false\n\nServer:")
        raise StatusError(1, f"ERROR: {daemon_error(exc)}\nerrors pretty printing info")
    print(_render_info(doc))
    return 0


def _info_template(cli, fmt: str) -> int:
    """docker info --format: over docker/cli's dockerInfo struct; without a daemon its
    system.Info is all zero values and the connection error comes first."""
    from ketch.cli.format import gotemplate, structs
    from ketch.client.http import HTTPError
    server, error, server_errors = None, None, []
    try:
        server = cli.client.info()
    except HTTPError as exc:  # an answer, not a connection failure: docker goes on
        server_errors.append(daemon_error(exc))
        print(server_errors[-1], file=sys.stderr)
    except API_ERRORS as exc:
        error = daemon_error(exc)
    client = dict(_client_doc(cli), ApiVersion="", Debug=False)
    doc = structs.docker_info(server, client, server_errors, [])
    try:
        tmpl = gotemplate.parse("{{json .}}" if fmt == "json" else fmt)
    except gotemplate.TemplateError as exc:  # errors.As finds this status in docker's Join
        message = f"template parsing error: {exc}"
        raise StatusError(64, f"{error}\n{message}" if error else message)
    _print_template(tmpl, doc, error, tabs=False, join_errors=True)
    return 0


def _version_struct(client_doc: dict, server: dict | None):
    from ketch.cli.format import structs
    return structs.version_info(client_doc, server)


def _print_template(tmpl, value, error: str | None, tabs: bool, join_errors: bool = False) -> None:
    """Execute ``tmpl`` and print what it wrote and a newline, even when it failed (Go's
    Execute writes as it goes); ``tabs``: through docker version's tabwriter. A daemon
    error is the one reported (version), or comes first (info's errors.Join)."""
    from ketch.cli.format import gotemplate
    failure = None
    try:
        text = tmpl.execute(value)
    except gotemplate.TemplateError as exc:
        text, failure = exc.output, str(exc)
    if tabs:
        from ketch.cli.format import tabwriter
        writer = tabwriter.Writer(20, 1, 1, " ", 0)
        writer.write(text + "\n")
        text = writer.flush()
    else:
        text += "\n"
    sys.stdout.write(text)
    sys.stdout.flush()  # before the error, as docker writes them
    if error and failure and join_errors:
        raise StatusError(1, f"{error}\n{failure}")
    if error or failure:
        raise StatusError(1, error or failure)


def _human_bytes(n: int) -> str:
    from ketch.units import bytes_size
    return bytes_size(n)


def _render_info(d: dict) -> str:
    runtimes = " ".join(sorted(d.get("Runtimes") or {}))
    lines = [
        "Client:", f" Version:    {__version__}", " Context:    default", " Debug Mode: false", "",
        "Server:",
        f" Containers: {d['Containers']}", f"  Running: {d['ContainersRunning']}",
        f"  Paused: {d['ContainersPaused']}", f"  Stopped: {d['ContainersStopped']}",
        f" Images: {d['Images']}", f" Server Version: {d['ServerVersion']}",
        f" Storage Driver: {d['Driver']}",
    ] + [f"  {k}: {v}" for k, v in d.get("DriverStatus") or []] + [
        f" Logging Driver: {d['LoggingDriver']}", f" Cgroup Driver: {d['CgroupDriver']}",
        f" Cgroup Version: {d['CgroupVersion']}",
        f" Swarm: {d['Swarm']['LocalNodeState']}",
        f" Runtimes: {runtimes}", f" Default Runtime: {d['DefaultRuntime']}",
        f" Kernel Version: {d['KernelVersion']}", f" Operating System: {d['OperatingSystem']}",
        f" OSType: {d['OSType']}", f" Architecture: {d['Architecture']}", f" CPUs: {d['NCPU']}",
        f" Total Memory: {_human_bytes(d['MemTotal'])}", f" Name: {d['Name']}", f" ID: {d['ID']}",
        f" Docker Root Dir: {d['DockerRootDir']}", f" Debug Mode: {str(d['Debug']).lower()}",
        f" Experimental: {str(d['ExperimentalBuild']).lower()}",
        f" Live Restore Enabled: {str(d['LiveRestoreEnabled']).lower()}",
    ]
    return "\n".join(lines)


INSPECT = Command("inspect", "ketch inspect [OPTIONS] NAME|ID [NAME|ID...]",
                  "Return low-level information on Docker objects", (
    FlagSpec("format", "f", "string", help="Format output using a custom template"),
    FlagSpec("size", "s", "bool", help="Display total file sizes if the type is container"),
    FlagSpec("type", None, "string", help="Return JSON for specified type"),
), min_args=1)
CONTAINER_INSPECT = Command("container inspect", "ketch container inspect [OPTIONS] CONTAINER [CONTAINER...]",
                            "Display detailed information on one or more containers", (
    FlagSpec("format", "f", "string", help="Format output using a custom template"),
    FlagSpec("size", "s", "bool", help="Display total file sizes"),
), min_args=1)
IMAGE_INSPECT = Command("image inspect", "ketch image inspect [OPTIONS] IMAGE [IMAGE...]",
                        "Display detailed information on one or more images", (
    FlagSpec("format", "f", "string", help="Format output using a custom template"),
), min_args=1)


def inspect(cli, args, path):
    return inspect_objects(cli, args, path, None)


def _lookup(cli, name: str, kind: str | None, size: bool, verbose: bool = False):
    """The object ``name`` of ``kind``, or of the first kind that has it (a 404 passes on
    to the next kind; the last kind's error is the caller's)."""
    from ketch.client.http import HTTPError
    getters = (("container", lambda: cli.client.inspect_container(name, size)),
               ("image", lambda: cli.client.inspect_image(name)),
               ("network", lambda: cli.client.inspect_network(name, verbose)),
               ("volume", lambda: cli.client.inspect_volume(name)))
    asked = [get for each, get in getters if kind in (None, each)]
    if not asked:
        raise StatusError(1, f'"{kind}" is not a valid value for --type')
    for get in asked[:-1]:
        try:
            return get()
        except HTTPError as exc:
            if exc.status != 404:
                raise
    return asked[-1]()


def _typed(doc):
    """The typed struct docker decodes an answer into: a network's, a volume's, or the
    inspector's own."""
    from ketch.cli.format import inspector, networks, volumes
    if isinstance(doc, dict) and "IPAM" in doc and "Scope" in doc:
        return networks.typed_network(doc)
    if isinstance(doc, dict) and "Mountpoint" in doc and "Scope" in doc:
        return volumes.typed_volume(doc)
    return inspector.typed(doc)


# docker/cli's allTypes, for its message; ketch looks up containers, images, networks and volumes
_DOCKER_TYPES = ("config", "container", "image", "network", "node", "plugin", "secret", "service",
                 "task", "volume")


def inspect_objects(cli, args, path, kind):
    from ketch.cli.commands import network, volume
    command = {"container": CONTAINER_INSPECT, "image": IMAGE_INSPECT,
               "network": network.INSPECT, "volume": volume.INSPECT}.get(kind, INSPECT)
    opts, names = parse_args(command, args, path)
    kind = kind or opts.get("type") or None
    if "type" in opts.changed and opts["type"] not in _DOCKER_TYPES:  # checked first, as docker does
        shown = f'unknown type: "{opts["type"]}"' if opts["type"] else "type is empty"
        raise StatusError(1, f'{shown}: must be one of "' + '", "'.join(_DOCKER_TYPES) + '"')
    fmt = opts["format"]
    inspector = None
    if fmt and fmt != "json":  # docker parses the template first: a bad one exits 64
        from ketch.cli.format import gotemplate, inspector as inspectors
        try:
            inspector = inspectors.Inspector(fmt, _typed)
        except gotemplate.TemplateError as exc:
            raise StatusError(64, f"template parsing error: {exc}")
    from ketch.client.http import HTTPError
    results, texts, errors = [], [], []
    for name in names:
        try:
            doc = _lookup(cli, name, kind, opts.get("size", False), opts.get("verbose", False))
        except HTTPError as exc:
            # docker/cli: with a type (or `container|image inspect`) the daemon's own error;
            # without, a name no kind of object has
            if exc.status == 404 and kind is None:
                errors.append(f"Error: No such object: {name}")
            else:
                errors.append(daemon_error(exc))
            continue
        except API_ERRORS as exc:
            raise StatusError(1, daemon_error(exc))
        if inspector is None:
            results.append(doc)
            continue
        try:
            texts.append(inspector.execute(doc) + "\n")
        except gotemplate.TemplateError as exc:
            errors.append(str(exc))
    if inspector is not None:
        sys.stdout.write("".join(texts) or "\n")  # docker's Flush of an empty buffer
    else:
        import json
        if fmt == "json":
            print(json.dumps(results, ensure_ascii=False, separators=(",", ":")))
        else:
            print(json.dumps(results, indent=4, ensure_ascii=False))
    if errors:
        raise StatusError(1, "\n".join(errors))
    return 0
