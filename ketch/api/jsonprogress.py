"""The JSON message stream of the Engine API (moby's streamformatter and jsonmessage, as
API 1.45 has them): one JSON object and ``\\r\\n`` per message."""

from ketch.api.http import encode_json
from ketch.engine.images.progress import Progress
from ketch.units import human_size

NEWLINE = b"\r\n"


def _line(doc: dict) -> bytes:
    return encode_json(doc).rstrip(b"\n") + NEWLINE


def status(text: str, id: str = "") -> bytes:
    doc = {"status": text}
    if id:
        doc["id"] = id
    return _line(doc)


def stream(text: str) -> bytes:
    return _line({"stream": text})


def error(message: str) -> bytes:
    return _line({"errorDetail": {"message": message}, "error": message})


def _human(n: int) -> str:
    return human_size(n, 4)  # go-units HumanSize, which jsonmessage uses


def bar(current: int, total: int) -> str:
    """JSONProgress.String() as a daemon renders it (no terminal: 200 columns, no ETA)."""
    if current <= 0 and total <= 0:
        return ""
    if total <= 0:
        return "%8s" % _human(current)
    percentage = min(int(current / total * 100) // 2, 50)
    box = "[%s>%s] " % ("=" * percentage, " " * max(50 - percentage, 0))
    numbers = "%8s/%s" % (_human(current), _human(total))
    if current > total:
        numbers = "%8s" % _human(current)
    return box + numbers


def progress(p: Progress) -> bytes:
    detail = {}
    if p.current:
        detail["current"] = p.current
    if p.total:
        detail["total"] = p.total
    doc = {"status": p.action, "progressDetail": detail, "progress": bar(p.current, p.total)}
    if not doc["progress"]:
        del doc["progress"]
    if p.id:
        doc["id"] = p.id
    return _line(doc)
