"""``compose ps``, ``top``, ``port``, ``ls``, ``version``, ``events``: what runs, read back.

Everything is found through compose's labels (see containers), and printed as compose
prints it: ps through docker/cli's formatter (table, json, Go templates), ls and top
through Go's tabwriter with compose's settings.
"""

from ketch.cli.commands import parse_args
from ketch.cli.flags import Command, FlagSpec
from ketch.compose import containers as C
from ketch.compose.containers import project_or_name
from ketch.compose.errors import ComposeError

STATES = ("paused", "restarting", "removing", "running", "dead", "created", "exited")

PS = Command("ps", "ketch compose ps [OPTIONS] [SERVICE...]", "List containers", (
    FlagSpec("all", "a", "bool", help="Show all stopped containers (including those created by the run command)"),
    FlagSpec("filter", None, "string", help="Filter services by a property (supported filters: status)"),
    FlagSpec("format", None, "string", help="Format output using a custom template:\n'table':            Print output in table format with column headers (default)\n'table TEMPLATE':   Print output in table format using the given Go template\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.\nRefer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates"),
    FlagSpec("no-trunc", None, "bool", help="Don't truncate output"),
    FlagSpec("orphans", None, "bool", True, help="Include orphaned services (not declared by project)"),
    FlagSpec("quiet", "q", "bool", help="Only display IDs"),
    FlagSpec("services", None, "bool", help="Display services"),
    FlagSpec("status", None, "list", help="Filter services by status. Values: [paused | restarting | removing | running | dead | created | exited]"),
))


def ps(ctx, args, path):
    opts, services = parse_args(PS, args, path)
    from ketch.cli.format import formatter
    from ketch.compose.psrows import PS_HEADERS, PS_TABLE, ComposeContainer
    status = list(opts["status"])
    if opts["filter"]:
        key, sep, value = opts["filter"].partition("=")
        if not sep:
            raise ComposeError("arguments to --filter should be in form KEY=VAL")
        if key == "source":
            raise ComposeError("not implemented")
        if key != "status":
            raise ComposeError(f"unknown filter {key}")
        status.append(value)
    project, name = project_or_name(ctx)
    if project is not None:
        C.check_services(project, services)
        if not services and not opts["orphans"]:
            services = list(project.services)
    all_ = opts["all"] or bool(status)
    client = ctx.client()
    items = C.list_containers(client, name, oneoff=C.INCLUDE if all_ else C.EXCLUDE, all=all_,
                              services=services)
    rows = [ComposeContainer(c, _inspect(client, c), trunc=not opts["no-trunc"]) for c in items]
    if status:
        rows = [r for r in rows if r.State in status]
    rows.sort(key=lambda r: r.Name)
    if opts["quiet"]:
        ctx.out.write("".join(r._c["Id"] + "\n" for r in rows))
        return 0
    if opts["services"]:
        seen = list(dict.fromkeys(r.Service for r in rows))
        ctx.out.write("\n".join(seen) + "\n")
        return 0
    try:
        ctx.out.write(formatter.render(opts["format"], rows, PS_HEADERS, PS_TABLE))
    except formatter.FormatError as exc:
        raise ComposeError(str(exc)) from None
    return 0


def _inspect(client, c: dict) -> dict:
    from ketch.client.http import HTTPError
    try:
        return client.inspect_container(c["Id"])
    except HTTPError:  # gone meanwhile
        return {}


TOP = Command("top", "ketch compose top [SERVICES...]", "Display the running processes", ())


def top(ctx, args, path):
    _, services = parse_args(TOP, args, path)
    from ketch.cli.format import tabwriter
    name = C.project_name(ctx)
    client = ctx.client()
    items = C.list_containers(client, name, oneoff=C.INCLUDE, all=False, services=services)
    items.sort(key=C.canonical_name)
    header: list[str] = ["SERVICE", "#"]
    rows: list[dict[str, str]] = []
    for c in items:
        doc = client.top(c["Id"])
        labels = c.get("Labels") or {}
        for proc in doc.get("Processes") or []:
            row = {"SERVICE": labels.get("com.docker.compose.service", C.canonical_name(c)),
                   "#": labels.get("com.docker.compose.container-number", "")}
            for i, title in enumerate(doc.get("Titles") or []):
                if title not in header:
                    header.append(title)
                row[title] = proc[i]
            rows.append(row)
    if not rows:
        return 0
    if "CMD" in header:  # compose keeps CMD the right-most column
        header.remove("CMD")
        header.append("CMD")
    w = tabwriter.Writer(4, 1, 2, " ", 0)
    w.write("\t".join(header) + "\n")
    for row in rows:
        w.write("\t".join(row.get(h, "-") for h in header) + "\n")
    ctx.out.write(w.flush())
    return 0


PORT = Command("port", "ketch compose port [OPTIONS] SERVICE PRIVATE_PORT",
               "Print the public port for a port binding", (
    FlagSpec("index", None, "int", 0, help="Index of the container if service has multiple replicas"),
    FlagSpec("protocol", None, "string", "tcp", help="tcp or udp"),
), min_args=2)


def port(ctx, args, path):
    opts, rest = parse_args(PORT, args, path)
    service, text = rest[0], rest[1]
    try:
        private = int(text, 10)
        if not 0 <= private <= 65535:
            raise ValueError
    except ValueError:
        raise ComposeError(f'strconv.ParseUint: parsing "{text}": '
                           + ("value out of range" if text.isdigit() else "invalid syntax")) from None
    protocol = opts["protocol"].lower()
    c = C.specified_container(ctx.client(), C.project_name(ctx), service, opts["index"],
                              oneoff=C.INCLUDE, all=False)
    for p in c.get("Ports") or []:
        if p.get("PrivatePort") == private and p.get("Type") == protocol:
            ctx.out.write(f"{p.get('IP', '')}:{p.get('PublicPort', 0)}\n")
            return 0
    listed = ", ".join(f"{p.get('PrivatePort')}/{p.get('Type')}" for p in c.get("Ports") or [])
    raise ComposeError(f"no port {private}/{protocol} for container {C.canonical_name(c)}: {listed}")


LS = Command("ls", "ketch compose ls [OPTIONS]", "List running compose projects", (
    FlagSpec("all", "a", "bool", help="Show all stopped Compose projects"),
    FlagSpec("filter", None, "list", help="Filter output based on conditions provided"),
    FlagSpec("format", None, "string", "table", help="Format the output. Values: [table | json]"),
    FlagSpec("quiet", "q", "bool", help="Only display project names"),
), max_args=0)


def ls(ctx, args, path):
    opts, _ = parse_args(LS, args, path)
    import re
    from ketch.cli.commands.container import parse_filters
    from ketch.compose import labels as L
    wanted = parse_filters(opts["filter"], "--filter")
    for key in wanted:
        if key != "name":
            raise ComposeError(f"invalid filter '{key}'")
    items = ctx.client().containers(all=opts["all"], filters={"label": [L.PROJECT, L.CONFIG_HASH]})
    stacks: dict[str, list[dict]] = {}
    for c in items:
        stacks.setdefault((c.get("Labels") or {}).get(L.PROJECT, ""), []).append(c)
    view = []
    for name in sorted(stacks):
        if "name" in wanted and not any(v == name or _search(re, v, name) for v in wanted["name"]):
            continue
        group = stacks[name]
        counts: dict[str, int] = {}
        for c in group:
            counts[c.get("State", "")] = counts.get(c.get("State", ""), 0) + 1
        status = ", ".join(f"{s}({counts[s]})" for s in sorted(counts))
        files: list[str] = []
        for c in group:
            for f in ((c.get("Labels") or {}).get(L.CONFIG_FILES) or "").split(","):
                if f not in files:
                    files.append(f)
        view.append({"Name": name, "Status": status, "ConfigFiles": ",".join(files)})
    if opts["quiet"]:
        ctx.out.write("".join(v["Name"] + "\n" for v in view))
        return 0
    return _print_section(ctx, opts["format"], view, ("NAME", "STATUS", "CONFIG FILES"))


def _search(re, pattern: str, text: str) -> bool:
    try:
        return re.search(pattern, text) is not None
    except re.error:
        return False


def _print_section(ctx, fmt: str, view: list[dict], headers: tuple[str, ...]) -> int:
    """compose's formatter.Print: a tabwriter table (min width 20, padding 3) or JSON."""
    import json
    from ketch.cli.format import tabwriter
    kind = fmt.lower()
    if kind in ("table", "pretty", ""):
        w = tabwriter.Writer(20, 1, 3, " ", 0)
        w.write("\t".join(headers) + "\n")
        for v in view:
            w.write("\t".join(str(x) for x in v.values()) + "\n")
        ctx.out.write(w.flush())
    elif kind == "json":
        ctx.out.write(json.dumps(view, ensure_ascii=False, separators=(",", ":")) + "\n")
    else:
        raise ComposeError(f'format value "{fmt}" could not be parsed: parsing failed')
    return 0


VERSION = Command("version", "ketch compose version [OPTIONS]",
                  "Show the Docker Compose version information", (
    FlagSpec("format", "f", "string", help="Format the output. Values: [pretty | json]. (Default: pretty)"),
    FlagSpec("short", None, "bool", help="Shows only Compose's version number"),
), max_args=0)


def version(ctx, args, path):
    opts, _ = parse_args(VERSION, args, path)
    from ketch.compose.labels import COMPOSE_VERSION
    if opts["short"]:
        ctx.out.write(COMPOSE_VERSION + "\n")
    elif opts["format"] == "json":
        ctx.out.write(f'{{"version":"v{COMPOSE_VERSION}"}}\n')
    else:
        ctx.out.write(f"Docker Compose version v{COMPOSE_VERSION}\n")
    return 0


EVENTS = Command("events", "ketch compose events [OPTIONS] [SERVICE...]",
                 "Receive real time events from containers", (
    FlagSpec("json", None, "bool", help="Output events as a stream of json objects"),
    FlagSpec("since", None, "string", help="Show all events created since timestamp"),
    FlagSpec("until", None, "string", help="Stream events until this timestamp"),
))


def events(ctx, args, path):
    opts, services = parse_args(EVENTS, args, path)
    from ketch.cli.timestamps import timestamp_arg
    from ketch.compose.eventlines import event_line
    _, name = project_or_name(ctx)
    resp = ctx.client().events(since=timestamp_arg(opts["since"], "since") or None,
                               until=timestamp_arg(opts["until"], "until") or None,
                               filters={"label": [f"com.docker.compose.project={name.lower()}"]})
    from ketch import fastjson
    buf = b""
    for chunk in resp.chunks():
        buf += chunk
        *lines, buf = buf.split(b"\n")
        for raw in lines:
            if raw.strip():
                line = event_line(fastjson.loads(raw), services, opts["json"])
                if line is not None:
                    ctx.out.write(line)
                    ctx.out.flush()
    return 0

