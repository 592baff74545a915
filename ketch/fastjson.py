"""JSON through CPython's C accelerator alone, for commands that must start fast.

``import json`` pulls in ``re`` and ``enum`` (json.decoder compiles regular expressions
and json.scanner builds flags at import). The C scanner and encoder in ``_json`` need
none of that: they parse and print standard JSON themselves. This module wires them up
the way ``json`` does, minus its options.

Measured on the project machine (``bench/json_startup.py``, medians of 40-60 runs,
``python3 -I -S`` as the entry scripts start): the CLI's ``ketch ps`` starts in 14-15 ms
with this module and 20-21 ms with ``json``; ``ketch-runtime features`` in 14-15 ms
against 20-24 ms. Neither path loads ``re`` or ``enum`` otherwise, so ``json`` would add
6-9 ms to every CLI command and to each of the three runtime calls a shim makes per
container. (With ``re`` already loaded, as in an interactive interpreter, ``import json``
is only ~1.3 ms: that is the number ``-X importtime`` shows and it is not the one that
matters here.) The daemon, which starts once, uses ``json``.

``_json`` is private, so its shape is checked once at import (the scanner reads a
duck-typed context, ``make_encoder`` takes nine positional arguments); if it differs in
some Python version, this module falls back to ``json`` and ``ACCELERATED`` is False.
"""

__all__ = ["loads", "dumps", "JSONDecodeError", "ACCELERATED"]


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


_WHITESPACE = " \t\n\r"


def _accelerated_loads(text: str | bytes):
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


def _accelerated_dumps(obj) -> str:
    """Compact JSON, ASCII-only (as json.dumps with separators=(",", ":"))."""
    # make_encoder(markers, default, encoder, indent, key_sep, item_sep, sort_keys,
    # skipkeys, allow_nan); markers must be fresh per call to detect cycles.
    encoder = _json.make_encoder({}, _no_default, _json.encode_basestring_ascii, None,
                                 ":", ",", False, False, True)
    return "".join(encoder(obj, 0))


def _no_default(obj):
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def _fallback_loads(text: str | bytes):
    import json
    try:
        return json.loads(text)
    except ValueError as exc:
        raise JSONDecodeError(str(exc)) from None


def _fallback_dumps(obj) -> str:
    import json
    return json.dumps(obj, separators=(",", ":"))


def _check() -> bool:
    """_json behaves as this module was written against."""
    try:
        return (_accelerated_loads(' {"a": [1, 2.5, "\\u00e9", null]} ') == {"a": [1, 2.5, "\u00e9", None]}
                and _accelerated_dumps({"a": [1, "\u00e9", None]}) == '{"a":[1,"\\u00e9",null]}')
    except Exception:  # any drift in a private API means: do not use it
        return False


try:
    import _json
    _scan = _json.make_scanner(_Context())
except Exception:  # no _json (another Python), or make_scanner wants something else
    _json = _scan = None
ACCELERATED = _scan is not None and _check()
loads = _accelerated_loads if ACCELERATED else _fallback_loads
dumps = _accelerated_dumps if ACCELERATED else _fallback_dumps
