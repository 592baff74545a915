"""``compose config``: the project resolved, in canonical form (or one of its lists).

As compose's config command: YAML unless ``--format json``; ``$`` doubled after
interpolation so the output loads back the same; ``-q`` only validates; ``-o`` writes a
file; ``--services``, ``--volumes``, ``--networks``, ``--profiles``, ``--images``,
``--environment`` and ``--hash`` print one item a line.
"""

import dataclasses

from ketch.cli.commands import parse_args
from ketch.cli.flags import Command, FlagSpec
from ketch.compose.errors import ComposeError

CONFIG = Command("config", "ketch compose config [OPTIONS] [SERVICE...]",
                 "Parse, resolve and render compose file in canonical format", (
    FlagSpec("environment", None, "bool", help="Print environment used for interpolation."),
    FlagSpec("format", None, "string", help="Format the output. Values: [yaml | json]"),
    FlagSpec("hash", None, "string", help="Print the service config hash, one per line."),
    FlagSpec("images", None, "bool", help="Print the image names, one per line."),
    FlagSpec("networks", None, "bool", help="Print the network names, one per line."),
    FlagSpec("no-consistency", None, "bool", help="Don't check model consistency - warning: may produce invalid Compose output"),
    FlagSpec("no-interpolate", None, "bool", help="Don't interpolate environment variables"),
    FlagSpec("no-normalize", None, "bool", help="Don't normalize compose model"),
    FlagSpec("no-path-resolution", None, "bool", help="Don't resolve file paths"),
    FlagSpec("output", "o", "string", help="Save to file (default to stdout)"),
    FlagSpec("profiles", None, "bool", help="Print the profile names, one per line."),
    FlagSpec("quiet", "q", "bool", help="Only validate the configuration, don't print anything"),
    FlagSpec("services", None, "bool", help="Print the service names, one per line."),
    FlagSpec("volumes", None, "bool", help="Print the volume names, one per line."),
))


def _load(ctx, opts):
    options = dataclasses.replace(ctx.load_options(), interpolate=not opts["no-interpolate"],
                                  normalize=not opts["no-normalize"],
                                  resolve_paths=not opts["no-path-resolution"],
                                  consistency=not opts["no-consistency"])
    from ketch.compose.loader import load
    return load(options)


def select(ctx, project, services: list[str]):
    """The project narrowed to ``services`` (enabled with their profiles) and what they
    depend on, with the resources they use (or all with --all-resources), as compose's
    ToProject; none named: the whole project."""
    if not services:
        return project
    from ketch.compose.loader.profiles import for_command
    return for_command(project, services, all_resources=ctx.options["all-resources"])


def config(ctx, args, path):
    opts, services = parse_args(CONFIG, args, path)
    project = _load(ctx, opts)
    if not opts["profiles"]:  # --profiles lists every profile, selected or not
        project = select(ctx, project, services)
    lines = _listing(project, opts)
    if lines is not None:
        if not opts["quiet"]:
            ctx.out.write("".join(f"{line}\n" for line in lines))
        return 0
    from ketch.compose import configdoc
    doc = configdoc.document(project)
    fmt = opts["format"] or "yaml"
    if fmt == "json":
        text = configdoc.to_json(doc)
    elif fmt == "yaml":
        text = configdoc.to_yaml(doc)
    else:
        raise ComposeError(f'unsupported format "{fmt}"')
    if not opts["no-interpolate"]:
        text = text.replace("$", "$$")
    if opts["quiet"]:
        return 0
    if opts["output"] and text:
        with open(opts["output"], "w") as f:
            f.write(text)
        return 0
    ctx.out.write(text)
    return 0


def _listing(project, opts) -> list[str] | None:
    if opts["services"]:
        return sorted(project.services)
    if opts["volumes"]:
        return sorted(project.volumes)
    if opts["networks"]:
        return sorted(project.networks)
    if opts["hash"]:
        from ketch.compose.labels import config_hash
        names = sorted(project.services) if opts["hash"] == "*" else opts["hash"].split(",")
        for name in names:
            if name not in project.services:
                raise ComposeError(f'no such service: "{name}"')
        return [f"{name} {config_hash(project.services[name])}" for name in names]
    if opts["profiles"]:
        every = {**project.services, **project.disabled_services}
        return sorted({p for s in every.values() for p in s.profiles})
    if opts["images"]:
        return [s.image or f"{project.name}-{name}" for name, s in project.services.items()]
    if opts["environment"]:
        return [f"{k}={v}" for k, v in project.environment.items()]
    return None
