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
    client_doc = _client_doc(cli)
    server, error = None, None
    try:
        server = cli.client.version_info()
    except API_ERRORS as exc:
        error = daemon_error(exc)
    if opts["format"]:
        from ketch.cli.format import formatter
        try:
            print(formatter.execute(opts["format"], {"Client": client_doc, "Server": server}))
        except formatter.FormatError as exc:
            raise StatusError(1, f"template: {exc}")
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
    try:
        doc = cli.client.info()
    except API_ERRORS as exc:
        if opts["format"]:
            raise StatusError(1, daemon_error(exc))
        print(f"Client:\n Version:    {__version__}\n Context:    default\n Debug Mode: false\n\nServer:")
        raise StatusError(1, f"ERROR: {daemon_error(exc)}\nerrors pretty printing info")
    if opts["format"]:
        from ketch.cli.format import formatter
        try:
            print(formatter.execute(opts["format"], doc))
        except formatter.FormatError as exc:
            raise StatusError(1, f"template: {exc}")
        return 0
    print(_render_info(doc))
    return 0


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


def _lookup(cli, name: str, kind: str | None, size: bool):
    from ketch.client.http import HTTPError
    if kind in (None, "container"):
        try:
            return cli.client.inspect_container(name, size)
        except HTTPError as exc:
            if exc.status != 404 or kind == "container":
                raise
    if kind in (None, "image"):
        return cli.client.inspect_image(name)
    raise StatusError(1, f'"{kind}" is not a valid value for --type')


def inspect_objects(cli, args, path, kind):
    command = {"container": CONTAINER_INSPECT, "image": IMAGE_INSPECT}.get(kind, INSPECT)
    opts, names = parse_args(command, args, path)
    kind = kind or opts.get("type") or None
    if opts["format"]:
        from ketch.cli.format import formatter
        try:
            formatter.check(opts["format"])
        except formatter.FormatError as exc:  # docker/cli's inspect: 64, before any lookup
            raise StatusError(64, f"template parsing error: {exc}")
    from ketch.client.http import HTTPError
    results, errors = [], []
    for name in names:
        try:
            results.append(_lookup(cli, name, kind, opts.get("size", False)))
        except HTTPError as exc:
            if exc.status == 404:
                noun = {"container": "container", "image": "image"}.get(kind, "object")
                errors.append(f"No such {noun}: {name}")
            else:
                errors.append(daemon_error(exc))
        except API_ERRORS as exc:
            raise StatusError(1, daemon_error(exc))
    if opts["format"]:
        from ketch.cli.format import formatter
        for doc in results:
            try:
                print(formatter.execute(opts["format"], doc))
            except formatter.FormatError as exc:
                raise StatusError(1, f"template parsing error: {exc}")
    else:
        import json
        print(json.dumps(results, indent=4, ensure_ascii=False))
    if errors:
        raise StatusError(1, "\n".join(f"Error: {e}" for e in errors))
    return 0
