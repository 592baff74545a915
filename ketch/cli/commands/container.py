"""Container commands: run, create, start, attach, stop, restart, kill, pause, unpause, wait,
logs, ps, rm, rename."""

import _signal as signal  # signal.py imports enum: a few milliseconds of every run
import os
import sys

from ketch.cli import runconfig
from ketch.cli.commands import API_ERRORS, daemon_error, parse_args
from ketch.cli.flags import Command, FlagSpec
from ketch.cli.main import StatusError
from ketch.client.http import ConnectionFailed, HTTPError
from ketch.errors import KetchError

PROXIED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT,
                   signal.SIGUSR1, signal.SIGUSR2)


def _run_error(exc: Exception, path: str, code: int = 125) -> StatusError:
    """docker run/create style: 'ketch: Error response from daemon: ...' plus the help hint."""
    return StatusError(code, f"ketch: {daemon_error(exc)}\n\nRun '{path} --help' for more information")


def _exec_exit_code(message: str) -> int:
    """docker/cli's runStartContainerErr: the exit code from the error's words."""
    if ("executable file not found" in message or "no such file or directory" in message
            or "system cannot find the file specified" in message):
        return 127
    if "permission denied" in message or "is a directory" in message:
        return 126
    return 125


def check_reference(image: str) -> None:
    """docker/cli's reference.ParseAnyReference, before anything is sent: a full image id or
    digest, or a valid name (``invalid reference format: ...`` as distribution words it)."""
    import re
    from ketch.oci import reference
    if re.fullmatch(r"(sha256:)?[a-f0-9]{64}", image):
        return
    reference.parse(image)


def _create(cli, config: dict, name: str | None, opts, path: str) -> str:
    """docker/cli's createContainer: create, and pull when the image is missing (--pull)."""
    client = cli.client
    policy = opts["pull"]
    if policy not in ("always", "missing", "never"):
        raise HTTPError(0, f'invalid pull option: \'{policy}\': must be one of "always", "missing" or "never"')
    image = config["Image"]
    shown = image if (":" in image.rsplit("/", 1)[-1] or "@" in image) else f"{image}:latest"
    if policy == "always":
        _pull(cli, image, opts)
    try:
        return _created(client.create_container(config, name, opts["platform"] or None))
    except HTTPError as exc:
        if exc.status != 404 or not str(exc).startswith("No such image") or policy != "missing":
            raise
    print(f"Unable to find image '{shown}' locally", file=sys.stderr)
    _pull(cli, image, opts)
    return _created(client.create_container(config, name, opts["platform"] or None))


def _created(answer: dict) -> str:
    """The new container's id, after the daemon's warnings on stderr ("Published ports are
    discarded when using host network mode"), as docker/cli prints them."""
    for warning in answer.get("Warnings") or ():
        print("WARNING:", warning, file=sys.stderr)
    return answer["Id"]


def _pull(cli, image: str, opts) -> None:
    """docker/cli's pullImage for run/create: the progress on stderr (none with -q), no
    reference line; its failure is the command's."""
    from ketch.cli.commands import distribution
    try:
        distribution.pull_image(cli, image, platform=opts["platform"], quiet=opts["quiet"],
                            show_reference=False, out=sys.stderr, default_tag_notice=False)
    except StatusError as exc:
        raise HTTPError(0, exc.message) from None


def create(cli, args, path):
    opts, rest = parse_args(runconfig.CREATE, args, path)
    try:
        config = runconfig.build(opts, rest, detach=False)  # docker create attaches as run does
    except runconfig.ConfigError as exc:
        raise StatusError(125, f"ketch: {exc}\n\nRun '{path} --help' for more information")
    try:
        check_reference(config["Image"])
    except KetchError as exc:
        raise StatusError(1, str(exc))
    try:
        cid = _create(cli, config, opts["name"] or None, opts, path)
    except API_ERRORS as exc:
        raise StatusError(1, daemon_error(exc))
    print(cid)
    return 0



def run(cli, args, path):
    opts, rest = parse_args(runconfig.RUN, args, path)
    detach = opts["detach"]
    try:
        config = runconfig.build(opts, rest, detach)
    except runconfig.ConfigError as exc:
        raise StatusError(125, f"ketch: {exc}\n\nRun '{path} --help' for more information")
    if config["Tty"] and config["AttachStdin"] and not os.isatty(0):
        raise StatusError(1, "the input device is not a TTY")
    if not detach:
        _detach_keys(_keys_setting(cli, opts), 125)  # checked before anything is created
    if config["Tty"]:  # the pty starts at the right size (docker sends ConsoleSize too)
        from ketch.cli.streams import terminal_size
        size = terminal_size(1) or terminal_size(0)
        if size:
            config["HostConfig"]["ConsoleSize"] = list(size)
    try:
        check_reference(config["Image"])
    except KetchError as exc:
        raise StatusError(125, f"ketch: {exc}\n\nRun '{path} --help' for more information")
    client = cli.client
    try:
        cid = _create(cli, config, opts["name"] or None, opts, path)
    except API_ERRORS as exc:
        raise _run_error(exc, path)
    if detach:
        try:
            client.start(cid)
        except API_ERRORS as exc:
            raise _run_error(exc, path, _exec_exit_code(str(exc)))
        print(cid)
        return 0
    return _run_attached(cli, cid, config, opts, path)


def _run_attached(cli, cid: str, config: dict, opts, path: str) -> int:
    from ketch.cli import streams
    client = cli.client
    streams_wanted = config["AttachStdin"] or config["AttachStdout"] or config["AttachStderr"]
    keys = _keys_setting(cli, opts)
    try:
        hijacked = client.attach(cid, config["AttachStdin"], config["AttachStdout"],
                                 config["AttachStderr"], detach_keys=keys) if streams_wanted else None
        waiter = client.wait_request(cid, "removed" if opts["rm"] else "next-exit")
        client.start(cid)
    except API_ERRORS as exc:
        raise _run_error(exc, path, _exec_exit_code(str(exc)))
    tty = config["Tty"]
    if tty:
        _resize(client, cid)
    elif opts["sig-proxy"]:
        _proxy_signals(cli, cid)
    if hijacked is not None:
        with streams.RawTerminal() if tty and config["AttachStdin"] else _Nothing():
            detached = streams.pump(hijacked, tty, config["AttachStdin"], _detach_keys(keys, 125))
        hijacked.close()
        if detached:  # the container goes on without us
            return 0
    return _wait_result(waiter, path)


def _keys_setting(cli, opts) -> str | None:
    """--detach-keys, else the config file's detachKeys, else None (the default)."""
    return opts["detach-keys"] or cli.setting("detachKeys") or None


def _detach_keys(keys: str | None, code: int) -> bytes:
    from ketch import detachkeys
    from ketch.errors import InvalidArgument
    try:
        return detachkeys.parse(keys or detachkeys.DEFAULT)
    except InvalidArgument as exc:
        raise StatusError(code, f"ketch: {exc}")


class _Nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _wait_result(waiter, path: str) -> int:
    from ketch import fastjson as json
    try:
        doc = json.loads(waiter.read() or b"{}")
    except (ValueError, ConnectionFailed):
        raise StatusError(125, "ketch: the daemon closed the connection while waiting")
    error = (doc.get("Error") or {}).get("Message")
    if error:
        raise StatusError(125, f"ketch: Error response from daemon: {error}")
    return int(doc.get("StatusCode", 0))


def _resize(client, cid: str) -> None:
    from ketch.cli.streams import terminal_size
    size = terminal_size(1) or terminal_size(0)
    if size:
        try:
            client.resize(cid, *size)
        except API_ERRORS:
            pass

    def on_winch(_sig, _frame):
        s = terminal_size(1)
        if s:
            try:
                client.resize(cid, *s)
            except API_ERRORS:
                pass
    signal.signal(signal.SIGWINCH, on_winch)


def _proxy_signals(cli, cid: str) -> None:
    def forward(sig, _frame):
        from ketch.client.api import APIClient
        try:
            APIClient(cli.client.host).kill(cid, str(int(sig)))
        except API_ERRORS:
            pass
    for sig in PROXIED_SIGNALS:
        signal.signal(sig, forward)


# -- start / stop / restart / kill / rm / wait ----------------------------------------

START = Command("start", "ketch start [OPTIONS] CONTAINER [CONTAINER...]", "Start one or more stopped containers", (
    FlagSpec("attach", "a", "bool", help="Attach STDOUT/STDERR and forward signals"),
    FlagSpec("detach-keys", None, "string", help="Override the key sequence for detaching a container"),
    FlagSpec("interactive", "i", "bool", help="Attach container's STDIN"),
), min_args=1, aliases=("ketch container start",))


def start(cli, args, path):
    opts, names = parse_args(START, args, path)
    client = cli.client
    if opts["attach"] or opts["interactive"]:
        from ketch.cli import streams
        cid = names[0]
        keys = _keys_setting(cli, opts)
        escape = _detach_keys(keys, 1)
        try:
            info = client.inspect_container(cid)
            tty = info["Config"]["Tty"]
            if tty and opts["interactive"] and not os.isatty(0):
                raise StatusError(1, "the input device is not a TTY")
            hijacked = client.attach(info["Id"], opts["interactive"], True, True, detach_keys=keys)
            waiter = client.wait_request(info["Id"], "next-exit")
            client.start(info["Id"])
        except API_ERRORS as exc:
            raise StatusError(1, daemon_error(exc))
        if tty:
            _resize(client, info["Id"])
        with streams.RawTerminal() if tty and opts["interactive"] else _Nothing():
            detached = streams.pump(hijacked, tty, opts["interactive"], escape)
        hijacked.close()
        return 0 if detached else _wait_result(waiter, path)
    return _each(cli, names, lambda n: client.start(n), "start")


ATTACH = Command("attach", "ketch attach [OPTIONS] CONTAINER",
                 "Attach local standard input, output, and error streams to a running container", (
    FlagSpec("detach-keys", None, "string", help="Override the key sequence for detaching a container"),
    FlagSpec("no-stdin", None, "bool", help="Do not attach STDIN"),
    FlagSpec("sig-proxy", None, "bool", True, help="Proxy all received signals to the process"),
), min_args=1, max_args=1, aliases=("ketch container attach",))


def attach(cli, args, path):
    """docker attach: the container's streams until it exits (its exit code) or the
    detach keys are typed ("read escape sequence", 1, as docker/cli says)."""
    from ketch.cli import streams
    opts, names = parse_args(ATTACH, args, path)
    client = cli.client
    keys = _keys_setting(cli, opts)
    escape = _detach_keys(keys, 1)
    try:
        info = client.inspect_container(names[0])
    except API_ERRORS as exc:
        raise StatusError(1, daemon_error(exc))
    if not info["State"]["Running"]:
        raise StatusError(1, "You cannot attach to a stopped container, start it first")
    if info["State"]["Paused"]:
        raise StatusError(1, "You cannot attach to a paused container, unpause it first")
    tty = info["Config"]["Tty"]
    stdin = info["Config"]["OpenStdin"] and not opts["no-stdin"]
    if tty and stdin and not os.isatty(0):
        raise StatusError(1, "the input device is not a TTY")
    try:
        waiter = client.wait_request(info["Id"])
        hijacked = client.attach(info["Id"], stdin, True, True, detach_keys=keys)
    except API_ERRORS as exc:
        raise StatusError(1, daemon_error(exc))
    if tty:
        _resize(client, info["Id"])
    elif opts["sig-proxy"]:
        _proxy_signals(cli, info["Id"])
    with streams.RawTerminal() if tty and stdin else _Nothing():
        detached = streams.pump(hijacked, tty, stdin, escape)
    hijacked.close()
    if detached:
        raise StatusError(1, "read escape sequence")
    return _wait_result(waiter, path)


def _each(cli, names, action, verb: str | None = None) -> int:
    """Apply ``action`` to each name, printing it on success and errors as they come."""
    failed = []
    for name in names:
        try:
            action(name)
            print(name)
        except API_ERRORS as exc:
            print(daemon_error(exc), file=sys.stderr)
            failed.append(name)
            if isinstance(exc, ConnectionFailed):
                break
    if failed:
        if verb:
            print(f"Error: failed to {verb} containers: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


STOP = Command("stop", "ketch stop [OPTIONS] CONTAINER [CONTAINER...]", "Stop one or more running containers", (
    FlagSpec("signal", "s", "string", help="Signal to send to the container"),
    FlagSpec("time", "t", "int", help="Seconds to wait before killing the container"),
), min_args=1, aliases=("ketch container stop",))
RESTART = Command("restart", "ketch restart [OPTIONS] CONTAINER [CONTAINER...]", "Restart one or more containers", (
    FlagSpec("signal", "s", "string", help="Signal to send to the container"),
    FlagSpec("time", "t", "int", help="Seconds to wait before killing the container"),
), min_args=1, aliases=("ketch container restart",))


def stop(cli, args, path):
    opts, names = parse_args(STOP, args, path)
    timeout = opts["time"] if "time" in opts.changed else None
    return _each(cli, names, lambda n: cli.client.stop(n, timeout, opts["signal"] or None))


def restart(cli, args, path):
    opts, names = parse_args(RESTART, args, path)
    timeout = opts["time"] if "time" in opts.changed else None
    return _each(cli, names, lambda n: cli.client.restart(n, timeout, opts["signal"] or None))


KILL = Command("kill", "ketch kill [OPTIONS] CONTAINER [CONTAINER...]", "Kill one or more running containers", (
    FlagSpec("signal", "s", "string", help="Signal to send to the container"),
), min_args=1, aliases=("ketch container kill",))


def kill(cli, args, path):
    opts, names = parse_args(KILL, args, path)
    return _each(cli, names, lambda n: cli.client.kill(n, opts["signal"] or None))


PAUSE = Command("pause", "ketch pause CONTAINER [CONTAINER...]", "Pause all processes within one or more containers",
                min_args=1, aliases=("ketch container pause",))
UNPAUSE = Command("unpause", "ketch unpause CONTAINER [CONTAINER...]",
                  "Unpause all processes within one or more containers",
                  min_args=1, aliases=("ketch container unpause",))


def pause(cli, args, path):
    _, names = parse_args(PAUSE, args, path)
    return _each(cli, names, cli.client.pause)


def unpause(cli, args, path):
    _, names = parse_args(UNPAUSE, args, path)
    return _each(cli, names, cli.client.unpause)


RM = Command("rm", "ketch rm [OPTIONS] CONTAINER [CONTAINER...]", "Remove one or more containers", (
    FlagSpec("force", "f", "bool", help="Force the removal of a running container (uses SIGKILL)"),
    FlagSpec("link", "l", "bool", help="Remove the specified link"),
    FlagSpec("volumes", "v", "bool", help="Remove anonymous volumes associated with the container"),
), min_args=1, aliases=("ketch container rm", "ketch container remove"))


def rm(cli, args, path):
    """docker/cli's runRm: names are given without their slashes; with --force a container
    that does not exist is reported but not a failure (cleanup scripts under ``set -e``);
    the other errors are reported together at the end."""
    opts, names = parse_args(RM, args, path)
    failed = []
    for name in names:
        ref = name.strip("/")
        try:
            if not ref:
                raise HTTPError(0, "container name cannot be empty")
            cli.client.remove(ref, opts["force"], opts["volumes"], opts["link"])
        except API_ERRORS as exc:
            if opts["force"] and isinstance(exc, HTTPError) and exc.status == 404:
                print(daemon_error(exc), file=sys.stderr)
                continue
            failed.append(daemon_error(exc))
            if isinstance(exc, ConnectionFailed):
                break
            continue
        print(name)
    if failed:
        raise StatusError(1, "\n".join(failed))
    return 0


WAIT = Command("wait", "ketch wait CONTAINER [CONTAINER...]",
               "Block until one or more containers stop, then print their exit codes",
               (), min_args=1, aliases=("ketch container wait",))


def wait(cli, args, path):
    opts, names = parse_args(WAIT, args, path)
    failed = False
    for name in names:
        try:
            print(cli.client.wait(name), flush=True)
        except API_ERRORS as exc:
            print(daemon_error(exc), file=sys.stderr)
            failed = True
    return 1 if failed else 0


RENAME = Command("rename", "ketch rename CONTAINER NEW_NAME", "Rename a container", (),
                 min_args=2, max_args=2, aliases=("ketch container rename",))


def rename(cli, args, path):
    opts, names = parse_args(RENAME, args, path)
    old, new = (n.strip(_GO_SPACE) for n in names)  # docker/cli's runRename
    if not old or not new:
        raise StatusError(1, "Error: Neither old nor new names may be empty")
    try:
        cli.client.rename(old, new)
    except API_ERRORS as exc:
        print(daemon_error(exc), file=sys.stderr)
        raise StatusError(1, f"Error: failed to rename container named {old}")
    return 0


_GO_SPACE = "\t\n\v\f\r \x85\xa0"  # strings.TrimSpace (the ASCII and Latin-1 ones)


# -- logs ----------------------------------------------------------------------------

LOGS = Command("logs", "ketch logs [OPTIONS] CONTAINER", "Fetch the logs of a container", (
    FlagSpec("details", None, "bool", help="Show extra details provided to logs"),
    FlagSpec("follow", "f", "bool", help="Follow log output"),
    FlagSpec("since", None, "string", help='Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") '
                                           'or relative (e.g. "42m" for 42 minutes)'),
    FlagSpec("tail", "n", "string", "all", help="Number of lines to show from the end of the logs"),
    FlagSpec("timestamps", "t", "bool", help="Show timestamps"),
    FlagSpec("until", None, "string", help='Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") '
                                           'or relative (e.g. "42m" for 42 minutes)'),
), min_args=1, max_args=1, aliases=("ketch container logs",))


def logs(cli, args, path):
    opts, names = parse_args(LOGS, args, path)
    from ketch.cli.streams import Demuxer
    from ketch.cli.timestamps import timestamp_arg
    client = cli.client
    try:
        info = client.inspect_container(names[0])
        resp = client.logs(info["Id"], stdout=True, stderr=True, follow=opts["follow"],
                           timestamps=opts["timestamps"], details=opts["details"], tail=opts["tail"],
                           since=timestamp_arg(opts["since"], "since") or None,
                           until=timestamp_arg(opts["until"], "until") or None)
        demux = Demuxer(bool(info["Config"].get("Tty")))
        for chunk in resp.chunks():
            for stream, payload in demux.feed(chunk):
                os.write(stream, payload)
    except API_ERRORS as exc:
        raise StatusError(1, daemon_error(exc))
    return 0


# -- ps ------------------------------------------------------------------------------

PS = Command("ps", "ketch ps [OPTIONS]", "List containers", (
    FlagSpec("all", "a", "bool", help="Show all containers (default shows just running)"),
    FlagSpec("filter", "f", "list", help="Filter output based on conditions provided"),
    FlagSpec("format", None, "string", help="Format output using a custom template"),
    FlagSpec("last", "n", "int", -1, help="Show n last created containers (includes all states)"),
    FlagSpec("latest", "l", "bool", help="Show the latest created container (includes all states)"),
    FlagSpec("no-trunc", None, "bool", help="Don't truncate output"),
    FlagSpec("quiet", "q", "bool", help="Only display container IDs"),
    FlagSpec("size", "s", "bool", help="Display total file sizes"),
), max_args=0, aliases=("ketch container ls", "ketch container list", "ketch container ps"))


def parse_filters(items: list[str], flag: str = "-f, --filter") -> dict[str, list[str]]:
    """docker/cli's FilterOpt.Set per ``--filter``: "" is ignored, name and value are
    trimmed, the name lower-cased; a value given twice counts once (filters.Args is a set)."""
    out: dict[str, list[str]] = {}
    for item in items:
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not sep:
            raise StatusError(125, f"invalid argument \"{item}\" for \"{flag}\" flag: bad format of filter (expected name=value)")
        values = out.setdefault(key.strip().lower(), [])
        if value.strip() not in values:
            values.append(value.strip())
    return out


def ps(cli, args, path):
    opts, _ = parse_args(PS, args, path)
    from ketch.cli.format import formatter, rows
    limit = 1 if opts["latest"] else opts["last"]
    fmt = opts["format"] or ("" if opts["quiet"] else cli.setting("psFormat"))
    size = opts["size"] or ("{{.Size}}" in fmt)
    if opts["format"]:  # docker checks a --format (not the config file's) before asking
        probe = rows.ContainerContext({})
        try:
            formatter.check(opts["format"], probe)
        except formatter.FormatError as exc:
            raise StatusError(1, str(exc))
        size = opts["size"] or (probe.size_used and not opts["quiet"])
    try:
        items = cli.client.containers(all=opts["all"] or limit > 0, limit=limit, size=size,
                                      filters=parse_filters(opts["filter"]))
    except API_ERRORS as exc:
        raise StatusError(1, daemon_error(exc))
    trunc = not opts["no-trunc"]
    shown_rows = [rows.ContainerContext(c, trunc) for c in items]
    if opts["quiet"] and not fmt:
        fmt = "{{.ID}}"
    default = rows.CONTAINER_TABLE + ("\t{{.Size}}" if opts["size"] else "")
    try:
        sys.stdout.write(formatter.render(fmt, shown_rows, rows.CONTAINER_HEADERS, default))
    except formatter.FormatError as exc:
        raise StatusError(1, str(exc))
    return 0


def inspect(cli, args, path):
    from ketch.cli.commands.system import inspect_objects
    return inspect_objects(cli, args, path, "container")
