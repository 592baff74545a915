"""The executor: walks a node tree over the data as Go's text/template/exec.go does.

Go's value semantics live here too: what is true, how a field is looked up in a
map or a struct, and how an argument is checked against a parameter's kind.
"""

from ketch.cli.format.gotemplate.fmt import _go_type, _quote, _sorted_keys, _sprint
from ketch.cli.format.gotemplate.parser import (_Action, _Branch, _Chain, _Dot, _Field, _Identifier,
                                         _List, _Nil, _Pipe, _TemplateCall, _Text, _Variable)
from ketch.cli.format.gotemplate.values import (_Func, _MISSING, _NO_FINAL, NilPointer, Struct,
                                                TemplateError)


_MAX_TEMPLATE_DEPTH = 100  # Go allows 100000; Python's stack does not


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
    what their pipeline pushed. ``missing_error`` is Go's ``missingkey=error``.
    """

    def __init__(self, tmpl, name, out, variables, depth, missing_error=False):
        self.tmpl = tmpl
        self.missing_error = missing_error
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
        location = self.tmpl.name + _location(self.tmpl._text, self.node.pos)
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
        if isinstance(value, dict) and not isinstance(value, Struct):  # Go ranges no struct
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
        sub = _State(self.tmpl, node.name, self.out, [["$", dot]], self.depth + 1,
                     self.missing_error)
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
            if self.missing_error:
                self.errorf("nil data; no entry for key %s" % _quote(name))
            return _MISSING
        if receiver is None:
            self.errorf("nil pointer evaluating interface {}.%s" % name)
        if type(receiver) is NilPointer:
            if name in receiver.fields:
                self.errorf("nil pointer evaluating %s.%s" % (receiver.go_type, name))
            self.errorf("can't evaluate field %s in type %s" % (name, receiver.go_type))
        has_args = (args and len(args) > 1) or final is not _NO_FINAL
        if isinstance(receiver, dict):  # a map or a Struct: values are never called
            if name in getattr(receiver, "GO_METHODS", ()):  # a map type's own methods
                return self.eval_call(dot, _method(getattr(receiver, name)), node, name, args,
                                      final)
            value = receiver.get(name, _MISSING)
            if type(receiver) is Struct:
                if value is _MISSING and receiver.embedded:
                    value = receiver.promoted(name, _MISSING)
                if value is _MISSING:
                    self.errorf("can't evaluate field %s in type %s" % (name, receiver.go_type))
                if has_args:
                    self.errorf("%s has arguments but cannot be invoked as function" % name)
                return value
            if has_args:
                self.errorf("%s is not a method but has arguments" % name)
            if value is _MISSING and self.missing_error:
                self.errorf("map has no entry for key %s" % _quote(name))
            return value
        value = _MISSING
        if not isinstance(receiver, _PLAIN_TYPES) and not name.startswith("_"):
            value = getattr(receiver, name, _MISSING)  # a struct: fields and methods
        if value is _MISSING:
            self.errorf("can't evaluate field %s in type %s" % (name, _go_type(receiver)))
        if callable(value):
            return self.eval_call(dot, _method(value), node, name, args, final)
        if has_args:
            if hasattr(receiver, "GO_TYPE"):  # a formatter row: its fields are Go methods
                self.errorf("wrong number of args for %s: want 0 got %d"
                            % (name, len(args) - 1 + (final is not _NO_FINAL)))
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
        else:  # a constant meets the parameter's type as Go's evalString/evalInteger do
            value = node.value
            if kind == "string" and not isinstance(value, str):
                self.errorf("expected string; found %s" % node)
            if kind == "int":
                if isinstance(value, float) and value.is_integer():
                    value = int(value)
                if not isinstance(value, int) or isinstance(value, bool):
                    self.errorf("expected integer; found %s" % node)
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


def _method(fn):
    """A Python method as a Go method: its number of parameters is checked as Go's
    reflection does ("wrong number of args for Label: want 1 got 0")."""
    code = getattr(fn, "__code__", None)
    if code is None or code.co_flags & 0x0C:  # *args or **kwargs: any number
        return _Func(fn)
    skip = 1 if getattr(fn, "__self__", None) is not None else 0
    names = code.co_varnames[skip:code.co_argcount]
    hints = getattr(fn, "__annotations__", {})
    return _Func(fn, tuple(_KINDS.get(hints.get(n), "any") for n in names))


_KINDS = {str: "string", "str": "string", int: "int", "int": "int"}


_PLAIN_TYPES = (str, int, float, list, tuple)

_KIND_CHECKS = {
    "string": lambda v: isinstance(v, str),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "[]string": lambda v: isinstance(v, (list, tuple)) and all(isinstance(e, str) for e in v),
}


def _truth(value):
    """Go's isTrue: false, 0, nil and empty strings, slices and maps are false."""
    if value is None or value is _MISSING or type(value) is NilPointer:
        return False
    if isinstance(value, (bool, int, float, str, list, tuple, dict)):
        return bool(value)
    return True
