"""Dockerfile word expansion, ported from buildkit's ``frontend/dockerfile/shell/lex.go``.

``ProcessWord`` expands variables and removes quotes and escapes, as Docker does for ENV,
LABEL, USER, WORKDIR, VOLUME and STOPSIGNAL; ``ProcessWords`` also splits the result
into words (EXPOSE). ``env`` is a list of ``KEY=value`` strings; a later duplicate wins.

    $A  ${A}              the value; "" when unset ($1, $@, $$ ... never are)
    ${A-w}   ${A:-w}      w if A is unset (with ":", also if it is empty), else the value
    ${A+w}   ${A:+w}      w if A is set (with ":", only if not empty), else ""
    ${A?w}   ${A:?w}      the value; the error "A: w" if A is unset (":", or empty)
    ${A#p}   ${A##p}      the value less its shortest (##: longest) prefix matching p
    ${A%p}   ${A%%p}      the value less its shortest (%%: longest) suffix matching p
    ${A/p/r} ${A//p/r}    the value with its first (//: every) match of p replaced by r
    '...'  "..."  \\x     quotes and escapes as in sh; no command substitution

``w``, ``p`` and ``r`` are expanded too; patterns know ``*`` and ``?``, not ``[...]``.
Errors are InvalidArgument with buildkit's text: ``failed to process "WORD": WHY``. The
escape token is ``\\`` unless told otherwise (a Dockerfile's ``# escape=`` directive).

One deliberate difference: buildkit shares a single word buffer between a word and the
``${A:-...}`` scanned inside it, so its ProcessWords("a${X:-b}c") drops the "a"; here
each scan keeps its own.
"""

import re
from collections.abc import Iterable

from ketch.errors import InvalidArgument

# Go's unicode.IsSpace, which differs from str.isspace on \x1c-\x1f; for str.strip too
SPACES = "\t\n\v\f\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000" + "".join(
    chr(c) for c in range(0x2000, 0x200b))
_SPACES = frozenset(SPACES)
_SPECIAL_PARAMS = frozenset("@*#?-$!0")
_REGEX_META = frozenset("[]{}.+()|^$")
_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r",
               "\t": "\\t", "\v": "\\v", "\\": "\\\\", '"': '\\"'}


def is_space(ch: str) -> bool:
    return ch in _SPACES


def quote(text: str) -> str:
    """Go's strconv.Quote (``%q``), the form buildkit and moby quote values in errors."""
    out = ['"']
    for ch in text:
        if ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7f:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    return "".join(out) + '"'


class _LexError(Exception):
    pass


def _rune(ch: str | None) -> str:
    return "\ufffd" if ch is None else ch  # Go's string(rune(EOF))


class _Scanner:
    """text/scanner's Peek and Next over a str: None at the end, a leading BOM skipped."""

    def __init__(self, text: str):
        self.text = text
        self.pos = 1 if text.startswith("\ufeff") else 0

    def peek(self) -> str | None:
        return self.text[self.pos] if self.pos < len(self.text) else None

    def next(self) -> str | None:
        ch = self.peek()
        if ch is not None:
            self.pos += 1
        return ch


class _Words:
    """The word splitter: unquoted, unescaped spaces (also from $A values) end a word."""

    def __init__(self):
        self.words: list[str] = []
        self.word = ""
        self.in_word = False

    def add_char(self, ch: str) -> None:
        if not is_space(ch):
            self.add_raw(ch)
        elif self.in_word and self.word:
            self.words.append(self.word)
            self.word, self.in_word = "", False

    def add_string(self, text: str) -> None:
        for ch in text:
            self.add_char(ch)

    def add_raw(self, text: str) -> None:
        self.word += text
        self.in_word = True

    def get(self) -> list[str]:
        if self.word:
            self.words.append(self.word)
            self.word, self.in_word = "", False
        return self.words


class _ShellWord:
    def __init__(self, word: str, env: dict[str, str], escape: str):
        self.scanner = _Scanner(word)
        self.env = env
        self.escape = escape
        # Patterns keep their escapes for the pattern compiler; quotes inside them see it too.
        self.raw_escapes = False

    def process_stop_on(self, stop: str | None, raw_escapes: bool = False) -> tuple[str, list[str]]:
        saved, self.raw_escapes = self.raw_escapes, raw_escapes
        try:
            return self._scan(stop)
        finally:
            self.raw_escapes = saved

    def _scan(self, stop: str | None) -> tuple[str, list[str]]:
        sc, result, words = self.scanner, [], _Words()
        special = {"$": self._dollar, "'": self._single_quote, '"': self._double_quote}
        while (ch := sc.peek()) is not None:
            if ch == stop:
                sc.next()
                return "".join(result), words.get()
            if ch in special:
                text = special[ch]()
                result.append(text)
                if ch == "$":  # a value splits into words, a quoted string does not
                    words.add_string(text)
                else:
                    words.add_raw(text)
                continue
            ch = sc.next()
            if ch == self.escape:
                if self.raw_escapes:
                    words.add_raw(ch)
                    result.append(ch)
                ch = sc.next()
                if ch is None:  # an escape at the very end is dropped
                    break
                words.add_raw(ch)
            else:
                words.add_char(ch)
            result.append(ch)
        if stop is not None:
            raise _LexError(f"unexpected end of statement while looking for matching {stop}")
        return "".join(result), words.get()

    def _single_quote(self) -> str:
        sc, out = self.scanner, []
        sc.next()
        while (ch := sc.next()) != "'":
            if ch is None:
                raise _LexError("unexpected end of statement while looking for matching "
                                "single-quote")
            out.append(ch)
        return "".join(out)

    def _double_quote(self) -> str:
        sc, out = self.scanner, []
        sc.next()
        while True:
            ch = sc.peek()
            if ch is None:
                raise _LexError("unexpected end of statement while looking for matching "
                                "double-quote")
            if ch == '"':
                sc.next()
                return "".join(out)
            if ch == "$":
                out.append(self._dollar())
                continue
            ch = sc.next()
            if ch == self.escape:
                if self.raw_escapes:
                    out.append(ch)
                if sc.peek() is None:
                    continue
                if sc.peek() in ('"', "$", self.escape):  # sh escapes only these in "..."
                    ch = sc.next()
            out.append(ch)

    def _get(self, name: str) -> tuple[str, bool]:
        return self.env.get(name, ""), name in self.env

    def _dollar(self) -> str:
        sc = self.scanner
        sc.next()
        if sc.peek() != "{":
            name = self._name()
            return self._get(name)[0] if name else "$"
        sc.next()
        if sc.peek() is None:
            raise _LexError("syntax error: missing '}'")
        if sc.peek() in ("{", "}", ":"):
            raise _LexError("syntax error: bad substitution")
        name = self._name()
        ch = sc.next()
        if ch == "}":
            return self._get(name)[0]
        if ch == ":":
            following = sc.next()
            return self._modifier(name, following, ":" + _rune(following), True)
        if ch in ("+", "-", "?", "#", "%"):
            return self._modifier(name, ch, ch, False)
        if ch == "/":
            return self._replace(name)
        raise _LexError(f"unsupported modifier ({_rune(ch)}) in substitution")

    def _word_until(self, stop: str, raw_escapes: bool, missing: str) -> str:
        try:
            return self.process_stop_on(stop, raw_escapes)[0]
        except _LexError:
            if self.scanner.peek() is None:
                raise _LexError(missing) from None
            raise

    def _modifier(self, name: str, op: str | None, shown: str, null_is_unset: bool) -> str:
        pattern_op = op in ("#", "%")
        if null_is_unset and pattern_op:
            raise _LexError(f"unsupported modifier ({shown}) in substitution")
        word = self._word_until("}", pattern_op, "syntax error: missing '}'")
        value, found = self._get(name)
        unset = not found or (null_is_unset and value == "")
        if op == "-":
            return word if unset else value
        if op == "+":
            return "" if unset else word
        if op == "?":
            if unset:
                why = "is not allowed to be unset" if not found else "is not allowed to be empty"
                raise _LexError(f"{name}: {word or why}")
            return value
        if pattern_op:
            greedy = word.startswith(op)  # ## and %% match the longest
            if greedy:
                word = word[1:]
            trim = _trim_suffix if op == "%" else _trim_prefix
            return trim(word, value, greedy)
        raise _LexError(f"unsupported modifier ({shown}) in substitution")

    def _replace(self, name: str) -> str:
        every = self.scanner.peek() == "/"
        if every:
            self.scanner.next()
        pattern = self._word_until("/", True, "syntax error: missing '/' in ${}")
        replacement = self._word_until("}", True, "syntax error: missing '}'")
        value = self._get(name)[0]
        regex = _compile(pattern, greedy=True, anchored=False)
        if every:
            return _replace_all(regex, value, replacement)
        m = regex.search(value)
        return value if m is None else value[:m.start()] + replacement + value[m.end():]

    def _name(self) -> str:
        """A name: letters, digits and _; or a run of digits; or one special parameter."""
        sc, name = self.scanner, ""
        while (ch := sc.peek()) is not None:
            if not name and ch.isdecimal():
                while (ch := sc.peek()) is not None and ch.isdecimal():
                    name += sc.next()
                return name
            if not name and ch in _SPECIAL_PARAMS:
                return sc.next()
            if not (ch.isalpha() or ch.isdecimal() or ch == "_"):
                break
            name += sc.next()
        return name


def _pattern_source(pattern: str, greedy: bool, anchored: bool) -> str:
    """A shell pattern as a regular expression: ``*`` and ``?`` are wildcards, ``\\`` escapes."""
    sc, out = _Scanner(pattern), ["^" if anchored else ""]
    while (tok := sc.next()) is not None:
        if tok == "*":
            out.append(".*" if greedy else ".*?")
            continue
        if tok == "?":
            out.append(".")
            continue
        if tok == "\\":
            if sc.peek() in ("}", "/"):  # escaped only to get past ${...}
                continue
            out.append("\\")
            tok = sc.next()
            if tok not in ("*", "?", "\\"):
                raise _LexError(f"invalid escape '\\{_rune(tok)}'")
        elif tok in _REGEX_META:
            out.append("\\")
        out.append(tok)
    return "".join(out)


def _compile(pattern: str, greedy: bool, anchored: bool) -> re.Pattern:
    try:
        return re.compile(_pattern_source(pattern, greedy, anchored))
    except _LexError as e:
        raise _LexError(f"invalid pattern ({pattern}) in substitution: {e}") from None


def _trim_prefix(pattern: str, value: str, greedy: bool) -> str:
    m = _compile(pattern, greedy, anchored=True).search(value)
    return value if m is None else value[m.end():]


def _reverse_pattern(pattern: str) -> str:
    """The pattern backwards, its escapes still in front: a\\*c -> c\\*a."""
    out, i = [], 0
    while i < len(pattern):
        if pattern[i] == "\\" and i != len(pattern) - 1:
            out.append(pattern[i:i + 2])
            i += 2
        else:
            out.append(pattern[i])
            i += 1
    return "".join(reversed(out))


def _trim_suffix(pattern: str, value: str, greedy: bool) -> str:
    # a regex finds the leftmost match, so the shortest suffix is a prefix of the reversal
    return _trim_prefix(_reverse_pattern(pattern), value[::-1], greedy)[::-1]


def _replace_all(regex: re.Pattern, value: str, template: str) -> str:
    """Go's Regexp.ReplaceAllString: an empty match right after a match is skipped."""
    out, last_end, pos = [], 0, 0
    while pos <= len(value) and (m := regex.search(value, pos)) is not None:
        out.append(value[last_end:m.start()])
        if m.end() > last_end or m.start() == 0:
            out.append(_expand(template, m.group()))
        last_end = m.end()
        pos = max(pos + 1, m.end())
    out.append(value[last_end:])
    return "".join(out)


def _expand(template: str, match: str) -> str:
    """Go's Regexp.Expand for a regex without groups: $0 or ${0} is the match, $$ is $,
    any other $name is empty, and a malformed $ stays as it is."""
    out, i = [], 0
    while (j := template.find("$", i)) >= 0:
        out.append(template[i:j])
        i = j + 1
        if template.startswith("$", i):
            out.append("$")
            i += 1
            continue
        brace = template.startswith("{", i)
        start = end = i + brace
        while end < len(template) and (template[end].isalpha() or template[end].isdecimal()
                                       or template[end] == "_"):
            end += 1
        if end == start or (brace and not template.startswith("}", end)):
            out.append("$")
            continue
        if template[start:end] == "0":
            out.append(match)
        i = end + brace
    out.append(template[i:])
    return "".join(out)


def _env_map(env: Iterable[str]) -> dict[str, str]:
    out = {}
    for entry in env:
        key, _, value = entry.partition("=")
        out[key] = value
    return out


def _process(word: str, env: Iterable[str], escape_token: str) -> tuple[str, list[str]]:
    try:
        return _ShellWord(word, _env_map(env), escape_token).process_stop_on(None)
    except _LexError as e:
        raise InvalidArgument(f"failed to process {quote(word)}: {e}") from None


def ProcessWord(word: str, env: Iterable[str] = (), escape_token: str = "\\") -> str:
    """``word`` with its variables expanded and its quotes and escapes removed."""
    return _process(word, env, escape_token)[0]


def ProcessWords(word: str, env: Iterable[str] = (), escape_token: str = "\\") -> list[str]:
    """Like ProcessWord, then split at unquoted spaces, those from values included."""
    return _process(word, env, escape_token)[1]
