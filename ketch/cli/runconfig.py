"""``ketch run`` / ``ketch create`` flags -> the Engine API's create body (docker/cli opts.parse)."""

import os

from ketch.cli.flags import Command, FlagSpec

_COMMON = (
    FlagSpec("attach", "a", "list", help="Attach to STDIN, STDOUT or STDERR"),
    FlagSpec("domainname", None, "string", help="Container NIS domain name"),
    FlagSpec("entrypoint", None, "string", help="Overwrite the default ENTRYPOINT of the image"),
    FlagSpec("env", "e", "list", help="Set environment variables"),
    FlagSpec("env-file", None, "list", help="Read in a file of environment variables"),
    FlagSpec("group-add", None, "list", help="Add additional groups to join"),
    FlagSpec("hostname", "h", "string", help="Container host name"),
    FlagSpec("interactive", "i", "bool", help="Keep STDIN open even if not attached"),
    FlagSpec("label", "l", "list", help="Set meta data on a container"),
    FlagSpec("label-file", None, "list", help="Read in a line delimited file of labels"),
    FlagSpec("name", None, "string", help="Assign a name to the container"),
    FlagSpec("platform", None, "string", help="Set platform if server is multi-platform capable"),
    FlagSpec("pull", None, "string", "missing",
             help='Pull image before running ("always", "missing", "never")'),
    FlagSpec("quiet", "q", "bool", help="Suppress the pull output"),
    FlagSpec("read-only", None, "bool", help="Mount the container's root filesystem as read only"),
    FlagSpec("rm", None, "bool", help="Automatically remove the container and its associated "
                                      "anonymous volumes when it exits"),
    FlagSpec("runtime", None, "string", help="Runtime to use for this container"),
    FlagSpec("shm-size", None, "bytes", help="Size of /dev/shm"),
    FlagSpec("stop-signal", None, "string", help="Signal to stop the container"),
    FlagSpec("stop-timeout", None, "int", help="Timeout (in seconds) to stop a container"),
    FlagSpec("tty", "t", "bool", help="Allocate a pseudo-TTY"),
    FlagSpec("user", "u", "string", help="Username or UID (format: <name|uid>[:<group|gid>])"),
    FlagSpec("workdir", "w", "string", help="Working directory inside the container"),
)

RUN = Command("run", "ketch run [OPTIONS] IMAGE [COMMAND] [ARG...]",
              "Create and run a new container from an image",
              _COMMON + (
                  FlagSpec("detach", "d", "bool", help="Run container in background and print container ID"),
                  FlagSpec("sig-proxy", None, "bool", True, help="Proxy received signals to the process"),
                  FlagSpec("detach-keys", None, "string", help="Override the key sequence for detaching a container"),
              ), interspersed=False, min_args=1, aliases=("ketch container run",))
CREATE = Command("create", "ketch create [OPTIONS] IMAGE [COMMAND] [ARG...]", "Create a new container",
                 _COMMON, interspersed=False, min_args=1, aliases=("ketch container create",))


class ConfigError(Exception):
    pass


def _read_lines(path: str) -> list[str]:
    try:
        with open(path) as f:
            return [line.rstrip("\n") for line in f]
    except OSError as exc:
        raise ConfigError(f"open {path}: {exc.strerror.lower()}") from None


def parse_env(values: list[str], files: list[str]) -> list[str]:
    """``-e`` and ``--env-file`` in Docker's order: files first; a bare name takes the client's value."""
    out = []
    for path in files:
        for line in _read_lines(path):
            line = line.lstrip()
            if not line or line.startswith("#"):
                continue
            out.append(_env_item(line))
    out += [_env_item(v) for v in values]
    return [e for e in out if e is not None]


def _env_item(item: str) -> str | None:
    name, sep, _ = item.partition("=")
    if not name:
        raise ConfigError(f"invalid environment variable: {item}")
    if sep:
        return item
    value = os.environ.get(name)
    return None if value is None else f"{name}={value}"


def parse_labels(values: list[str], files: list[str]) -> dict[str, str]:
    labels: dict[str, str] = {}
    items = [line for path in files for line in _read_lines(path)
             if line.strip() and not line.lstrip().startswith("#")]
    for item in items + list(values):
        key, _, value = item.partition("=")
        labels[key] = value
    return labels


def build(opts: dict, args: list[str], detach: bool) -> dict:
    image, cmd = args[0], args[1:]
    attach = [a.lower() for a in opts.get("attach") or []]
    for stream in attach:
        if stream not in ("stdin", "stdout", "stderr"):
            raise ConfigError(f"invalid argument \"{stream}\" for \"-a, --attach\" flag: "
                              "valid streams are STDIN, STDOUT and STDERR")
    interactive = opts["interactive"]
    if detach:
        if attach:
            raise ConfigError("Conflicting options: -a and -d")
        att_in = att_out = att_err = False
    elif attach:
        att_in, att_out, att_err = "stdin" in attach, "stdout" in attach, "stderr" in attach
    else:
        att_in, att_out, att_err = interactive, True, True
    entrypoint = None
    if opts["entrypoint"]:
        entrypoint = [opts["entrypoint"]]
    elif "entrypoint" in getattr(opts, "changed", ()):
        entrypoint = [""]
    host_config = {
        "AutoRemove": opts["rm"], "ReadonlyRootfs": opts["read-only"],
        "NetworkMode": "default", "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0},
        "LogConfig": {"Type": "", "Config": {}},
    }
    if opts["group-add"]:
        host_config["GroupAdd"] = opts["group-add"]
    if opts["shm-size"]:
        host_config["ShmSize"] = opts["shm-size"]
    if opts["runtime"]:
        host_config["Runtime"] = opts["runtime"]
    config = {
        "Hostname": opts["hostname"], "Domainname": opts["domainname"], "User": opts["user"],
        "AttachStdin": att_in, "AttachStdout": att_out, "AttachStderr": att_err,
        "Tty": opts["tty"], "OpenStdin": interactive, "StdinOnce": interactive and att_in,
        "Env": parse_env(opts["env"], opts["env-file"]), "Cmd": cmd or None, "Image": image,
        "Volumes": None, "WorkingDir": opts["workdir"], "Entrypoint": entrypoint,
        "Labels": parse_labels(opts["label"], opts["label-file"]),
        "HostConfig": host_config, "NetworkingConfig": {"EndpointsConfig": {}},
    }
    if opts["stop-signal"]:
        config["StopSignal"] = opts["stop-signal"]
    if "stop-timeout" in getattr(opts, "changed", ()):
        config["StopTimeout"] = opts["stop-timeout"]
    return config
