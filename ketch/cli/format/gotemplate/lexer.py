"""Template text to tokens, as Go's text/template/parse/lex.go splits it.

The Go literals among the tokens -- quoted strings, rune and number constants --
get their values here too, as Go's strconv reads them; the parser asks for them.
"""

from ketch.cli.format.gotemplate.fmt import _quote


# ---- lexer ---------------------------------------------------------------

_SPACES = frozenset(" \t\r\n")
_SPACE_CHARS = " \t\r\n"
_TERMINATORS = frozenset(".,|:)(}")  # '}' starts the right delimiter
_KEYWORDS = frozenset(("block", "break", "continue", "define", "else", "end", "if", "nil",
                       "range", "template", "with"))
_DEC, _HEX, _OCT, _BIN = (frozenset("0123456789_"), frozenset("0123456789abcdefABCDEF_"),
                          frozenset("01234567_"), frozenset("01_"))
_BASE_PREFIX = {"x": _HEX, "X": _HEX, "o": _OCT, "O": _OCT, "b": _BIN, "B": _BIN}


def _is_alnum(c):
    return c == "_" or c.isalnum()


def _unicode_name(c):
    # Go's %#U: U+0041 'A'
    return "U+%04X '%s'" % (ord(c), c) if c.isprintable() else "U+%04X" % ord(c)


class _Token:
    __slots__ = ("kind", "val", "pos", "line")

    def __init__(self, kind, val, pos, line):
        self.kind, self.val, self.pos, self.line = kind, val, pos, line

    def __str__(self):
        # Go's item.String(), which "unexpected X in Y" messages show
        if self.kind == "eof":
            return "EOF"
        if self.kind == "error":
            return self.val
        if self.kind in _KEYWORDS or self.kind == "dot":
            return "<%s>" % self.val
        if len(self.val) > 10:
            return _quote(self.val[:10]) + "..."
        return _quote(self.val)


class _Lexer:
    """Splits template text into tokens as text/template/parse/lex.go does.

    Lexing stops at the first error, which becomes an "error" token: the
    parser reports it only if it gets that far, as with Go's lazy lexer.
    """

    def __init__(self, text):
        self.text = text
        self.tokens = []
        self.parens = 0

    def run(self):
        text, pos = self.text, 0
        while pos is not None:
            left = text.find("{{", pos)
            if left < 0:
                self.emit("text", pos, len(text))
                self.emit("eof", len(text), len(text))
                break
            trim = self.char(left + 2) == "-" and self.char(left + 3) in _SPACES
            end = pos + len(text[pos:left].rstrip(_SPACE_CHARS)) if trim else left
            self.emit("text", pos, end)
            inside = left + (4 if trim else 2)
            if text.startswith("/*", inside):
                pos = self.comment(inside)
            else:
                self.emit("{{", left, left + 2)
                self.parens = 0
                pos = self.action(inside)
        return self.tokens

    def char(self, i):
        return self.text[i] if i < len(self.text) else ""

    def emit(self, kind, start, end):
        if kind == "text" and start >= end:
            return
        line = self.text.count("\n", 0, start) + 1
        self.tokens.append(_Token(kind, self.text[start:end], start, line))

    def error(self, message, start):
        self.tokens.append(_Token("error", message, start, self.text.count("\n", 0, start) + 1))
        return None

    def skip_spaces(self, pos):
        while self.char(pos) in _SPACES:
            pos += 1
        return pos

    def at_right_delim(self, pos):
        """Whether pos is at "}}" or " -}}", and whether it trims."""
        if self.text.startswith("}}", pos):
            return True, False
        if self.char(pos) in _SPACES and self.text.startswith("-}}", pos + 1):
            return True, True
        return False, False

    def at_terminator(self, pos):
        c = self.char(pos)
        return c == "" or c in _SPACES or c in _TERMINATORS

    def comment(self, start):
        close = self.text.find("*/", start + 2)
        if close < 0:
            return self.error("unclosed comment", start)
        delim, trim = self.at_right_delim(close + 2)
        if not delim:
            return self.error("comment ends before closing delimiter", start)
        pos = close + (6 if trim else 4)
        return self.skip_spaces(pos) if trim else pos

    def action(self, pos):
        while pos is not None:
            delim, trim = self.at_right_delim(pos)
            if delim:
                if self.parens:
                    return self.error("unclosed left paren", pos)
                start = pos + 2 if trim else pos
                self.emit("}}", start, start + 2)
                return self.skip_spaces(start + 2) if trim else start + 2
            pos = self.inside(pos)
        return None

    def inside(self, pos):
        """Lexes one token inside an action; returns where the next starts."""
        c = self.char(pos)
        if c == "":
            return self.error("unclosed action", pos)
        if c in _SPACES:
            return self.space(pos)
        if c == ":":
            if self.char(pos + 1) != "=":
                return self.error("expected :=", pos)
            self.emit(":=", pos, pos + 2)
            return pos + 2
        if c in "|=(":
            self.parens += c == "("
            self.emit(c, pos, pos + 1)
            return pos + 1
        if c == ")":
            self.emit(")", pos, pos + 1)
            self.parens -= 1
            return pos + 1 if self.parens >= 0 else self.error("unexpected right paren", pos)
        if c in "\"'":
            return self.quoted(pos, c)
        if c == "`":
            return self.raw(pos)
        if c == "$" or (c == "." and not "0" <= self.char(pos + 1) <= "9"):
            return self.field_or_variable(pos, "var" if c == "$" else "field")
        if c in "+-." or "0" <= c <= "9":
            return self.number(pos)
        if _is_alnum(c):
            return self.identifier(pos)
        if c < "\x7f" and c.isprintable():
            self.emit("char", pos, pos + 1)
            return pos + 1
        return self.error("unrecognized character in action: " + _unicode_name(c), pos)

    def space(self, pos):
        end = self.skip_spaces(pos)
        if self.text.startswith("-}}", end):
            end -= 1  # that space belongs to the " -}}" trim marker
        if end > pos:
            self.emit("space", pos, end)
        return end

    def field_or_variable(self, pos, kind):
        end = pos + 1
        if self.at_terminator(end):  # a bare "." or "$"
            self.emit("dot" if kind == "field" else "var", pos, end)
            return end
        while _is_alnum(self.char(end)):
            end += 1
        if not self.at_terminator(end):
            return self.error("bad character " + _unicode_name(self.char(end)), pos)
        self.emit(kind, pos, end)
        return end

    def identifier(self, pos):
        end = pos
        while _is_alnum(self.char(end)):
            end += 1
        if not self.at_terminator(end):
            return self.error("bad character " + _unicode_name(self.char(end)), pos)
        word = self.text[pos:end]
        kind = word if word in _KEYWORDS else "bool" if word in ("true", "false") else "ident"
        self.emit(kind, pos, end)
        return end

    def number(self, pos):
        # Go's scanNumber: deliberately loose, the parser rejects bad numbers
        end = pos + (self.char(pos) in ("+", "-"))
        digits = _DEC
        if self.char(end) == "0":
            end += 1
            if self.char(end) in _BASE_PREFIX:
                digits = _BASE_PREFIX[self.char(end)]
                end += 1
        end = self.accept_run(end, digits)
        if self.char(end) == ".":
            end = self.accept_run(end + 1, digits)
        exponent = "eE" if digits is _DEC else "pP" if digits is _HEX else ""
        if self.char(end) and self.char(end) in exponent:
            end += 1 + (self.char(end + 1) in ("+", "-"))
            end = self.accept_run(end, _DEC)
        end += self.char(end) == "i"
        if _is_alnum(self.char(end)) or self.char(end) in ("+", "-"):
            return self.error("bad number syntax: " + _quote(self.text[pos:end + 1]), pos)
        self.emit("number", pos, end)
        return end

    def accept_run(self, pos, valid):
        while self.char(pos) in valid:
            pos += 1
        return pos

    def quoted(self, pos, quote):
        end = pos + 1
        while True:
            c = self.char(end)
            if c == "\\" and self.char(end + 1) not in ("", "\n"):
                end += 2
                continue
            if c in ("", "\n", "\\"):
                if quote == "'":
                    return self.error("unterminated character constant", pos)
                return self.error("unterminated quoted string", pos)
            end += 1
            if c == quote:
                break
        self.emit("string" if quote == '"' else "charconst", pos, end)
        return end

    def raw(self, pos):
        end = self.text.find("`", pos + 1)
        if end < 0:
            return self.error("unterminated raw quoted string", pos)
        self.emit("raw", pos, end + 1)
        return end + 1


# ---- Go literals -----------------------------------------------------------

_ESCAPES = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92}


def _unescape(body, i, quote):
    """One escape starting after the backslash at body[i-1]: (value, is_byte, next i)."""
    c = body[i:i + 1]
    if c in _ESCAPES:
        return _ESCAPES[c], False, i + 1
    if c == quote:
        return ord(c), False, i + 1
    if c and c in "xuU":
        width = {"x": 2, "u": 4, "U": 8}[c]
        digits = body[i + 1:i + 1 + width]
        if len(digits) != width or any(d not in _HEX or d == "_" for d in digits):
            raise ValueError("invalid syntax")
        value = int(digits, 16)
        if c != "x" and (value > 0x10FFFF or 0xD800 <= value < 0xE000):
            raise ValueError("invalid syntax")
        return value, c == "x", i + 1 + width
    if c and c in "01234567":
        digits = body[i:i + 3]
        if len(digits) != 3 or any(d not in "01234567" for d in digits) or int(digits, 8) > 255:
            raise ValueError("invalid syntax")
        return int(digits, 8), True, i + 3
    raise ValueError("invalid syntax")


def _unquote(token):
    """strconv.Unquote for "..." and `...` literals; ValueError("invalid syntax")."""
    quote, body = token[0], token[1:-1]
    if quote == "`":
        return body.replace("\r", "")
    out = bytearray()
    i = 0
    while i < len(body):
        if body[i] != "\\":
            out += body[i].encode()
            i += 1
            continue
        value, is_byte, i = _unescape(body, i + 1, quote)
        if is_byte:
            out.append(value)
        else:
            out += chr(value).encode("utf-8", "surrogatepass")
    return out.decode("utf-8", "replace")


def _char_value(token):
    """The rune a character constant like 'a' or '\\n' stands for."""
    body = token[1:-1]
    if body.startswith("\\"):
        value, _, end = _unescape(body, 1, "'")
    else:
        value, end = (ord(body[0]), 1) if body else (0, 0)
    if end != len(body) or not body:
        raise ValueError("malformed character constant: " + token)
    return value


def _number_value(text):
    """A number literal as Go's ideal constant: an int, or a float if it looks like one."""
    if text.startswith("'"):
        return _char_value(text)
    body = text.lstrip("+-")
    looks_hex = body[:2] in ("0x", "0X")
    try:
        if len(body) > 1 and body[0] == "0" and body[1] in "01234567_":
            return int(text.replace("0", "0o", 1), 0)  # Go reads a leading 0 as octal
        return int(text, 0)
    except ValueError:
        pass
    try:
        if looks_hex:
            return float.fromhex(text.replace("_", ""))
        if any(c in body for c in ".eE"):
            return float(text)
    except ValueError:
        pass
    raise ValueError("illegal number syntax: " + _quote(text))
