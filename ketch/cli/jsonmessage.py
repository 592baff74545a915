"""Render the daemon's JSON progress stream as docker/cli's jsonmessage does.

On a terminal each layer id gets a line of its own, rewritten in place (cursor up to it,
clear it, write, cursor back down); a message without an id ends that block, so the next
operation (the next tag of ``pull -a``) starts lines of its own. Not on a terminal, the
bars are left out and every other message is a plain line.
"""

from ketch import fastjson
from ketch.apitypes import progress as prog


class StreamError(Exception):
    """An ``error`` message in the stream: what the command fails with."""


def _cursor_up(out, n: int) -> None:
    if n:
        out.write(f"\x1b[{n}A")


def _cursor_down(out, n: int) -> None:
    if n:
        out.write(f"\x1b[{n}B")


def display(lines, out, terminal: bool, width: int = prog.DEFAULT_WIDTH, on_aux=None) -> None:
    """Write each message of ``lines`` (bytes, one JSON object each) to ``out``."""
    ids: dict[str, int] = {}
    for raw in lines:
        if not raw.strip():
            continue
        msg = fastjson.loads(raw)
        if msg.get("aux") is not None:
            if on_aux is not None:
                on_aux(msg["aux"])
            continue
        if msg.get("errorDetail") or msg.get("error"):
            detail = msg.get("errorDetail") or {}
            raise StreamError(detail.get("message") or msg.get("error") or "")
        ident = msg.get("id") or ""
        has_progress = isinstance(msg.get("progressDetail"), dict)
        diff = 0
        if ident and (has_progress or msg.get("progress")):
            if ident not in ids:
                ids[ident] = len(ids)
                if terminal:
                    out.write("\n")
            diff = len(ids) - ids[ident]
            if terminal:
                _cursor_up(out, diff)
        else:
            ids = {}
        _display_one(msg, out, terminal, width)
        if ident and terminal:
            _cursor_down(out, diff)
        out.flush()


def _display_one(msg: dict, out, terminal: bool, width: int) -> None:
    detail = msg.get("progressDetail")
    status = msg.get("status") or ""
    bar = ""
    if isinstance(detail, dict):
        bar = prog.progress_string(int(detail.get("current") or 0), int(detail.get("total") or 0),
                                   int(detail.get("start") or 0), width)
    endl = ""
    if terminal and not msg.get("stream") and isinstance(detail, dict):
        out.write("\x1b[2K\r")
        endl = "\r"
    elif bar:
        return  # no progress bars off a terminal
    if msg.get("id"):
        out.write(f"{msg['id']}: ")
    if msg.get("from"):
        out.write(f"(from {msg['from']}) ")
    if isinstance(detail, dict) and terminal:
        out.write(f"{status} {bar}{endl}")
    elif msg.get("progress"):
        out.write(f"{status} {msg['progress']}{endl}")
    elif msg.get("stream"):
        out.write(f"{msg['stream']}{endl}")
    else:
        out.write(f"{status}{endl}\n")


def response_lines(resp):
    """A streamed response body split in lines as it arrives."""
    pending = b""
    for chunk in resp.chunks():
        pending += chunk
        *done, pending = pending.split(b"\n")
        yield from done
    if pending.strip():
        yield pending


def render(resp, quiet: bool = False, on_aux=None, out=None) -> None:
    """docker/cli's DisplayJSONMessagesToStream of a daemon's response on ``out``
    (stdout), or nothing with ``quiet``; an error in the stream ends the command with
    it (StatusError 1)."""
    import os
    import sys

    from ketch.cli.main import StatusError
    out = open(os.devnull, "w") if quiet else (out or sys.stdout)
    terminal = not quiet and out.isatty()
    width = prog.DEFAULT_WIDTH
    if terminal:
        from ketch.cli.streams import terminal_size
        width = (terminal_size(out.fileno()) or (0, prog.DEFAULT_WIDTH))[1]
    try:
        display(response_lines(resp), out, terminal, width, on_aux)
    except StreamError as exc:
        raise StatusError(1, str(exc))
    finally:
        if quiet:
            out.close()
