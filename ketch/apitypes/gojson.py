"""Go's ``encoding/json`` decoding rules, as data: type descriptors and one checker.

dockerd decodes request bodies into Go structs, so a value of the wrong JSON type is
refused with Go's own text, ``json: cannot unmarshal number into Go struct field
ContainerConfigWrapper.Image of type string``, and a 400. Clients and users match on
that text, so ``decode`` reproduces Go's rules (checked against go1.19's encoding/json,
the same code as in the go1.21 that dockerd 26.1 was built with):

- the first type error in document order is the one reported (Go saves it and decodes
  on), except that an error from a type's own ``UnmarshalJSON`` (strslice) stops at once
  and wins;
- the struct named in the message is the innermost struct being decoded; the field
  path is every struct field from the top, array indices and map keys left out;
- an integer field refuses a fraction, an exponent or an overflow as ``number <literal>``
  (``parse`` keeps the literal of every non-integer number for that);
- keys match struct fields exactly first, then case-insensitively; unknown keys are ignored;
- ``null`` leaves a field at its zero value (here: the key is dropped), except where the
  Go field is a pointer, where null is a value of its own (``PidsLimit: null``).

``decode`` returns a copy with canonical key names and strslices as lists, so the
engine reads only values of the declared types.
"""

import json
from dataclasses import dataclass, field

from ketch.apitypes import goscan
from ketch.errors import InvalidArgument


class JsonFloat(float):
    """A JSON number that is not an integer literal, with its text as Go would quote it."""

    literal: str

    def __new__(cls, literal: str) -> "JsonFloat":
        obj = super().__new__(cls, literal)
        obj.literal = literal
        return obj


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")  # Python reads NaN and Infinity; Go does not


_DECODER = json.JSONDecoder(parse_float=JsonFloat, parse_constant=_no_constant)
_SPACE = " \t\r\n"


def parse_value(data: bytes) -> tuple[object, bool]:
    """The first JSON value in data, as Go's json.Decoder reads it, and whether more
    follows it (Go's Decoder.More(): anything but white space, ']' or '}').

    Non-integer number literals are kept (Go quotes them). Invalid UTF-8 inside strings
    becomes U+FFFD, as in Go. A malformed value is an InvalidArgument with Go's own
    text, prefixed "invalid JSON: " as moby does.
    """
    text = data.decode("utf-8", "replace")
    start = len(text) - len(text.lstrip(_SPACE))
    try:
        value, end = _DECODER.raw_decode(text, start)
    except (ValueError, RecursionError):
        message = goscan.syntax_error(data) or "unexpected EOF"
        raise InvalidArgument(f"invalid JSON: {message}") from None
    rest = text[end:].lstrip(_SPACE)
    more = bool(rest) and rest[0] not in "]}"
    if rest:  # Python may stop where Go's scanner reads on ("1.e": Go's number, malformed)
        message = goscan.syntax_error(data)
        if message is not None:
            raise InvalidArgument(f"invalid JSON: {message}")
    return value, more


def parse(data: bytes) -> object:
    """parse_value, with content after the value refused as moby refuses it."""
    value, more = parse_value(data)
    if more:
        raise InvalidArgument("unexpected content after JSON")
    return value


def read_json(data: bytes | None, t: "GoType") -> object:
    """moby's httputils.ReadJSON: a request body decoded into ``t`` (Go's type errors
    first, then content after the value refused); no body at all is the zero value
    (None), a body of white space only Go's EOF."""
    if not data:
        return None
    if not data.strip(_SPACE.encode()):
        raise InvalidArgument("invalid JSON: got EOF while reading request body")
    value, more = parse_value(data)
    out = decode(value, t)
    if more:
        raise InvalidArgument("unexpected content after JSON")
    return out


# -- type descriptors -------------------------------------------------------------

@dataclass(frozen=True)
class GoType:
    """A Go type: ``name`` is how Go prints it in an error (``[]string``, ``nat.PortSet``)."""

    name: str


@dataclass(frozen=True)
class String(GoType):
    name: str = "string"


@dataclass(frozen=True)
class Bool(GoType):
    name: str = "bool"


@dataclass(frozen=True)
class Int(GoType):
    """A Go integer of ``bits`` bits, signed or not (``int`` is 64 bits on linux/amd64)."""

    name: str = "int64"
    bits: int = 64
    signed: bool = True


@dataclass(frozen=True)
class Slice(GoType):
    elem: GoType = field(default_factory=String)
    length: int | None = None  # a Go array ([2]uint): extra elements are dropped


@dataclass(frozen=True)
class Map(GoType):
    """A map with string keys (every map Docker's API types use)."""

    elem: GoType = field(default_factory=String)


@dataclass(frozen=True)
class Ptr(GoType):
    """``*T``: null is a value; any other error names T, as Go dereferences first."""

    elem: GoType = field(default_factory=String)


@dataclass(frozen=True)
class Struct(GoType):
    """``struct_name`` is what Go names in "Go struct field <struct_name>.<path>"."""

    struct_name: str = ""
    fields: tuple[tuple[str, GoType], ...] = ()


@dataclass(frozen=True)
class StrSlice(GoType):
    """moby's strslice.StrSlice: a list of strings, or one string (``"Cmd": "ls"``)."""

    name: str = "strslice.StrSlice"


@dataclass(frozen=True)
class Any(GoType):
    """``interface{}`` or a type the API does not check: anything goes."""

    name: str = "interface {}"


def struct(name: str, struct_name: str, *fields: tuple[str, GoType]) -> Struct:
    return Struct(name, struct_name, tuple(fields))


# -- the checker ------------------------------------------------------------------

def _kind(value: object) -> str:
    """Go's word for a JSON value in "cannot unmarshal <kind>"."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


class _Abort(Exception):
    """An error raised by a type's own UnmarshalJSON: decoding stops there."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _Decoder:
    def __init__(self, top: GoType) -> None:
        self.top = top
        self.first: str | None = None  # the saved error, as Go's decodeState.savedError

    def _error(self, value: object, type_name: str, where: tuple[str, list[str]] | None,
               literal: str | None = None) -> str:
        got = f"number {literal}" if literal is not None else _kind(value)
        if where is None:
            return f"json: cannot unmarshal {got} into Go value of type {type_name}"
        return (f"json: cannot unmarshal {got} into Go struct field "
                f"{where[0]}.{'.'.join(where[1])} of type {type_name}")

    def _save(self, message: str) -> None:
        if self.first is None:
            self.first = message

    def value(self, value: object, t: GoType, where) -> object:
        if value is None:
            return None
        if isinstance(t, Ptr):
            return self.value(value, t.elem, where)
        if isinstance(t, Any):
            return value
        if isinstance(t, StrSlice):
            return self._strslice(value, where)
        if isinstance(t, Struct):
            return self._struct(value, t, where)
        if isinstance(t, Map):
            if not isinstance(value, dict):
                return self._mismatch(value, t, where)
            return {k: self._elem(v, t.elem, where) for k, v in value.items()}
        if isinstance(t, Slice):
            if not isinstance(value, list):
                return self._mismatch(value, t, where)
            items = value if t.length is None else value[:t.length]
            return [self._elem(v, t.elem, where) for v in items]
        if isinstance(t, Int):
            return self._int(value, t, where)
        if isinstance(t, Bool):
            return value if isinstance(value, bool) else self._mismatch(value, t, where)
        if isinstance(t, String):
            return value if isinstance(value, str) else self._mismatch(value, t, where)
        raise TypeError(f"unknown Go type descriptor {t!r}")

    def _elem(self, value: object, t: GoType, where) -> object:
        """An element of a slice or map: null becomes the element's zero value."""
        if value is None:
            return _zero(t)
        return self.value(value, t, where)

    def _mismatch(self, value: object, t: GoType, where) -> None:
        self._save(self._error(value, t.name, where))
        return None

    def _int(self, value: object, t: Int, where) -> int | None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return self._mismatch(value, t, where)
        lo, hi = (-(1 << (t.bits - 1)), (1 << (t.bits - 1)) - 1) if t.signed else (0, (1 << t.bits) - 1)
        if isinstance(value, float) or not lo <= value <= hi:
            literal = value.literal if isinstance(value, JsonFloat) else str(value)
            self._save(self._error(value, t.name, where, literal))
            return None
        return value

    def _strslice(self, value: object, where) -> list[str]:
        if isinstance(value, str):
            return [value]
        if isinstance(value, list) and all(isinstance(v, str) or v is None for v in value):
            return [v or "" for v in value]
        # strslice tries []string, then string; the error is the second's, in context
        raise _Abort(self._error(value, "string", where))

    def _struct(self, value: object, t: Struct, where) -> dict | None:
        if not isinstance(value, dict):
            return self._mismatch(value, t, where)
        path = where[1] if where else []
        exact = dict(t.fields)
        folded: dict[str, str] = {}
        for name, _ in t.fields:
            folded.setdefault(name.lower(), name)  # Go takes the first field that folds equal
        out: dict = {}
        for key, item in value.items():
            name = key if key in exact else folded.get(key.lower())
            if name is None:
                out[key] = item  # Go ignores unknown fields; they pass through unread
                continue
            ftype = exact[name]
            if item is None and not isinstance(ftype, (Ptr, Any)):
                out.pop(name, None)  # null leaves a Go value at its zero
                continue
            out[name] = self.value(item, ftype, (t.struct_name, [*path, name]))
        return out

    def run(self, value: object) -> object:
        try:
            out = self.value(value, self.top, None)
        except _Abort as abort:
            raise InvalidArgument(f"invalid JSON: {abort.message}") from None
        if self.first is not None:
            raise InvalidArgument(f"invalid JSON: {self.first}")
        return out


def _zero(t: GoType) -> object:
    """The zero value of a null element. A struct's is {}; so is a struct pointer's, where
    Go would leave a nil that moby then dereferences: the engine gets a value it can check."""
    if isinstance(t, Ptr):
        return _zero(t.elem) if isinstance(t.elem, Struct) else None
    if isinstance(t, Struct):
        return {}
    if isinstance(t, String):
        return ""
    if isinstance(t, Int):
        return 0
    if isinstance(t, Bool):
        return False
    return None


def decode(value: object, t: GoType) -> object:
    """``value`` checked against ``t`` as Go's json.Unmarshal would; InvalidArgument
    with Go's message (prefixed "invalid JSON: ", as moby does) on the first error."""
    return _Decoder(t).run(value)
