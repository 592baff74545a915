"""The template functions: Go's builtins and docker/cli's, and the table of them all.

Go's come from text/template's funcs.go; docker/cli adds json, split, join,
title, lower, upper, pad and truncate (cli/templates/templates.go). parse()
lets the caller add or override more.
"""

import math

from ketch.cli.format.gotemplate.exec import _truth
from ketch.cli.format.gotemplate.fmt import (_digits, _exp_form, _fixed_form, _go_type, _print,
                                      _println, _sprint, _sprintf)
from ketch.cli.format.gotemplate.values import (_Func, _FuncError, _MISSING, NilMap, NilPointer,
                                                NilSlice, Struct)


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
    if v is None or v is _MISSING or type(v) in (NilSlice, NilMap, NilPointer):
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return _json_float(v)
    if isinstance(v, (list, tuple)):
        return "[%s]" % ",".join(map(_json_encode, v))
    if isinstance(v, Struct):
        return "{%s}" % ",".join(_struct_fields(v))
    if isinstance(v, dict):
        # insertion order: the dict came from Docker's JSON, in struct field order
        return "{%s}" % ",".join("%s:%s" % (_json_encode(str(k)), _json_encode(x))
                                 for k, x in v.items())
    marshal = getattr(v, "_go_marshal_json", None)  # Go's json.Marshaler
    if marshal is not None:
        return marshal()
    return '"%s"' % str(v).translate(_JSON_ESCAPES)


def _struct_fields(v):
    """encoding/json's "key":value pairs of a struct, an embedded struct's inline."""
    fields = []
    for name, x in v.items():
        if name in v.embedded and isinstance(x, Struct):
            fields += _struct_fields(x)
            continue
        key, omitempty = v.tags.get(name, (name, False))
        if key is not None and not (omitempty and _empty(x)):
            fields.append("%s:%s" % (_json_encode(key), _json_encode(x)))
    return fields


def _empty(v):
    """What encoding/json's omitempty leaves out."""
    return v is None or v is _MISSING or (not v and isinstance(v, (bool, int, float, str, list,
                                                                    tuple, dict)))


def json_encode(v):
    """encoding/json's Marshal of a template value, without HTML escaping."""
    return _json_encode(v)


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
            if x == len(seq):  # past indexArg's check, reflect's Index panics
                raise _FuncError("reflect: %s index out of range"
                                 % ("string" if isinstance(item, str) else "slice"))
            item = seq[x]
        elif isinstance(item, dict) and not isinstance(item, Struct):  # a struct is no map
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
    if isinstance(item, (list, tuple, dict)) and not isinstance(item, Struct):
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
