"""``ketch builder prune``: remove build cache (docker/cli's builder runPrune). ``builder
build`` is ``ketch build`` (commands/build.py)."""

from ketch.cli.commands import parse_args
from ketch.cli.commands.container import parse_filters
from ketch.cli.commands.prune import deleted_report, run_prune
from ketch.cli.flags import Command, FlagSpec

PRUNE = Command("builder prune", "ketch builder prune", "Remove build cache", (
    FlagSpec("all", "a", "bool", help="Remove all unused build cache, not just dangling ones"),
    FlagSpec("filter", None, "list", metavar="filter", help='Provide filter values (e.g. "until=24h")'),
    FlagSpec("force", "f", "bool", help="Do not prompt for confirmation"),
    FlagSpec("keep-storage", None, "bytes", help="Amount of disk space to keep for cache"),
), max_args=0)

NORMAL_WARNING = "WARNING! This will remove all dangling build cache. Are you sure you want to continue?"
ALL_WARNING = "WARNING! This will remove all build cache. Are you sure you want to continue?"


def prune(cli, args, path):
    opts, _ = parse_args(PRUNE, args, path)
    filters = parse_filters(opts["filter"], "--filter")
    return run_prune(opts["force"], ALL_WARNING if opts["all"] else NORMAL_WARNING,
                     lambda: deleted_report(cli.client.prune_build_cache(opts["all"], filters,
                                                                         opts["keep-storage"]),
                                            "CachesDeleted", "Deleted build cache objects"))
