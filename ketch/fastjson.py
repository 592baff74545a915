"""JSON through CPython's C accelerator alone, for commands that must start fast.

``import json`` costs ~15 ms on a slow machine because ``json.decoder`` compiles regular
expressions (``re``, ``enum``) at import. The C scanner and encoder in ``_json`` need
none of that: they parse and print standard JSON themselves. This module wires them
up the way ``json`` does, minus its options. Used by the runtime's command line, whose
start-up competes with runc's; everything else uses ``json``.
"""

import _json

__all__ = ["loads", "dumps", "JSONDecodeError"]


class JSONDecodeError(ValueError):
    pass


class _Context:
    """What _json.make_scanner reads from json.JSONDecoder."""
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    memo: dict = {}

    @staticmethod
    def parse_constant(name: str):
        return {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}[name]


_scan = _json.make_scanner(_Context())
_WHITESPACE = " \t\n\r"


def loads(text: str | bytes):
    if isinstance(text, (bytes, bytearray)):
        text = text.decode()
    start = len(text) - len(text.lstrip(_WHITESPACE))
    try:
        obj, end = _scan(text, start)
    except StopIteration as exc:
        raise JSONDecodeError(f"Expecting value: char {exc.value}") from None
    except SystemError:
        # _json raises its errors with json.decoder's class, found only if json was
        # imported; if not, it fails with nothing set. The error path may be slow.
        import json
        try:
            json.loads(text)
        except ValueError as exc:
            raise JSONDecodeError(str(exc)) from None
        raise
    if text[end:].strip(_WHITESPACE):
        raise JSONDecodeError(f"Extra data: char {end}")
    return obj


def dumps(obj) -> str:
    """Compact JSON, ASCII-only (as json.dumps with separators=(",", ":"))."""
    # make_encoder(markers, default, encoder, indent, key_sep, item_sep, sort_keys,
    # skipkeys, allow_nan); markers must be fresh per call to detect cycles.
    encoder = _json.make_encoder({}, _no_default, _json.encode_basestring_ascii, None,
                                 ":", ",", False, False, True)
    return "".join(encoder(obj, 0))


def _no_default(obj):
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")
