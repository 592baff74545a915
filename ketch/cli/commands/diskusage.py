"""``system df``: what images, containers, volumes and the build cache take (docker 28's
formatter/disk_usage.go over GET /system/df)."""

import sys

from ketch.cli.commands import API_ERRORS, daemon_error, parse_args
from ketch.cli.flags import Command, FlagSpec
from ketch.cli.main import StatusError

DF = Command("system df", "ketch system df [OPTIONS]", "Show docker disk usage", (
    FlagSpec("format", None, "string", help="Format output using a custom template"),
    FlagSpec("verbose", "v", "bool", help="Show detailed information on space usage"),
), max_args=0)


def df(cli, args, path):
    opts, _ = parse_args(DF, args, path)
    from ketch.cli.format import diskusage, formatter
    try:
        doc = cli.client.disk_usage()
    except API_ERRORS as exc:
        raise StatusError(1, daemon_error(exc))
    try:
        if opts["verbose"] and opts["format"] in ("", "table"):
            sys.stdout.write(diskusage.verbose_tables(doc))
        elif opts["verbose"]:
            sys.stdout.write(diskusage.verbose_template(opts["format"], doc))
        else:
            fmt = opts["format"] or "table"
            sys.stdout.write(formatter.render(diskusage.summary_format(fmt), diskusage.summary_rows(doc),
                                              diskusage.HEADERS, diskusage.TABLE))
    except formatter.FormatError as exc:
        raise StatusError(1, str(exc))
    return 0
