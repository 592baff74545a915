"""``ketch``: the command line. Parses, calls the API, renders; nothing else.

The only place that turns errors into exit codes, with Docker's conventions:
125 for errors of the engine itself in ``run``/``create``, 126/127 when the
container's command cannot be executed, the container's own code for ``run``,
and 1 for a failed ordinary command. Command modules are imported only when
their command runs, to keep start-up fast.
"""

import os
import sys

from ketch import __version__
from ketch.cli import flags

# command path -> (module, function); management commands map onto the same functions.
COMMANDS = {
    "run": ("container", "run"), "create": ("container", "create"),
    "start": ("container", "start"), "attach": ("container", "attach"), "stop": ("container", "stop"),
    "restart": ("container", "restart"), "kill": ("container", "kill"),
    "pause": ("container", "pause"), "unpause": ("container", "unpause"),
    "wait": ("container", "wait"), "logs": ("container", "logs"), "ps": ("container", "ps"),
    "rm": ("container", "rm"), "rename": ("container", "rename"), "cp": ("cp", "cp"),
    "images": ("image", "images"), "import": ("image", "import_"), "rmi": ("image", "rmi"),
    "tag": ("image", "tag"), "inspect": ("system", "inspect"), "version": ("system", "version"),
    "info": ("system", "info"), "events": ("events", "events"), "stats": ("resources", "stats"),
    "update": ("resources", "update"),
    "top": ("inspection", "top"), "diff": ("inspection", "diff"), "export": ("inspection", "export"),
    "exec": ("exec", "exec_"),
    "save": ("imagearchive", "save"), "load": ("imagearchive", "load"),
    "pull": ("distribution", "pull"), "push": ("distribution", "push"), "login": ("distribution", "login"),
    "logout": ("distribution", "logout"), "search": ("distribution", "search"),
    "commit": ("commit", "commit"), "history": ("history", "history"),
    "port": ("port", "port"), "build": ("build", "build"), "compose": ("compose", "compose"),
}
MANAGEMENT = {
    "container": {"run": "run", "create": "create", "start": "start", "attach": "attach", "stop": "stop",
                  "restart": "restart", "kill": "kill", "pause": "pause", "unpause": "unpause",
                  "wait": "wait", "logs": "logs",
                  "ls": "ps", "ps": "ps", "list": "ps", "rm": "rm", "remove": "rm",
                  "rename": "rename", "inspect": ("container", "inspect"), "stats": "stats",
                  "update": "update", "top": "top", "diff": "diff", "export": "export",
                  "prune": ("prune", "container_prune"), "cp": "cp", "exec": "exec",
                  "commit": "commit", "port": "port"},
    "image": {"ls": "images", "list": "images", "import": "import", "rm": "rmi",
              "remove": "rmi", "tag": "tag", "inspect": ("image", "inspect"),
              "save": "save", "load": "load",
              "pull": "pull", "push": "push",
              "history": "history", "prune": ("prune", "image_prune"), "build": "build"},
    "builder": {"build": "build", "prune": ("builder", "prune")},
    "system": {"info": "info", "events": "events", "df": ("diskusage", "df"),
               "prune": ("prune", "system_prune")},
    "registry": {"serve": ("registry", "serve"), "gc": ("registry", "gc")},
    "network": {"create": ("network", "create"), "ls": ("network", "ls"), "list": ("network", "ls"),
                "inspect": ("network", "inspect"), "rm": ("network", "rm"),
                "remove": ("network", "rm"), "prune": ("network", "prune"),
                "connect": ("network", "connect"), "disconnect": ("network", "disconnect")},
    "volume": {"create": ("volume", "create"), "ls": ("volume", "ls"), "list": ("volume", "ls"),
               "inspect": ("volume", "inspect"), "rm": ("volume", "rm"), "remove": ("volume", "rm"),
               "prune": ("volume", "prune"), "update": ("volume", "update")},
}

GLOBAL_FLAGS = flags.Command("", "ketch [OPTIONS] COMMAND", "A self-sufficient runtime for containers", (
    flags.FlagSpec("host", "H", "list", help="Daemon socket to connect to"),
    flags.FlagSpec("debug", "D", "bool", help="Enable debug mode"),
    flags.FlagSpec("log-level", "l", "string", "info", help="Set the logging level"),
    flags.FlagSpec("config", None, "string", help="Location of client config files"),
    flags.FlagSpec("context", "c", "string", help="Name of the context to use"),
    flags.FlagSpec("version", "v", "bool", help="Print version information and quit"),
), interspersed=False)


class StatusError(Exception):
    """Exit with ``code`` after printing ``message`` (if any) to stderr."""

    def __init__(self, code: int, message: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Cli:
    """What every command gets: the API client (made on first use) and the streams."""

    def __init__(self, host: str | None, config_dir: str | None = None) -> None:
        self.host = host
        self.config_dir = config_dir
        self._client = None
        self._config: dict | None = None
        self.out = sys.stdout
        self.err = sys.stderr

    @property
    def config(self) -> dict:
        """The client's config.json (read on first use)."""
        if self._config is None:
            from ketch.cli import config
            self._config = config.load(config.directory(self.config_dir))
        return self._config

    def setting(self, key: str) -> str:
        from ketch.cli.config import string
        return string(self.config, key)

    @property
    def client(self):
        if self._client is None:
            from ketch.client.api import APIClient
            self._client = APIClient(self.host)
        return self._client


def _usage() -> str:
    names = sorted(n for n in COMMANDS if n != "compose")
    return ("Usage:  ketch [OPTIONS] COMMAND\n\nA self-sufficient runtime for containers\n\n"
            "Management Commands:\n  builder     Manage builds\n"
            "  compose     Define and run multi-container applications\n"
            "  container   Manage containers\n  image       Manage images\n"
            "  network     Manage networks\n"
            "  registry    Run or tidy ketch's registry server\n"
            "  system      Manage Docker\n"
            "  volume      Manage volumes\n\nCommands:\n" + "".join(f"  {n}\n" for n in names) +
            "\nRun 'ketch COMMAND --help' for more information on a command.\n")


def _resolve(argv: list[str]) -> tuple[tuple[str, str], list[str], str]:
    """(module, function), remaining args and the invoked path for ``argv``."""
    name = argv[0]
    if name in ("network", "volume") and (len(argv) == 1 or argv[1] in ("-h", "--help")
                                          or argv[1] not in MANAGEMENT[name]):
        _noun(argv)
    if name in MANAGEMENT and len(argv) > 1 and not argv[1].startswith("-"):
        target = MANAGEMENT[name].get(argv[1])
        if target is None:
            raise StatusError(1, f"ketch: unknown command: ketch {name} {argv[1]}\n\n"
                                 f"Run 'ketch {name} --help' for more information")
        path = f"ketch {name} {argv[1]}"
        if isinstance(target, tuple):
            return target, argv[2:], path
        return COMMANDS[target], argv[2:], path
    if name in MANAGEMENT:
        raise StatusError(0 if len(argv) > 1 else 1, _usage())
    if name not in COMMANDS:
        raise StatusError(1, f"ketch: unknown command: ketch {name}\n\n"
                             "Run 'ketch --help' for more information")
    return COMMANDS[name], argv[1:], f"ketch {name}"


def _noun(argv: list[str]) -> None:
    """``ketch network`` (or ``volume``) alone (its help on stderr), with --help (stdout),
    or with a subcommand it lacks, as docker's cobra answers them."""
    noun = argv[0]
    module = __import__(f"ketch.cli.commands.{noun}", fromlist=["usage"])
    usage, use = module.usage, getattr(module, "USE", f"ketch {noun}")
    if len(argv) == 1:
        print(usage(), file=sys.stderr)
        raise StatusError(0)
    if argv[1] in ("-h", "--help"):
        notice = "Flag shorthand -h has been deprecated, use --help\n" if argv[1] == "-h" else ""
        raise StatusError(0, notice + usage())
    if argv[1].startswith("--"):
        problem = f"unknown flag: {argv[1].partition('=')[0]}"
    elif argv[1].startswith("-") and len(argv[1]) > 1:
        problem = f"unknown shorthand flag: '{argv[1][1]}' in {argv[1]}"
    else:
        problem = f"ketch: unknown command: ketch {noun} {argv[1]}"
    raise StatusError(125 if argv[1].startswith("-") else 1,
                      f"{problem}\n\nUsage:  {use}\n\nRun 'ketch {noun} --help' for more information")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        opts, rest = flags.parse(GLOBAL_FLAGS, argv)
        if opts["version"]:
            print(f"ketch version {__version__}")
            return 0
        if opts["help"] or not rest:
            sys.stdout.write(_usage())
            return 0
        host = (opts["host"] or [None])[-1]
        (module, function), args, path = _resolve(rest)
        mod = __import__(f"ketch.cli.commands.{module}", fromlist=[function])
        cli = Cli(host, opts["config"] or None)
        cli.config  # read up front, so a broken file warns whatever the command, as docker's does
        return getattr(mod, function)(cli, args, path) or 0
    except flags.UsageError as exc:
        for line in exc.notices:
            print(line)
        print(exc.text(), file=sys.stderr)
        return exc.exit_code
    except StatusError as exc:
        if exc.message:
            print(exc.message, file=sys.stderr if exc.code else sys.stdout)
        return exc.code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 1
    except Exception as exc:  # noqa: BLE001 - the last resort: say what went wrong, exit 1
        from ketch.errors import KetchError
        if isinstance(exc, KetchError):
            print(str(exc), file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
