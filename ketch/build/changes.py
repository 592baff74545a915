"""Dockerfile instructions applied to an image config: ``docker import --change`` / ``commit -c``.

This is moby's ``BuildFromConfig``: the changes are joined into one Dockerfile text and
go through the Dockerfile parser's steps, each finished for every instruction before the
next:

    "\\n".join(changes) --reader.read--> [Node]      lines, comments, continuations; words, JSON
        --ALLOWED--> --instrparse--> [Instruction]    arguments and flags checked
        --_dispatch--> config                         applied one by one

Errors come without the "dockerfile parse error line N" framing of a build, as dockerd
says them for --change. Word expansion ($A, ${A:-x}, quotes, escapes; ``shell_lex``)
happens at dispatch, against the config's Env as the earlier instructions left it; so
``ENV A=1 B=$A`` gives B the A of before. Texts users see are dockerd's word for word.
Where versions differ, what the tests pin against dockerd 20.10 wins (command names
lower-cased in "is not a valid change command", go-connections v0.4.0's port texts); the
rest follows current moby and buildkit (STOPSIGNAL allowed, HEALTHCHECK --start-interval
and --retries=0, ${A#p} and friends).
"""

import ipaddress
import posixpath
import re
from dataclasses import dataclass, field

from ketch import signals
from ketch.build import instructions as ins
from ketch.build.instrparse import parse_instruction
from ketch.build.reader import read
from ketch.build.shell_lex import ProcessWord, ProcessWords
from ketch.errors import InvalidArgument

ALLOWED = ("CMD", "ENTRYPOINT", "ENV", "EXPOSE", "HEALTHCHECK", "LABEL", "ONBUILD",
           "STOPSIGNAL", "USER", "VOLUME", "WORKDIR")

DEFAULT_SHELL = ["/bin/sh", "-c"]


@dataclass
class _State:
    config: dict
    cmd_set: bool = False  # a CMD came before: ENTRYPOINT keeps it
    env: list[str] = field(default_factory=list)
    escape: str = "\\"  # a "# escape=`" first line sets it, as in a Dockerfile

    def word(self, text: str) -> str:
        return ProcessWord(text, self.env, self.escape)


def _dispatch(state: _State, instr: ins.Instruction) -> None:
    config = state.config
    state.env = list(config.get("Env") or [])
    if isinstance(instr, ins.EnvInstr):
        env = state.env
        for key, value in [(state.word(p.key), state.word(p.value)) for p in instr.pairs]:
            index = next((i for i, e in enumerate(env) if e.partition("=")[0] == key), None)
            if index is None:
                env.append(f"{key}={value}")
            else:  # in place, as moby's dispatchEnv
                env[index] = f"{key}={value}"
        config["Env"] = env
    elif isinstance(instr, ins.LabelInstr):
        labels = [(state.word(p.key), state.word(p.value)) for p in instr.labels]
        config["Labels"] = {**(config.get("Labels") or {}), **dict(labels)}
    elif isinstance(instr, (ins.CmdInstr, ins.EntrypointInstr)):
        args = list(instr.command.args)
        if args:
            config.pop("ArgsEscaped", None)
            if instr.command.prepend_shell:
                args = list(config.get("Shell") or DEFAULT_SHELL) + args
        config[instr.keyword.capitalize()] = args
        if isinstance(instr, ins.CmdInstr):
            state.cmd_set = state.cmd_set or bool(args)
        elif not state.cmd_set:
            config.pop("Cmd", None)  # a new ENTRYPOINT drops the old CMD
    elif isinstance(instr, ins.ExposeInstr):
        ports = [p for arg in instr.ports for p in ProcessWords(arg, state.env, state.escape)]
        config["ExposedPorts"] = {**(config.get("ExposedPorts") or {}),
                                  **{key: {} for p in ports for key in port_spec(p)}}
    elif isinstance(instr, ins.VolumeInstr):
        volumes = [state.word(v) for v in instr.volumes]
        if "" in volumes:
            raise InvalidArgument("VOLUME specified can not be an empty string")
        config["Volumes"] = {**(config.get("Volumes") or {}), **{v: {} for v in volumes}}
    elif isinstance(instr, ins.UserInstr):
        config["User"] = state.word(instr.user)
    elif isinstance(instr, ins.WorkdirInstr):
        config["WorkingDir"] = normalize_workdir(config.get("WorkingDir") or "", state.word(instr.path))
    elif isinstance(instr, ins.StopSignalInstr):
        config["StopSignal"] = check_signal(state.word(instr.signal))
    elif isinstance(instr, ins.HealthcheckInstr):
        config["Healthcheck"] = health_document(instr.health)
    elif isinstance(instr, ins.OnbuildInstr):
        config["OnBuild"] = list(config.get("OnBuild") or []) + [instr.expression]


def health_document(health: ins.HealthConfig) -> dict:
    """The image config's Healthcheck object: zero durations and retries left out."""
    doc: dict = {"Test": list(health.test)}
    for key, value in (("Interval", health.interval), ("Timeout", health.timeout),
                       ("StartPeriod", health.start_period),
                       ("StartInterval", health.start_interval), ("Retries", health.retries)):
        if value:
            doc[key] = value
    return doc


def normalize_workdir(current: str, requested: str) -> str:
    """WORKDIR ``requested`` after ``current`` (moby's normalizeWorkdir)."""
    if not requested:
        raise InvalidArgument("cannot normalize nothing")
    if requested.startswith("/"):
        return requested  # kept as written, as moby does
    path = posixpath.normpath(f"/{current}/{requested}")
    return "/" + path.lstrip("/")  # Go's Clean leaves no "//" in front


def check_signal(raw: str) -> str:
    """``raw`` as written, if moby's signal.ParseSignal takes it."""
    signals.parse(raw)
    return raw


def port_spec(raw: str) -> list[str]:
    """The ExposedPorts keys of one EXPOSE word: go-connections' ParsePortSpec (v0.4.0),
    [[ip:]host-port:]port[-end][/proto]; only the container ports are kept."""
    parts = raw.split(":")
    ip, host = (":".join(parts[:-2]), parts[-2]) if len(parts) > 1 else ("", "")
    port, _, proto = parts[-1].partition("/")
    proto = proto.split("/")[0] or "tcp"
    _check_ip(ip)
    if not port:
        raise InvalidArgument(f"No port specified: {raw}<empty>")
    try:
        start, end = _port_range(port)
    except ValueError:
        raise InvalidArgument(f"Invalid containerPort: {port}") from None
    if host:
        try:
            host_start, host_end = _port_range(host)
        except ValueError:
            raise InvalidArgument(f"Invalid hostPort: {host}") from None
        if end - start != host_end - host_start and end != start:
            raise InvalidArgument("Invalid ranges specified for container and host Ports: "
                                  f"{port} and {host}")
    if proto.lower() not in ("tcp", "udp", "sctp"):
        raise InvalidArgument(f"Invalid proto: {proto}")
    return [f"{n}/{proto.lower()}" for n in range(start, end + 1)]


def _port_range(text: str) -> tuple[int, int]:
    start, _, end = text.partition("-")
    first, last = _uint16(start), _uint16(end.split("-")[0] if "-" in text else start)
    if last < first:
        raise ValueError(text)
    return first, last


def _uint16(text: str) -> int:
    if not re.fullmatch(r"[0-9]+", text) or int(text) > 65535:
        raise ValueError(text)
    return int(text)


def _check_ip(raw: str) -> None:
    """The host-ip part as go-connections checks it: net.SplitHostPort(raw + ":"), then
    net.ParseIP on what is left."""
    hostport = raw + ":"
    colon, skip_open, skip_close, why = len(hostport) - 1, 0, 0, ""
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            why = "missing ']' in address"
        elif end + 1 != colon:
            why = ("too many colons in address" if hostport[end + 1] == ":"
                   else "missing port in address")
        host, skip_open, skip_close = hostport[1:end], 1, end + 1
    else:
        host = raw
        why = "too many colons in address" if ":" in host else ""
    if not why and "[" in hostport[skip_open:]:
        why = "unexpected '[' in address"
    if not why and "]" in hostport[skip_close:]:
        why = "unexpected ']' in address"
    if why:
        raise InvalidArgument(f"Invalid ip address {raw}: address {hostport}: {why}")
    if host and not _is_ip(host):
        raise InvalidArgument(f"Invalid ip address: {host}")


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return "%" not in text  # Go's ParseIP takes no IPv6 zone


def apply(config: dict, changes: list[str]) -> dict:
    """Return a copy of the image ``config`` (its "config" object) with ``changes`` applied."""
    config = dict(config)
    if not changes:
        return config
    source = read("\n".join(changes))
    entries = source.entries
    for entry in entries:
        if entry.node.cmd.upper() not in ALLOWED:
            raise InvalidArgument(f"{entry.node.cmd} is not a valid change command")
    state = _State(config, escape=source.directives.escape)
    for instr in [parse_instruction(entry) for entry in entries]:
        _dispatch(state, instr)
    return state.config
