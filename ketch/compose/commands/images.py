"""``ketch compose build | pull | push | images``: compose v2's commands of the same names
(cmd/compose/build.go, pull.go, push.go, images.go); the work is ``imageops``'s.
"""

from __future__ import annotations

from ketch.cli.commands import parse_args
from ketch.cli.flags import Command, FlagSpec
from ketch.compose.errors import ComposeError

BUILD = Command("compose build", "ketch compose build [OPTIONS] [SERVICE...]", "Build or rebuild services", (
    FlagSpec("build-arg", None, "list", help="Set build-time variables for services"),
    FlagSpec("builder", None, "string", help="Set builder to use"),
    FlagSpec("compress", None, "bool", True, hidden=True, help="Compress the build context using gzip. DEPRECATED"),
    FlagSpec("force-rm", None, "bool", True, hidden=True, help="Always remove intermediate containers. DEPRECATED"),
    FlagSpec("memory", "m", "bytes", help="Set memory limit for the build container. Not supported by BuildKit."),
    FlagSpec("no-cache", None, "bool", help="Do not use cache when building the image"),
    FlagSpec("no-rm", None, "bool", hidden=True,
             help="Do not remove intermediate containers after a successful build. DEPRECATED"),
    FlagSpec("parallel", None, "bool", True, hidden=True, help="Build images in parallel. DEPRECATED"),
    FlagSpec("progress", None, "string", "auto", hidden=True, help="Set type of ui output (auto, tty, plain, json, quiet)"),
    FlagSpec("pull", None, "bool", help="Always attempt to pull a newer version of the image"),
    FlagSpec("push", None, "bool", help="Push service images"),
    FlagSpec("quiet", "q", "bool", help="Don't print anything to STDOUT"),
    FlagSpec("ssh", None, "string",
             help="Set SSH authentications used when building service images. (use 'default' for using your default SSH Agent)"),
    FlagSpec("with-dependencies", None, "bool", help="Also build dependencies (transitively)"),
))

PULL = Command("compose pull", "ketch compose pull [OPTIONS] [SERVICE...]", "Pull service images", (
    FlagSpec("ignore-buildable", None, "bool", help="Ignore images that can be built"),
    FlagSpec("ignore-pull-failures", None, "bool", help="Pull what it can and ignores images with pull failures"),
    FlagSpec("include-deps", None, "bool", help="Also pull services declared as dependencies"),
    FlagSpec("no-parallel", None, "bool", True, hidden=True, help="DEPRECATED disable parallel pulling"),
    FlagSpec("parallel", None, "bool", True, hidden=True, help="DEPRECATED pull multiple images in parallel"),
    FlagSpec("policy", None, "string", help='Apply pull policy ("missing"|"always")'),
    FlagSpec("quiet", "q", "bool", help="Pull without printing progress information"),
))

PUSH = Command("compose push", "ketch compose push [OPTIONS] [SERVICE...]", "Push service images", (
    FlagSpec("ignore-push-failures", None, "bool", help="Push what it can and ignores images with push failures"),
    FlagSpec("include-deps", None, "bool", help="Also push images of services declared as dependencies"),
    FlagSpec("quiet", "q", "bool", help="Push without printing progress information"),
))

IMAGES = Command("compose images", "ketch compose images [OPTIONS] [SERVICE...]",
                 "List images used by the created containers", (
    FlagSpec("format", None, "string", "table", help="Format the output. Values: [table | json]"),
    FlagSpec("quiet", "q", "bool", help="Only display IDs"),
))


def _progress(ctx, title: str, quiet: bool = False):
    """The progress writer of compose's --progress (on stderr, as compose's stdinfo)."""
    from ketch.compose.progress import Progress
    mode = "quiet" if quiet else (ctx.options["progress"] or "auto")
    return Progress(ctx.err, mode, title=title, dry_run=ctx.options["dry-run"], ansi=ctx.options["ansi"])


def _build_args(items: list[str]) -> dict[str, str | None]:
    """compose's NewMappingWithEquals: ``K=V``, or ``K`` alone (from the environment)."""
    out: dict[str, str | None] = {}
    for item in items:
        key, sep, value = item.partition("=")
        out[key] = value if sep else None
    return out


def build(ctx, args: list[str], path: str) -> int:
    opts, services = parse_args(BUILD, args, path)
    from ketch.compose import imageops
    if "progress" in opts.changed:
        ctx.err.write("--progress is a global compose flag, better use `ketch compose --progress xx build ...\n")
    if opts["ssh"]:
        raise ComposeError("the classic builder doesn't support SSH keys, ketch's builder has no BuildKit")
    project = ctx.project()
    quiet = opts["quiet"]
    progress = _progress(ctx, "Building", quiet)
    try:
        imageops.build(ctx, project, services or None, no_cache=opts["no-cache"], pull=opts["pull"],
                       build_args=_build_args(opts["build-arg"]), quiet=quiet, push=opts["push"],
                       memory=opts["memory"] or 0, with_dependencies=opts["with-dependencies"],
                       progress=progress)
    finally:
        progress.done()
    return 0


def pull(ctx, args: list[str], path: str) -> int:
    opts, services = parse_args(PULL, args, path)
    from ketch.compose import imageops
    if "no-parallel" in opts.changed:
        ctx.err.write("\x1b[31moption '--no-parallel' is DEPRECATED and will be ignored.\n\x1b[0m")
    policy = opts["policy"] or None
    if policy is not None and policy not in ("missing", "always"):
        raise ComposeError(f"invalid --policy option {policy!r}: must be one of \"missing\" or \"always\"")
    project = ctx.project()
    progress = _progress(ctx, "Pulling", opts["quiet"])
    try:
        imageops.pull(ctx, project, services or None, quiet=opts["quiet"],
                      ignore_failures=opts["ignore-pull-failures"], ignore_buildable=opts["ignore-buildable"],
                      include_deps=opts["include-deps"], policy=policy, progress=progress)
    finally:
        progress.done()
    return 0


def push(ctx, args: list[str], path: str) -> int:
    opts, services = parse_args(PUSH, args, path)
    from ketch.compose import imageops
    project = ctx.project()
    progress = _progress(ctx, "Pushing", opts["quiet"])
    try:
        imageops.push(ctx, project, services or None, quiet=opts["quiet"],
                      ignore_failures=opts["ignore-push-failures"], include_deps=opts["include-deps"],
                      progress=progress)
    finally:
        progress.done()
    return 0


def project_name(ctx) -> str:
    """compose's toProjectName: -p, COMPOSE_PROJECT_NAME, else the loaded project's."""
    return ctx.options["project-name"] or ctx.environ.get("COMPOSE_PROJECT_NAME") or ctx.project().name


def images(ctx, args: list[str], path: str) -> int:
    opts, services = parse_args(IMAGES, args, path)
    from ketch.compose import imagelist
    fmt = opts["format"]
    if fmt.lower() not in ("table", "pretty", "", "json") and not opts["quiet"]:
        raise ComposeError(f'format value "{fmt}" could not be parsed: parsing failed')
    from contextlib import closing
    with closing(ctx.client()) as client:
        rows = imagelist.project_images(client, project_name(ctx).lower(), services)
    if opts["quiet"]:
        ctx.out.write(imagelist.render_ids(rows))
    else:
        ctx.out.write(imagelist.render(rows, fmt))
    ctx.out.flush()
    return 0
