"""``ketch compose`` / ``ketch-compose``: the commands of Docker Compose v2.

Registration and global flags only; each command lives in ``commands/<family>.py`` as a
function ``(ctx: Context, args: list[str], path: str) -> int``. Run in the venv's
interpreter (PyYAML, jsonschema): ``ketch compose`` execs this module.
"""

import os
import sys

from ketch.cli import flags

# command -> (module under ketch.compose.commands, function)
COMMANDS = {
    "up": ("lifecycle", "up"), "down": ("lifecycle", "down"), "create": ("lifecycle", "create"),
    "start": ("lifecycle", "start"), "stop": ("lifecycle", "stop"),
    "restart": ("lifecycle", "restart"), "rm": ("lifecycle", "rm"), "kill": ("lifecycle", "kill"),
    "pause": ("lifecycle", "pause"), "unpause": ("lifecycle", "unpause"),
    "scale": ("lifecycle", "scale"), "wait": ("lifecycle", "wait"),
    "build": ("images", "build"), "pull": ("images", "pull"), "push": ("images", "push"),
    "images": ("images", "images"),
    "ps": ("query", "ps"), "top": ("query", "top"), "port": ("query", "port"),
    "ls": ("query", "ls"), "version": ("query", "version"), "events": ("query", "events"),
    "config": ("config", "config"),
    "logs": ("logs", "logs"),
    "exec": ("interactive", "exec_"), "run": ("interactive", "run"), "cp": ("interactive", "cp"),
    "attach": ("interactive", "attach"),
}

SUMMARIES = {
    "attach": "Attach local standard input, output, and error streams to a service's running container",
    "build": "Build or rebuild services", "config": "Parse, resolve and render compose file in canonical format",
    "cp": "Copy files/folders between a service container and the local filesystem",
    "create": "Creates containers for a service", "down": "Stop and remove containers, networks",
    "events": "Receive real time events from containers", "exec": "Execute a command in a running container",
    "images": "List images used by the created containers", "kill": "Force stop service containers",
    "logs": "View output from containers", "ls": "List running compose projects",
    "pause": "Pause services", "port": "Print the public port for a port binding",
    "ps": "List containers", "pull": "Pull service images", "push": "Push service images",
    "restart": "Restart service containers", "rm": "Removes stopped service containers",
    "run": "Run a one-off command on a service", "scale": "Scale services ",
    "start": "Start services", "stop": "Stop services", "top": "Display the running processes",
    "unpause": "Unpause services", "up": "Create and start containers",
    "version": "Show the Docker Compose version information",
    "wait": "Block until containers of all (or specified) services stop.",
}

GLOBAL = flags.Command("compose", "ketch compose [OPTIONS] COMMAND", "Define and run multi-container applications with Docker", (
    flags.FlagSpec("file", "f", "list", help="Compose configuration files"),
    flags.FlagSpec("project-name", "p", "string", help="Project name"),
    flags.FlagSpec("project-directory", None, "string",
                   help="Specify an alternate working directory\n(default: the path of the, first specified, Compose file)"),
    flags.FlagSpec("env-file", None, "list", help="Specify an alternate environment file"),
    flags.FlagSpec("profile", None, "list", help="Specify a profile to enable"),
    flags.FlagSpec("ansi", None, "string", "auto", help='Control when to print ANSI control characters ("never"|"always"|"auto")'),
    flags.FlagSpec("progress", None, "string", help='Set type of progress output (auto, tty, plain, json, quiet)'),
    flags.FlagSpec("parallel", None, "int", -1, help="Control max parallelism, -1 for unlimited"),
    flags.FlagSpec("compatibility", None, "bool", help="Run compose in backward compatibility mode"),
    flags.FlagSpec("dry-run", None, "bool", help="Execute command in dry run mode"),
    flags.FlagSpec("all-resources", None, "bool", help="Include all resources, even those not used by services"),
    flags.FlagSpec("host", "H", "string", hidden=True, help="Daemon socket to connect to"),
    flags.FlagSpec("version", "v", "bool", hidden=True, help="Show the Docker Compose version information"),
), interspersed=False)


class Context:
    """What every compose command gets: the global options, the streams, the project
    (loaded on first use) and API clients (one per thread: a client is one connection)."""

    def __init__(self, options: flags.Values, environ: dict[str, str] | None = None) -> None:
        self.options = options
        self.environ = dict(os.environ if environ is None else environ)
        self.host = options["host"] or self.environ.get("KETCH_HOST") or self.environ.get("DOCKER_HOST") or None
        self.out = sys.stdout
        self.err = sys.stderr
        self._project = None
        self._api_version: str | None = None

    def load_options(self):
        """The loader's input from the global flags and the environment (COMPOSE_FILE,
        COMPOSE_PROJECT_NAME, COMPOSE_PROFILES, ...)."""
        from ketch.compose.loader import LoadOptions
        o = self.options
        return LoadOptions(files=list(o["file"]), project_name=o["project-name"] or None,
                           project_directory=o["project-directory"] or None,
                           env_files=list(o["env-file"]), profiles=list(o["profile"]),
                           environ=self.environ, working_dir=os.getcwd())

    def project(self, services=()):
        """The project, loaded once (LoadError when the files are wrong). ``services``: the
        ones named on the command line, enabled with their profiles as compose's ToProject
        does (``up dbg`` runs a service of an inactive profile); an unknown one is
        "no such service: x"."""
        if self._project is None:
            from ketch.compose.loader import load
            self._project = load(self.load_options())
        if not services:
            return self._project
        from ketch.compose.loader.profiles import with_services
        return with_services(self._project, list(services))

    def client(self):
        """A new API client (not shared between threads). It speaks the daemon's API version
        when that is older than ketch's (dockerd 20.10 serves 1.41), asked once with an
        unversioned /_ping, as the docker client negotiates."""
        from ketch.client.api import API_VERSION, APIClient
        if self._api_version is None:
            pinned = self.environ.get("DOCKER_API_VERSION")
            if pinned:
                self._api_version = pinned
            else:
                probe = APIClient(self.host)
                probe.version = ""  # unversioned: every engine answers it with its own version
                try:
                    served = probe.ping().headers.get("api-version", "")
                finally:
                    probe.close()
                older = served and tuple(map(int, served.split("."))) < tuple(map(int, API_VERSION.split(".")))
                self._api_version = served if older else API_VERSION
                # exec/attach/cp/run go through ketch.cli's commands, whose clients read this
                os.environ["DOCKER_API_VERSION"] = self._api_version
        return APIClient(self.host, version=self._api_version)


def usage() -> str:
    lines = "".join(f"  {name:<10} {SUMMARIES[name]}\n" for name in sorted(COMMANDS))
    return ("Usage:  ketch compose [OPTIONS] COMMAND\n\nDefine and run multi-container applications with Docker\n\n"
            + flags.flag_usages(GLOBAL) + "\nCommands:\n" + lines
            + "\nRun 'ketch compose COMMAND --help' for more information on a command.\n")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    from ketch.cli.main import StatusError
    from ketch.client.http import ConnectionFailed, HTTPError
    from ketch.compose.errors import ComposeError
    try:
        opts, rest = flags.parse(GLOBAL, argv, "ketch compose")
        if opts["version"]:
            rest = ["version"]
        if opts["help"] or not rest:
            sys.stdout.write(usage())
            return 0
        name = rest[0]
        if name not in COMMANDS:
            print(f"unknown docker command: \"compose {name}\"", file=sys.stderr)
            return 1
        module, function = COMMANDS[name]
        mod = __import__(f"ketch.compose.commands.{module}", fromlist=[function])
        return getattr(mod, function)(Context(opts), rest[1:], f"ketch compose {name}") or 0
    except flags.UsageError as exc:
        print(exc.text(), file=sys.stderr)
        return exc.exit_code
    except StatusError as exc:  # ketch.cli's parse_args: --help, and the cli helpers' errors
        if exc.message:
            print(exc.message, file=sys.stdout if exc.code == 0 else sys.stderr)
        return exc.code
    except ComposeError as exc:
        print(str(exc), file=sys.stderr)
        return exc.exit_code
    except HTTPError as exc:
        print(f"Error response from daemon: {exc}" if exc.status else str(exc), file=sys.stderr)
        return 1
    except ConnectionFailed as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 1


if __name__ == "__main__":
    sys.exit(main())
