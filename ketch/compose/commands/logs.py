"""``compose logs``: every service container's output, prefixed ``web-1  | ``.

As compose's Logs: the project's containers (stopped ones too, one-off ones not), each
streamed on its own thread into one LogPrinter; with ``-f``, containers started while
following (a restart, a scale-up) are followed from their start, found through the
events stream.
"""

from ketch.cli.commands import parse_args
from ketch.cli.flags import Command, FlagSpec
from ketch.compose import containers as C
from ketch.compose.containers import project_or_name
from ketch.compose.errors import ComposeError

LOGS = Command("logs", "ketch compose logs [OPTIONS] [SERVICE...]", "View output from containers", (
    FlagSpec("follow", "f", "bool", help="Follow log output"),
    FlagSpec("index", None, "int", 0, help="index of the container if service has multiple replicas"),
    FlagSpec("no-color", None, "bool", help="Produce monochrome output"),
    FlagSpec("no-log-prefix", None, "bool", help="Don't print prefix in logs"),
    FlagSpec("since", None, "string", help="Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)"),
    FlagSpec("tail", "n", "string", "all", help="Number of lines to show from the end of the logs for each container"),
    FlagSpec("timestamps", "t", "bool", help="Show timestamps"),
    FlagSpec("until", None, "string", help="Show logs before a timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)"),
))


def use_color(ctx) -> bool:
    """--ansi: never, always, or (auto) when stdout is a terminal."""
    ansi = ctx.options["ansi"]
    if ansi == "always":
        return True
    return ansi == "auto" and ctx.out.isatty()


def logs(ctx, args, path):
    opts, services = parse_args(LOGS, args, path)
    if opts["index"] > 0 and len(services) != 1:
        raise ComposeError("--index requires one service to be selected")
    from ketch.cli.timestamps import timestamp_arg
    from ketch.compose.logprinter import LogPrinter, watch
    project, name = project_or_name(ctx)
    if project is not None and not services:  # attach: false services only when named
        services = [n for n, s in project.services.items() if s.attach is None or s.attach]
    subscription = _subscribe(ctx, name) if opts["follow"] else None
    client = ctx.client()
    if opts["index"] > 0:
        items = [C.specified_container(client, name, services[0], opts["index"])]
    else:
        items = C.list_containers(client, name, services=services)
    items.sort(key=C.canonical_name)
    printer = LogPrinter(ctx.out, color=use_color(ctx) and not opts["no-color"],
                         prefix=not opts["no-log-prefix"])
    since = timestamp_arg(opts["since"], "since") or None
    until = timestamp_arg(opts["until"], "until") or None
    # with -f, compose's printer says when a running container exits
    exits = _Exits(ctx, printer)
    for c in items:
        if opts["follow"] and c.get("State") == "running":
            exits.expect(c["Id"])
    w = watch(ctx, printer, items, source="logs", follow=opts["follow"], tail=opts["tail"],
              since=since, until=until, timestamps=opts["timestamps"], on_end=exits.ended)
    if opts["follow"]:
        _follow_new(ctx, w, subscription, services, exits)
    try:
        w.wait()
    except KeyboardInterrupt:
        w.stop()
        return 130
    if w.errors:
        raise w.errors[0]
    return 0


class _Exits:
    """compose's "web-1 exited with code 0": a wait request is made while the container
    runs (so a restart cannot hide the exit that ended its stream), read when it ends."""

    def __init__(self, ctx, printer) -> None:
        self.ctx = ctx
        self.printer = printer
        self.waiting: dict[str, tuple] = {}

    def expect(self, cid: str) -> None:
        client = self.ctx.client()
        self.waiting[cid] = (client, client.wait_request(cid, "not-running"))

    def ended(self, target) -> None:
        from ketch.client.http import ConnectionFailed, HTTPError
        pending = self.waiting.pop(target.id, None)
        if pending is None:
            return
        client, resp = pending
        try:
            code = int((resp.json() or {}).get("StatusCode", 0))
        except (HTTPError, ConnectionFailed, ValueError):
            return
        finally:
            resp.conn.close()
            client.close()
        self.printer.status(target.name, f"exited with code {code}")


def _subscribe(ctx, project: str):
    """The start events of the project's containers, asked for before they are listed so
    none starting in between is missed: (client, response)."""
    client = ctx.client()
    return client, client.events(filters={"type": ["container"], "event": ["start"],
                                          "label": C.filters(project)["label"]})


def _follow_new(ctx, w, subscription, services: list[str], exits: _Exits) -> None:
    """Follow containers that start while following, from their start (compose's
    followStartedContainersLogs over its monitor); one still followed (an engine whose
    follow outlives a restart) is not followed twice."""
    import threading

    def run() -> None:
        from ketch import fastjson
        from ketch.cli.timestamps import timestamp_arg
        from ketch.client.http import ConnectionFailed, HTTPError
        client, resp = subscription
        try:
            buf = b""
            for chunk in resp.chunks():
                buf += chunk
                *lines, buf = buf.split(b"\n")
                for raw in lines:
                    if not raw.strip():
                        continue
                    ident = (fastjson.loads(raw).get("Actor") or {}).get("ID", "")
                    info = client.inspect_container(ident)
                    svc = (info["Config"].get("Labels") or {}).get("com.docker.compose.service")
                    if (services and svc not in services) or w.following(info["Id"], grace=0.5):
                        continue
                    exits.expect(info["Id"])
                    started = timestamp_arg(info["State"].get("StartedAt", ""), "since")
                    w.add(info, since=started or None)
        except (HTTPError, ConnectionFailed, OSError):
            pass

    threading.Thread(target=run, daemon=True, name="logs-events").start()
