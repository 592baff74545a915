"""Go's ``path/filepath.Match`` and ``filepath.Clean``, for patterns Docker users write.

Dockerfile COPY/ADD sources and ``.dockerignore`` lines are Go patterns: ``*`` and ``?``
never match ``/``, ``[...]`` classes negate with ``^`` (not ``!``), ``\\`` escapes, and a
malformed pattern (``[``, ``[]a]``, ``[x-]``, a trailing ``\\``) is an error even where
the part before it already failed to match (Go 1.16+). ``BadPattern``'s text is Go's
``filepath.ErrBadPattern``, which users see inside Docker's messages.
"""

import posixpath


class BadPattern(ValueError):
    def __init__(self, message: str = "syntax error in pattern") -> None:
        super().__init__(message)


def clean(path: str) -> str:
    """``filepath.Clean``: lexical ``.``/``..``/``//`` folding; "" -> "."."""
    if not path:
        return "."
    out = posixpath.normpath(path)
    if out.startswith("//"):  # POSIX keeps a leading "//"; Go does not
        out = "/" + out.lstrip("/")
    return out


def match(pattern: str, name: str) -> bool:
    """Whether ``name`` matches ``pattern`` as a whole; raises ``BadPattern``."""
    while pattern:
        star, chunk, pattern = _scan_chunk(pattern)
        if star and not chunk:
            return "/" not in name  # a trailing * matches the rest unless it has a /
        rest, ok = _match_chunk(chunk, name)
        if ok and (not rest or pattern):
            name = rest
            continue
        if star:
            found = False
            i = 0
            while i < len(name) and name[i] != "/":
                rest, ok = _match_chunk(chunk, name[i + 1:])
                if ok and not (not pattern and rest):
                    name = rest
                    found = True
                    break
                i += 1
            if found:
                continue
        while pattern:  # no match: still report a malformed remainder
            _, chunk, pattern = _scan_chunk(pattern)
            _match_chunk(chunk, "")
        return False
    return not name


def _scan_chunk(pattern: str) -> tuple[bool, str, str]:
    star = False
    while pattern.startswith("*"):
        pattern, star = pattern[1:], True
    in_range = False
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            if i + 1 < len(pattern):
                i += 1
        elif c == "[":
            in_range = True
        elif c == "]":
            in_range = False
        elif c == "*" and not in_range:
            break
        i += 1
    return star, pattern[:i], pattern[i:]


def _match_chunk(chunk: str, s: str) -> tuple[str, bool]:
    """The rest of ``s`` after ``chunk`` and whether it matched; the chunk is checked to
    the end even after a mismatch, so a malformed one always raises."""
    failed = False
    while chunk:
        if not failed and not s:
            failed = True
        c = chunk[0]
        if c == "[":
            r = ""
            if not failed:
                r, s = s[0], s[1:]
            chunk = chunk[1:]
            negated = chunk.startswith("^")
            if negated:
                chunk = chunk[1:]
            matched = False
            nrange = 0
            while True:
                if chunk.startswith("]") and nrange > 0:
                    chunk = chunk[1:]
                    break
                lo, chunk = _get_esc(chunk)
                hi = lo
                if chunk[0] == "-":
                    hi, chunk = _get_esc(chunk[1:])
                if not failed and lo <= r <= hi:
                    matched = True
                nrange += 1
            if matched == negated:
                failed = True
        elif c == "?":
            if not failed:
                if s[0] == "/":
                    failed = True
                s = s[1:]
            chunk = chunk[1:]
        else:
            if c == "\\":
                chunk = chunk[1:]
                if not chunk:
                    raise BadPattern()
            if not failed:
                if chunk[0] != s[0]:
                    failed = True
                s = s[1:]
            chunk = chunk[1:]
    if failed:
        return "", False
    return s, True


def _get_esc(chunk: str) -> tuple[str, str]:
    if not chunk or chunk[0] in "-]":
        raise BadPattern()
    if chunk[0] == "\\":
        chunk = chunk[1:]
        if not chunk:
            raise BadPattern()
    r, rest = chunk[0], chunk[1:]
    if not rest:
        raise BadPattern()
    return r, rest
