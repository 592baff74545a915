"""RFC 3339 timestamps with nanoseconds, as Docker writes them ("2026-11-22T22:16:58.547057562Z"),
and the times users give (``--since``, ``--until``, ``until=``) as moby reads them."""

import time

ZERO = "0001-01-01T00:00:00Z"  # Go's zero time.Time, which Docker prints for "never"


def format_ns(ns: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 10**9)) + f".{ns % 10**9:09d}Z"


def format_ns_trimmed(ns: int) -> str:
    """Go's time.RFC3339Nano: trailing zeros of the fraction dropped, no fraction if zero."""
    frac = f"{ns % 10**9:09d}".rstrip("0")
    head = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 10**9))
    return f"{head}.{frac}Z" if frac else f"{head}Z"


def now() -> str:
    return format_ns(time.time_ns())


_PARSED: dict[str, int] = {}  # the same timestamps are read on every ps (not functools: 2.5 ms import)


def parse_ns(text: str) -> int:
    """Nanoseconds since the epoch of an RFC 3339 UTC timestamp written by ``format_ns``."""
    if not text or text == ZERO:
        return 0
    cached = _PARSED.get(text)
    if cached is not None:
        return cached
    head, _, frac = text.rstrip("Z").partition(".")
    try:  # by hand: strptime costs ~20 us, and ps formats every container's times
        date, _, clock = head.partition("T")
        year, month, day = (int(x) for x in date.split("-"))
        hour, minute, second = (int(x) for x in clock.split(":"))
        days = _days_from_civil(year, month, day)
    except ValueError:
        raise ValueError(f"time data {text!r} is not RFC 3339") from None
    secs = ((days * 24 + hour) * 60 + minute) * 60 + second
    value = secs * 10**9 + int((frac + "000000000")[:9])
    if len(_PARSED) < 8192:
        _PARSED[text] = value
    return value


def _days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm)."""
    if not (1 <= m <= 12 and 1 <= d <= 31):
        raise ValueError("date out of range")
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def get_timestamp(value: str, now: float | None = None) -> str:
    """moby's timetypes.GetTimestamp (``logs --since``, ``images --filter until=``): a Go
    duration (not "0") is that long before now, in whole seconds; a date or time is
    "<seconds>.<nanoseconds>", in the zone of now where it has none; a Unix time
    ("1700000000.5") passes as it is. ValueError with Go's words otherwise."""
    now = time.time() if now is None else now
    from ketch.errors import InvalidArgument
    from ketch.units import parse_duration
    try:
        ago = parse_duration(value)
    except InvalidArgument:
        ago = None
    if ago is not None and value != "0":
        return str((round(now * 1e9) - ago) // 10**9)
    in_zone = not any(c in value for c in "zZ+") and value.count("-") != 3
    if "." in value:
        layout = _NANO_LOCAL if in_zone else _NANO_LOCAL + ("Z07:00",)
    elif "T" in value:
        colons = value.count(":")
        if not in_zone and "z" not in value and "Z" not in value and colons:
            colons -= 1  # the zone offset's
        layout = _DATE + ("T", "15") + (":", "04", ":", "05")[:min(colons, 2) * 2]
        layout += () if in_zone else ("Z07:00",)
    else:
        layout = _DATE if in_zone else _DATE + ("Z07:00",)
    offset = time.localtime(now).tm_gmtoff if in_zone else None
    try:
        return _parse_time(layout, value, offset)
    except ValueError:
        if "-" in value:  # an RFC 3339 time the parser refused: Go's own words
            raise
    secs, dot, frac = value.partition(".")
    if not _is_go_int(secs) or (dot and not _is_go_int(frac)):
        from ketch.units import go_quote
        raise ValueError(f"failed to parse value as time or duration: {go_quote(value)}") from None
    return value


def timestamp_ns(timestamp: str) -> int:
    """moby's ParseTimestamps of what get_timestamp returns: "<seconds>[.<fraction>]"."""
    secs, _, frac = timestamp.partition(".")
    return int(secs) * 10**9 + (int(int(frac) * 10.0 ** (9 - len(frac))) if frac else 0)


def _is_go_int(text: str) -> bool:
    """strconv.ParseInt(text, 10, 64) succeeds."""
    digits = text[1:] if text[:1] in ("+", "-") else text
    return (digits.isascii() and digits.isdigit()
            and -(1 << 63) <= int(text) < (1 << 63))


# Go time layouts as their elements; the others are literal text
_DATE = ("2006", "-", "01", "-", "02")
_NANO_LOCAL = _DATE + ("T", "15", ":", "04", ":", "05", ".999999999")
_RANGES = {"01": (1, 12, "month"), "15": (0, 23, "hour"), "04": (0, 59, "minute"),
           "05": (0, 59, "second")}


def _parse_time(layout: tuple, value: str, offset: int | None) -> str:
    """Go's time.Parse (``offset`` None) or ParseInLocation in a fixed zone, for the
    layouts above, with Go's errors; returns "<unix seconds>.<nanoseconds>"."""
    from ketch.units import time_quote as quote
    whole = "".join(layout)

    def bad(elem, rest):
        return ValueError(f"parsing time {quote(value)} as {quote(whole)}: cannot parse "
                          f"{quote(rest)} as {quote(elem)}")

    def out_of_range(what):
        return ValueError(f"parsing time {quote(value)}: {what} out of range")

    def number(text, fixed):  # getnum
        if not _digit(text, 0) or (fixed and not _digit(text, 1)):
            return None, text
        n = 2 if _digit(text, 1) else 1
        return int(text[:n]), text[n:]

    def nanoseconds(text, n):  # parseNanoseconds over text[:n], text[0] being "." or ","
        n = min(n, 10)
        return int(text[1:n]) * 10 ** (10 - n)

    fields = {"2006": 0, "01": 0, "02": 0, "15": 0, "04": 0, "05": 0}
    nsec, rest = 0, value
    for i, elem in enumerate(layout):
        if elem not in fields and elem not in (".999999999", "Z07:00"):
            if not rest.startswith(elem):
                raise bad(elem, rest)
            rest = rest[len(elem):]
            continue
        hold = rest
        if elem == "2006":
            if len(rest) < 4 or not all(_digit(rest, k) for k in range(4)):
                raise bad(elem, hold)
            fields[elem], rest = int(rest[:4]), rest[4:]
        elif elem in fields:
            n, rest = number(rest, elem != "15")
            if n is None:
                raise bad(elem, hold)
            fields[elem] = n
            low, high, what = _RANGES.get(elem, (0, 99, ""))
            if not low <= n <= high:
                raise out_of_range(what)
            if elem == "05" and rest[:1] in (".", ",") and _digit(rest, 1) \
                    and ".999999999" not in layout[i + 1:]:
                n = 2
                while _digit(rest, n):
                    n += 1
                nsec, rest = nanoseconds(rest, n), rest[n:]
        elif elem == ".999999999":
            if rest[:1] in (".", ",") and _digit(rest, 1):
                n = 2
                while _digit(rest, n):
                    n += 1
                nsec, rest = nanoseconds(rest, n), rest[n:]
        elif rest[:1] == "Z":  # Z07:00
            offset, rest = 0, rest[1:]
        else:
            if len(rest) < 6 or rest[3] != ":":
                raise bad(elem, hold)
            hours, _ = number(rest[1:3], True)
            minutes, _ = number(rest[4:6], True) if hours is not None else (None, "")
            if minutes is not None and (hours > 24 or minutes > 60):  # the minute's error wins
                raise out_of_range("time zone offset " + ("minute" if minutes > 60 else "hour"))
            if minutes is None or rest[0] not in "+-":
                raise bad(elem, hold)
            offset = (hours * 60 + minutes) * 60 * (-1 if rest[0] == "-" else 1)
            rest = rest[6:]
    if rest:
        raise ValueError(f"parsing time {quote(value)}: extra text: {quote(rest)}")
    year, month, day = fields["2006"], fields["01"], fields["02"]
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    if not 1 <= day <= (31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)[month - 1]:
        raise out_of_range("day")
    secs = (_days_from_civil(year, month, day) * 86400 + fields["15"] * 3600 + fields["04"] * 60
            + fields["05"] - (offset or 0))
    return f"{secs}.{nsec:09d}"


def _digit(text: str, i: int) -> bool:
    return i < len(text) and "0" <= text[i] <= "9"
