"""Tokens to node trees, as Go's text/template/parse/parse.go builds them.

The parser builds a small node tree plus the named templates from define/block:
``_Parser.parse`` returns {name: tree}, the template itself being named "".
The executor walks the same nodes.
"""

from ketch.cli.format.gotemplate.fmt import _quote
from ketch.cli.format.gotemplate.lexer import _Lexer, _number_value, _unquote
from ketch.cli.format.gotemplate.values import TemplateError


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

    def __init__(self, text, funcs, name=""):
        self.name = name
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
        raise TemplateError("template: %s:%d: %s" % (self.name, line, message))

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
