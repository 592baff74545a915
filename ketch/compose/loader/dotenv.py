"""``.env`` files, compose-go's dotenv syntax (a port of its parser, not shell).

    # a comment                    KEY=value      KEY: value (yaml style)
    export KEY=value               KEY=value # comment (needs the space before '#')
    KEY='raw, no $ expansion'      KEY="escapes \\n \\t \\\\ \\" \\$, then ${VAR} expansion"
    KEY="spans                     KEY            (alone: taken from the lookup if set there)
    lines"

Unquoted and double-quoted values are substituted (``interpolate.substitute``): a variable
is looked up in the caller's lookup first (the process environment), then among the keys
the file defined above it. The project's environment is the process environment over
``--env-file`` files (or ``<project dir>/.env``): a variable set in the shell wins.
"""

import os
import re
import unicodedata
from collections.abc import Callable

from ketch.compose.errors import LoadError, warn as stderr_warning
from ketch.compose.loader.interpolate import InvalidTemplate, MissingRequired, Warn, go_quote, substitute

Lookup = Callable[[str], str | None]

_EXPORT = re.compile(r"export\s+")
_ESCAPE = re.compile(r"\\(?:[abcfnrtv$\"\\]|0\d{0,3})")
_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
            '"': '"', "\\": "\\"}
_SPACE = "\t\v\f\r \x85\xa0"  # compose-go's isSpace: whitespace but not a line break


class DotenvError(LoadError):
    """A syntax or substitution problem in an env file: ``failed to read FILE: line N: ...``.
    ``file`` and ``detail`` (the text after ``FILE: ``) let a caller word it its own way."""

    def __init__(self, file: str, detail: str) -> None:
        super().__init__(f"failed to read {file}: {detail}")
        self.file, self.detail = file, detail


def parse(text: str, file: str, lookup: Lookup | None = None, *, warn: Warn | None = stderr_warning) -> dict[str, str]:
    """The variables of an env file's text, in order; DotenvError naming ``file``."""
    out: dict[str, str] = {}
    try:
        _Parser(lookup or (lambda name: None), warn).parse(text.removeprefix("\ufeff"), out)
    except _Problem as exc:
        raise DotenvError(file, str(exc)) from None
    except (InvalidTemplate, MissingRequired) as exc:
        raise DotenvError(file, str(exc)) from None
    return out


def read(path: str, lookup: Lookup | None = None, *, warn: Warn | None = stderr_warning) -> dict[str, str]:
    """An env file's variables (``path`` as given in messages)."""
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            text = f.read()
    except FileNotFoundError:
        raise LoadError(f"couldn't find env file: {path}") from None
    except IsADirectoryError:
        raise LoadError(f"{path} is a directory") from None
    except OSError as exc:
        raise LoadError(f"failed to read {path}: {exc.strerror}") from None
    return parse(text, path, lookup, warn=warn)


def env_files(options, project_dir: str) -> list[str]:
    """The env files of the project, absolute: --env-file (against the working directory),
    else ``<project dir>/.env`` when it is a file, unless COMPOSE_DISABLE_ENV_FILE is true."""
    if options.env_files:
        return [os.path.abspath(os.path.join(options.working_dir, f)) for f in options.env_files]
    disable = options.environ.get("COMPOSE_DISABLE_ENV_FILE")
    if disable is not None and _go_bool(disable):
        return []
    default = os.path.join(os.path.abspath(os.path.join(options.working_dir, project_dir)), ".env")
    return [default] if os.path.isfile(default) else []


def project_environment(options, project_dir: str, *, warn: Warn | None = stderr_warning) -> dict[str, str]:
    """The environment the compose files are interpolated with: ``options.environ`` over the
    env files' variables (each file sees the environment and the files before it)."""
    environ = options.environ
    from_files: dict[str, str] = {}
    for path in env_files(options, project_dir):
        def lookup(name: str) -> str | None:
            value = environ.get(name)
            return value if value is not None else from_files.get(name)
        from_files.update(read(path, lookup, warn=warn))
    return {**from_files, **environ}


def _go_bool(text: str) -> bool:
    if text in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if text in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise LoadError(f"strconv.ParseBool: parsing {go_quote(text)}: invalid syntax")


class _Problem(Exception):
    pass


class _Parser:
    """compose-go's dotenv parser: a cursor over the text and the current line number."""

    def __init__(self, lookup: Lookup, warn: Warn | None) -> None:
        self.lookup, self.warn, self.line = lookup, warn, 1

    def parse(self, src: str, out: dict[str, str]) -> None:
        while True:
            src = self._statement_start(src)
            if not src:
                return
            key, src, inherited = self._key(src)
            if " " in key:
                raise _Problem(f"line {self.line}: key cannot contain a space")
            if inherited:
                value = self.lookup(key)
                if value is not None:
                    out[key] = value
                continue
            out[key], src = self._value(src, out)

    def _statement_start(self, src: str) -> str:
        """Past blank lines and comments (counting lines); "" at the end."""
        while True:
            stripped = src.lstrip()
            self.line += src[:len(src) - len(stripped)].count("\n")
            if not stripped.startswith("#"):
                return stripped
            newline = stripped.find("\n")
            if newline == -1:
                return ""
            src = stripped[newline:]

    def _key(self, src: str) -> tuple[str, str, bool]:
        if _EXPORT.match(src):
            src = src[len("export"):].lstrip(_SPACE)
        for i, char in enumerate(src):
            if char in _SPACE:
                continue
            if char in "=:\n":
                key, rest, inherited = src[:i], src[i + 1:], char == "\n"
                break
            if char in "_.-[]" or _letter_or_number(char):
                continue
            first_line = src.split("\n", 1)[0]
            raise _Problem(f"line {self.line}: unexpected character {go_quote(char)} in variable name "
                           f"{go_quote(first_line)}")
        else:  # the last line, a name alone without a newline: inherited as on any line
            key, rest, inherited = src, "", True
        if inherited and " " not in key:
            self.line += 1
        return key.rstrip(), rest.lstrip(_SPACE), inherited

    def _value(self, src: str, out: dict[str, str]) -> tuple[str, str]:
        if not src or src[0] not in "'\"":
            value, _, rest = src.partition("\n")
            self.line += 1
            value = value.split(" #", 1)[0].rstrip()
            return self._expand(value, out), rest
        quote, chars, escaped = src[0], [], False
        for i in range(1, len(src)):
            char = src[i]
            if char == "\n":
                self.line += 1
            if char != quote:
                if not escaped and char == "\\":
                    escaped = True
                    continue
                if escaped:
                    escaped = False
                    chars.append("\\")
                chars.append(char)
                continue
            if escaped:  # \" or \' : the quote itself
                escaped = False
                chars.append(char)
                continue
            value = "".join(chars)
            if quote == '"':
                value = self._expand(_unescape(value), out)
            return value, src[i + 1:]
        raise _Problem(f"line {self.line}: unterminated quoted value {src.split(chr(10), 1)[0]}")

    def _expand(self, value: str, out: dict[str, str]) -> str:
        def lookup(name: str) -> str | None:
            found = self.lookup(name)
            return found if found is not None else out.get(name)
        return substitute(value, lookup, self.warn)


def _letter_or_number(char: str) -> bool:
    return unicodedata.category(char)[0] in "LN"


def _unescape(text: str) -> str:
    """The shell escapes compose-go expands in double quotes; ``\\$`` stays a literal dollar."""
    def one(match: re.Match) -> str:
        seq = match.group(0)
        if seq == "\\$":
            return "$$"
        if seq.startswith("\\0"):
            digits = seq[2:]
            if len(digits) == 3 and all(d in "01234567" for d in digits) and int(digits, 8) < 256:
                return chr(int(digits, 8))
            return seq
        return _ESCAPES[seq[1]]
    return _ESCAPE.sub(one, text)
