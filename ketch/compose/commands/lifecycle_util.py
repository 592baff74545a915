"""What the lifecycle commands share: flag parsing, the project or its name, images before
create, the executor's options from the flags, running a plan with progress, warnings."""

from __future__ import annotations

import datetime
import json

from ketch.cli import flags
from ketch.compose.errors import ComposeError
from ketch.compose.executor import ExecOptions, Executor
from ketch.compose.plan import Plan, UpOptions, selected_services
from ketch.compose.progress import Progress

PULL_POLICIES = ("always", "never", "build", "missing", "if_not_present")


def parse(command: flags.Command, args: list[str], path: str):
    """(values, arguments); (None, None) after printing --help."""
    opts, rest = flags.parse(command, args, path)
    for line in opts.notices:
        print(line)
    if opts["help"]:
        print(flags.render_help(command, path).rstrip("\n"))
        return None, None
    return opts, rest


def warn(ctx, text: str) -> None:
    """A warning as compose's logrus prints it on stderr."""
    try:
        tty = ctx.err.isatty()
    except (AttributeError, ValueError):
        tty = False
    if tty:
        ctx.err.write(f"WARN[0000] {text}\n")
    else:
        now = datetime.datetime.now(datetime.timezone.utc).astimezone().isoformat(timespec="seconds")
        ctx.err.write(f'time="{now}" level=warning msg={json.dumps(text)}\n')
    ctx.err.flush()


def progress(ctx, title: str = "Running") -> Progress:
    mode = ctx.options["progress"] or ctx.environ.get("COMPOSE_PROGRESS") or "auto"
    ansi = ctx.options["ansi"] if "ansi" in ctx.options.changed else ctx.environ.get("COMPOSE_ANSI", "auto")
    return Progress(ctx.err, mode, title=title, dry_run=ctx.options["dry-run"], ansi=ansi)


def timeout_of(opts) -> int | None:
    """-t when given, else None: the container's own stop timeout (stop_grace_period)."""
    return opts["timeout"] if "timeout" in opts and "timeout" in opts.changed else None


def exec_options(ctx, opts, project, images=None, image_ids=None) -> ExecOptions:
    return ExecOptions(project=project, images=images or {}, image_ids=image_ids or {}, timeout=timeout_of(opts),
                       parallel=ctx.options["parallel"], dry_run=ctx.options["dry-run"],
                       renew_volumes=bool(opts.get("renew-anon-volumes")))


def run_plan(ctx, plan: Plan, execopts: ExecOptions, observed, *, title: str = "Running",
             prog: Progress | None = None, phased: bool = False):
    """Run ``plan`` with progress; ``phased``: every create before any start, as `up`."""
    own = prog is None
    prog = prog or progress(ctx, title)
    try:
        executor = Executor(ctx, prog, execopts, observed)
        for part in plan.phases() if phased else (plan,):
            executor.run(part)
        return executor
    finally:
        if own:
            prog.done()


def ensure_images(ctx, project, services: list[str], opts) -> tuple[dict[str, str], dict[str, str]]:
    """(service -> image to run, service -> its image ID): built or pulled as needed."""
    build, pull = "auto", None
    if opts:
        build = "always" if opts["build"] else "never" if opts["no-build"] else "auto"
        if "pull" in opts.changed:
            pull = opts["pull"]
    if ctx.options["dry-run"]:  # nothing is pulled or built: the names only
        from ketch.compose.convert import image_name
        return {s: image_name(project, project.services[s]) for s in services}, {}
    from ketch.compose import imageops
    refs = imageops.ensure_images(ctx, project, services, build=build, pull=pull,
                                  quiet_pull=bool(opts and opts["quiet-pull"]), progress=progress(ctx))
    ids = {service: ref.id for service, ref in refs.items() if getattr(ref, "id", "")}
    return dict(refs), ids


def split_scale(specs: list[str]) -> dict[str, int]:
    """`scale web=3 db=1`, compose's errors."""
    out = {}
    for spec in specs:
        name, sep, value = spec.partition("=")
        if not sep:
            raise ComposeError(f"invalid scale specifier: {spec}")
        try:
            out[name] = int(value)
        except ValueError:
            raise ComposeError(f"invalid scale specifier: can't parse replica value as int: {spec}") from None
    return out


def _scale_flags(project, specs: list[str]) -> dict[str, int]:
    out = {}
    for spec in specs:
        parts = spec.split("=")
        if len(parts) != 2:
            raise ComposeError(f'invalid --scale option "{spec}". Should be SERVICE=NUM')
        try:
            out[parts[0]] = int(parts[1])
        except ValueError:
            raise ComposeError(f'strconv.Atoi: parsing "{parts[1]}": invalid syntax') from None
        if parts[0] not in project.services:
            raise ComposeError(f"no such service: {parts[0]}")
    return out


def up_prepare(ctx, opts, services: list[str], *, start: bool):
    """`up` and `create`: the project, the plan's options and the images (after the
    checks compose makes before touching anything)."""
    if opts["build"] and opts["no-build"]:
        raise ComposeError("--build and --no-build are incompatible")
    if opts["force-recreate"] and opts["no-recreate"]:
        raise ComposeError("--force-recreate and --no-recreate are incompatible")
    if "pull" in opts.changed and opts["pull"] not in PULL_POLICIES:
        raise ComposeError(f'invalid --pull option "{opts["pull"]}"')
    project = ctx.project(services)  # naming a service enables its profile
    for name in services:
        if name not in project.services:
            raise ComposeError(f"no such service: {name}")
    if not project.services:
        raise ComposeError("no service selected")
    remove_orphans = opts["remove-orphans"]
    if "remove-orphans" not in opts.changed:
        remove_orphans = _truthy(ctx.environ.get("COMPOSE_REMOVE_ORPHANS"))
    ignore_orphans = _truthy(project.environment.get("COMPOSE_IGNORE_ORPHANS"))
    if ignore_orphans and remove_orphans:
        raise ComposeError("cannot combine COMPOSE_IGNORE_ORPHANS and --remove-orphans")
    scale = _scale_flags(project, opts["scale"])
    recreate = "never" if opts["no-recreate"] else "force" if opts["force-recreate"] or opts.get("renew-anon-volumes") else "diverged"
    deps = "never" if opts["no-recreate"] else "force" if opts.get("always-recreate-deps") else "diverged"
    no_deps = bool(opts.get("no-deps"))
    selected = selected_services(project, services, no_deps)
    images, ids = ensure_images(ctx, project, selected, opts)
    upopts = UpOptions(services=tuple(services), no_deps=no_deps, recreate=recreate, recreate_deps=deps,
                       scale=scale, remove_orphans=remove_orphans, ignore_orphans=ignore_orphans, start=start,
                       image_ids=ids)
    return project, upopts, images


def _truthy(value: str | None) -> bool:
    return (value or "").lower() in ("1", "t", "true")
