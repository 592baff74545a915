"""``compose events`` lines: an Engine API event as compose prints it.

Only container events of the project's services, one-off containers left out, the
com.docker.compose.* attributes dropped. Plain: api.Event.String() printed with Println,
so each event is followed by an empty line, as compose's is. ``--json``: one object a
line, keys sorted (json.Marshal of a map), the time as RFC 3339 with nanoseconds.
"""

import json
import time


def _local(ns: int) -> tuple[time.struct_time, int]:
    return time.localtime(ns // 1_000_000_000), ns % 1_000_000_000


def plain_time(ns: int) -> str:
    """Go's "2006-01-02 15:04:05.000000" in local time."""
    t, frac = _local(ns)
    return time.strftime("%Y-%m-%d %H:%M:%S", t) + f".{frac // 1000:06d}"


def rfc3339_nano(ns: int, *, fixed: bool = False) -> str:
    """A local time as Go formats it: time.RFC3339Nano (the fraction's trailing zeros cut,
    as MarshalJSON), or with ``fixed`` jsonmessage.RFC3339NanoFixed (nine digits)."""
    t, frac = _local(ns)
    off = t.tm_gmtoff
    zone = "Z" if off == 0 else f"{'+' if off > 0 else '-'}{abs(off) // 3600:02d}:{abs(off) % 3600 // 60:02d}"
    fraction = f".{frac:09d}" if fixed else f".{frac:09d}".rstrip("0").rstrip(".")
    return time.strftime("%Y-%m-%dT%H:%M:%S", t) + fraction + zone


def event_line(event: dict, services: list[str], as_json: bool) -> str | None:
    """The text for one /events message, or None when compose skips it."""
    if event.get("Type") != "container":
        return None
    attrs = (event.get("Actor") or {}).get("Attributes") or {}
    if attrs.get("com.docker.compose.oneoff") == "True":
        return None
    service = attrs.get("com.docker.compose.service", "")
    if services and service not in services:
        return None
    kept = {k: v for k, v in sorted(attrs.items()) if not k.startswith("com.docker.compose.")}
    ns = int(event.get("timeNano") or int(event.get("time") or 0) * 1_000_000_000)
    ident = (event.get("Actor") or {}).get("ID") or event.get("id", "")
    action = event.get("Action") or event.get("status", "")
    if as_json:
        doc = {"action": action, "attributes": kept, "id": ident, "service": service,
               "time": rfc3339_nano(ns), "type": "container"}
        return json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n"
    pairs = ", ".join(f"{k}={v}" for k, v in kept.items())
    return f"{plain_time(ns)} container {action} {ident} ({pairs})\n\n"
