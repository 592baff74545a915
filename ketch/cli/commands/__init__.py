"""One module per noun; each command is a function ``(cli, args, path) -> exit code``."""

from ketch.cli import flags
from ketch.client.http import ConnectionFailed, HTTPError


def daemon_error(exc: Exception) -> str:
    """How the docker CLI shows an error: daemon answers are prefixed, the rest as is."""
    if isinstance(exc, HTTPError) and exc.status:
        return f"Error response from daemon: {exc}"
    return str(exc)


API_ERRORS = (HTTPError, ConnectionFailed)


def parse_args(command: flags.Command, args: list[str], path: str):
    """Parse a command's arguments; ``--help`` prints its help and ends the command."""
    opts, rest = flags.parse(command, args, path)
    for line in opts.notices:  # pflag's deprecation notices, on stdout as docker prints them
        print(line)
    if opts["help"]:
        from ketch.cli.main import StatusError
        raise StatusError(0, flags.render_help(command, path).rstrip("\n"))
    return opts, rest


def noun_usage(noun: str, subcommands: tuple[tuple[str, str], ...]) -> str:
    """cobra's help of a management command such as ``ketch volume``: its commands, each
    with its summary."""
    return (f"Usage:  ketch {noun} COMMAND\n\nManage {noun}s\n\nCommands:\n"
            + "".join(f"  {name:<11} {text}\n" for name, text in subcommands)
            + f"\nRun 'ketch {noun} COMMAND --help' for more information on a command.")
