"""A ``Node`` -> its typed instruction: buildkit's ``instructions.ParseInstruction``.

Argument counts, flags (``BFlags``) and the forms each keyword takes are checked here,
with dockerd 20.10's texts for what 20.10 knew and current buildkit's for what came later
(COPY --link/--parents/--exclude, ADD --checksum, RUN --mount/--network/--security,
HEALTHCHECK --start-interval and --retries=0, heredocs). Errors carry no line: the caller
(``build.parser``, ``build.changes``) frames them as Docker does.
"""

import re
from collections.abc import Callable

from ketch.build import instructions as ins
from ketch.build.bflags import BFlags
from ketch.build.heredoc import parse_heredoc
from ketch.build.reader import Entry
from ketch.build.runmount import parse_mount
from ketch.build.shell_lex import SPACES, quote
from ketch.errors import InvalidArgument
from ketch.units import parse_duration

_STAGE_NAME = re.compile(r"^[a-z][a-z0-9\-_.]*\Z")
_ONBUILD = re.compile(r"^[\t\n\f\r ]*ONBUILD[\t\n\f\r ]*", re.IGNORECASE)  # Go's \s
_MIN_INTERVAL_NS = 1_000_000  # container.MinimumDuration, 1ms
NETWORKS = ("default", "none", "host")
SECURITY = ("sandbox", "insecure")


def at_least_one(name: str) -> InvalidArgument:
    return InvalidArgument(f"{name} requires at least one argument")


def exactly_one(name: str) -> InvalidArgument:
    return InvalidArgument(f"{name} requires exactly one argument")


class UnknownInstruction(InvalidArgument):
    def __init__(self, word: str):
        super().__init__(f"unknown instruction: {word.upper()}")


def parse_instruction(entry: Entry) -> ins.Instruction | ins.Stage:
    node = entry.node
    parser = _PARSERS.get(node.cmd)
    if parser is None:
        raise UnknownInstruction(node.cmd)
    return parser(_Request(entry))


class _Request:
    def __init__(self, entry: Entry):
        self.node = entry.node
        self.args = list(entry.node.args)
        self.flags = BFlags(entry.node.flags)
        self.json = entry.node.json
        self.heredocs = entry.heredocs
        self.raw_heredocs = entry.raw_heredocs
        # moby's withNameAndCode: the code is the trimmed logical line ("Step 2/3 : RUN x")
        self.common = {"location": entry.location,
                       "original": entry.node.original.strip(SPACES)}


def _cmdline(req: _Request) -> tuple[str, ...]:
    """handleJSONArgs: exec form as is; shell form one string."""
    if req.json or not req.args:
        return tuple(req.args)
    return (" ".join(req.args),)


def _command(req: _Request) -> ins.Command:
    return ins.Command(_cmdline(req), not req.json, req.heredocs)


def _pairs(req: _Request, name: str) -> tuple[ins.KeyValue, ...]:
    req.flags.parse()
    args = req.args
    if not args:
        raise at_least_one(name)
    if len(args) % 2:
        raise InvalidArgument(f"Bad input to {name}, too many arguments")
    if any(not key for key in args[::2]):
        raise InvalidArgument(f"{name} names can not be blank")
    return tuple(ins.KeyValue(k, v) for k, v in zip(args[::2], args[1::2]))


def _env(req: _Request) -> ins.EnvInstr:
    return ins.EnvInstr(**req.common, pairs=_pairs(req, "ENV"))


def _label(req: _Request) -> ins.LabelInstr:
    return ins.LabelInstr(**req.common, labels=_pairs(req, "LABEL"))


def _maintainer(req: _Request) -> ins.MaintainerInstr:
    if len(req.args) != 1:
        raise exactly_one("MAINTAINER")
    req.flags.parse()
    return ins.MaintainerInstr(**req.common, maintainer=req.args[0])


def _sources_and_dest(req: _Request, name: str) -> ins.SourcesAndDest:
    *sources, dest = req.args
    if parse_heredoc(dest) is not None:
        raise InvalidArgument(f"{name} cannot accept a heredoc as a destination")
    by_name = {h.name: h for h in req.heredocs}
    paths, files = [], []
    for src in sources:
        word = parse_heredoc(src)  # also in JSON form, as buildkit (then an empty file)
        if word is None:
            paths.append(src)
        else:
            body = by_name.get(word.name)
            files.append(body if body is not None else ins.Heredoc(word.name, "", word.expand,
                                                                   word.chomp))
    return ins.SourcesAndDest(tuple(paths), dest, tuple(files))


def _add(req: _Request) -> ins.AddInstr:
    if len(req.args) < 2:
        raise _no_destination("ADD")
    flags = req.flags
    for name in ("chown", "chmod", "checksum"):
        flags.string(name)
    for name in ("link", "keep-git-dir", "unpack"):
        flags.bool(name)
    flags.strings("exclude")
    flags.parse()
    return ins.AddInstr(**req.common, files=_sources_and_dest(req, "ADD"),
                        chown=flags["chown"], chmod=flags["chmod"], link=flags["link"],
                        checksum=flags["checksum"], keep_git_dir=flags["keep-git-dir"],
                        excludes=flags["exclude"],
                        unpack=flags["unpack"] if "unpack" in flags.used else None)


def _copy(req: _Request) -> ins.CopyInstr:
    if len(req.args) < 2:
        raise _no_destination("COPY")
    flags = req.flags
    for name in ("chown", "from", "chmod"):
        flags.string(name)
    for name in ("link", "parents"):
        flags.bool(name)
    flags.strings("exclude")
    flags.parse()
    return ins.CopyInstr(**req.common, files=_sources_and_dest(req, "COPY"),
                         from_=flags["from"], chown=flags["chown"], chmod=flags["chmod"],
                         link=flags["link"], parents=flags["parents"],
                         excludes=flags["exclude"])


def _no_destination(name: str) -> InvalidArgument:
    return InvalidArgument(f"{name} requires at least two arguments, but only one was "
                           "provided. Destination could not be determined")


def _from(req: _Request) -> ins.Stage:
    args, name = req.args, ""
    if len(args) == 3 and args[1].lower() == "as":
        name = args[2].lower()
        if not _STAGE_NAME.match(name):
            raise InvalidArgument(f"invalid name for build stage: {quote(args[2])}, name can't "
                                  "start with a number or contain symbols")
    elif len(args) != 1:
        raise InvalidArgument("FROM requires either one or three arguments")
    req.flags.string("platform")
    req.flags.parse()
    return ins.Stage(req.common["location"], req.node.original.strip(SPACES), args[0], name,
                     req.flags["platform"])


def _onbuild(req: _Request) -> ins.OnbuildInstr:
    if not req.args:
        raise at_least_one("ONBUILD")
    req.flags.parse()
    trigger = req.args[0].strip(SPACES).upper()
    if trigger == "ONBUILD":
        raise InvalidArgument("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
    if trigger in ("MAINTAINER", "FROM"):
        raise InvalidArgument(f"{trigger} isn't allowed as an ONBUILD trigger")
    expression = _ONBUILD.sub("", req.node.original, count=1)
    for heredoc in req.raw_heredocs:  # the bodies go with the trigger, as written
        expression += "\n" + heredoc.content + heredoc.name
    return ins.OnbuildInstr(**req.common, expression=expression)


def _workdir(req: _Request) -> ins.WorkdirInstr:
    if len(req.args) != 1:
        raise exactly_one("WORKDIR")
    req.flags.parse()
    return ins.WorkdirInstr(**req.common, path=req.args[0])


def _run(req: _Request) -> ins.RunInstr:
    flags = req.flags
    flags.strings("mount")
    flags.string("network")
    flags.string("security")
    flags.parse()
    network, security = flags["network"], flags["security"]
    if network and network not in NETWORKS:
        raise InvalidArgument(f"invalid network mode {quote(network)}")
    if security and security not in SECURITY:
        raise InvalidArgument(f"security {quote(security)} is not valid")
    mounts = tuple(parse_mount(text) for text in flags["mount"])
    return ins.RunInstr(**req.common, command=_command(req), mounts=mounts, network=network,
                        security=security)


def _cmd(req: _Request) -> ins.CmdInstr:
    req.flags.parse()
    return ins.CmdInstr(**req.common, command=_command(req))


def _entrypoint(req: _Request) -> ins.EntrypointInstr:
    req.flags.parse()
    return ins.EntrypointInstr(**req.common, command=_command(req))


def _interval(flag: str, value: str) -> int:
    if not value or (ns := parse_duration(value)) == 0:
        return 0
    if ns < _MIN_INTERVAL_NS:
        raise InvalidArgument(f"Interval {quote(flag)} cannot be less than 1ms")
    return ns


def _parse_int32(text: str) -> int:
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        raise InvalidArgument(f"strconv.ParseInt: parsing {quote(text)}: invalid syntax")
    if not -2**31 <= (n := int(text)) < 2**31:
        raise InvalidArgument(f"strconv.ParseInt: parsing {quote(text)}: value out of range")
    return n


def _healthcheck(req: _Request) -> ins.HealthcheckInstr:
    if not req.args:
        raise at_least_one("HEALTHCHECK")
    kind, args = req.args[0].upper(), req.args[1:]
    if kind == "NONE":  # reads no flags
        if args:
            raise InvalidArgument("HEALTHCHECK NONE takes no arguments")
        return ins.HealthcheckInstr(**req.common, health=ins.HealthConfig(("NONE",)))
    flags = req.flags
    names = ("interval", "timeout", "start-period", "start-interval", "retries")
    for name in names:
        flags.string(name)
    flags.parse()
    if kind != "CMD":
        raise InvalidArgument(f"Unknown type {quote(kind)} in HEALTHCHECK (try CMD)")
    command = tuple(args) if req.json or not args else (" ".join(args),)
    if not command:
        raise InvalidArgument("Missing command after HEALTHCHECK CMD")
    test = ("CMD" if req.json else "CMD-SHELL", *command)
    durations = [_interval(name, flags[name]) for name in names[:4]]
    retries = 0
    if flags["retries"]:
        retries = _parse_int32(flags["retries"])
        if retries < 0:
            raise InvalidArgument(f"--retries cannot be negative ({retries})")
    return ins.HealthcheckInstr(**req.common, health=ins.HealthConfig(test, *durations, retries))


def _expose(req: _Request) -> ins.ExposeInstr:
    if not req.args:
        raise at_least_one("EXPOSE")
    req.flags.parse()
    return ins.ExposeInstr(**req.common, ports=tuple(sorted(req.args)))


def _user(req: _Request) -> ins.UserInstr:
    if len(req.args) != 1:
        raise exactly_one("USER")
    req.flags.parse()
    return ins.UserInstr(**req.common, user=req.args[0])


def _volume(req: _Request) -> ins.VolumeInstr:
    if not req.args:
        raise at_least_one("VOLUME")
    req.flags.parse()
    volumes = tuple(v.strip(SPACES) for v in req.args)
    if "" in volumes:
        raise InvalidArgument("VOLUME specified can not be an empty string")
    return ins.VolumeInstr(**req.common, volumes=volumes)


def _stopsignal(req: _Request) -> ins.StopSignalInstr:
    if len(req.args) != 1:  # buildkit parses no flags here
        raise exactly_one("STOPSIGNAL")
    return ins.StopSignalInstr(**req.common, signal=req.args[0])


def _arg(req: _Request) -> ins.ArgInstr:
    if not req.args:
        raise at_least_one("ARG")
    specs = []
    for word in req.args:
        key, eq, value = word.partition("=")
        if eq and not key:
            raise InvalidArgument("ARG names can not be blank")
        specs.append(ins.ArgSpec(key, value if eq else None))
    return ins.ArgInstr(**req.common, args=tuple(specs))


def _shell(req: _Request) -> ins.ShellInstr:
    req.flags.parse()
    shell = _cmdline(req)
    if not shell:
        raise at_least_one("SHELL")
    if not req.json:
        raise InvalidArgument("SHELL requires the arguments to be in JSON form")
    return ins.ShellInstr(**req.common, shell=shell)


_PARSERS: dict[str, Callable[[_Request], ins.Instruction | ins.Stage]] = {
    "add": _add, "arg": _arg, "cmd": _cmd, "copy": _copy, "entrypoint": _entrypoint,
    "env": _env, "expose": _expose, "from": _from, "healthcheck": _healthcheck,
    "label": _label, "maintainer": _maintainer, "onbuild": _onbuild, "run": _run,
    "shell": _shell, "stopsignal": _stopsignal, "user": _user, "volume": _volume,
    "workdir": _workdir,
}
