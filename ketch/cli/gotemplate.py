"""Go's text/template language, as Docker's --format flag speaks it.

`docker inspect -f`, `docker ps --format` and friends hand the user's format to
Go's text/template with docker/cli's extra functions (json, split, join, title,
lower, upper, pad, truncate). Users copy formats between docker and ketch, so
this module follows Go -- output, truthiness, function semantics and the wording
of errors -- rather than offering a Python dialect:

    template: :1: unexpected "}" in operand
    template: :1:8: executing "" at <.State.Health.Status>: nil pointer evaluating
              interface {}.Status

The stages are Go's own (text/template/parse/lex.go, parse.go, then exec.go):
a lexer turns the text into tokens, a parser builds a small node tree plus the
named templates from define/block, and an executor walks the tree over the data.
Printing follows fmt.Sprint, printf follows fmt.Sprintf.

Data is plain JSON-decoded Python: a dict is a Go map (`.Key` looks the key up;
a missing key is Go's "no value"), a list is a slice, None is a nil pointer and
prints `<nil>` as Docker's typed structs do. Any other object is a Go struct:
its public attributes are fields and its methods are called, so a formatter row
can offer `{{.ID}}` and `{{.Label "name"}}` as `docker ps` does.

Replacing a literal `\\t` in the user's format by a tab is the formatter's job,
as in docker/cli, not the template language's.

Standard library only, no `re` or `json`: the CLI imports this on every command.
"""

import math

__all__ = ["TemplateError", "Template", "parse"]

_MAX_TEMPLATE_DEPTH = 100  # Go allows 100000; Python's stack does not


class TemplateError(Exception):
    """A parse or execution error, worded as Go's text/template words it."""


def parse(text: str, funcs: dict | None = None) -> "Template":
    """Parse ``text``; ``funcs`` adds or overrides functions (plain callables)."""
    table = dict(_FUNCS)
    for name, fn in (funcs or {}).items():
        table[name] = _Func(fn)
    try:
        trees = _Parser(text, table).parse()
    except RecursionError:
        raise TemplateError("template: : max expression depth exceeded") from None
    return Template(text, trees, table)


class Template:
    """A parsed template and the templates it defines."""

    __slots__ = ("_text", "_trees", "_funcs")

    def __init__(self, text, trees, funcs):
        self._text = text
        self._trees = trees
        self._funcs = funcs

    def execute(self, data) -> str:
        """Run the template over ``data``; raises TemplateError."""
        out = []
        state = _State(self, "", out, [["$", data]], 0)
        try:
            state.walk(data, self._trees[""])
        except RecursionError:
            raise TemplateError("template: : data or templates nested too deeply") from None
        return "".join(out)


class _NoValue:
    """Go's invalid reflect.Value: what a missing map key evaluates to."""

    __slots__ = ()

    def __repr__(self):
        return "<no value>"


_MISSING = _NoValue()
_NO_FINAL = object()  # no value piped in from the previous command


class _FuncError(Exception):
    """The error a Go template function returns; execution wraps it."""


class _Func:
    """A template function and, for Go-typed ones, the kinds of its parameters.

    Kinds: "value" (reflect.Value: sees a missing value as such), "any"
    (interface{}: missing becomes nil), "string", "int", "[]string". Untyped
    functions (``params`` None, the caller's own) take any number of "any".
    """

    __slots__ = ("fn", "params", "variadic")

    def __init__(self, fn, params=None, variadic=None):
        self.fn = fn
        self.params = params
        self.variadic = variadic

    def kind(self, i):
        if self.params is None:
            return "any"
        return self.params[i] if i < len(self.params) else self.variadic


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


# ---- nodes -----------------------------------------------------------------
# Each node prints as Go's Node.String(), which execution errors quote.

class _Node:
    __slots__ = ("pos",)


class _Text(_Node):
    __slots__ = ("text",)

    def __init__(self, pos, text):
        self.pos, self.text = pos, text

    def __str__(self):
        return self.text


class _List(_Node):
    __slots__ = ("nodes",)

    def __init__(self, pos, nodes=None):
        self.pos, self.nodes = pos, nodes or []

    def __str__(self):
        return "".join(map(str, self.nodes))


class _Action(_Node):
    __slots__ = ("pipe",)

    def __init__(self, pos, pipe):
        self.pos, self.pipe = pos, pipe

    def __str__(self):
        return "{{%s}}" % self.pipe


class _Pipe(_Node):
    __slots__ = ("decl", "is_assign", "cmds")

    def __init__(self, pos):
        self.pos, self.decl, self.is_assign, self.cmds = pos, [], False, []

    def __str__(self):
        decl = ""
        if self.decl:
            decl = ", ".join(map(str, self.decl)) + (" = " if self.is_assign else " := ")
        return decl + " | ".join(map(str, self.cmds))


class _Command(_Node):
    __slots__ = ("args",)

    def __init__(self, pos):
        self.pos, self.args = pos, []

    def __str__(self):
        return " ".join("(%s)" % a if isinstance(a, _Pipe) else str(a) for a in self.args)


class _Field(_Node):
    __slots__ = ("idents",)

    def __init__(self, pos, idents):
        self.pos, self.idents = pos, idents

    def __str__(self):
        return "".join("." + i for i in self.idents)


class _Variable(_Node):
    __slots__ = ("idents",)  # ["$x", "Field", ...]

    def __init__(self, pos, idents):
        self.pos, self.idents = pos, idents

    def __str__(self):
        return ".".join(self.idents)


class _Chain(_Node):
    __slots__ = ("node", "fields")  # (pipeline).Field1.Field2

    def __init__(self, pos, node):
        self.pos, self.node, self.fields = pos, node, []

    def __str__(self):
        head = "(%s)" % self.node if isinstance(self.node, _Pipe) else str(self.node)
        return head + "".join("." + f for f in self.fields)


class _Identifier(_Node):
    __slots__ = ("name",)

    def __init__(self, pos, name):
        self.pos, self.name = pos, name

    def __str__(self):
        return self.name


class _Literal(_Node):
    """A bool, number or string constant: its source text and its value."""

    __slots__ = ("text", "value")

    def __init__(self, pos, text, value):
        self.pos, self.text, self.value = pos, text, value

    def __str__(self):
        return self.text


class _Dot(_Node):
    __slots__ = ()

    def __init__(self, pos):
        self.pos = pos

    def __str__(self):
        return "."


class _Nil(_Dot):
    __slots__ = ()

    def __str__(self):
        return "nil"


class _Branch(_Node):
    """An if, range or with: its pipeline, body and optional else body."""

    __slots__ = ("kind", "pipe", "list", "else_list")

    def __init__(self, kind, pipe, body, else_list):
        self.kind, self.pos, self.pipe, self.list, self.else_list = (
            kind, pipe.pos, pipe, body, else_list)

    def __str__(self):
        tail = "" if self.else_list is None else "{{else}}%s" % self.else_list
        return "{{%s %s}}%s%s{{end}}" % (self.kind, self.pipe, self.list, tail)


class _TemplateCall(_Node):
    __slots__ = ("name", "pipe")

    def __init__(self, pos, name, pipe):
        self.pos, self.name, self.pipe = pos, name, pipe

    def __str__(self):
        pipe = "" if self.pipe is None else " %s" % self.pipe
        return "{{template %s%s}}" % (_quote(self.name), pipe)


class _Marker(_Node):
    """{{break}}, {{continue}}, and the parser-only {{end}} and {{else}}."""

    __slots__ = ("word",)

    def __init__(self, word, pos):
        self.word, self.pos = word, pos

    def __str__(self):
        return "{{%s}}" % self.word


def _is_empty(node):
    # Go's IsEmptyTree: a template of only spaces may be redefined
    if isinstance(node, _List):
        return all(_is_empty(n) for n in node.nodes)
    return isinstance(node, _Text) and not node.text.strip()


# ---- parser ----------------------------------------------------------------

_OPERAND_START = frozenset(
    ("bool", "charconst", "dot", "field", "ident", "number", "nil", "raw", "string", "var", "(")
)


class _Parser:
    """Builds the node trees, named as in Go's parse.go, with its error texts."""

    def __init__(self, text, funcs):
        self.tokens = _Lexer(text).run()
        self.funcs = funcs
        self.i = 0
        self.far = 0  # furthest token read: its line is the one errors name
        self.trees = {}
        self.vars = ["$"]
        self.range_depth = 0
        self.action_line = 0

    # -- token stream

    def next(self):
        token = self.tokens[min(self.i, len(self.tokens) - 1)]
        self.i += 1
        self.far = max(self.far, self.i)
        return token

    def backup(self):
        self.i -= 1

    def peek(self):
        token = self.next()
        self.backup()
        return token

    def next_non_space(self):
        token = self.next()
        while token.kind == "space":
            token = self.next()
        return token

    def peek_non_space(self):
        token = self.next_non_space()
        self.backup()
        return token

    def expect(self, kind, context):
        token = self.next_non_space()
        if token.kind != kind:
            self.unexpected(token, context)
        return token

    def errorf(self, message):
        line = self.tokens[min(self.far, len(self.tokens)) - 1].line if self.far else 1
        raise TemplateError("template: :%d: %s" % (line, message))

    def unexpected(self, token, context):
        if token.kind == "error":
            extra = ""
            if self.action_line and self.action_line != token.line:
                extra = " in action started at :%d" % self.action_line
                if token.val.endswith(" action"):
                    extra = extra[len(" in action"):]
            self.errorf(token.val + extra)
        self.errorf("unexpected %s in %s" % (token, context))

    # -- templates

    def parse(self):
        root = _List(self.peek().pos)
        while self.peek().kind != "eof":
            if self.peek().kind == "{{":
                start = self.i
                self.next()
                if self.next_non_space().kind == "define":
                    self.parse_definition()
                    continue
                self.i = start
            node = self.text_or_action()
            if isinstance(node, _Marker) and node.word in ("end", "else"):
                self.errorf("unexpected %s" % node)
            root.nodes.append(node)
        self.add("", root)
        return self.trees

    def add(self, name, root):
        existing = self.trees.get(name)
        if existing is None or _is_empty(existing):
            self.trees[name] = root
        elif not _is_empty(root):
            self.errorf("template: multiple definition of template %s" % _quote(name))

    def parse_body(self, name, context):
        """A define or block body, which sees only its own $ and no enclosing range."""
        saved = self.vars, self.range_depth
        self.vars, self.range_depth = ["$"], 0
        body, end = self.item_list()
        if end.word != "end":
            self.errorf("unexpected %s in %s" % (end, context))
        self.add(name, body)
        self.vars, self.range_depth = saved

    def parse_definition(self):
        token = self.next_non_space()
        if token.kind not in ("string", "raw"):
            self.unexpected(token, "define clause")
        name = self.unquote(token)
        self.expect("}}", "define clause")
        self.parse_body(name, "define clause")

    def item_list(self):
        """Nodes up to an {{end}} or {{else}}, which is returned alongside."""
        body = _List(self.peek_non_space().pos)
        while self.peek_non_space().kind != "eof":
            node = self.text_or_action()
            if isinstance(node, _Marker) and node.word in ("end", "else"):
                return body, node
            body.nodes.append(node)
        self.errorf("unexpected EOF")

    def text_or_action(self):
        token = self.next_non_space()
        if token.kind == "text":
            return _Text(token.pos, token.val)
        if token.kind == "{{":
            self.action_line = token.line
            try:
                return self.action()
            finally:
                self.action_line = 0
        self.unexpected(token, "input")

    def action(self):
        token = self.next_non_space()
        control = {
            "block": self.block_control, "break": self.loop_control,
            "continue": self.loop_control, "else": self.else_control,
            "end": self.end_control, "if": self.branch_control,
            "range": self.branch_control, "template": self.template_control,
            "with": self.branch_control,
        }.get(token.kind)
        if control is not None:
            return control(token)
        self.backup()
        return _Action(self.peek().pos, self.pipeline("command", "}}"))

    # -- control structures

    def branch_control(self, token):
        context = token.kind
        nvars = len(self.vars)
        try:
            pipe = self.pipeline(context, "}}")
            self.range_depth += context == "range"
            body, end = self.item_list()
            self.range_depth -= context == "range"
            else_list = None
            if end.word == "else":
                # {{else if x}} and {{else with x}} nest a whole if/with in the else
                if context in ("if", "with") and self.peek().kind == context:
                    else_list = _List(end.pos, [self.branch_control(self.next())])
                else:
                    else_list, end = self.item_list()
                    if end.word != "end":
                        self.errorf("expected end; found %s" % end)
            return _Branch(context, pipe, body, else_list)
        finally:
            del self.vars[nvars:]

    def loop_control(self, token):
        after = self.next_non_space()
        if after.kind != "}}":
            self.unexpected(after, "{{%s}}" % token.kind)
        if not self.range_depth:
            self.errorf("{{%s}} outside {{range}}" % token.kind)
        return _Marker(token.kind, token.pos)

    def else_control(self, token):
        peek = self.peek_non_space()
        if peek.kind in ("if", "with"):
            return _Marker("else", peek.pos)
        return _Marker("else", self.expect("}}", "else").pos)

    def end_control(self, token):
        return _Marker("end", self.expect("}}", "end").pos)

    def template_name(self, token, context):
        if token.kind not in ("string", "raw"):
            self.unexpected(token, context)
        return self.unquote(token)

    def template_control(self, token):
        token = self.next_non_space()
        name = self.template_name(token, "template clause")
        pipe = None
        if self.next_non_space().kind != "}}":
            self.backup()
            pipe = self.pipeline("template clause", "}}")
        return _TemplateCall(token.pos, name, pipe)

    def block_control(self, token):
        token = self.next_non_space()
        name = self.template_name(token, "block clause")
        pipe = self.pipeline("block clause", "}}")
        self.parse_body(name, "block clause")
        return _TemplateCall(token.pos, name, pipe)

    # -- pipelines

    def pipeline(self, context, end):
        pipe = _Pipe(self.peek_non_space().pos)
        self.declarations(pipe, context)
        while True:
            token = self.next_non_space()
            if token.kind == end:
                self.check_pipeline(pipe, context)
                return pipe
            if token.kind not in _OPERAND_START:
                self.unexpected(token, context)
            self.backup()
            pipe.cmds.append(self.command())

    def declarations(self, pipe, context):
        """Reads "$x :=", "$x =" or, in a range, "$i, $e :=" into pipe.decl."""
        while self.peek_non_space().kind == "var":
            start = self.i
            var = self.next_non_space()
            follow = self.peek_non_space()
            if follow.kind in (":=", "="):
                self.next_non_space()
                pipe.is_assign = follow.kind == "="
                pipe.decl.append(_Variable(var.pos, [var.val]))
                self.vars.append(var.val)
                return
            if follow.kind == "char" and follow.val == ",":
                self.next_non_space()
                pipe.decl.append(_Variable(var.pos, [var.val]))
                self.vars.append(var.val)
                if context == "range" and len(pipe.decl) < 2:
                    if self.peek_non_space().kind in ("var", "}}", ")"):
                        continue
                    self.errorf("range can only initialize variables")
                self.errorf("too many declarations in %s" % context)
            self.i = start  # "$x" is an operand, not a declaration
            return

    def check_pipeline(self, pipe, context):
        if not pipe.cmds:
            self.errorf("missing value for %s" % context)
        for stage, cmd in enumerate(pipe.cmds[1:], 2):
            if isinstance(cmd.args[0], (_Literal, _Dot)):
                self.errorf("non executable command in pipeline stage %d" % stage)

    def command(self):
        cmd = _Command(self.peek_non_space().pos)
        while True:
            self.peek_non_space()
            operand = self.operand()
            if operand is not None:
                cmd.args.append(operand)
            token = self.next()
            if token.kind == "space":
                continue
            if token.kind in ("}}", ")"):
                self.backup()
            elif token.kind != "|":
                self.unexpected(token, "operand")
            break
        if not cmd.args:
            self.errorf("empty command")
        return cmd

    def operand(self):
        node = self.term()
        if node is None or self.peek().kind != "field":
            return node
        chain = _Chain(self.peek().pos, node)
        while self.peek().kind == "field":
            chain.fields.append(self.next().val[1:])
        # Go positions a chained field at its second part; error columns show it
        if isinstance(node, _Field):
            return _Field(chain.pos, node.idents + chain.fields)
        if isinstance(node, _Variable):
            return _Variable(chain.pos, node.idents + chain.fields)
        if isinstance(node, (_Literal, _Dot)):
            self.errorf("unexpected . after term %s" % _quote(str(node)))
        return chain

    def term(self):
        token = self.next_non_space()
        kind = token.kind
        if kind == "ident":
            if token.val not in self.funcs:
                self.errorf("function %s not defined" % _quote(token.val))
            return _Identifier(token.pos, token.val)
        if kind == "dot":
            return _Dot(token.pos)
        if kind == "nil":
            return _Nil(token.pos)
        if kind == "var":
            if token.val not in self.vars:
                self.errorf("undefined variable %s" % _quote(token.val))
            return _Variable(token.pos, [token.val])
        if kind == "field":
            return _Field(token.pos, [token.val[1:]])
        if kind == "bool":
            return _Literal(token.pos, token.val, token.val == "true")
        if kind in ("number", "charconst"):
            return _Literal(token.pos, token.val, self.literal(_number_value, token.val))
        if kind in ("string", "raw"):
            return _Literal(token.pos, token.val, self.unquote(token))
        if kind == "(":
            return self.pipeline("parenthesized pipeline", ")")
        self.backup()
        return None

    def unquote(self, token):
        return self.literal(_unquote, token.val)

    def literal(self, convert, text):
        try:
            return convert(text)
        except ValueError as e:
            self.errorf(str(e))


# ---- execution -------------------------------------------------------------

class _BreakLoop(Exception):
    pass


class _ContinueLoop(Exception):
    pass


def _location(text, pos):
    # Go's ErrorContext: line, then the byte offset within it, counted from 0
    before = text[:pos]
    line_start = before.rfind("\n") + 1
    return ":%d:%d" % (before.count("\n") + 1, len(before[line_start:].encode()))


class _State:
    """One execution of one template, mirroring the state in Go's exec.go.

    ``node`` is the node being evaluated: errors quote it and point at it.
    ``vars`` is the variable stack of [name, value]; control structures pop
    what their pipeline pushed.
    """

    def __init__(self, tmpl, name, out, variables, depth):
        self.tmpl = tmpl
        self.funcs = tmpl._funcs
        self.name = name
        self.out = out
        self.vars = variables
        self.depth = depth
        self.node = None

    def at(self, node):
        self.node = node

    def errorf(self, message):
        if self.node is None:
            raise TemplateError("template: %s: %s" % (self.name, message))
        location = _location(self.tmpl._text, self.node.pos)
        raise TemplateError("template: %s: executing %s at <%s>: %s"
                            % (location, _quote(self.name), self.node, message))

    # -- variables

    def var_value(self, name):
        for entry in reversed(self.vars):
            if entry[0] == name:
                return entry[1]
        self.errorf("undefined variable: %s" % name)

    def set_var(self, name, value):
        for entry in reversed(self.vars):
            if entry[0] == name:
                entry[1] = value
                return
        self.errorf("undefined variable: %s" % name)

    # -- walking the tree

    def walk(self, dot, node):
        self.at(node)
        if isinstance(node, _List):
            for child in node.nodes:
                self.walk(dot, child)
        elif isinstance(node, _Text):
            self.out.append(node.text)
        elif isinstance(node, _Action):
            value = self.eval_pipeline(dot, node.pipe)
            if not node.pipe.decl:
                self.at(node)
                self.out.append("<no value>" if value is _MISSING else _sprint(value))
        elif isinstance(node, _Branch):
            if node.kind == "range":
                self.walk_range(dot, node)
            else:
                self.walk_if_or_with(dot, node)
        elif isinstance(node, _TemplateCall):
            self.walk_template(dot, node)
        elif node.word == "break":
            raise _BreakLoop
        else:
            raise _ContinueLoop

    def walk_if_or_with(self, dot, node):
        mark = len(self.vars)
        try:
            value = self.eval_pipeline(dot, node.pipe)
            if _truth(value):
                self.walk(value if node.kind == "with" else dot, node.list)
            elif node.else_list is not None:
                self.walk(dot, node.else_list)
        finally:
            del self.vars[mark:]

    def walk_range(self, dot, node):
        self.at(node)
        mark = len(self.vars)
        try:
            items = self.range_items(node, self.eval_pipeline(dot, node.pipe))
            if items:
                inner = len(self.vars)
                try:
                    for key, elem in items:
                        self.range_iteration(node, key, elem, inner)
                except _BreakLoop:
                    pass
            elif node.else_list is not None:
                self.walk(dot, node.else_list)
        finally:
            del self.vars[mark:]

    def range_items(self, node, value):
        """(key, element) pairs: maps in sorted key order, as Go ranges them."""
        if value is None or value is _MISSING:
            return []
        if isinstance(value, (list, tuple)):
            return list(enumerate(value))
        if isinstance(value, dict):
            return [(k, value[k]) for k in _sorted_keys(value)]
        if isinstance(value, int) and not isinstance(value, bool):
            if len(node.pipe.decl) > 1:
                self.errorf("can't use %s to iterate over more than one variable" % value)
            return [(_MISSING, i) for i in range(value)]
        self.errorf("range can't iterate over %s" % _sprint(value))

    def range_iteration(self, node, key, elem, mark):
        decl, assign = node.pipe.decl, node.pipe.is_assign
        if decl:
            if assign:
                self.set_var(decl[0].idents[0], key if len(decl) > 1 else elem)
            else:
                self.vars[-1][1] = elem
        if len(decl) > 1:
            if assign:
                self.set_var(decl[1].idents[0], elem)
            else:
                self.vars[-2][1] = key
        try:
            self.walk(elem, node.list)
        except _ContinueLoop:
            pass
        finally:
            del self.vars[mark:]

    def walk_template(self, dot, node):
        self.at(node)
        tree = self.tmpl._trees.get(node.name)
        if tree is None:
            self.errorf("template %s not defined" % _quote(node.name))
        if self.depth >= _MAX_TEMPLATE_DEPTH:
            self.errorf("exceeded maximum template depth (%d)" % _MAX_TEMPLATE_DEPTH)
        dot = self.eval_pipeline(dot, node.pipe)
        # no dynamic scoping: the template sees only its own $
        sub = _State(self.tmpl, node.name, self.out, [["$", dot]], self.depth + 1)
        sub.walk(dot, tree)

    # -- evaluating pipelines

    def eval_pipeline(self, dot, pipe):
        if pipe is None:
            return _MISSING
        self.at(pipe)
        value = _NO_FINAL
        for cmd in pipe.cmds:
            value = self.eval_command(dot, cmd, value)  # each feeds the next as last arg
        for var in pipe.decl:
            if pipe.is_assign:
                self.set_var(var.idents[0], value)
            else:
                self.vars.append([var.idents[0], value])
        return value

    def eval_command(self, dot, cmd, final):
        first = cmd.args[0]
        if isinstance(first, _Field):
            self.at(first)
            return self.eval_field_chain(dot, dot, first, first.idents, cmd.args, final)
        if isinstance(first, _Chain):
            return self.eval_chain(dot, first, cmd.args, final)
        if isinstance(first, _Identifier):
            return self.eval_function(dot, first, cmd, cmd.args, final)
        if isinstance(first, _Pipe):
            self.not_a_function(cmd.args, final)
            return self.eval_pipeline(dot, first)
        if isinstance(first, _Variable):
            return self.eval_variable(dot, first, cmd.args, final)
        self.at(first)
        self.not_a_function(cmd.args, final)
        if isinstance(first, _Nil):
            self.errorf("nil is not a command")
        return dot if isinstance(first, _Dot) else first.value

    def not_a_function(self, args, final):
        if (args and len(args) > 1) or final is not _NO_FINAL:
            self.errorf("can't give argument to non-function %s" % args[0])

    def eval_variable(self, dot, var, args, final):
        self.at(var)
        value = self.var_value(var.idents[0])
        if len(var.idents) == 1:
            self.not_a_function(args, final)
            return value
        return self.eval_field_chain(dot, value, var, var.idents[1:], args, final)

    def eval_chain(self, dot, chain, args, final):
        self.at(chain)
        if isinstance(chain.node, _Nil):
            self.errorf("indirection through explicit nil in %s" % chain)
        receiver = self.eval_arg(dot, "value", chain.node)
        return self.eval_field_chain(dot, receiver, chain, chain.fields, args, final)

    def eval_field_chain(self, dot, receiver, node, idents, args, final):
        for name in idents[:-1]:
            receiver = self.eval_field(dot, name, node, None, _NO_FINAL, receiver)
        return self.eval_field(dot, idents[-1], node, args, final, receiver)

    def eval_field(self, dot, name, node, args, final, receiver):
        if receiver is _MISSING:
            return _MISSING
        if receiver is None:
            self.errorf("nil pointer evaluating interface {}.%s" % name)
        has_args = (args and len(args) > 1) or final is not _NO_FINAL
        if isinstance(receiver, dict):  # a map: values are never called
            if has_args:
                self.errorf("%s is not a method but has arguments" % name)
            return receiver.get(name, _MISSING)
        value = _MISSING
        if not isinstance(receiver, _PLAIN_TYPES) and not name.startswith("_"):
            value = getattr(receiver, name, _MISSING)  # a struct: fields and methods
        if value is _MISSING:
            self.errorf("can't evaluate field %s in type %s" % (name, _go_type(receiver)))
        if callable(value):
            return self.eval_call(dot, _Func(value), node, name, args, final)
        if has_args:
            self.errorf("%s has arguments but cannot be invoked as function" % name)
        return value

    # -- calling functions

    def eval_function(self, dot, ident, cmd, args, final):
        self.at(ident)
        func = self.funcs.get(ident.name)
        if func is None:
            self.errorf("%s is not a defined function" % _quote(ident.name))
        return self.eval_call(dot, func, cmd, ident.name, args, final)

    def eval_call(self, dot, func, node, name, args, final):
        args = args[1:] if args else []
        count = len(args) + (final is not _NO_FINAL)
        if func.params is not None:
            fixed = len(func.params)
            if func.variadic is not None and count < fixed:
                self.errorf("wrong number of args for %s: want at least %d got %d"
                            % (name, fixed, len(args)))
            if func.variadic is None and count != fixed:
                self.errorf("wrong number of args for %s: want %d got %d" % (name, fixed, count))
        if func.fn is None:
            return self.eval_and_or(dot, name, args, final)
        argv = [self.eval_arg(dot, func.kind(i), arg) for i, arg in enumerate(args)]
        if final is not _NO_FINAL:
            argv.append(self.validate(final, func.kind(len(args))))
        try:
            return func.fn(*argv)
        except Exception as e:  # Go's safeCall turns a panic into an error too
            self.at(node)
            self.errorf("error calling %s: %s" % (name, e))

    def eval_and_or(self, dot, name, args, final):
        # and/or stop at the first argument that decides, returning it
        value = _MISSING
        for arg in args:
            value = self.eval_arg(dot, "value", arg)
            if _truth(value) == (name == "or"):
                return value
        return value if final is _NO_FINAL else final

    def eval_arg(self, dot, kind, node):
        self.at(node)
        if isinstance(node, _Nil):
            if kind in ("any", "value", "[]string"):
                return None
            self.errorf("cannot assign nil to %s" % kind)
        if isinstance(node, _Dot):
            value = dot
        elif isinstance(node, _Field):
            value = self.eval_field_chain(dot, dot, node, node.idents, [node], _NO_FINAL)
        elif isinstance(node, _Variable):
            value = self.eval_variable(dot, node, None, _NO_FINAL)
        elif isinstance(node, _Pipe):
            value = self.eval_pipeline(dot, node)
        elif isinstance(node, _Identifier):
            value = self.eval_function(dot, node, node, None, _NO_FINAL)
        elif isinstance(node, _Chain):
            value = self.eval_chain(dot, node, None, _NO_FINAL)
        else:
            value = node.value
        return self.validate(value, kind)

    def validate(self, value, kind):
        """Go's validateType: the value as the parameter's kind receives it."""
        if kind == "value":
            return value
        if value is None or value is _MISSING:
            if kind in ("any", "[]string"):
                return None
            self.errorf("invalid value; expected %s" % kind)
        if kind == "any" or _KIND_CHECKS[kind](value):
            return value
        self.errorf("wrong type for value; expected %s; got %s" % (kind, _go_type(value)))


_PLAIN_TYPES = (str, int, float, list, tuple)

_KIND_CHECKS = {
    "string": lambda v: isinstance(v, str),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "[]string": lambda v: isinstance(v, (list, tuple)) and all(isinstance(e, str) for e in v),
}


def _truth(value):
    """Go's isTrue: false, 0, nil and empty strings, slices and maps are false."""
    if value is None or value is _MISSING:
        return False
    if isinstance(value, (bool, int, float, str, list, tuple, dict)):
        return bool(value)
    return True


# ---- printing values: fmt -------------------------------------------------

def _go_type(v):
    """The Go type a JSON-decoded value has, as Go's error messages name it."""
    if v is None or v is _MISSING:
        return "<nil>"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float64"
    if isinstance(v, str):
        return "string"
    if isinstance(v, (list, tuple)):
        return "[]interface {}"
    if isinstance(v, dict):
        return "map[string]interface {}"
    return "func" if callable(v) else type(v).__name__


def _sorted_keys(d):
    try:
        return sorted(d)
    except TypeError:
        return sorted(d, key=str)


_QUOTE_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r",
                  "\t": "\\t", "\v": "\\v"}


def _quote(s, quote='"'):
    """strconv.Quote (or QuoteRune with quote "'"): Go's %q."""
    out = [quote]
    for c in s:
        if c == quote or c == "\\":
            out.append("\\" + c)
        elif c.isprintable():
            out.append(c)
        elif c in _QUOTE_ESCAPES:
            out.append(_QUOTE_ESCAPES[c])
        else:
            n = ord(c)
            out.append("\\x%02x" % n if n < 0x20 or n == 0x7F
                       else "\\u%04x" % n if n < 0x10000 else "\\U%08x" % n)
    out.append(quote)
    return "".join(out)


def _digits(f):
    """Shortest decimal digits of finite f > 0 and the point: f == 0.DIGITS * 10**dp.

    repr() already gives the shortest digits that round-trip, as Go's strconv does.
    """
    mantissa, _, exp = repr(f).partition("e")
    whole, _, frac = mantissa.partition(".")
    digits = (whole + frac).lstrip("0")
    dp = len(whole) - (len(whole + frac) - len(digits)) + int(exp or 0)
    return digits.rstrip("0"), dp


def _exp_form(digits, dp, e="e", pad=2):
    exp = dp - 1
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return "%s%s%s%0*d" % (mantissa, e, "-" if exp < 0 else "+", pad, abs(exp))


def _fixed_form(digits, dp):
    if dp <= 0:
        return "0." + "0" * -dp + digits
    if dp >= len(digits):
        return digits + "0" * (dp - len(digits))
    return digits[:dp] + "." + digits[dp:]


def _shortest_g(f, e="e"):
    """strconv.FormatFloat(f, 'g', -1, 64) of |f|: %v of a float64.

    Go switches to the exponent form from 1e+06 up (and below 1e-04): a float
    million prints as 1e+06, which is why Helm charts grew toString calls.
    """
    if f == 0:
        return "0"
    digits, dp = _digits(abs(f))
    if not -4 <= dp - 1 < 6:
        return _exp_form(digits, dp, e)
    return _fixed_form(digits, dp)


class _Spec:
    """One printf directive's flags, width and precision."""

    __slots__ = ("minus", "plus", "sharp", "space", "zero", "wid", "prec", "sharp_v")

    def __init__(self):
        self.minus = self.plus = self.sharp = self.space = self.zero = self.sharp_v = False
        self.wid = self.prec = None


_PLAIN = _Spec()


def _pad(s, spec, zero=True):
    if spec.wid is None or len(s) >= spec.wid:
        return s
    fill = spec.wid - len(s)
    if spec.minus:
        return s + " " * fill
    return ("0" if zero and spec.zero else " ") * fill + s


def _sprint(value):
    """fmt.Sprint of one value: what {{.X}} prints."""
    return value if isinstance(value, str) else _fmt_arg(value, "v", _PLAIN)


def _fmt_arg(v, verb, spec, nested=False):
    """Formats one operand for one verb as Go's fmt does."""
    if verb == "T":
        return _pad(_go_type(v), spec)
    if v is None or v is _MISSING:
        if spec.sharp_v:
            return "interface {}(nil)" if nested else "<nil>"
        return _pad("<nil>", spec) if verb == "v" or nested else _bad_verb(v, verb, spec)
    if isinstance(v, bool):
        return _pad("true" if v else "false", spec) if verb in "tv" else _bad_verb(v, verb, spec)
    if isinstance(v, int):
        return _fmt_int(v, verb, spec)
    if isinstance(v, float):
        return _fmt_float(v, verb, spec)
    if isinstance(v, str):
        return _fmt_str(v, verb, spec)
    if isinstance(v, (list, tuple)):
        items = [_fmt_arg(e, verb, spec, True) for e in v]
        if spec.sharp_v:
            return "[]interface {}{%s}" % ", ".join(items)
        return "[%s]" % " ".join(items)
    if isinstance(v, dict):
        items = ["%s:%s" % (_fmt_arg(k, verb, spec, True), _fmt_arg(v[k], verb, spec, True))
                 for k in _sorted_keys(v)]
        if spec.sharp_v:
            return "map[string]interface {}{%s}" % ", ".join(items)
        return "map[%s]" % " ".join(items)
    return _pad(str(v), spec)


def _bad_verb(v, verb, spec):
    if v is None or v is _MISSING:
        return "%%!%s(<nil>)" % verb
    return "%%!%s(%s=%s)" % (verb, _go_type(v), _fmt_arg(v, "v", spec))


_INT_BASES = {"v": "d", "d": "d", "b": "b", "o": "o", "O": "o", "x": "x", "X": "X"}


def _fmt_int(v, verb, spec):
    if verb in "eEfFgG":
        # JSON writes an integral float64 as 5, which decodes as an int
        return _fmt_float(float(v), verb, spec)
    if verb == "c":
        return _pad(chr(v) if 0 <= v <= 0x10FFFF else "\ufffd", spec)
    if verb == "q":
        return _pad(_quote(chr(v) if 0 <= v <= 0x10FFFF else "\ufffd", "'"), spec)
    if verb == "U":
        return _pad("U+%04X" % v, spec)
    if verb not in _INT_BASES:
        return _bad_verb(v, verb, spec)
    digits = format(abs(v), _INT_BASES[verb])
    sign = "-" if v < 0 else "+" if spec.plus else " " if spec.space else ""
    if spec.prec is not None:  # a precision is the minimum number of digits
        digits = "" if spec.prec == 0 and v == 0 else digits.rjust(spec.prec, "0")
    elif spec.zero and spec.wid and not spec.minus:
        digits = digits.rjust(spec.wid - len(sign), "0")
    prefix = "0o" if verb == "O" else ""
    if spec.sharp and verb in "bxX":
        prefix = "0" + verb.lower() if verb != "X" else "0X"
    elif spec.sharp and verb == "o" and not digits.startswith("0"):
        prefix = "0"
    return _pad(sign + prefix + digits, spec, zero=False)


def _fmt_float(v, verb, spec):
    if verb not in "vgGeEfF":
        return _bad_verb(v, verb, spec)
    if math.isnan(v) or math.isinf(v):
        # Go pads these with spaces only, and shows +Inf's sign
        body = "NaN" if math.isnan(v) else "Inf"
        sign = "-" if v < 0 else "+" if spec.plus or body == "Inf" else " " if spec.space else ""
        return _pad(sign + body, spec, zero=False)
    if verb in "vgG" and spec.prec is None:
        body = _shortest_g(v, "E" if verb == "G" else "e")
    else:
        prec = 6 if spec.prec is None else spec.prec
        body = format(abs(v), ".%d%s" % (prec, {"v": "g", "F": "f"}.get(verb, verb)))
    sign = "-" if math.copysign(1, v) < 0 else "+" if spec.plus else " " if spec.space else ""
    if spec.zero and spec.wid and not spec.minus:
        body = body.rjust(spec.wid - len(sign), "0")
    return _pad(sign + body, spec, zero=False)


def _fmt_str(s, verb, spec):
    if spec.prec is not None and verb in "vsqxX":
        s = s[:spec.prec]
    if verb == "q" or (verb == "v" and spec.sharp_v):
        return _pad(_quote(s), spec)
    if verb in "vs":
        return _pad(s, spec)
    if verb in "xX":
        hexed = s.encode().hex()
        return _pad(hexed.upper() if verb == "X" else hexed, spec)
    return _bad_verb(s, verb, spec)


def _arg_index(fmt, i, argn):
    """An explicit operand index such as [2]: returns (argn, i, found)."""
    if fmt[i:i + 1] == "[":
        close = fmt.find("]", i)
        if close > i + 1 and fmt[i + 1:close].isdigit():
            return int(fmt[i + 1:close]) - 1, close + 1, True
    return argn, i, False


def _width(fmt, i, args, argn, default):
    """Digits, or * taking an int operand: returns (value, i, argn)."""
    if fmt[i:i + 1] == "*":
        value = args[argn] if argn < len(args) else None
        ok = isinstance(value, int) and not isinstance(value, bool)
        return (value if ok else None), i + 1, argn + 1
    start = i
    while "0" <= fmt[i:i + 1] <= "9" and i < len(fmt):
        i += 1
    return (int(fmt[start:i]) if i > start else default), i, argn


def _printf_spec(fmt, i, args, argn):
    """Flags, operand index, width and precision: (spec, i, argn, indexed)."""
    spec = _Spec()
    while fmt[i:i + 1] and fmt[i] in "#0+- ":
        c = fmt[i]
        if c == "-":
            spec.minus, spec.zero = True, False
        elif c == "0":
            spec.zero = not spec.minus  # zero padding only on the left
        else:
            setattr(spec, {"#": "sharp", "+": "plus", " ": "space"}[c], True)
        i += 1
    argn, i, indexed = _arg_index(fmt, i, argn)
    spec.wid, i, argn = _width(fmt, i, args, argn, None)
    if spec.wid is not None and spec.wid < 0:
        spec.minus, spec.zero, spec.wid = True, False, -spec.wid
    if fmt[i:i + 1] == ".":
        argn, i, found = _arg_index(fmt, i + 1, argn)
        spec.prec, i, argn = _width(fmt, i, args, argn, 0)  # a bare "." means 0
        if spec.prec is not None and spec.prec < 0:
            spec.prec = None
        indexed = indexed or found
    argn, i, found = _arg_index(fmt, i, argn)
    return spec, i, argn, indexed or found


def _sprintf(fmt, *args):
    """fmt.Sprintf, including Go's in-band errors such as %!d(string=x)."""
    out, i, argn, reordered = [], 0, 0, False
    while i < len(fmt):
        percent = fmt.find("%", i)
        if percent < 0:
            out.append(fmt[i:])
            break
        out.append(fmt[i:percent])
        spec, i, argn, indexed = _printf_spec(fmt, percent + 1, args, argn)
        reordered = reordered or indexed
        if i >= len(fmt):
            out.append("%!(NOVERB)")
            break
        verb, i = fmt[i], i + 1
        if verb == "%":
            out.append("%")
        elif not 0 <= argn < len(args):
            out.append("%%!%s(MISSING)" % verb)
        else:
            if verb == "v":  # %#v is Go syntax, %+v only matters for structs
                spec.sharp_v, spec.sharp, spec.plus = spec.sharp, False, False
            out.append(_fmt_arg(args[argn], verb, spec))
            argn += 1
    if not reordered and argn < len(args):
        extra = ["<nil>" if a is None else "%s=%s" % (_go_type(a), _sprint(a))
                 for a in args[argn:]]
        out.append("%%!(EXTRA %s)" % ", ".join(extra))
    return "".join(out)


def _print(*args):
    """fmt.Sprint: a space between operands when neither is a string."""
    out = []
    for i, arg in enumerate(args):
        if i and not isinstance(arg, str) and not isinstance(args[i - 1], str):
            out.append(" ")
        out.append(_sprint(arg))
    return "".join(out)


def _println(*args):
    return " ".join(map(_sprint, args)) + "\n"


# ---- JSON: docker/cli's json function --------------------------------------

_JSON_ESCAPES = {i: "\\u%04x" % i for i in range(0x20)}
_JSON_ESCAPES.update({ord('"'): '\\"', ord("\\"): "\\\\", ord("\n"): "\\n", ord("\r"): "\\r",
                      ord("\t"): "\\t", ord("\b"): "\\b", ord("\f"): "\\f",
                      0x2028: "\\u2028", 0x2029: "\\u2029"})


def _json_float(f):
    """encoding/json's float64: shortest digits, exponent only below 1e-6 or from 1e21."""
    if math.isnan(f) or math.isinf(f):
        raise ValueError("json: unsupported value")
    sign = "-" if math.copysign(1, f) < 0 else ""
    if f == 0:
        return sign + "0"
    digits, dp = _digits(abs(f))
    if 1e-6 <= abs(f) < 1e21:
        return sign + _fixed_form(digits, dp)
    return sign + _exp_form(digits, dp, pad=2 if dp > 0 else 1)


def _json_encode(v):
    if v is None or v is _MISSING:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return _json_float(v)
    if isinstance(v, (list, tuple)):
        return "[%s]" % ",".join(map(_json_encode, v))
    if isinstance(v, dict):
        # insertion order: the dict came from Docker's JSON, in struct field order
        return "{%s}" % ",".join("%s:%s" % (_json_encode(str(k)), _json_encode(x))
                                 for k, x in v.items())
    return '"%s"' % str(v).translate(_JSON_ESCAPES)


def _json(v):
    # docker/cli encodes without HTML escaping and ignores the encoder's error
    try:
        return _json_encode(v)
    except ValueError:
        return ""


# ---- builtin functions: text/template's funcs.go ---------------------------

def _is_nil(v):
    return v is None or v is _MISSING


def _index_arg(index, cap):
    if _is_nil(index):
        raise _FuncError("cannot index slice/array with nil")
    if not isinstance(index, int) or isinstance(index, bool):
        raise _FuncError("cannot index slice/array with type %s" % _go_type(index))
    if index < 0 or index > cap:
        raise _FuncError("index out of range: %d" % index)
    return index


def _zero_of(d):
    """The zero value a Go map lookup returns for a key the dict lacks.

    index on a missing key gives the zero of the map's element type; Docker's
    maps are typed (Labels is map[string]string, so a missing label prints
    ""), and the values present are the best evidence of that type.
    """
    kinds = {_go_type(v) for v in d.values()}
    if not kinds:
        return ""
    zeros = {"string": "", "int": 0, "float64": 0.0, "bool": False,
             "map[string]interface {}": None, "[]interface {}": []}
    return zeros.get(kinds.pop(), _MISSING) if len(kinds) == 1 else _MISSING


def _index(item, *indexes):
    if _is_nil(item):
        raise _FuncError("index of untyped nil")
    for index in indexes:
        if item is None:
            raise _FuncError("index of nil pointer")
        if isinstance(item, (list, tuple, str)):
            seq = item.encode() if isinstance(item, str) else item  # Go indexes bytes
            x = _index_arg(index, len(seq))
            if x == len(seq):
                raise _FuncError("index out of range: %d" % x)
            item = seq[x]
        elif isinstance(item, dict):
            if _is_nil(index):
                raise _FuncError("value is nil; should be of type string")
            if not isinstance(index, str):
                raise _FuncError("value has type %s; should be string" % _go_type(index))
            item = item[index] if index in item else _zero_of(item)
        else:
            raise _FuncError("can't index item of type %s" % _go_type(item))
    return item


def _slice(item, *indexes):
    if _is_nil(item):
        raise _FuncError("slice of untyped nil")
    if len(indexes) > 3:
        raise _FuncError("too many slice indexes: %d" % len(indexes))
    if isinstance(item, str):
        if len(indexes) == 3:
            raise _FuncError("cannot 3-index slice a string")
        seq = item.encode()
    elif isinstance(item, (list, tuple)):
        seq = item
    else:
        raise _FuncError("can't slice item of type %s" % _go_type(item))
    bounds = [0, len(seq)]
    for i, index in enumerate(indexes):
        x = _index_arg(index, len(seq))
        bounds[i:i + 1] = [x]
    for low, high in zip(bounds, bounds[1:]):
        if low > high:
            raise _FuncError("invalid slice index: %d > %d" % (low, high))
    part = seq[bounds[0]:bounds[1]]
    return part.decode("utf-8", "replace") if isinstance(item, str) else list(part)


def _len(item):
    if _is_nil(item):
        raise _FuncError("len of nil pointer")
    if isinstance(item, str):
        return len(item.encode())
    if isinstance(item, (list, tuple, dict)):
        return len(item)
    raise _FuncError("len of type %s" % _go_type(item))


def _not(value):
    return not _truth(value)


def _call(fn, *args):
    if _is_nil(fn):
        raise _FuncError("call of nil")
    if not callable(fn):
        raise _FuncError("non-function of type %s" % _go_type(fn))
    return fn(*(None if a is _MISSING else a for a in args))


def _basic_kind(v):
    # Go keeps int and float64 apart; JSON does not (a float64 field holding 5
    # decodes as an int), so numbers compare as one kind here
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    return None


def _eq(a, *others):
    """a == b || a == c ...; values of different kinds are an error, nil is not."""
    if not others:
        raise _FuncError("missing argument for comparison")
    kind = _basic_kind(a)
    for b in others:
        if kind != _basic_kind(b):
            if not _is_nil(a) and not _is_nil(b):
                raise _FuncError("incompatible types for comparison: %s and %s"
                                 % (_go_type(a), _go_type(b)))
            equal = False
        elif kind is not None:
            equal = a == b
        elif _is_nil(a) or _is_nil(b):
            equal = _is_nil(a) and _is_nil(b)
        elif type(a) is not type(b):
            raise _FuncError("non-comparable types %s: %s, %s: %s"
                             % (_sprint(a), _go_type(a), _go_type(b), _sprint(b)))
        else:
            raise _FuncError("non-comparable type %s: %s" % (_sprint(b), _go_type(b)))
        if equal:
            return True
    return False


def _lt(a, b):
    kind_a, kind_b = _basic_kind(a), _basic_kind(b)
    if kind_a is None or kind_b is None:
        raise _FuncError("invalid type for comparison")
    if kind_a != kind_b:
        raise _FuncError("incompatible types for comparison: %s and %s"
                         % (_go_type(a), _go_type(b)))
    if kind_a == "bool":
        raise _FuncError("invalid type for comparison")
    return a < b


def _text_of(args):
    # Go's evalArgs: nil operands print as <no value> in html, js and urlquery
    if len(args) == 1 and isinstance(args[0], str):
        return args[0]
    return _print(*("<no value>" if a is None else a for a in args))


_HTML_ESCAPES = {ord('"'): "&#34;", ord("'"): "&#39;", ord("&"): "&amp;", ord("<"): "&lt;",
                 ord(">"): "&gt;", 0: "\ufffd"}
_JS_ESCAPES = {"\\": "\\\\", "'": "\\'", '"': '\\"', "<": "\\u003C", ">": "\\u003E",
               "&": "\\u0026", "=": "\\u003D"}
_URL_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")


def _html(*args):
    return _text_of(args).translate(_HTML_ESCAPES)


def _js(*args):
    out = []
    for c in _text_of(args):
        if c in _JS_ESCAPES:
            out.append(_JS_ESCAPES[c])
        elif c < " " or (c >= "\x80" and not c.isprintable()):
            out.append("\\u%04X" % ord(c))
        else:
            out.append(c)
    return "".join(out)


def _urlquery(*args):
    out = []
    for byte in _text_of(args).encode():
        c = chr(byte)
        out.append(c if c in _URL_SAFE else "+" if c == " " else "%%%02X" % byte)
    return "".join(out)


# ---- docker/cli's functions: templates/templates.go ------------------------

def _map_runes(s, convert):
    # Go maps rune by rune; Python's case maps may grow a rune ("ß" -> "SS")
    return "".join(m if len(m := convert(c)) == 1 else c for c in s)


def _title(s):
    """strings.Title: upper-case each letter that starts a word."""
    out, prev = [], " "
    for c in s:
        if prev < "\x80":
            separator = not (prev.isascii() and (prev.isalnum() or prev == "_"))
        else:
            separator = not (prev.isalpha() or prev.isdigit()) and prev.isspace()
        out.append(_map_runes(c, str.title) if separator else c)
        prev = c
    return "".join(out)


def _split(s, sep):
    return list(s) if sep == "" else s.split(sep)


def _pad_with_space(source, prefix, suffix):
    if source == "":
        return source
    if prefix < 0 or suffix < 0:
        raise _FuncError("strings: negative Repeat count")
    return " " * prefix + source + " " * suffix


def _truncate(source, length):
    if length < 0:
        raise _FuncError("slice bounds out of range [:%d]" % length)
    return source[:length]


_FUNCS = {
    "and": _Func(None, ("value",), "value"),  # evaluated lazily by the executor
    "or": _Func(None, ("value",), "value"),
    "call": _Func(_call, ("value",), "value"),
    "html": _Func(_html, (), "any"),
    "index": _Func(_index, ("value",), "value"),
    "slice": _Func(_slice, ("value",), "value"),
    "js": _Func(_js, (), "any"),
    "len": _Func(_len, ("value",)),
    "not": _Func(_not, ("value",)),
    "print": _Func(_print, (), "any"),
    "printf": _Func(_sprintf, ("string",), "any"),
    "println": _Func(_println, (), "any"),
    "urlquery": _Func(_urlquery, (), "any"),
    "eq": _Func(_eq, ("value",), "value"),
    "ne": _Func(lambda a, b: not _eq(a, b), ("value", "value")),
    "lt": _Func(_lt, ("value", "value")),
    "le": _Func(lambda a, b: _lt(a, b) or _eq(a, b), ("value", "value")),
    "gt": _Func(lambda a, b: not (_lt(a, b) or _eq(a, b)), ("value", "value")),
    "ge": _Func(lambda a, b: not _lt(a, b), ("value", "value")),
    "json": _Func(_json, ("any",)),
    "split": _Func(_split, ("string", "string")),
    "join": _Func(lambda elems, sep: sep.join(elems or ()), ("[]string", "string")),
    "title": _Func(_title, ("string",)),
    "lower": _Func(lambda s: _map_runes(s, str.lower), ("string",)),
    "upper": _Func(lambda s: _map_runes(s, str.upper), ("string",)),
    "pad": _Func(_pad_with_space, ("string", "int", "int")),
    "truncate": _Func(_truncate, ("string", "int")),
}
