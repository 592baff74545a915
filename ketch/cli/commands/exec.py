"""``ketch exec``: docker/cli's ``container exec`` (RunExec, interactiveExec)."""

import os

from ketch.cli.commands import API_ERRORS, daemon_error, parse_args
from ketch.cli.flags import Command, FlagSpec
from ketch.cli.main import StatusError

EXEC = Command("exec", "ketch exec [OPTIONS] CONTAINER COMMAND [ARG...]",
               "Execute a command in a running container", (
    FlagSpec("detach", "d", "bool", help="Detached mode: run command in the background"),
    FlagSpec("detach-keys", None, "string", help="Override the key sequence for detaching a container"),
    FlagSpec("env", "e", "list", help="Set environment variables"),
    FlagSpec("env-file", None, "list", help="Read in a file of environment variables"),
    FlagSpec("interactive", "i", "bool", help="Keep STDIN open even if not attached"),
    FlagSpec("privileged", None, "bool", help="Give extended privileges to the command"),
    FlagSpec("tty", "t", "bool", help="Allocate a pseudo-TTY"),
    FlagSpec("user", "u", "string", help='Username or UID (format: "<name|uid>[:<group|gid>]")'),
    FlagSpec("workdir", "w", "string", help="Working directory inside the container"),
), interspersed=False, min_args=2, aliases=("ketch container exec",))


def _options(cli, opts, command: list[str]) -> dict:
    from ketch.cli import runconfig
    try:
        env = runconfig.parse_env(opts["env"], opts["env-file"])
    except (runconfig.ConfigError, ValueError) as exc:
        raise StatusError(1, f"ketch: {exc}") from None
    body = {"User": opts["user"] or "", "Privileged": opts["privileged"], "Tty": opts["tty"],
            "Cmd": command, "WorkingDir": opts["workdir"] or "", "Env": env,
            "DetachKeys": opts["detach-keys"] or cli.setting("detachKeys") or "",
            "AttachStdin": False, "AttachStdout": False, "AttachStderr": False}
    if not opts["detach"]:  # as docker/cli: without -d, attach to everything
        body.update(AttachStdout=True, AttachStderr=True, AttachStdin=opts["interactive"])
    if opts["tty"]:
        from ketch.cli.streams import terminal_size
        size = terminal_size(1)
        body["ConsoleSize"] = list(size) if size else [0, 0]
    return body


def exec_(cli, args, path):
    opts, rest = parse_args(EXEC, args, path)
    name, command = rest[0], rest[1:]
    body = _options(cli, opts, command)
    client = cli.client
    try:
        client.inspect_container(name)  # "No such container" before anything else, as docker/cli
    except API_ERRORS as exc:
        raise StatusError(1, daemon_error(exc))
    if not opts["detach"] and body["AttachStdin"] and body["Tty"] and not os.isatty(0):
        raise StatusError(1, "the input device is not a TTY")
    try:
        eid = client.exec_create(name, body)
        if opts["detach"]:
            client.exec_start(eid, body["Tty"], body.get("ConsoleSize"))
            return 0
        hijacked = client.exec_attach(eid, body["Tty"], body.get("ConsoleSize"))
    except API_ERRORS as exc:
        raise StatusError(1, daemon_error(exc))
    return _interactive(cli, eid, hijacked, body)


def _interactive(cli, eid: str, hijacked, body: dict) -> int:
    from ketch.cli import streams
    from ketch.cli.commands.container import _Nothing, _detach_keys
    tty, stdin = body["Tty"], body["AttachStdin"]
    if tty and os.isatty(1):
        _monitor_size(cli.client, eid)
    with streams.RawTerminal() if tty and stdin else _Nothing():
        detached = streams.pump(hijacked, tty, stdin, _detach_keys(body["DetachKeys"] or None, 1))
    hijacked.close()
    if detached:
        raise StatusError(1, "read escape sequence")
    try:
        info = cli.client.exec_inspect(eid)
    except API_ERRORS as exc:
        raise StatusError(1, daemon_error(exc))
    return int(info.get("ExitCode") or 0)


def _monitor_size(client, eid: str) -> None:
    import _signal as signal
    from ketch.cli.streams import terminal_size

    def resize() -> None:
        size = terminal_size(1)
        if size:
            try:
                client.exec_resize(eid, *size)
            except API_ERRORS:
                pass
    signal.signal(signal.SIGWINCH, lambda _sig, _frame: resize())
