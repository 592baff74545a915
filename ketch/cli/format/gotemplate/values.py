"""What every stage shares: the error users see, Go's "no value", template functions,
and the Go values JSON cannot say: structs, nil slices and nil maps.

The parser and the executor raise TemplateError; a function raises _FuncError,
which the executor wraps as Go does. _Func carries a function's parameter kinds
so the executor can check arguments as Go's reflection does.
"""


class TemplateError(Exception):
    """A parse or execution error, worded as Go's text/template words it.

    ``output`` is what an execution wrote before it failed: Go's Execute writes as it
    goes, and commands such as ``docker version`` print that part.
    """

    output = ""


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


class Struct(dict):
    """A Go struct decoded from JSON: ``.Key`` of a key it lacks is an error, as a field
    the struct does not have is, where a plain dict (a Go map) gives "no value".

    ``go_type`` names it in errors as Go's reflection does (``*types.Version``);
    ``tags`` maps a field to its JSON key (None: never marshalled) and whether it is
    omitempty, for fields whose key is not their name or that JSON omits when empty.
    ``embedded`` names the fields that are embedded structs: their fields are promoted
    (``.Path`` of a RuntimeWithStatus is its Runtime's) and marshalled inline.
    """

    __slots__ = ("go_type", "tags", "embedded")

    def __init__(self, fields, go_type, tags=None, embedded=()):
        super().__init__(fields)
        self.go_type = go_type
        self.tags = tags or {}
        self.embedded = embedded

    def promoted(self, name, default):
        """The field ``name`` of an embedded struct, as Go promotes it."""
        for field in self.embedded:
            inner = self.get(field)
            if isinstance(inner, Struct):
                value = inner.get(name, _MISSING)
                if value is _MISSING:
                    value = inner.promoted(name, _MISSING)
                if value is not _MISSING:
                    return value
        return default


class NilSlice(tuple):
    """A Go slice that is nil: prints "[]" as an empty one does, but JSON says null."""

    __slots__ = ()


class NilMap(dict):
    """A Go map that is nil: prints "map[]", JSON null."""

    __slots__ = ()


NIL_SLICE = NilSlice()
NIL_MAP = NilMap()


class NilPointer:
    """A typed nil pointer to a struct (``*formatter.Platform`` of a container without
    one): prints <nil>, marshals null, is false; a field of the struct is Go's "nil
    pointer evaluating", a name it lacks "can't evaluate field"."""

    __slots__ = ("go_type", "fields")

    def __init__(self, go_type, fields=()):
        self.go_type = go_type
        self.fields = frozenset(fields)
