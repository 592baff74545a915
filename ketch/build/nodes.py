"""One logical Dockerfile line -> a ``Node``: buildkit's ``parser`` line parsers.

    "RUN --mount=type=cache,target=/c  make all"
      --split_command--> word "RUN", flags ["--mount=type=cache,target=/c"], rest "make all"
      --the keyword's line parser--> args ["make all"], json False

Each keyword has its own way of reading the rest of the line (``_LINE_PARSERS``): a JSON
array or one string (RUN, CMD...), a JSON array or whitespace-separated words (COPY,
VOLUME...), ``key=value`` words or the legacy ``key value`` (ENV, LABEL), a sub-command
(ONBUILD). Quotes and escapes stay in the words: expansion removes them at dispatch. An
unknown keyword still gives a node (without arguments), as buildkit's ``parseIgnore``; the
instruction parser refuses it later, so its error comes in file order.
"""

import json
import re
from dataclasses import dataclass

from ketch.build.shell_lex import SPACES, is_space, quote
from ketch.errors import InvalidArgument

WHITESPACE = re.compile(r"[\t\v\f\r ]+")  # buildkit's reWhitespace: ASCII, no newline
_ASCII_SPACES = "\t\n\v\f\r "


@dataclass(frozen=True)
class Node:
    """One instruction as buildkit's parser leaves it (parser.Node, flattened)."""
    cmd: str                 # the keyword, lower case
    flags: tuple[str, ...]   # the leading --words
    args: tuple[str, ...]    # ENV/LABEL: key, value, key, value...; ONBUILD: cmd, *child args
    json: bool               # the arguments were a JSON array
    original: str            # the logical line
    word: str = ""           # the keyword as written ("Run")
    child: "Node | None" = None  # ONBUILD's trigger
    legacy_kv: bool = False  # ENV/LABEL in the old "key value" form


def node_from_line(line: str, escape: str = "\\") -> Node:
    word, flags, rest = split_command(line, escape)
    cmd = word.lower()
    parser = _LINE_PARSERS.get(cmd)
    if parser is None:
        return Node(cmd, tuple(flags), (), False, line, word)
    return parser(rest, escape)._replace_into(cmd, flags, line, word)


def split_command(line: str, escape: str = "\\") -> tuple[str, list[str], str]:
    parts = WHITESPACE.split(line.strip(SPACES), maxsplit=1)
    flags, rest = [], ""
    if len(parts) == 2:
        rest, flags = extract_flags(parts[1], escape)
    return parts[0], flags, rest.strip(SPACES)


def extract_flags(line: str, escape: str = "\\") -> tuple[str, list[str]]:
    """The leading ``--name=value`` words and the rest: buildkit's extractBuilderFlags.
    Like it, this walks bytes, so non-ASCII in a flag comes out as Latin-1 mojibake."""
    data = line.encode(errors="surrogateescape")  # bytes not UTF-8 in the file pass through
    words, word, quote_ch, blank_ok, phase, pos = [], "", "", False, "space", 0
    esc = ord(escape)
    while pos <= len(data):
        ch = chr(data[pos]) if pos < len(data) else ""
        if phase == "space":
            if not ch:
                break
            if is_space(ch):
                pos += 1
                continue
            if ch != "-" or data[pos + 1:pos + 2] != b"-":
                return data[pos:].decode(errors="surrogateescape"), words
            phase = "word"
        if not ch:
            if word != "--" and (blank_ok or word):
                words.append(word)
            break
        if phase == "word" and is_space(ch):
            if word == "--":
                return data[pos:].decode(errors="surrogateescape"), words
            if blank_ok or word:
                words.append(word)
            word, blank_ok, phase = "", False, "space"
        elif phase == "word" and ch in "'\"":
            quote_ch, blank_ok, phase = ch, True, "quote"
        elif phase == "quote" and ch == quote_ch:
            phase = "word"
        elif ord(ch) == esc and pos + 1 == len(data):
            phase = "word"  # an escape at the end is dropped
        else:
            if ord(ch) == esc:
                pos += 1
                ch = chr(data[pos])
            word += ch
        pos += 1
    return "", words


def parse_words(rest: str, escape: str = "\\") -> list[str]:
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
            elif ch == escape:
                if i + 1 == len(rest):  # an escape at the end is dropped
                    i += 1
                    continue
                word += ch  # the escape stays, for the expansion to remove
                i += 1
                ch = rest[i]
        else:
            if ch == quote_ch:
                phase = "word"
            elif ch == escape and quote_ch != "'":
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


# -- the line parsers: rest of the line -> arguments --------------------------------------

@dataclass(frozen=True)
class _Parsed:
    args: tuple[str, ...] = ()
    json: bool = False
    child: Node | None = None
    legacy_kv: bool = False

    def _replace_into(self, cmd: str, flags: list[str], line: str, word: str) -> Node:
        return Node(cmd, tuple(flags), self.args, self.json, line, word, self.child,
                    self.legacy_kv)


def _name_val(key: str):
    def parse(rest: str, escape: str) -> _Parsed:
        words = parse_words(rest, escape)
        if not words:
            return _Parsed()
        if "=" not in words[0]:  # the old form, KEY value with spaces
            parts = WHITESPACE.split(rest, maxsplit=1)
            if len(parts) < 2:
                raise InvalidArgument(f"{key} must have two arguments")
            return _Parsed(tuple(parts), legacy_kv=True)
        out: list[str] = []
        for word in words:
            name, sep, value = word.partition("=")
            if not sep:
                raise InvalidArgument(f"Syntax error - can't find = in {quote(word)}. "
                                      "Must be of the form: name=value")
            out += [name, value]
        return _Parsed(tuple(out))
    return parse


def json_array(rest: str) -> list[str] | None:
    """The strings of a JSON array, None when ``rest`` is not one (then it is text)."""
    text = rest.lstrip(SPACES)
    if not text.startswith("["):
        return None
    try:
        value = json.loads(text, parse_constant=_not_json)
    except ValueError:
        return None
    if not isinstance(value, list):
        return None
    if not all(isinstance(v, str) for v in value):
        raise InvalidArgument("when using JSON array syntax, arrays must be comprised of "
                              "strings only")
    # Go's decoder turns a lone surrogate escape into U+FFFD
    return [re.sub("[\ud800-\udfff]", "\ufffd", v) for v in value]


def _not_json(constant: str):
    raise ValueError(constant)  # NaN and Infinity are Python's, not JSON


def _maybe_json(rest: str, escape: str) -> _Parsed:
    if not rest:
        return _Parsed()
    words = json_array(rest)
    return _Parsed(tuple(words), True) if words is not None else _Parsed((rest,))


def _maybe_json_list(rest: str, escape: str) -> _Parsed:
    words = json_array(rest)
    return _Parsed(tuple(words), True) if words is not None else _whitespace_list(rest, escape)


def _whitespace_list(rest: str, escape: str) -> _Parsed:
    return _Parsed(tuple(WHITESPACE.split(rest)) if rest else ())


def _string(rest: str, escape: str) -> _Parsed:
    return _Parsed((rest,) if rest else ())


def _words(rest: str, escape: str) -> _Parsed:
    return _Parsed(tuple(parse_words(rest, escape)))


def _health(rest: str, escape: str) -> _Parsed:
    """HEALTHCHECK's type word, then a command as CMD takes it."""
    sep = next((i for i, c in enumerate(rest) if c in _ASCII_SPACES), len(rest))
    if sep == 0:
        return _Parsed()
    cmd = _maybe_json(rest[sep:].lstrip(_ASCII_SPACES), escape)
    return _Parsed((rest[:sep], *cmd.args), cmd.json)


def _sub_command(rest: str, escape: str) -> _Parsed:
    if not rest:
        return _Parsed()
    child = node_from_line(rest, escape)
    return _Parsed((child.cmd, *child.args), False, child)


_LINE_PARSERS = {
    "add": _maybe_json_list, "arg": _words, "cmd": _maybe_json, "copy": _maybe_json_list,
    "entrypoint": _maybe_json, "env": _name_val("ENV"), "expose": _whitespace_list,
    "from": _whitespace_list, "healthcheck": _health, "label": _name_val("LABEL"),
    "maintainer": _string, "onbuild": _sub_command, "run": _maybe_json, "shell": _maybe_json,
    "stopsignal": _string, "user": _string, "volume": _maybe_json_list, "workdir": _string,
}

KEYWORDS = tuple(sorted(_LINE_PARSERS))
