"""``container prune``: remove the stopped containers, after asking (docker/cli's words)."""

import sys

from ketch.cli.commands import API_ERRORS, daemon_error, parse_args
from ketch.cli.commands.container import parse_filters
from ketch.cli.flags import Command, FlagSpec
from ketch.cli.main import StatusError
from ketch.units import human_size

CONTAINER_PRUNE = Command("container prune", "ketch container prune [OPTIONS]", "Remove all stopped containers", (
    FlagSpec("filter", None, "list", help='Provide filter values (e.g. "until=<timestamp>")'),
    FlagSpec("force", "f", "bool", help="Do not prompt for confirmation"),
), max_args=0)

CONTAINER_WARNING = ("WARNING! This will remove all stopped containers.\n"
                     "Are you sure you want to continue?")


def confirm(message: str) -> bool:
    """docker/cli's PromptForConfirmation: "y" or "Y" (trimmed) is yes, anything else no."""
    sys.stdout.write(f"{message} [y/N] ")
    sys.stdout.flush()
    answer = sys.stdin.readline()
    return answer.strip() in ("y", "Y")


def container_prune(cli, args, path):
    opts, _ = parse_args(CONTAINER_PRUNE, args, path)
    filters = parse_filters(opts["filter"], "--filter")
    if not opts["force"] and not confirm(CONTAINER_WARNING):
        return 0  # docker 28: a cancelled prune prints nothing more and succeeds
    try:
        report = cli.client.prune_containers(filters)
    except API_ERRORS as exc:
        raise StatusError(1, daemon_error(exc))
    deleted = report.get("ContainersDeleted") or []
    if deleted:
        print("Deleted Containers:\n" + "".join(f"{cid}\n" for cid in deleted))
    print("Total reclaimed space:", human_size(report.get("SpaceReclaimed") or 0, 4))
    return 0
