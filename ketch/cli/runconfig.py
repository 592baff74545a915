"""``ketch run`` / ``ketch create`` flags -> the Engine API's create body (docker/cli opts.parse)."""

import os

from ketch.cli import hostopts, mountopts, netopts, pendingopts
from ketch.cli.commonflags import validate_label
from ketch.cli.flags import Command, FlagSpec

_COMMON = (
    FlagSpec("attach", "a", "list", help="Attach to STDIN, STDOUT or STDERR"),
    FlagSpec("domainname", None, "string", help="Container NIS domain name"),
    FlagSpec("entrypoint", None, "string", help="Overwrite the default ENTRYPOINT of the image"),
    FlagSpec("env", "e", "list", help="Set environment variables"),
    FlagSpec("env-file", None, "list", help="Read in a file of environment variables"),
    FlagSpec("group-add", None, "list", help="Add additional groups to join"),
    FlagSpec("health-cmd", None, "string", help="Command to run to check health"),
    FlagSpec("health-interval", None, "duration", default_text="0s",
             help="Time between running the check (ms|s|m|h)"),
    FlagSpec("health-retries", None, "int", help="Consecutive failures needed to report unhealthy"),
    FlagSpec("health-start-interval", None, "duration", default_text="0s",
             help="Time between running the check during the start period (ms|s|m|h)"),
    FlagSpec("health-start-period", None, "duration", default_text="0s",
             help="Start period for the container to initialize before starting health-retries "
                  "countdown (ms|s|m|h)"),
    FlagSpec("health-timeout", None, "duration", default_text="0s",
             help="Maximum time to allow one check to run (ms|s|m|h)"),
    FlagSpec("hostname", "h", "string", help="Container host name"),
    FlagSpec("interactive", "i", "bool", help="Keep STDIN open even if not attached"),
    FlagSpec("label", "l", "list", help="Set meta data on a container"),
    FlagSpec("label-file", None, "list", help="Read in a line delimited file of labels"),
    FlagSpec("name", None, "string", help="Assign a name to the container"),
    FlagSpec("no-healthcheck", None, "bool", help="Disable any container-specified HEALTHCHECK"),
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
) + hostopts.FLAGS + netopts.FLAGS + mountopts.FLAGS + pendingopts.FLAGS

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


# unicode.IsSpace: what docker trims from the start of an env-file line
_GO_SPACES = ("\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
              "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")


def _read_kv_file(path: str, lookup) -> list[str]:
    """docker/cli's parseKeyValueFile: ``NAME=value`` lines, ``#`` comments and blank
    lines skipped; a bare ``NAME`` takes ``lookup(NAME)`` or is dropped when that is None."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise ConfigError(f"open {path}: {exc.strerror.lower()}") from None
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    out = []
    for number, raw in enumerate(lines, 1):
        raw = raw[:-1] if raw.endswith(b"\r") else raw
        try:
            text = raw.decode()
        except UnicodeDecodeError:
            shown = " ".join(str(b) for b in raw)
            raise ConfigError(f"invalid env file ({path}): invalid utf8 bytes at line {number}: "
                              f"[{shown}]") from None
        if number == 1:
            text = text.removeprefix("\ufeff")
        line = text.lstrip(_GO_SPACES)
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        name = name.lstrip(" \t")
        if " " in name or "\t" in name:
            raise ConfigError(f"invalid env file ({path}): variable '{name}' contains whitespaces")
        if not name:
            raise ConfigError(f"invalid env file ({path}): no variable name on line '{line}'")
        if sep:
            out.append(f"{name}={value}")
        elif (found := lookup(line)) is not None:
            out.append(f"{line.strip(_GO_SPACES)}={found}")
    return out


def _no_lookup(_name: str) -> None:
    return None


def parse_env(values: list[str], files: list[str]) -> list[str]:
    """``-e`` and ``--env-file`` in Docker's order: files first, then ``-e``.

    A bare name takes the client's value; unset, it is dropped from a file but passed
    on bare from ``-e`` (opts.ValidateEnv), and the daemon then unsets it.
    """
    env = [_env_item(v) for v in values]  # checked as flags are, before any file is read
    return [item for path in files for item in _read_kv_file(path, os.environ.get)] + env


def _env_item(item: str) -> str:
    name, sep, _ = item.partition("=")
    if not name:
        raise ConfigError(f"invalid environment variable: {item}")
    if sep:
        return item
    value = os.environ.get(name)
    return item if value is None else f"{name}={value}"


def _check_label(item: str) -> str:
    """opts.ValidateLabel, checked after the flags are read (a ConfigError)."""
    try:
        return validate_label(item)
    except ValueError as exc:
        raise ConfigError(f'invalid argument "{item}" for "-l, --label" flag: {exc}') from None


def parse_labels(values: list[str], files: list[str]) -> dict[str, str]:
    """``--label-file`` then ``-l``; a later label of the same name wins."""
    values = [_check_label(v) for v in values]
    labels: dict[str, str] = {}
    for item in [line for path in files for line in _read_kv_file(path, _no_lookup)] + values:
        key, _, value = item.partition("=")
        labels[key] = value
    return labels


_HEALTH_DURATIONS = (("health-interval", "Interval"), ("health-timeout", "Timeout"),
                     ("health-retries", "Retries"), ("health-start-period", "StartPeriod"),
                     ("health-start-interval", "StartInterval"))


def parse_healthcheck(opts: dict) -> dict | None:
    """docker/cli's Healthcheck from the --health-* flags: ["NONE"] for --no-healthcheck,
    a Test of [] (the image's command) when only the timings are given."""
    given = bool(opts["health-cmd"]) or any(opts[flag] for flag, _ in _HEALTH_DURATIONS)
    if opts["no-healthcheck"]:
        if given:
            raise ConfigError("--no-healthcheck conflicts with --health-* options")
        return {"Test": ["NONE"]}
    if not given:
        return None
    for flag, _ in _HEALTH_DURATIONS:
        if opts[flag] < 0:
            raise ConfigError(f"--{flag} cannot be negative")
    health = {"Test": ["CMD-SHELL", opts["health-cmd"]]} if opts["health-cmd"] else {}
    health.update((key, opts[flag]) for flag, key in _HEALTH_DURATIONS if opts[flag])
    return health  # docker/cli's JSON: the zero fields omitted


def build(opts: dict, args: list[str], detach: bool) -> dict:
    image, cmd = args[0], args[1:]
    attach = [a.lower() for a in opts.get("attach") or []]
    for stream in attach:
        if stream not in ("stdin", "stdout", "stderr"):
            raise ConfigError(f"invalid argument \"{stream}\" for \"-a, --attach\" flag: "
                              "valid streams are STDIN, STDOUT and STDERR")
    try:
        netopts.check_mac(opts)
    except netopts.NetOptError as exc:
        raise ConfigError(str(exc)) from None
    try:
        mounts = mountopts.parse(opts)  # docker/cli's parse: -v after the MAC, before ports
    except mountopts.MountOptError as exc:
        raise ConfigError(str(exc)) from None
    interactive = opts["interactive"]
    # opts.parse: -i always attaches stdin; no -a attaches stdout and stderr
    att_in = interactive or "stdin" in attach
    att_out = not attach or "stdout" in attach
    att_err = not attach or "stderr" in attach
    for item in opts["label"]:
        _check_label(item)  # a flag's error comes before any file is read
    try:
        ports = netopts.parse_ports(opts)  # docker/cli's parse: ports before the env files
    except netopts.NetOptError as exc:
        raise ConfigError(str(exc)) from None
    env = parse_env(opts["env"], opts["env-file"])
    labels = parse_labels(opts["label"], opts["label-file"])
    if detach:  # run -d (runContainer), after the files are read
        if attach:
            raise ConfigError("conflicting options: cannot specify both --attach and --detach")
        att_in = att_out = att_err = False
    entrypoint = None
    if opts["entrypoint"]:
        entrypoint = [opts["entrypoint"]]
    elif "entrypoint" in getattr(opts, "changed", ()):
        entrypoint = [""]
    host_config = {"AutoRemove": opts["rm"], "ReadonlyRootfs": opts["read-only"]}
    if opts["group-add"]:
        host_config["GroupAdd"] = opts["group-add"]
    if opts["shm-size"]:
        host_config["ShmSize"] = opts["shm-size"]
    if opts["runtime"]:
        host_config["Runtime"] = opts["runtime"]
    try:
        hostopts.apply(opts, host_config)
    except hostopts.HostOptError as exc:
        raise ConfigError(str(exc)) from None
    config = {
        "Hostname": opts["hostname"], "Domainname": opts["domainname"], "User": opts["user"],
        "AttachStdin": att_in, "AttachStdout": att_out, "AttachStderr": att_err,
        "Tty": opts["tty"], "OpenStdin": interactive, "StdinOnce": interactive and att_in,
        "Env": env, "Cmd": cmd or None, "Image": image,
        "Volumes": None, "WorkingDir": opts["workdir"], "Entrypoint": entrypoint,
        "Labels": labels, "HostConfig": host_config,
    }
    if opts["log-driver"] == "none" and opts["log-opt"]:  # docker/cli's parseLoggingOpts
        raise ConfigError("invalid logging opts for driver none")
    pendingopts.apply(opts, config)
    mountopts.apply(mounts, config)
    netopts.apply(opts, config, ports)
    health = parse_healthcheck(opts)
    if health is not None:
        config["Healthcheck"] = health
    if opts["stop-signal"]:
        config["StopSignal"] = opts["stop-signal"]
    if "stop-timeout" in getattr(opts, "changed", ()):
        config["StopTimeout"] = opts["stop-timeout"]
    try:
        netopts.apply_network(opts, config)  # docker/cli's parse: the networks last
    except netopts.NetOptError as exc:
        raise ConfigError(str(exc)) from None
    return config
