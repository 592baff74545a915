"""moby's httputils.CheckForJSON: a request body must be declared ``application/json``.

The media type is parsed as Go's ``mime.ParseMediaType`` parses it, so a malformed
header gets Go's words ("mime: no media type", ...) inside moby's message.
"""

from ketch.api.http import Request
from ketch.errors import InvalidArgument

_TSPECIALS = frozenset('()<>@,;:\\"/[]?= ')


def _token(s: str) -> tuple[str, str]:
    """Go's consumeToken: the leading token of s and the rest."""
    for i, c in enumerate(s):
        if c in _TSPECIALS or not " " < c < "\x7f":
            return s[:i], s[i:]
    return s, ""


def _media_type_error(value: str) -> str | None:
    base, _, params = value.partition(";")
    kind, rest = _token(base.strip().lower())
    if not kind:
        return "mime: no media type"
    if rest:
        if not rest.startswith("/"):
            return "mime: expected slash after first token"
        subtype, rest = _token(rest[1:])
        if not subtype:
            return "mime: expected token after slash"
        if rest:
            return "mime: unexpected content after media subtype"
    parts = params.split(";") if params else []
    for i, param in enumerate(parts):
        param = param.strip()
        if not param and i == len(parts) - 1 and i > 0:
            break  # a trailing semicolon is ignored
        key, eq, val = param.partition("=")
        if not _token(key)[0] or _token(key)[1] or not eq or not val:
            return "mime: invalid media parameter"
        if not (val.startswith('"') and val.endswith('"') and len(val) > 1) and _token(val)[1]:
            return "mime: invalid media parameter"
    return None


def check_for_json(request: Request) -> None:
    """No Content-Type is fine for an empty body; otherwise it must be application/json."""
    value = request.headers.get("content-type", "")
    if not value and request.headers.get("content-length", "0") == "0" \
            and "transfer-encoding" not in request.headers:
        return
    error = _media_type_error(value)
    if error is not None:
        raise InvalidArgument(f"malformed Content-Type header ({value}): {error}")
    if value.partition(";")[0].strip().lower() != "application/json":
        raise InvalidArgument(f"unsupported Content-Type header ({value}): must be 'application/json'")
