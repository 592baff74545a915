"""What every stage shares: the error users see, Go's "no value", template functions.

The parser and the executor raise TemplateError; a function raises _FuncError,
which the executor wraps as Go does. _Func carries a function's parameter kinds
so the executor can check arguments as Go's reflection does.
"""


class TemplateError(Exception):
    """A parse or execution error, worded as Go's text/template words it."""



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
