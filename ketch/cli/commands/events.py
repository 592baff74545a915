"""``ketch events`` (``system events``): the daemon's events as docker/cli 28 prints them.

Without ``--format`` each event is one line: its time (RFC 3339 with nine digits of
fraction, in the local zone), type, action, actor id and the attributes sorted by
name, ``2026-12-06T16:00:00.000000000Z container start <id> (image=busybox, name=x)``.
``--format`` is a Go template over Docker's ``events.Message`` (``.Type .Action
.Actor.ID .Actor.Attributes .Scope .Time .TimeNano`` and the deprecated ``.Status
.ID .From``); ``json`` is ``{{json .}}``. As in docker 28 a ``table`` prefix is not
special here: it is template text.
"""

import sys
import time

from ketch import fastjson
from ketch.cli.commands import API_ERRORS, daemon_error, parse_args
from ketch.cli.commands.container import parse_filters
from ketch.cli.flags import Command, FlagSpec
from ketch.cli.main import StatusError

EVENTS = Command("events", "ketch events [OPTIONS]", "Get real time events from the server", (
    FlagSpec("filter", "f", "list", help="Filter output based on conditions provided"),
    FlagSpec("format", None, "string", help="Format output using a custom template:\n"
             "'json':             Print in JSON format\n"
             "'TEMPLATE':         Print output using the given Go template.\n"
             "Refer to https://docs.docker.com/go/formatting/ for more information "
             "about formatting output with templates"),
    FlagSpec("since", None, "string", help="Show all events created since timestamp"),
    FlagSpec("until", None, "string", help="Stream events until this timestamp"),
), max_args=0, aliases=("ketch system events",))


class Actor:
    """events.Actor as a Go template sees it."""

    def __init__(self, doc: dict) -> None:
        self.ID = doc.get("ID") or ""
        self.Attributes = doc.get("Attributes") or {}


class Message:
    """events.Message as a Go template sees it: Go's field names, not the JSON keys."""

    def __init__(self, doc: dict) -> None:
        self.doc = doc
        self.Status = doc.get("status") or ""
        self.ID = doc.get("id") or ""
        self.From = doc.get("from") or ""
        self.Type = doc.get("Type") or ""
        self.Action = doc.get("Action") or ""
        self.Actor = Actor(doc.get("Actor") or {})
        self.Scope = doc.get("scope") or ""
        self.Time = int(doc.get("time") or 0)
        self.TimeNano = int(doc.get("timeNano") or 0)


def as_json(value):
    """The JSON form of a Message (its json tags) for docker/cli's ``json`` function."""
    if isinstance(value, Message):
        return value.doc
    if isinstance(value, Actor):
        return {"ID": value.ID, "Attributes": value.Attributes}
    return value


def timestamp(nanos: int) -> str:
    """Go's Format("2006-01-02T15:04:05.000000000Z07:00") in the local zone."""
    secs, frac = divmod(nanos, 10**9)
    local = time.localtime(secs)
    off = local.tm_gmtoff
    zone = "Z" if off == 0 else "%s%02d:%02d" % ("-" if off < 0 else "+", abs(off) // 3600,
                                                   abs(off) % 3600 // 60)
    return time.strftime("%Y-%m-%dT%H:%M:%S", local) + f".{frac:09d}{zone}"


def pretty(doc: dict) -> str:
    """docker/cli's prettyPrintEvent."""
    nanos = int(doc.get("timeNano") or 0) or int(doc.get("time") or 0) * 10**9
    head = timestamp(nanos) + " " if nanos else ""
    actor = doc.get("Actor") or {}
    line = f"{head}{doc.get('Type', '')} {doc.get('Action', '')} {actor.get('ID', '')}"
    attrs = actor.get("Attributes") or {}
    if attrs:
        line += " (" + ", ".join(f"{k}={attrs[k]}" for k in sorted(attrs)) + ")"
    return line


def _template(fmt: str):
    from ketch.cli.format import gotemplate
    if fmt == "json":
        fmt = "{{json .}}"
    plain_json = gotemplate.parse("{{json .}}")
    funcs = {"json": lambda v: plain_json.execute(as_json(v))}
    try:
        tmpl = gotemplate.parse(fmt, funcs)
        tmpl.execute(Message({}))  # docker checks the template on an empty message
    except gotemplate.TemplateError as exc:
        raise StatusError(64, f"Error parsing format: {exc}") from None
    return tmpl


def events(cli, args, path):
    opts, _ = parse_args(EVENTS, args, path)
    from ketch.cli.format.gotemplate import TemplateError
    from ketch.cli.timestamps import timestamp_arg
    tmpl = _template(opts["format"]) if opts["format"] else None
    filters = parse_filters(opts["filter"])
    since = timestamp_arg(opts["since"], "since") or None
    until = timestamp_arg(opts["until"], "until") or None
    out = sys.stdout
    try:
        resp = cli.client.events(since, until, filters)
        buf = b""
        for chunk in resp.chunks():
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for line in lines:
                if line.strip():
                    doc = fastjson.loads(line)
                    out.write((tmpl.execute(Message(doc)) if tmpl else pretty(doc)) + "\n")
            out.flush()
    except API_ERRORS as exc:
        raise StatusError(1, daemon_error(exc))
    except TemplateError as exc:
        raise StatusError(1, str(exc))
    return 0
