"""Printing values as Go's fmt does, with strconv's quoting and float formatting.

Printing follows fmt.Sprint ({{.X}} and print), printf follows fmt.Sprintf,
including Go's in-band errors such as %!d(string=x).
"""

import math

from ketch.cli.format.gotemplate.values import _MISSING, NilPointer, Struct


def _go_type(v):
    """The Go type a JSON-decoded value has, as Go's error messages name it."""
    if v is None or v is _MISSING:
        return "<nil>"
    if type(v) is NilPointer:
        return v.go_type
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
    if isinstance(v, Struct):
        return v.go_type
    if isinstance(v, dict):
        return "map[string]interface {}"
    go_type = getattr(v, "GO_TYPE", None)  # an object standing for a Go value names its type
    if go_type is not None:
        return go_type
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
    if v is None or v is _MISSING or type(v) is NilPointer:
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
    if isinstance(v, Struct) and not spec.sharp_v:
        # Go prints a struct's field values in order (text/template dereferences a
        # pointer first); a nested pointer would be an address, which no script can
        # depend on: it prints as &{...}
        text = "{%s}" % " ".join(_fmt_arg(x, verb, spec, True) for x in v.values())
        return ("&" + text) if nested and v.go_type.startswith("*") else text
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
