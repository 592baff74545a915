"""Docker's human units and Go's value syntax, reproduced to the byte.

Users read `docker ps` and `docker images` columns and type `--memory 512m`,
`--health-interval 1m30s`, `-c 0x400`; ketch must print and accept exactly what
the docker CLI does. Docker gets those from docker/go-units (sizes, "About a
minute") and from Go's strconv and time packages (what pflag accepts for int,
float, bool and duration flags, and the error text it shows when it doesn't).
Those are ported here, faithfully, quirks included:

- HumanSizeWithPrecision(999700, 3) is "1e+03kB": the docker 28 client
  still vendors the go-units that lets %g go scientific (seen live with
  `docker ps -s`), and whose HumanDuration truncates weeks and months.
- A duration flag given a bare number ("10") is an error: Go wants a unit.
- ParseInt takes base prefixes and underscores ("0x10", "010", "1_000").

Parse errors raise ValueError whose text is Go's own error string, so the
flag parser can wrap it as pflag does: invalid argument "x" for "-m, --memory"
flag: invalid size: 'x'. Durations are the exception: parse_duration is also the
daemon's (HEALTHCHECK, --change), so it raises errors.InvalidArgument, which the
API maps to a 400.

Standard library only, no `re`: this module is imported on every command.
"""

from ketch.errors import InvalidArgument

__all__ = [
    "human_duration", "human_size", "bytes_size", "parse_ram", "parse_size",
    "parse_go_int", "parse_go_float", "parse_go_bool", "parse_duration",
    "format_duration", "format_go_float", "go_quote", "time_quote",
]

_KB, _KIB = 1000, 1024
_DECIMAL = {"k": _KB, "m": _KB**2, "g": _KB**3, "t": _KB**4, "p": _KB**5}
_BINARY = {"k": _KIB, "m": _KIB**2, "g": _KIB**3, "t": _KIB**4, "p": _KIB**5}
_DECIMAL_ABBRS = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")
_BINARY_ABBRS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")

_SECOND = 1_000_000_000
_MINUTE = 60 * _SECOND
_HOUR = 60 * _MINUTE

_INT64_MIN = -(1 << 63)
_UINT64_MAX = (1 << 64) - 1


# ---- go-units: durations -------------------------------------------------

def _hours(d: int) -> float:
    # time.Duration.Hours: whole hours plus the float remainder
    return (d // _HOUR) + (d % _HOUR) / (60 * 60 * 1e9)


def human_duration(seconds: float) -> str:
    """go-units HumanDuration: "Less than a second", "About an hour", "3 weeks".

    This is go-units v0.5.0, which the docker 28 client vendors: hours are
    rounded, longer spans truncated ("2 weeks" for 18 days). Newer go-units
    rounds those too; the real client was checked on images aged 2d17h,
    18d, 3mo20d and 3y8mo ("2 days", "2 weeks", "3 months", "3 years").
    """
    d = int(seconds * _SECOND) if isinstance(seconds, float) else int(seconds) * _SECOND
    if d < _SECOND:
        return "Less than a second"
    if d < 2 * _SECOND:
        return "1 second"
    if d < _MINUTE:
        return "%d seconds" % (d // _SECOND)
    minutes = d // _MINUTE
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return "%d minutes" % minutes
    hours = int(_hours(d) + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return "%d hours" % hours
    if hours < 24 * 7 * 2:
        return "%d days" % (hours // 24)
    if hours < 24 * 30 * 2:
        return "%d weeks" % (hours // 24 // 7)
    if hours < 24 * 365 * 2:
        return "%d months" % (hours // 24 // 30)
    return "%d years" % (int(_hours(d)) // 24 // 365)


# ---- go-units: sizes -----------------------------------------------------

def _go_g(value: float, precision: int) -> str:
    """Go's %.{precision}g. Python's 'g' picks the same digits and exponent
    form (two-digit exponent, trailing zeros dropped); only the spelling of
    the non-finite values differs."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    return "%.*g" % (precision, value)


def _size_and_unit(size: float, base: float, abbrs: tuple) -> tuple:
    i = 0
    while size >= base and i < len(abbrs) - 1:
        size /= base
        i += 1
    return size, abbrs[i]


def human_size(n, precision: int = 3) -> str:
    """go-units HumanSizeWithPrecision, decimal units: "1.98MB", "0B", "1kB".

    The docker CLI formats image and container sizes with precision 3;
    go-units' own HumanSize uses 4.
    """
    size, unit = _size_and_unit(float(n), 1000.0, _DECIMAL_ABBRS)
    return _go_g(size, precision) + unit


def bytes_size(n) -> str:
    """go-units BytesSize, binary units with 4 significant digits: "1.5KiB"."""
    size, unit = _size_and_unit(float(n), 1024.0, _BINARY_ABBRS)
    return _go_g(size, 4) + unit


def _float_to_int64(f: float) -> int:
    # Go's int64(f) on amd64: out-of-range and NaN become math.MinInt64.
    if f != f or f >= 2.0**63 or f < -(2.0**63):
        return _INT64_MIN
    return int(f)


def _parse_size(s: str, units: dict) -> int:
    sep = -1
    for i in range(len(s) - 1, -1, -1):
        if s[i] in "0123456789. ":
            sep = i
            break
    if sep == -1:
        raise ValueError("invalid size: '%s'" % s)
    if s[sep] != " ":
        num, sfx = s[:sep + 1], s[sep + 1:]
    else:
        num, sfx = s[:sep], s[sep + 1:]
    size = parse_go_float(num)
    if size < 0:
        raise ValueError("invalid size: '%s'" % s)
    if not sfx:
        return _float_to_int64(size)
    bad = ValueError("invalid suffix: '%s'" % sfx.lower())
    if len(sfx) > 3:
        # go-units reports the suffix before lower-casing it on this path
        raise ValueError("invalid suffix: '%s'" % sfx)
    sfx = sfx.lower()
    if sfx[0] == "b":
        if len(sfx) > 1:
            raise bad
        return _float_to_int64(size)
    mul = units.get(sfx[0])
    if mul is None:
        raise bad
    size *= mul
    if (len(sfx) == 2 and sfx[1] != "b") or (len(sfx) == 3 and sfx[1:] != "ib"):
        raise bad
    return _float_to_int64(size)


def parse_ram(s: str) -> int:
    """go-units RAMInBytes: "512m" -> 536870912; binary, 'b'/'ib' optional."""
    return _parse_size(s, _BINARY)


def parse_size(s: str) -> int:
    """go-units FromHumanSize: "32kB" -> 32000; decimal units."""
    return _parse_size(s, _DECIMAL)


# ---- Go strconv ----------------------------------------------------------

def go_quote(s: str) -> str:
    """strconv.Quote, which is what Go's %q prints for a string."""
    if s.isascii() and s.isprintable() and '"' not in s and "\\" not in s:
        return '"' + s + '"'  # nothing to escape: the common case, e.g. every `ps` Command
    out = ['"']
    for c in s:
        if c == '"' or c == "\\":
            out.append("\\" + c)
        elif c.isprintable():
            out.append(c)
        else:
            o = ord(c)
            special = {7: "\\a", 8: "\\b", 9: "\\t", 10: "\\n", 11: "\\v", 12: "\\f", 13: "\\r"}
            if o in special:
                out.append(special[o])
            elif 0xDC80 <= o <= 0xDCFF:
                out.append("\\x%02x" % (o - 0xDC00))  # a raw byte, via surrogateescape
            elif o < 0x80:
                out.append("\\x%02x" % o)
            elif o < 0x10000:
                out.append("\\u%04x" % o)
            else:
                out.append("\\U%08x" % o)
    out.append('"')
    return "".join(out)


def _underscore_ok(s: str) -> bool:
    """strconv.underscoreOK: '_' only between digits (or after a base prefix)."""
    saw = "^"
    i = 0
    if s[:1] in ("-", "+"):
        s = s[1:]
    hexa = False
    if len(s) >= 2 and s[0] == "0" and s[1].lower() in "box":
        i = 2
        saw = "0"
        hexa = s[1].lower() == "x"
    while i < len(s):
        c = s[i]
        if "0" <= c <= "9" or (hexa and "a" <= c.lower() <= "f"):
            saw = "0"
        elif c == "_":
            if saw != "0":
                return False
            saw = "_"
        elif saw == "_":
            return False
        else:
            saw = "!"
        i += 1
    return saw != "_"


def parse_go_int(s: str) -> int:
    """strconv.ParseInt(s, 0, 64), as pflag's int and int64 flags call it."""
    syntax = ValueError("strconv.ParseInt: parsing %s: invalid syntax" % go_quote(s))
    out_of_range = ValueError("strconv.ParseInt: parsing %s: value out of range" % go_quote(s))
    if not s or not s.isascii():
        raise syntax
    body, neg = s, False
    if s[0] in "+-":
        neg = s[0] == "-"
        body = s[1:]
        if not body:
            raise syntax
    base = 10
    if body[0] == "0":
        if len(body) >= 3 and body[1].lower() in "box":
            base = {"b": 2, "o": 8, "x": 16}[body[1].lower()]
            body = body[2:]
        else:
            base, body = 8, body[1:]
    n, underscores = 0, False
    for c in body:
        if c == "_":
            underscores = True
            continue
        if "0" <= c <= "9":
            digit = ord(c) - 48
        elif "a" <= c.lower() <= "z":
            digit = ord(c.lower()) - 87
        else:
            raise syntax
        if digit >= base:
            raise syntax
        n = n * base + digit
        if n > _UINT64_MAX:
            raise out_of_range
    if underscores and not _underscore_ok(s):
        raise syntax
    if (neg and n > 1 << 63) or (not neg and n >= 1 << 63):
        raise out_of_range
    return -n if neg else n


def parse_go_float(s: str) -> float:
    """strconv.ParseFloat(s, 64): Go literal syntax, no surrounding spaces."""
    syntax = ValueError("strconv.ParseFloat: parsing %s: invalid syntax" % go_quote(s))
    if not s or not s.isascii():
        raise syntax
    body = s[1:] if s[0] in "+-" else s
    low = body.lower()
    if low in ("inf", "infinity"):
        return float(s[0] + "inf") if s[0] in "+-" else float("inf")
    if s.lower() == "nan":
        return float("nan")  # Go takes no sign on NaN
    if "_" in s and not _underscore_ok(s):
        raise syntax
    try:
        if low.startswith("0x"):
            # Go demands a 'p' exponent on hex floats
            if "p" not in low or any(c not in "0123456789abcdefxp.+-_" for c in low):
                raise syntax
            value = float.fromhex(s.replace("_", ""))
        else:
            for c in low:
                if c not in "0123456789.e+-_":
                    raise syntax
            value = float(s)
    except OverflowError:
        value = float("inf")
    except ValueError:
        raise syntax from None
    if value in (float("inf"), float("-inf")):
        raise ValueError("strconv.ParseFloat: parsing %s: value out of range" % go_quote(s))
    return value


_BOOLS = {"1": True, "t": True, "T": True, "TRUE": True, "true": True, "True": True,
          "0": False, "f": False, "F": False, "FALSE": False, "false": False, "False": False}


def parse_go_bool(s: str) -> bool:
    """strconv.ParseBool: 1/t/T/TRUE/true/True and their false twins."""
    try:
        return _BOOLS[s]
    except KeyError:
        raise ValueError("strconv.ParseBool: parsing %s: invalid syntax" % go_quote(s)) from None


def format_go_float(f: float) -> str:
    """strconv.FormatFloat(f, 'g', -1, 64), how pflag shows a float default.

    Python's repr already gives the shortest round-tripping digits; only the
    switch to exponent form differs (Go: below 1e-4 or from 1e21 up).
    """
    if f != f or f in (float("inf"), float("-inf")):
        return _go_g(f, 0)
    sign = "-" if str(f)[0] == "-" else ""
    mantissa, _, exp = repr(abs(f)).partition("e")
    whole, _, frac = mantissa.partition(".")
    digits = (whole + frac).lstrip("0")
    if not digits:
        return sign + "0"
    # decimal point position relative to the first significant digit
    dp = len(whole) + int(exp or 0) - (len(whole + frac) - len(digits))
    digits = digits.rstrip("0")
    x = dp - 1
    if x < -4 or x >= 21:
        body = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return "%s%se%s%02d" % (sign, body, "-" if x < 0 else "+", abs(x))
    if dp <= 0:
        return sign + "0." + "0" * -dp + digits
    if dp >= len(digits):
        return sign + digits + "0" * (dp - len(digits))
    return sign + digits[:dp] + "." + digits[dp:]


# ---- Go time -------------------------------------------------------------

_DURATION_UNITS = {
    "ns": 1, "us": 1000, "\u00b5s": 1000, "\u03bcs": 1000, "ms": 1_000_000,
    "s": _SECOND, "m": _MINUTE, "h": _HOUR,
}


def time_quote(s: str) -> str:
    """Go's time.quote: \\xNN for each UTF-8 byte of non-ASCII or control characters."""
    out = ['"']
    for c in s:
        if c >= "\x80" or c < " ":
            out.extend("\\x%02x" % b for b in c.encode("utf-8", "surrogatepass"))
        else:
            if c in '"\\':
                out.append("\\")
            out.append(c)
    out.append('"')
    return "".join(out)


def parse_duration(s: str) -> int:
    """time.ParseDuration, in integer nanoseconds (Go's time.Duration).

    The one Go-duration parser (flags, --since, HEALTHCHECK, --change): errors are
    ``InvalidArgument`` with Go's text, as the daemon and the CLI both show it.
    """
    invalid = InvalidArgument("time: invalid duration " + time_quote(s))
    rest, neg = s, False
    if rest and rest[0] in "+-":
        neg = rest[0] == "-"
        rest = rest[1:]
    if rest == "0":
        return 0
    if not rest:
        raise invalid
    total = 0
    while rest:
        if not (rest[0] == "." or "0" <= rest[0] <= "9"):
            raise invalid
        i = 0
        while i < len(rest) and "0" <= rest[i] <= "9":
            i += 1
        whole = int(rest[:i]) if i else 0
        if whole > (1 << 63):  # leadingInt overflows past 1<<63
            raise invalid
        pre = i > 0
        rest = rest[i:]
        frac, scale, post = 0, 1.0, False
        if rest and rest[0] == ".":
            rest = rest[1:]
            i, overflow = 0, False
            while i < len(rest) and "0" <= rest[i] <= "9":
                if not overflow:
                    nxt = frac * 10 + ord(rest[i]) - 48
                    if frac > ((1 << 63) - 1) // 10 or nxt > (1 << 63):
                        overflow = True
                    else:
                        frac, scale = nxt, scale * 10
                i += 1
            post = i > 0
            rest = rest[i:]
        if not pre and not post:
            raise invalid
        i = 0
        while i < len(rest) and not (rest[i] == "." or "0" <= rest[i] <= "9"):
            i += 1
        if i == 0:
            raise InvalidArgument("time: missing unit in duration " + time_quote(s))
        unit_name, rest = rest[:i], rest[i:]
        unit = _DURATION_UNITS.get(unit_name)
        if unit is None:
            raise InvalidArgument("time: unknown unit %s in duration %s"
                                  % (time_quote(unit_name), time_quote(s)))
        if whole > (1 << 63) // unit:
            raise invalid
        v = whole * unit
        if frac > 0:
            v += int(float(frac) * (float(unit) / scale))
            if v > (1 << 63):
                raise invalid
        total += v
        if total > (1 << 63):
            raise invalid
    if neg:
        return -total
    if total > (1 << 63) - 1:
        raise invalid
    return total


def _frac(v: int, prec: int) -> tuple:
    # time.fmtFrac: the fraction of v/10**prec with trailing zeros dropped.
    scale = 10**prec
    digits = ("%0*d" % (prec, v % scale)).rstrip("0") if prec else ""
    return ("." + digits if digits else ""), v // scale


def format_duration(ns: int) -> str:
    """time.Duration.String: "1m30s", "500ms", "1.5µs", "0s"."""
    u = -ns if ns < 0 else ns
    sign = "-" if ns < 0 else ""
    if u == 0:
        return "0s"
    if u < _SECOND:
        if u < 1000:
            unit, prec = "ns", 0
        elif u < 1_000_000:
            unit, prec = "\u00b5s", 3
        else:
            unit, prec = "ms", 6
        frac, whole = _frac(u, prec)
        return "%s%d%s%s" % (sign, whole, frac, unit)
    frac, secs = _frac(u, 9)
    out = "%d%ss" % (secs % 60, frac)
    minutes = secs // 60
    if minutes:
        out = "%dm" % (minutes % 60) + out
        hours = minutes // 60
        if hours:
            out = "%dh" % hours + out
    return sign + out
