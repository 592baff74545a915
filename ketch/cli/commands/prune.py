"""The prunes: ``container prune``, ``image prune`` and ``system prune``, after asking in
docker/cli's words; and what every prune command shares (``volume prune`` and ``network
prune`` too): the prompt, the run and the report of what was deleted."""

import sys
from typing import Callable

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


def run_prune(force: bool, warning: str, prune: Callable[[], tuple[int, str]], space: bool = True) -> int:
    """A prune command after its flags, as docker/cli's runs them: ask (unless --force),
    prune (``prune`` gives the space reclaimed and the report), print the report and, but
    for ``network prune`` (``space=False``), the space reclaimed."""
    if not force and not confirm(warning):
        return 0  # docker 28: a cancelled prune prints nothing more and succeeds
    try:
        reclaimed, output = prune()
    except API_ERRORS as exc:
        raise StatusError(1, daemon_error(exc))
    if output:
        print(output)
    if space:
        print("Total reclaimed space:", human_size(reclaimed, 4))
    return 0


def deleted_report(report: dict, key: str, title: str) -> tuple[int, str]:
    """A prune's answer as docker/cli's runPrune of containers, networks, volumes and the
    build cache shows it: (space reclaimed, "<title>:" and the deleted, one a line), or
    (0, "") when nothing was deleted."""
    deleted = report.get(key) or []
    if not deleted:
        return 0, ""
    return report.get("SpaceReclaimed") or 0, f"{title}:\n" + "".join(f"{item}\n" for item in deleted)


def containers_report(report: dict) -> tuple[int, str]:
    return deleted_report(report, "ContainersDeleted", "Deleted Containers")


def networks_report(report: dict) -> tuple[int, str]:
    return deleted_report(report, "NetworksDeleted", "Deleted Networks")


def volumes_report(report: dict) -> tuple[int, str]:
    return deleted_report(report, "VolumesDeleted", "Deleted Volumes")


def container_prune(cli, args, path):
    opts, _ = parse_args(CONTAINER_PRUNE, args, path)
    filters = parse_filters(opts["filter"], "--filter")
    return run_prune(opts["force"], CONTAINER_WARNING,
                     lambda: containers_report(cli.client.prune_containers(filters)))


IMAGE_PRUNE = Command("image prune", "ketch image prune [OPTIONS]", "Remove unused images", (
    FlagSpec("all", "a", "bool", help="Remove all unused images, not just dangling ones"),
    FlagSpec("filter", None, "list", help='Provide filter values (e.g. "until=<timestamp>")'),
    FlagSpec("force", "f", "bool", help="Do not prompt for confirmation"),
), max_args=0)

ALL_IMAGES_WARNING = ("WARNING! This will remove all images without at least one container associated to them.\n"
                      "Are you sure you want to continue?")
DANGLING_WARNING = "WARNING! This will remove all dangling images.\nAre you sure you want to continue?"


def _images_output(cli, all_: bool, filters: dict) -> tuple[int, str]:
    """docker/cli's image runPrune after the prompt: (space reclaimed, the report)."""
    query = {k: list(v) for k, v in filters.items()}
    query["dangling"] = ["false" if all_ else "true"]
    report = cli.client.prune_images(query)
    deleted = report.get("ImagesDeleted") or []
    if not deleted:
        return 0, ""
    lines = [f"untagged: {d['Untagged']}" if d.get("Untagged") else f"deleted: {d.get('Deleted', '')}"
             for d in deleted]
    return report.get("SpaceReclaimed") or 0, "Deleted Images:\n" + "".join(f"{line}\n" for line in lines)


def image_prune(cli, args, path):
    opts, _ = parse_args(IMAGE_PRUNE, args, path)
    filters = parse_filters(opts["filter"], "--filter")
    return run_prune(opts["force"], ALL_IMAGES_WARNING if opts["all"] else DANGLING_WARNING,
                     lambda: _images_output(cli, opts["all"], filters))


SYSTEM_PRUNE = Command("system prune", "ketch system prune [OPTIONS]", "Remove unused data", (
    FlagSpec("all", "a", "bool", help="Remove all unused images not just dangling ones"),
    FlagSpec("filter", None, "list", help='Provide filter values (e.g. "label=<key>=<value>")'),
    FlagSpec("force", "f", "bool", help="Do not prompt for confirmation"),
    FlagSpec("volumes", None, "bool", help="Prune anonymous volumes"),
), max_args=0)


def system_warning(all_: bool, volumes: bool, filters: dict) -> str:
    """docker/cli's confirmationMessage (its template, rendered)."""
    from ketch.cli.format.sortorder import natural_key
    warnings = ["all stopped containers", "all networks not used by at least one container"]
    if volumes:
        warnings.append("all anonymous volumes not used by at least one container")
    warnings.append("all images without at least one container associated to them" if all_
                    else "all dangling images")
    warnings.append("all build cache" if all_ else "unused build cache")
    text = "WARNING! This will remove:" + "".join(f"\n  - {w}" for w in warnings) + "\n"
    shown = sorted((f"{name}={v}" for name in ("label", "label!", "until") for v in filters.get(name, [])),
                   key=natural_key)
    if shown:
        text += "\n  Items to be pruned will be filtered with:" + "".join(f"\n  - {f}" for f in shown) + "\n"
    return text + "\nAre you sure you want to continue?"


def system_prune(cli, args, path):
    """docker/cli's system runPrune: containers, networks, volumes (--volumes), images and
    the build cache (all of it with -a, else what no image keeps; ``until`` the one filter
    the build cache takes), each report printed as its own prune prints it, then the total."""
    opts, _ = parse_args(SYSTEM_PRUNE, args, path)
    filters = parse_filters(opts["filter"], "--filter")
    if opts["volumes"] and "until" in filters:
        raise StatusError(1, 'ERROR: The "until" filter is not supported with "--volumes"')
    if not opts["force"] and not confirm(system_warning(opts["all"], opts["volumes"], filters)):
        return 0
    pruners = [lambda: containers_report(cli.client.prune_containers(filters)),
               lambda: networks_report(cli.client.prune("networks", filters))]
    if opts["volumes"]:
        pruners.append(lambda: volumes_report(cli.client.prune("volumes", filters)))
    pruners += [lambda: _images_output(cli, opts["all"], filters),
                lambda: deleted_report(cli.client.prune_build_cache(
                    opts["all"], {k: v for k, v in filters.items() if k == "until"} or None),
                    "CachesDeleted", "Deleted build cache objects")]
    total = 0
    try:
        for pruner in pruners:  # docker/cli's pruneFuncs, in order
            reclaimed, output = pruner()
            total += reclaimed
            if output:
                print(output)
    except API_ERRORS as exc:
        raise StatusError(1, daemon_error(exc))
    print("Total reclaimed space:", human_size(total, 4))
    return 0
