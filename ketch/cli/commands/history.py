"""``history``: the layers of an image, newest first (docker/cli's runHistory)."""

import sys

from ketch.cli.commands import API_ERRORS, daemon_error, parse_args
from ketch.cli.flags import Command, FlagSpec
from ketch.cli.main import StatusError

HISTORY = Command("history", "ketch history [OPTIONS] IMAGE", "Show the history of an image", (
    FlagSpec("format", None, "string", help="Format output using a custom template"),
    FlagSpec("human", "H", "bool", True, help="Print sizes and dates in human readable format"),
    FlagSpec("no-trunc", None, "bool", help="Don't truncate output"),
    FlagSpec("platform", None, "string", help='Show history for the given platform. Formatted as "os[/arch[/variant]]" (e.g., "linux/amd64")'),
    FlagSpec("quiet", "q", "bool", help="Only show image IDs"),
), min_args=1, max_args=1, aliases=("ketch image history",))


def history(cli, args, path):
    opts, (name,) = parse_args(HISTORY, args, path)
    if opts["platform"]:  # docker's flag check against an API 1.45 daemon
        raise StatusError(1, '"--platform" requires API version 1.48, but the Docker daemon API version is 1.45')
    from ketch.cli.format import formatter, history as rows
    try:
        items = cli.client.image_history(name)
    except API_ERRORS as exc:
        raise StatusError(1, daemon_error(exc))
    fmt = rows.table_format(opts["format"], opts["quiet"], opts["human"])
    shown = [rows.HistoryContext(item, not opts["no-trunc"], opts["human"]) for item in items or []]
    try:
        sys.stdout.write(formatter.render(fmt, shown, rows.HEADERS, rows.TABLE))
    except formatter.FormatError as exc:
        raise StatusError(1, str(exc))
    return 0
