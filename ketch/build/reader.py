"""A Dockerfile's text -> its parser directives and one ``Node`` per instruction, with
lines and heredoc bodies: buildkit's ``parser.Parse``.

    # syntax=docker/dockerfile:1      directives: only the first lines, each key once,
    # escape=`                        before any instruction, comment or empty line
    FROM busybox
    # a comment                       comments and empty lines: dropped
    RUN echo a `                      a line ending in the escape token continues; comments
    # inside                          and empty lines inside a continued instruction are
                                      skipped (an empty one gives a warning)
      b
    COPY <<EOF /x                     RUN, COPY, ADD (and ONBUILD of them) in shell form may
    body                              name heredocs: their bodies follow the line, each up to
    EOF                               its terminator

Errors are ``InvalidArgument`` with buildkit's text and no location; ``build.parser`` puts
Docker's framing around them.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass

from ketch.build import heredoc as heredocs
from ketch.build.instructions import Directives, Heredoc, Location, Warning
from ketch.build.nodes import Node, node_from_line
from ketch.build.shell_lex import SPACES
from ketch.errors import InvalidArgument

_DIRECTIVE = re.compile(r"^([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*(.+?)[\t\n\f\r ]*\Z",
                        re.DOTALL)
_DIRECTIVE_KEYS = ("syntax", "escape", "check")
_HEREDOC_KEYWORDS = ("add", "copy", "run")
_MAX_LINE = 64 * 1024  # bufio.MaxScanTokenSize


class LineError(InvalidArgument):
    """A syntax error found while reading lines, with the lines it concerns."""

    def __init__(self, message: str, start: int, end: int = 0):
        super().__init__(message)
        self.location = Location(start, max(start, end))


@dataclass(frozen=True)
class Entry:
    """One instruction: its node, lines and heredoc bodies (``raw_heredocs``: as written,
    for ONBUILD's expression; ``heredocs``: the bodies with ``<<-`` tabs removed)."""
    node: Node
    location: Location
    heredocs: tuple[Heredoc, ...] = ()
    raw_heredocs: tuple[Heredoc, ...] = ()


@dataclass(frozen=True)
class Source:
    directives: Directives
    entries: tuple[Entry, ...]
    warnings: tuple[Warning, ...] = ()


class _Directives:
    """The directive parser: each line is one until the first that is not."""

    def __init__(self):
        self.done = False
        self.values: dict[str, str] = {}
        self.escape = "\\"
        self.continuation = _continuation_regex("\\")

    def take(self, line: str) -> bool:
        if self.done:
            return False
        if not line.startswith("#"):
            self.done = True
            return False
        m = _DIRECTIVE.match(line[1:].lstrip(SPACES))
        key = m.group(1).lower() if m else ""
        if key not in _DIRECTIVE_KEYS:
            self.done = True
            return False
        if key in self.values:
            raise InvalidArgument(f"only one {key} parser directive can be used")
        self.values[key] = m.group(2)
        if key == "escape":
            if m.group(2) not in ("`", "\\"):
                raise InvalidArgument(f"invalid escape token '{m.group(2)}' does not match ` or \\")
            self.escape = m.group(2)
            self.continuation = _continuation_regex(self.escape)
        return True

    def result(self) -> Directives:
        return Directives(self.values.get("syntax", ""), self.escape,
                          self.values.get("check", ""))


def _continuation_regex(escape: str) -> re.Pattern:
    e = re.escape(escape)
    return re.compile(rf"([^{e}]){e}[ \t]*\Z|^{e}[ \t]*\Z")


def _scan_lines(text: str) -> list[str]:
    """The lines with their endings (bufio scanning at \\n only, its 64 KiB a line)."""
    pieces = text.split("\n")
    lines = [p + "\n" for p in pieces[:-1]]
    if pieces[-1]:
        lines.append(pieces[-1])
    for number, line in enumerate(lines):
        if len(line) > _MAX_LINE // 4 and len(line.encode(errors="surrogateescape")) > _MAX_LINE:
            raise LineError(f"dockerfile line greater than max allowed size of {_MAX_LINE - 1}",
                            number)
    return lines


def _trim_newline(line: str) -> str:
    return line.rstrip("\r\n")


def _is_comment(line: str) -> bool:
    return line.lstrip(SPACES).startswith("#")


class _Reader:
    def __init__(self, text: str):
        self.lines = iter(_scan_lines(text.removeprefix("\ufeff")))
        self.current = 0  # the number of the last line read
        self.directives = _Directives()
        self.warnings: list[Warning] = []

    def _process(self, line: str, strip_left: bool) -> tuple[str, bool]:
        """The line less its newline (and leading spaces), "" for a comment; and whether
        it was a parser directive."""
        line = _trim_newline(line)
        if strip_left:
            line = line.lstrip(SPACES)
        try:
            directive = self.directives.take(line)
        except InvalidArgument as e:
            raise LineError(str(e), self.current + 1) from None
        return ("" if _is_comment(line) else line), directive

    def _continued(self, line: str) -> tuple[str, bool]:
        m = self.directives.continuation.search(line)
        if m:
            return line[:m.start()] + (m.group(1) or ""), False
        return line, True

    def entries(self) -> Iterator[Entry]:
        for raw in self.lines:
            line, _ = self._process(raw, True)
            self.current += 1
            start = self.current
            line, end_of_line = self._continued(line)
            if end_of_line and not line:
                continue
            parts, empty_continuation = [line], False
            while not end_of_line and (raw := next(self.lines, None)) is not None:
                line, _ = self._process(raw, False)
                self.current += 1
                if _is_comment(raw):
                    continue
                if not line.lstrip(SPACES):
                    empty_continuation = True
                    continue
                line, end_of_line = self._continued(line)
                parts.append(line)
            line = "".join(parts)
            if empty_continuation:
                self.warnings.append(Warning(
                    "NoEmptyContinuation", "Empty continuation line found in: " + line,
                    Location(self.current, self.current)))
            try:
                node = node_from_line(line, self.directives.escape)
            except InvalidArgument as e:
                raise LineError(str(e), start, self.current) from None
            bodies = self._heredocs(node, line, start) if _can_have_heredocs(node) else []
            cooked = tuple(Heredoc(h.name, heredocs.chomp(h.content) if h.chomp else h.content,
                                   h.expand, h.chomp) for h in bodies)
            yield Entry(node, Location(start, self.current), cooked, tuple(bodies))

    def _heredocs(self, node: Node, line: str, start: int) -> list[Heredoc]:
        if "<<" not in line:
            return []
        out = []
        for word in heredocs.heredocs_in(line):
            content, terminated = [], False
            for raw in self.lines:
                self.current += 1
                candidate = _trim_newline(raw)
                if word.chomp:
                    candidate = candidate.lstrip("\t")
                if candidate == word.name:
                    terminated = True
                    break
                content.append(raw)
            if not terminated:
                raise LineError("unterminated heredoc", start, self.current)
            out.append(Heredoc(word.name, "".join(content), word.expand, word.chomp))
        return out


def _can_have_heredocs(node: Node) -> bool:
    if node.cmd == "onbuild" and node.child is not None:
        node = node.child
    return node.cmd in _HEREDOC_KEYWORDS and not node.json


def read(text: str) -> Source:
    reader = _Reader(text)
    entries = tuple(reader.entries())
    if not entries:
        raise LineError("file with no instructions", reader.current)
    return Source(reader.directives.result(), entries, tuple(reader.warnings))


def nodes(text: str) -> list[Node]:
    """Just the nodes (``docker commit --change``'s use)."""
    return [entry.node for entry in read(text).entries]
