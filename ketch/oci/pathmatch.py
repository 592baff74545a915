"""Go's ``path.Match``, which ``images REPO`` and ``--filter reference=`` patterns go through
(distribution's FamiliarMatch).

``*`` is any run of characters but ``/``, ``?`` one character but ``/``, ``[...]`` a class
(``^`` negates, ``a-z`` ranges, ``\\`` escapes), ``\\c`` the character c. A malformed
pattern is an error however the match goes, with Go's words.
"""

import re


class BadPattern(ValueError):
    """Go's path.ErrBadPattern."""

    def __init__(self) -> None:
        super().__init__("syntax error in pattern")


_CACHE: dict[str, re.Pattern] = {}


def match(pattern: str, name: str) -> bool:
    """Raises BadPattern for a malformed pattern."""
    compiled = _CACHE.get(pattern)
    if compiled is None:
        compiled = _CACHE[pattern] = re.compile(_translate(pattern), re.DOTALL)
    return compiled.fullmatch(name) is not None


def _translate(pattern: str) -> str:
    out, i, n = [], 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[":
            cls, i = _class(pattern, i + 1)
            out.append(cls)
        elif c == "\\":
            if i + 1 >= n:
                raise BadPattern()
            out.append(re.escape(pattern[i + 1]))
            i += 2
        else:
            out.append(re.escape(c))
            i += 1
    return "".join(out)


def _class(pattern: str, i: int) -> tuple[str, int]:
    """A character class from just after its '[' to just after its ']'."""
    negate = i < len(pattern) and pattern[i] == "^"
    i += negate
    ranges = []
    while True:
        if i < len(pattern) and pattern[i] == "]" and ranges:
            i += 1
            break
        lo, i = _class_char(pattern, i)
        hi = lo
        if i < len(pattern) and pattern[i] == "-":
            hi, i = _class_char(pattern, i + 1)
        if hi < lo:  # Go matches nothing with it; so does an empty range here
            ranges.append("")
            continue
        ranges.append(re.escape(lo) + ("-" + re.escape(hi) if hi != lo else ""))
    body = "".join(ranges)
    if not body:
        return ("." if negate else "(?!)"), i  # only inverted ranges
    return f"[{'^' if negate else ''}{body}]", i


def _class_char(pattern: str, i: int) -> tuple[str, int]:
    """Go's getEsc: one character of a class, escaped or not."""
    if i >= len(pattern) or pattern[i] in "-]":
        raise BadPattern()
    if pattern[i] == "\\":
        i += 1
        if i >= len(pattern):
            raise BadPattern()
    return pattern[i], i + 1
