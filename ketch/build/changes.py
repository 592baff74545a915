"""Dockerfile instructions applied to an image config: ``docker import --change`` / ``commit -c``.

This is moby's ``BuildFromConfig``: the changes are joined into one Dockerfile text and
go through the same four steps, each finished for every instruction before the next:

    "\\n".join(changes) --_logical_lines--> lines   comments dropped, \\-continuations joined
        --_node--> [_Node]                      buildkit's line parsers: words, JSON, flags
        --ALLOWED--> --_parse--> [(kind, data)]     arguments and flags checked
        --_dispatch--> config                     applied one by one

Word expansion ($A, ${A:-x}, quotes, escapes; ``shell_lex``) happens at dispatch, against
the config's Env as the earlier instructions left it; so ``ENV A=1 B=$A`` gives B the A of
before. Texts users see are dockerd's word for word. Where versions differ, what the tests
pin against dockerd 20.10 wins (command names lower-cased in "is not a valid change
command", go-connections v0.4.0's port texts); the rest follows current moby and buildkit
(STOPSIGNAL allowed, HEALTHCHECK --start-interval and --retries=0, ${A#p} and friends).
"""

import ipaddress
import json
import posixpath
import re
from dataclasses import dataclass, field

from ketch import signals
from ketch.build.shell_lex import SPACES, ProcessWord, ProcessWords, is_space, quote
from ketch.errors import InvalidArgument
from ketch.units import parse_duration

ALLOWED = ("CMD", "ENTRYPOINT", "ENV", "EXPOSE", "HEALTHCHECK", "LABEL", "ONBUILD",
           "STOPSIGNAL", "USER", "VOLUME", "WORKDIR")

DEFAULT_SHELL = ["/bin/sh", "-c"]
_WHITESPACE = re.compile(r"[\t\v\f\r ]+")  # buildkit's reWhitespace: ASCII, no newline
_CONTINUATION = re.compile(r"\\[ \t]*$")
_ASCII_SPACES = "\t\n\v\f\r "
_ONBUILD = re.compile(r"^[\t\n\f\r ]*ONBUILD[\t\n\f\r ]*", re.IGNORECASE)  # Go's \s
_HEALTH_FLAGS = ("interval", "timeout", "start-period", "start-interval", "retries")
_MIN_INTERVAL_NS = 1_000_000  # container.MinimumDuration, 1ms


# -- 1. lines ------------------------------------------------------------------------------

def _logical_lines(text: str) -> list[str]:
    """The instructions of a Dockerfile text as buildkit's parser reads them (the default
    escape token; a ``# escape=`` directive is taken for a comment)."""
    raw = text.split("\n")
    if raw[-1] == "":  # bufio.ScanLines: nothing after a final newline
        raw.pop()
    raw = [r[:-1] if r.endswith("\r") else r for r in raw]
    if raw:
        raw[0] = raw[0].removeprefix("\ufeff")
    lines, rest = [], iter(raw)
    for first in rest:
        line, more = _continued(_uncomment(first.lstrip(SPACES)))
        if not more and not line:
            continue
        while more and (nxt := next(rest, None)) is not None:
            if nxt.lstrip(SPACES).startswith("#") or not _uncomment(nxt).strip(SPACES):
                continue  # comments and empty lines inside a continued instruction
            part, more = _continued(_uncomment(nxt))
            line += part
        lines.append(line)
    return lines


def _uncomment(line: str) -> str:
    return "" if line.startswith("#") else line


def _continued(line: str) -> tuple[str, bool]:
    m = _CONTINUATION.search(line)
    return (line[:m.start()], True) if m else (line, False)


# -- 2. nodes ------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Node:
    """One instruction as buildkit's parser leaves it (parser.Node, flattened)."""
    cmd: str                 # lower case
    flags: tuple[str, ...]   # the leading --words
    args: tuple[str, ...]
    json: bool               # the arguments were a JSON array
    original: str


def _node(line: str) -> _Node:
    cmd, flags, rest = _split_command(line)
    args, is_json = _LINE_PARSERS.get(cmd, lambda _: ([], False))(rest)
    return _Node(cmd, tuple(flags), tuple(args), is_json, line)


def _split_command(line: str) -> tuple[str, list[str], str]:
    parts = _WHITESPACE.split(line.strip(SPACES), maxsplit=1)
    flags, rest = [], ""
    if len(parts) == 2:
        rest, flags = _extract_flags(parts[1])
    return parts[0].lower(), flags, rest.strip(SPACES)


def _extract_flags(line: str) -> tuple[str, list[str]]:
    """The leading ``--name=value`` words and the rest: buildkit's extractBuilderFlags.
    Like it, this walks bytes, so non-ASCII in a flag comes out as Latin-1 mojibake."""
    data, words, word, quote_ch, blank_ok, phase, pos = line.encode(), [], "", "", False, "space", 0
    while pos <= len(data):
        ch = chr(data[pos]) if pos < len(data) else ""
        if phase == "space":
            if not ch:
                break
            if is_space(ch):
                pos += 1
                continue
            if ch != "-" or data[pos + 1:pos + 2] != b"-":
                return data[pos:].decode(errors="replace"), words
            phase = "word"
        if not ch:
            if word != "--" and (blank_ok or word):
                words.append(word)
            break
        if phase == "word" and is_space(ch):
            if word == "--":
                return data[pos:].decode(errors="replace"), words
            if blank_ok or word:
                words.append(word)
            word, blank_ok, phase = "", False, "space"
        elif phase == "word" and ch in "'\"":
            quote_ch, blank_ok, phase = ch, True, "quote"
        elif phase == "quote" and ch == quote_ch:
            phase = "word"
        elif ch == "\\" and pos + 1 == len(data):
            phase = "word"  # an escape at the end is dropped
        else:
            if ch == "\\":
                pos += 1
                ch = chr(data[pos])
            word += ch
        pos += 1
    return "", words


def _parse_words(rest: str) -> list[str]:
    """Words split at unquoted spaces, quotes and escapes kept: buildkit's parseWords."""
    words, word, quote_ch, blank_ok, phase, i = [], "", "", False, "space", 0
    while True:
        ch = rest[i] if i < len(rest) else ""
        if phase == "space":
            if not ch:
                break
            if is_space(ch):
                i += 1
                continue
            phase = "word"
        if not ch:
            if blank_ok or word:
                words.append(word)
            break
        if phase == "word":
            if is_space(ch):
                if blank_ok or word:
                    words.append(word)
                word, blank_ok, phase = "", False, "space"
                i += 1
                continue
            if ch in "'\"":
                quote_ch, blank_ok, phase = ch, True, "quote"
            elif ch == "\\":
                if i + 1 == len(rest):  # an escape at the end is dropped
                    i += 1
                    continue
                word += ch  # the escape stays, for the expansion to remove
                i += 1
                ch = rest[i]
        else:
            if ch == quote_ch:
                phase = "word"
            elif ch == "\\" and quote_ch != "'":
                if i + 1 == len(rest):
                    phase = "word"
                    i += 1
                    continue
                word += ch
                i += 1
                ch = rest[i]
        word += ch
        i += 1
    return words


def _name_val(key: str):
    def parse(rest: str) -> tuple[list[str], bool]:
        words = _parse_words(rest)
        if not words:
            return [], False
        if "=" not in words[0]:  # the old form, KEY value with spaces
            parts = _WHITESPACE.split(rest, maxsplit=1)
            if len(parts) < 2:
                raise InvalidArgument(f"{key} must have two arguments")
            return parts, False
        out = []
        for word in words:
            name, sep, value = word.partition("=")
            if not sep:
                raise InvalidArgument(f"Syntax error - can't find = in {quote(word)}. "
                                      "Must be of the form: name=value")
            out += [name, value]
        return out, False
    return parse


def _json_array(rest: str) -> list[str] | None:
    text = rest.lstrip(SPACES)
    if not text.startswith("["):
        return None
    try:
        value = json.loads(text, parse_constant=_not_json)
    except ValueError:
        return None
    if not all(isinstance(v, str) for v in value):
        raise InvalidArgument("when using JSON array syntax, arrays must be comprised of "
                              "strings only")
    # Go's decoder turns a lone surrogate escape into U+FFFD
    return [re.sub("[\ud800-\udfff]", "\ufffd", v) for v in value]


def _not_json(constant: str):
    raise ValueError(constant)  # NaN and Infinity are Python's, not JSON


def _maybe_json(rest: str) -> tuple[list[str], bool]:
    if not rest:
        return [], False
    words = _json_array(rest)
    return (words, True) if words is not None else ([rest], False)


def _maybe_json_list(rest: str) -> tuple[list[str], bool]:
    words = _json_array(rest)
    return (words, True) if words is not None else _whitespace_list(rest)


def _whitespace_list(rest: str) -> tuple[list[str], bool]:
    return (_WHITESPACE.split(rest) if rest else []), False


def _string(rest: str) -> tuple[list[str], bool]:
    return ([rest] if rest else []), False


def _health(rest: str) -> tuple[list[str], bool]:
    """HEALTHCHECK's type word, then a command as CMD takes it."""
    sep = next((i for i, c in enumerate(rest) if c in _ASCII_SPACES), len(rest))
    if sep == 0:
        return [], False
    words, is_json = _maybe_json(rest[sep:].lstrip(_ASCII_SPACES))
    return [rest[:sep]] + words, is_json


def _sub_command(rest: str) -> tuple[list[str], bool]:
    if not rest:
        return [], False
    child = _node(rest)
    return [child.cmd, *child.args], False


_LINE_PARSERS = {
    "cmd": _maybe_json, "entrypoint": _maybe_json, "env": _name_val("ENV"),
    "expose": _whitespace_list, "healthcheck": _health, "label": _name_val("LABEL"),
    "onbuild": _sub_command, "stopsignal": _string, "user": _string,
    "volume": _maybe_json_list, "workdir": _string,
    # parsed although not allowed: their errors come first, as in Docker
    "add": _maybe_json_list, "arg": lambda r: (_parse_words(r), False), "copy": _maybe_json_list,
    "from": _whitespace_list, "maintainer": _string, "run": _maybe_json, "shell": _maybe_json,
}


# -- 3. instructions -----------------------------------------------------------------------

def _flags(node: _Node, names: tuple[str, ...] = ()) -> dict[str, str]:
    """The --name=value flags, all of them strings: buildkit's BFlags.Parse."""
    values: dict[str, str] = {}
    for arg in node.flags:
        if not arg.startswith("--"):
            raise InvalidArgument(f"Arg should start with -- : {arg}")
        if arg == "--":
            break
        name, eq, value = arg[2:].partition("=")
        if name not in names:
            raise InvalidArgument(f"Unknown flag: {name}")
        if name in values:
            raise InvalidArgument(f"Duplicate flag specified: {name}")
        if not eq:
            raise InvalidArgument(f"Missing a value on flag: {name}")
        values[name] = value
    return values


def _count(node: _Node, name: str, exactly_one: bool) -> None:
    if exactly_one and len(node.args) != 1:
        raise InvalidArgument(f"{name} requires exactly one argument")
    if not node.args:
        raise InvalidArgument(f"{name} requires at least one argument")


def _pairs(node: _Node, name: str) -> list[tuple[str, str]]:
    _flags(node)
    _count(node, name, False)
    if len(node.args) % 2:
        raise InvalidArgument(f"Bad input to {name}, too many arguments")
    pairs = list(zip(node.args[::2], node.args[1::2]))
    if any(not key for key, _ in pairs):
        raise InvalidArgument(f"{name} names can not be blank")
    return pairs


def _cmdline(node: _Node) -> tuple[list[str], bool]:
    """The command line and whether the shell goes in front (shell form)."""
    _flags(node)
    args = list(node.args)
    return (args if node.json or not args else [" ".join(args)]), not node.json


def _parse(node: _Node) -> tuple[str, object]:
    cmd = node.cmd
    if cmd in ("env", "label"):
        return cmd, _pairs(node, cmd.upper())
    if cmd in ("cmd", "entrypoint"):
        return cmd, _cmdline(node)
    if cmd == "healthcheck":
        return cmd, _healthcheck(node)
    if cmd == "onbuild":
        _count(node, "ONBUILD", False)
        _flags(node)
        trigger = node.args[0].strip(SPACES).upper()
        if trigger == "ONBUILD":
            raise InvalidArgument("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
        if trigger in ("MAINTAINER", "FROM"):
            raise InvalidArgument(f"{trigger} isn't allowed as an ONBUILD trigger")
        return cmd, _ONBUILD.sub("", node.original, count=1)
    if cmd == "stopsignal":  # buildkit parses no flags here
        _count(node, "STOPSIGNAL", True)
        return cmd, node.args[0]
    _count(node, cmd.upper(), cmd in ("user", "workdir"))
    _flags(node)
    if cmd == "volume":
        volumes = [v.strip(SPACES) for v in node.args]
        if "" in volumes:
            raise InvalidArgument("VOLUME specified can not be an empty string")
        return cmd, volumes
    if cmd == "expose":
        return cmd, sorted(node.args)
    return cmd, node.args[0]  # user, workdir


def _healthcheck(node: _Node) -> dict:
    _count(node, "HEALTHCHECK", False)
    kind, args = node.args[0].upper(), list(node.args[1:])
    if kind == "NONE":
        if args:
            raise InvalidArgument("HEALTHCHECK NONE takes no arguments")
        return {"Test": ["NONE"]}
    flags = _flags(node, _HEALTH_FLAGS)
    if kind != "CMD":
        raise InvalidArgument(f"Unknown type {quote(kind)} in HEALTHCHECK (try CMD)")
    command = args if node.json or not args else [" ".join(args)]
    if not command:
        raise InvalidArgument("Missing command after HEALTHCHECK CMD")
    health = {"Test": ["CMD" if node.json else "CMD-SHELL", *command]}
    for flag, key in zip(_HEALTH_FLAGS, ("Interval", "Timeout", "StartPeriod", "StartInterval")):
        if ns := _interval(flag, flags.get(flag, "")):
            health[key] = ns
    if retries := flags.get("retries", ""):
        n = _parse_int32(retries)
        if n < 0:
            raise InvalidArgument(f"--retries cannot be negative ({n})")
        if n:
            health["Retries"] = n
    return health


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


# -- 4. dispatch ---------------------------------------------------------------------------

@dataclass
class _State:
    config: dict
    cmd_set: bool = False  # a CMD came before: ENTRYPOINT keeps it
    env: list[str] = field(default_factory=list)

    def word(self, text: str) -> str:
        return ProcessWord(text, self.env)


def _dispatch(state: _State, kind: str, data) -> None:
    config = state.config
    state.env = list(config.get("Env") or [])
    if kind == "env":
        env = state.env
        for key, value in [(state.word(k), state.word(v)) for k, v in data]:
            index = next((i for i, e in enumerate(env) if e.partition("=")[0] == key), None)
            if index is None:
                env.append(f"{key}={value}")
            else:  # in place, as moby's dispatchEnv
                env[index] = f"{key}={value}"
        config["Env"] = env
    elif kind == "label":
        labels = [(state.word(k), state.word(v)) for k, v in data]
        config["Labels"] = {**(config.get("Labels") or {}), **dict(labels)}
    elif kind in ("cmd", "entrypoint"):
        args, shell_form = data
        if args:
            config.pop("ArgsEscaped", None)
            if shell_form:
                args = list(config.get("Shell") or DEFAULT_SHELL) + args
        config[kind.capitalize()] = args
        if kind == "cmd":
            state.cmd_set = state.cmd_set or bool(args)
        elif not state.cmd_set:
            config.pop("Cmd", None)  # a new ENTRYPOINT drops the old CMD
    elif kind == "expose":
        ports = [p for arg in data for p in ProcessWords(arg, state.env)]
        config["ExposedPorts"] = {**(config.get("ExposedPorts") or {}),
                                  **{key: {} for p in ports for key in _port_spec(p)}}
    elif kind == "volume":
        volumes = [state.word(v) for v in data]
        if "" in volumes:
            raise InvalidArgument("VOLUME specified can not be an empty string")
        config["Volumes"] = {**(config.get("Volumes") or {}), **{v: {} for v in volumes}}
    elif kind == "user":
        config["User"] = state.word(data)
    elif kind == "workdir":
        config["WorkingDir"] = _workdir(config.get("WorkingDir") or "", state.word(data))
    elif kind == "stopsignal":
        config["StopSignal"] = _signal(state.word(data))
    elif kind == "healthcheck":
        config["Healthcheck"] = data
    elif kind == "onbuild":
        config["OnBuild"] = list(config.get("OnBuild") or []) + [data]


def _workdir(current: str, requested: str) -> str:
    if not requested:
        raise InvalidArgument("cannot normalize nothing")
    if requested.startswith("/"):
        return requested  # kept as written, as moby does
    path = posixpath.normpath(f"/{current}/{requested}")
    return "/" + path.lstrip("/")  # Go's Clean leaves no "//" in front


def _signal(raw: str) -> str:
    """``raw`` as written, if moby's signal.ParseSignal takes it."""
    signals.parse(raw)
    return raw


def _port_spec(raw: str) -> list[str]:
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
    nodes = [_node(line) for line in _logical_lines("\n".join(changes))]
    if not nodes:
        raise InvalidArgument("file with no instructions")
    for node in nodes:
        if node.cmd.upper() not in ALLOWED:
            raise InvalidArgument(f"{node.cmd} is not a valid change command")
    state = _State(config)
    for kind, data in [_parse(node) for node in nodes]:
        _dispatch(state, kind, data)
    return state.config
