"""Go's ``encoding/json`` syntax errors, word for word, for a body Python refused.

dockerd reads a request body with ``json.NewDecoder(body).Decode(&v)``; a malformed body
answers with the text of Go's scanner (``invalid character 'b' looking for beginning of
object key string``), or ``unexpected EOF`` when the text stops inside the value, or
``EOF`` when there is no value at all. Clients show that text, so ``syntax_error`` walks
the bytes as Go's scanner does (encoding/json/scanner.go, its states and its words) and
reports where Go would stop. It runs only on the error path: Python's json module parses
every body first.
"""

WHITESPACE = b" \t\r\n"
_DIGITS = b"0123456789"
_HEX = b"0123456789abcdefABCDEF"
_ESCAPES = b'"\\/bfnrtu'
_GO_ESCAPES = {0x07: "\\a", 0x08: "\\b", 0x0C: "\\f", 0x0A: "\\n", 0x0D: "\\r",
               0x09: "\\t", 0x0B: "\\v", 0x5C: "\\\\"}


class _Stop(Exception):
    def __init__(self, message: str) -> None:
        self.message = message


def quote_char(c: int) -> str:
    """Go's quoteChar: the byte as strconv.Quote would show the rune of that value."""
    if c == 0x27:
        return "'\\''"
    if c == 0x22:
        return "'\"'"
    if c in _GO_ESCAPES:
        return f"'{_GO_ESCAPES[c]}'"
    if c < 0x20 or c == 0x7F:
        return f"'\\x{c:02x}'"
    if 0x80 <= c < 0xA0 or c == 0xAD:  # not printable as runes (C1 controls, soft hyphen)
        return f"'\\u{c:04x}'"
    return f"'{chr(c)}'"


class _Scanner:
    """One JSON value from the start of data, as Go's Decoder reads it."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def _peek(self) -> int | None:
        return self.data[self.pos] if self.pos < len(self.data) else None

    def _next(self) -> int:
        c = self._peek()
        if c is None:
            raise _Stop("unexpected EOF")
        self.pos += 1
        return c

    def _skip_space(self) -> int:
        while True:
            c = self._next()
            if c not in WHITESPACE:
                return c

    @staticmethod
    def _error(c: int, context: str) -> _Stop:
        return _Stop(f"invalid character {quote_char(c)} {context}")

    def value(self, c: int) -> None:
        """A value whose first byte c has been read."""
        if c == 0x7B:  # {
            self._object()
        elif c == 0x5B:  # [
            self._array()
        elif c == 0x22:
            self._string()
        elif c == 0x2D or c in _DIGITS:
            self._number(c)
        elif c in b"tfn":
            word = {0x74: "true", 0x66: "false", 0x6E: "null"}[c]
            for expected in word[1:]:
                got = self._next()
                if got != ord(expected):
                    raise self._error(got, f"in literal {word} (expecting {quote_char(ord(expected))})")
        else:
            raise self._error(c, "looking for beginning of value")

    def _object(self) -> None:
        c = self._skip_space()
        if c == 0x7D:
            return
        while True:
            if c != 0x22:
                raise self._error(c, "looking for beginning of object key string")
            self._string()
            c = self._skip_space()
            if c != 0x3A:
                raise self._error(c, "after object key")
            self.value(self._skip_space())
            c = self._skip_space()
            if c == 0x7D:
                return
            if c != 0x2C:
                raise self._error(c, "after object key:value pair")
            c = self._skip_space()

    def _array(self) -> None:
        c = self._skip_space()
        if c == 0x5D:
            return
        while True:
            self.value(c)
            c = self._skip_space()
            if c == 0x5D:
                return
            if c != 0x2C:
                raise self._error(c, "after array element")
            c = self._skip_space()

    def _string(self) -> None:
        while True:
            c = self._next()
            if c == 0x22:
                return
            if c == 0x5C:
                c = self._next()
                if c not in _ESCAPES:
                    raise self._error(c, "in string escape code")
                if c == 0x75:
                    for _ in range(4):
                        h = self._next()
                        if h not in _HEX:
                            raise self._error(h, "in \\u hexadecimal character escape")
            elif c < 0x20:
                raise self._error(c, "in string literal")

    def _number(self, c: int) -> None:
        if c == 0x2D:
            c = self._next()
            if c not in _DIGITS:
                raise self._error(c, "in numeric literal")
        if c != 0x30:  # a leading 0 stands alone
            self._digits()
        if self._peek() == 0x2E:
            self.pos += 1
            c = self._next()
            if c not in _DIGITS:
                raise self._error(c, "after decimal point in numeric literal")
            self._digits()
        if self._peek() in (0x65, 0x45):  # e E
            self.pos += 1
            c = self._next()
            if c in b"+-":
                c = self._next()
            if c not in _DIGITS:
                raise self._error(c, "in exponent of numeric literal")
            self._digits()

    def _digits(self) -> None:
        while self._peek() is not None and self._peek() in _DIGITS:
            self.pos += 1


def syntax_error(data: bytes) -> str | None:
    """What Go's json.Decoder.Decode says of the first value in data: "EOF" for none,
    "unexpected EOF" for an unfinished one, the scanner's "invalid character ..." text
    for a malformed one; None if the first value is well formed (whatever follows it)."""
    scanner = _Scanner(data)
    try:
        first = scanner._skip_space()
    except _Stop:
        return "EOF"
    try:
        scanner.value(first)
    except _Stop as stop:
        return stop.message
    except RecursionError:
        return "exceeded max depth"  # Go stops at 10000 levels, Python's stack before
    return None
