"""Docker's JSON progress messages (moby's pkg/jsonmessage), shared by the daemon that
writes them and the clients that render them.

One JSON object a line::

    {"status": "Downloading", "id": "a3ed95caeb02",
     "progressDetail": {"current": 1200000, "total": 3400000},
     "progress": "[=================>                                 ]    1.2MB/3.4MB"}
    {"status": "Pull complete", "progressDetail": {}, "id": "a3ed95caeb02"}
    {"status": "Digest: sha256:..."}
    {"progressDetail": {}, "aux": {"Tag": "latest", "Digest": "sha256:...", "Size": 527}}
    {"errorDetail": {"message": "..."}, "error": "..."}

A message with an ``id`` and a ``progressDetail`` (even ``{}``) is a line of its own on a
terminal, rewritten in place as the layer's state changes.
"""

import time

from ketch import units

NEWLINE = b"\r\n"  # moby's streamformatter ends each message so

BAR_WIDTH = 50
DEFAULT_WIDTH = 200  # moby's when the writer is no terminal: the bar is always drawn


def progress_string(current: int, total: int, start: int = 0, width: int = DEFAULT_WIDTH,
                    now: float | None = None) -> str:
    """moby's JSONProgress.String: ``[====>   ]  1.2MB/3.4MB 3s``."""
    if current <= 0 and total <= 0:
        return ""
    if total <= 0:
        return "%8s" % units.human_size(current, 4)
    filled = min(int(current / total * 100) // 2, BAR_WIDTH)
    bar = ""
    if width > 110:
        bar = "[%s>%s] " % ("=" * filled, " " * max(BAR_WIDTH - filled, 0))
    numbers = "%8s/%s" % (units.human_size(current, 4), units.human_size(total, 4))
    if current > total:
        numbers = "%8s" % units.human_size(current, 4)
    left = ""
    if current > 0 and start > 0 and filled < BAR_WIDTH and width > 50:
        elapsed = (time.time() if now is None else now) - start
        seconds = int((total - current) * (elapsed / current))
        left = " " + units.format_duration(seconds * 10**9)
    return bar + numbers + left


def status(text: str, ident: str = "") -> dict:
    """A layer's state (``Pull complete``): its line on a terminal."""
    return {"status": text, "progressDetail": {}, "id": ident}


def message(text: str, ident: str = "") -> dict:
    """A line of its own (``Digest: ...``, ``latest: Pulling from ...``): moby's
    progress.Message, which ends the block of layer lines."""
    if ident:
        return {"status": text, "id": ident}
    return {"status": text}


def progress(text: str, ident: str, current: int, total: int, start: int = 0) -> dict:
    """A bar (``Downloading``, ``Loading layer``, ``Importing``): moby's JSONProgress, its
    zero fields left out (omitempty)."""
    detail = {}
    if current:
        detail["current"] = current
    if total:
        detail["total"] = total
    if start:
        detail["start"] = start
    msg = {"status": text, "progressDetail": detail}
    bar = progress_string(current, total, start)
    if bar:
        msg["progress"] = bar
    if ident:
        msg["id"] = ident
    return msg


def stream(text: str) -> dict:
    """Text printed as it is (``Loaded image: busybox:latest\\n``)."""
    return {"stream": text}


def error(message: str) -> dict:
    return {"errorDetail": {"message": message}, "error": message}


def aux(doc: dict) -> dict:
    return {"progressDetail": {}, "aux": doc}


def encode(msg: dict) -> bytes:
    """One message as the API streams it: compact JSON and ``\\r\\n``."""
    import json  # here: the CLI imports this module for rendering, and json costs it start-up
    return json.dumps(msg, separators=(",", ":")).encode() + NEWLINE
