"""Go's fmt verbs as moby's classic builder applies them to its commit messages.

The history ``created_by`` of a metadata step is ``fmt.Sprintf("CMD %q", cmd)``,
``fmt.Sprintf("VOLUME %v", volumes)``, ``fmt.Sprintf("HEALTHCHECK %q", health)``...
so the texts users see in ``docker history`` carry Go's formatting, quirks included:
``%q`` of a HealthConfig struct pointer prints ``&{["CMD-SHELL" "x"] "30s" "0s" "0s"
'\\x03'}`` (durations through their String method, the retry count as a rune literal).
"""

from ketch.units import format_duration, go_quote

_RUNE_ESCAPES = {7: "\\a", 8: "\\b", 9: "\\t", 10: "\\n", 11: "\\v", 12: "\\f", 13: "\\r",
                 0x27: "\\'", 0x5c: "\\\\"}


def quote_list(items) -> str:
    """%q of a []string: ``["a" "b"]``; nil or empty: ``[]``."""
    return "[" + " ".join(go_quote(s) for s in items or ()) + "]"


def plain_list(items) -> str:
    """%v of a []string: ``[a b]``."""
    return "[" + " ".join(items or ()) + "]"


def quote_rune(n: int) -> str:
    """%q of an integer: strconv.QuoteRune, e.g. 3 -> '\\x03', 65 -> 'A'."""
    if n in _RUNE_ESCAPES:
        return "'" + _RUNE_ESCAPES[n] + "'"
    if n < 0 or n > 0x10FFFF or 0xD800 <= n <= 0xDFFF:
        return "'\\ufffd'"
    ch = chr(n)
    if ch.isprintable():
        return "'" + ch + "'"
    if n < 0x80:
        return "'\\x%02x'" % n
    if n < 0x10000:
        return "'\\u%04x'" % n
    return "'\\U%08x'" % n


def quote_health(health: dict | None) -> str:
    """%q of the *container.HealthConfig of dockerd 20.10 (Test, Interval, Timeout,
    StartPeriod, Retries); a nil pointer prints ``%!q(<nil>)``."""
    if health is None:
        return "%!q(<nil>)"
    durations = [go_quote(format_duration(int(health.get(k) or 0)))
                 for k in ("Interval", "Timeout", "StartPeriod")]
    return "&{%s %s %s}" % (quote_list(health.get("Test")), " ".join(durations),
                            quote_rune(int(health.get("Retries") or 0)))
