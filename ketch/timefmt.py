"""RFC 3339 timestamps with nanoseconds, as Docker writes them ("2026-11-22T22:16:58.547057562Z")."""

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


def parse_ns(text: str) -> int:
    """Nanoseconds since the epoch of an RFC 3339 UTC timestamp written by ``format_ns``."""
    if not text or text == ZERO:
        return 0
    head, _, frac = text.rstrip("Z").partition(".")
    import calendar
    secs = calendar.timegm(time.strptime(head, "%Y-%m-%dT%H:%M:%S"))
    return secs * 10**9 + int((frac + "000000000")[:9])
