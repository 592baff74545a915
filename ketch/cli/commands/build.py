"""``ketch build`` (``image build``, ``builder build``): docker/cli's legacy ``runBuild``,
plus BuildKit's ``--progress``, ``--secret``, ``--no-cache-filter`` and ``--reproducible``.

Exit codes are docker's: 1 for a context or daemon error, a failed RUN's own code (the
stream's ``errorDetail.code``), 125 for a flag error.
"""

import io
import os
import sys

from ketch.cli import buildrequest
from ketch.cli.commands import API_ERRORS, daemon_error, parse_args
from ketch.cli.commonflags import validate_label
from ketch.cli.flags import Command, FlagSpec
from ketch.cli.hostopts import _swap, _ulimit, _ulimits
from ketch.cli.main import StatusError

PROGRESS_MODES = ("auto", "plain", "tty", "quiet")


def _env(value: str) -> str:
    """docker's opts.ValidateEnv: ``NAME`` alone takes its value from the environment."""
    name, sep, _ = value.partition("=")
    if not name:
        raise ValueError(f"invalid environment variable: {value}")
    if not sep and name in os.environ:
        return f"{name}={os.environ[name]}"
    return value


def validate_extra_host(value: str) -> str:
    from ketch.cli.netopts import validate_extra_host  # only when --add-host is given
    return validate_extra_host(value)


_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
_TAG_CHARS = _ALNUM | frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ_.-")


def _plain_tag(value: str) -> bool:
    """A tag reference.parse surely takes, checked without importing it (re, dataclasses):
    lowercase path components with single separators, no domain, port or digest, and a
    plain tag. Anything else goes to the parser (and its errors)."""
    if len(value) > 200 or len(value) == 64:  # (64 may be an image ID: the parser's error)
        return False
    name, sep, tag = value.partition(":")
    if sep and not (tag and tag[0] not in ".-" and len(tag) <= 128 and set(tag) <= _TAG_CHARS):
        return False
    parts = name.split("/")
    if len(parts) > 1 and ("." in parts[0] or parts[0] == "localhost"):
        return False  # a registry's domain
    for part in parts:
        if not part or part[0] not in _ALNUM or part[-1] not in _ALNUM:
            return False
        after_separator = False
        for ch in part:
            if ch in _ALNUM:
                after_separator = False
            elif ch in "._-" and not after_separator:
                after_separator = True
            else:
                return False
    return True


def _tag(value: str) -> str:
    if _plain_tag(value):
        return value
    from ketch.errors import InvalidArgument
    from ketch.oci import reference
    try:
        reference.parse(value, default_tag=False)
    except InvalidArgument as exc:
        raise ValueError(str(exc)) from None
    return value


BUILD = Command("build", "ketch build [OPTIONS] PATH | URL | -", "Build an image from a Dockerfile", (
    FlagSpec("add-host", None, "list", convert=validate_extra_host,
             help='Add a custom host-to-IP mapping ("host:ip")'),
    FlagSpec("allow", None, "slice",
             help='Allow extra privileged entitlement (e.g., "network.host")'),
    FlagSpec("build-arg", None, "list", convert=_env, help="Set build-time variables"),
    FlagSpec("cache-from", None, "slice", help="Images to consider as cache sources"),
    FlagSpec("cgroup-parent", None, "string", help='Set the parent cgroup for the "RUN" instructions during build'),
    FlagSpec("compress", None, "bool", help="Compress the build context using gzip"),
    FlagSpec("cpu-period", None, "int", help="Limit the CPU CFS (Completely Fair Scheduler) period"),
    FlagSpec("cpu-quota", None, "int", help="Limit the CPU CFS (Completely Fair Scheduler) quota"),
    FlagSpec("cpu-shares", "c", "int", help="CPU shares (relative weight)"),
    FlagSpec("cpuset-cpus", None, "string", help="CPUs in which to allow execution (0-3, 0,1)"),
    FlagSpec("cpuset-mems", None, "string", help="MEMs in which to allow execution (0-3, 0,1)"),
    FlagSpec("disable-content-trust", None, "bool", True, help="Skip image verification (deprecated)",
             deprecated="support for docker content trust was removed"),
    FlagSpec("file", "f", "string", help='Name of the Dockerfile (Default is "PATH/Dockerfile")'),
    FlagSpec("force-rm", None, "bool", help="Always remove intermediate containers"),
    FlagSpec("iidfile", None, "string", help="Write the image ID to the file"),
    FlagSpec("isolation", None, "string", help="Container isolation technology"),
    FlagSpec("label", None, "list", convert=validate_label, help="Set metadata for an image"),
    FlagSpec("memory", "m", "bytes", help="Memory limit"),
    FlagSpec("memory-swap", None, "string", convert=_swap, metavar="bytes",
             help="Swap limit equal to memory plus swap: -1 to enable unlimited swap"),
    FlagSpec("network", None, "string", "default",
             help="Set the networking mode for the RUN instructions during build"),
    FlagSpec("no-cache", None, "bool", help="Do not use cache when building the image"),
    FlagSpec("no-cache-filter", None, "slice", help="Do not cache specified stages"),
    FlagSpec("platform", None, "string", os.environ.get("DOCKER_DEFAULT_PLATFORM", ""),
             help="Set platform if server is multi-platform capable"),
    FlagSpec("progress", None, "string", os.environ.get("BUILDKIT_PROGRESS") or "auto",
             help='Set type of progress output ("auto", "plain", "tty", "quiet")'),
    FlagSpec("pull", None, "bool", help="Always attempt to pull a newer version of the image"),
    FlagSpec("quiet", "q", "bool", help="Suppress the build output and print image ID on success"),
    FlagSpec("reproducible", None, "bool",
             help="Reproducible layers and times (SOURCE_DATE_EPOCH, 0 if unset)"),
    FlagSpec("rm", None, "bool", True, help="Remove intermediate containers after a successful build"),
    FlagSpec("secret", None, "list",
             help='Secret to expose to the build (format: "id=mysecret[,src=/local/secret]")'),
    FlagSpec("security-opt", None, "slice", help="Security options"),
    FlagSpec("shm-size", None, "bytes", help='Size of "/dev/shm"'),
    FlagSpec("squash", None, "bool", help="Squash newly built layers into a single new layer"),
    FlagSpec("tag", "t", "list", convert=_tag, help='Name and optionally a tag in the "name:tag" format'),
    FlagSpec("target", None, "string", help="Set the target build stage to build."),
    FlagSpec("ulimit", None, "list", convert=_ulimit, help="Ulimit options", default_text="[]"),
), min_args=1, max_args=1, aliases=("ketch image build", "ketch build", "ketch builder build"))


def build(cli, args, path):
    opts, (context,) = parse_args(BUILD, args, path)
    if opts["squash"]:  # docker's CLI checks it before anything: ketchd is never experimental
        raise StatusError(1, '"--squash" is only supported on a Docker daemon with experimental features enabled')
    progress = opts["progress"]
    if progress not in PROGRESS_MODES:
        raise StatusError(1, f'invalid progress mode "{progress}": use one of {", ".join(PROGRESS_MODES)}')
    if opts["squash"]:  # docker/cli: an experimentalDaemon flag; ketchd is not one
        raise StatusError(1, '"--squash" is only supported on a Docker daemon with experimental features enabled')
    if opts["platform"]:
        from ketch.errors import InvalidArgument
        from ketch.oci import platform
        try:
            platform.parse(opts["platform"])
        except InvalidArgument as exc:
            raise StatusError(1, str(exc))
    from ketch.cli import buildcontext
    from ketch.client.build import build_query
    quiet = opts["quiet"]
    iidfile = opts["iidfile"]
    if iidfile:
        try:
            os.remove(iidfile)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise StatusError(1, f"removing image ID file: {exc}")
    try:
        ctx = buildcontext.prepare(context, opts["file"], sys.stdin.buffer)
    except buildcontext.ContextError as exc:
        raise StatusError(1, str(exc))
    try:
        query = build_query(
            tags=opts["tag"], dockerfile=ctx.dockerfile, quiet=quiet, remote=ctx.remote,
            no_cache=opts["no-cache"], rm=opts["rm"], force_rm=opts["force-rm"], pull=opts["pull"],
            network=opts["network"], build_args=buildrequest.proxy_args(cli, buildrequest.kv_map(opts["build-arg"], True)),
            labels=buildrequest.kv_map(opts["label"], False), cache_from=opts["cache-from"],
            target=opts["target"], platform=opts["platform"], extra_hosts=opts["add-host"],
            shm_size=opts["shm-size"], memory=opts["memory"],
            memory_swap=-1 if opts["memory-swap"] == "-1" else (
                buildrequest.ram(opts["memory-swap"]) if opts["memory-swap"] else 0),
            cpu_shares=opts["cpu-shares"], cpu_period=opts["cpu-period"], cpu_quota=opts["cpu-quota"],
            cpuset_cpus=opts["cpuset-cpus"], cpuset_mems=opts["cpuset-mems"],
            cgroup_parent=opts["cgroup-parent"], ulimits=_ulimits(opts["ulimit"]),
            isolation=opts["isolation"], security_opt=opts["security-opt"],
            no_cache_filter=opts["no-cache-filter"], allow=opts["allow"],
            source_date_epoch=buildrequest.source_date_epoch(opts["reproducible"]))
        headers = {}
        for name, value in (("X-Registry-Config", buildrequest.registry_config(cli)),
                            ("X-Ketch-Build-Secrets", buildrequest.secrets_header(opts["secret"]))):
            if value:
                headers[name] = value
        return _run(cli, ctx, query, headers, quiet, progress, iidfile, opts["compress"])
    finally:
        ctx.close()


def _run(cli, ctx, query: dict, headers: dict, quiet: bool, progress: str, iidfile: str,
         compress: bool) -> int:
    from ketch.cli import buildprogress
    from ketch.units import human_size
    if compress and ctx.body is not None:  # its size is what the line reports, as docker's
        ctx = buildrequest.compressed(ctx)
        try:
            return _run(cli, ctx, query, headers, quiet, progress, iidfile, False)
        finally:
            ctx.close()
    out = sys.stdout
    terminal = out.isatty()
    mode = "quiet" if quiet else progress
    if mode == "auto":
        mode = "tty" if terminal else "plain"
    # -q: the progress and the build's lines are held back (docker's progBuff, buildBuff)
    prog_out = io.StringIO() if quiet else out
    build_out = io.StringIO() if mode == "quiet" else out
    image_id = ""

    def sent(chunks):
        """The body, then what docker's ProgressReader writes off a terminal once it is
        read: the last update, then \r\n (nothing when the daemon cannot be reached)."""
        yield from chunks
        if quiet or mode == "plain":
            prog_out.write(f"Sending build context to Docker daemon {human_size(ctx.size, 4):>8}\r\r\n")
            prog_out.flush()

    def on_aux(doc) -> None:
        nonlocal image_id
        if isinstance(doc, dict) and doc.get("ID"):
            image_id = doc["ID"]

    chunks = ctx.chunks()
    if chunks is not None:
        chunks = sent(chunks)
    try:
        resp = cli.client.build(chunks, query, headers)
    except API_ERRORS as exc:
        if quiet:
            sys.stderr.write(prog_out.getvalue())
        raise StatusError(1, daemon_error(exc))
    try:
        if mode == "tty":
            from ketch.cli.streams import terminal_size
            width = (terminal_size(out.fileno()) or (0, 80))[1] or 80  # a pty of no size: 80
            buildprogress.render_tty(resp, out, width, on_aux)
        else:
            width = 200
            if terminal and mode == "plain":
                from ketch.cli.streams import terminal_size
                width = (terminal_size(out.fileno()) or (0, 200))[1] or 200
            buildprogress.render_plain(resp, build_out, terminal and mode == "plain", width, on_aux)
    except buildprogress.BuildFailed as exc:
        if quiet:
            sys.stderr.write(prog_out.getvalue() + build_out.getvalue())
        raise StatusError(exc.code, str(exc))
    except API_ERRORS as exc:
        raise StatusError(1, daemon_error(exc))
    if quiet:
        image_id = build_out.getvalue()
        out.write(image_id)
        out.flush()
    if iidfile:
        if not image_id:
            raise StatusError(1, f"server did not provide an image ID. Cannot write {iidfile}")
        try:
            with open(iidfile, "w") as f:
                f.write(image_id)
        except OSError as exc:
            raise StatusError(1, f"open {iidfile}: {(exc.strerror or str(exc)).lower()}")
    return 0
