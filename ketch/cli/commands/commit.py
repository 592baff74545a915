"""``commit``: a new image from a container's changes (docker/cli's runCommit)."""

from ketch.cli.commands import API_ERRORS, daemon_error, parse_args
from ketch.cli.flags import Command, FlagSpec
from ketch.cli.main import StatusError

COMMIT = Command("commit", "ketch commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
                 "Create a new image from a container's changes", (
    FlagSpec("author", "a", "string", help='Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")'),
    FlagSpec("change", "c", "list", help="Apply Dockerfile instruction to the created image"),
    FlagSpec("message", "m", "string", help="Commit message"),
    FlagSpec("pause", "p", "bool", True, help="Pause container during commit"),
), min_args=1, max_args=2, aliases=("ketch container commit",))


def commit(cli, args, path):
    opts, rest = parse_args(COMMIT, args, path)
    container = rest[0]
    repo = tag = None
    if len(rest) > 1 and rest[1]:
        repo, tag = _split_reference(rest[1])
    if not container:
        raise StatusError(1, "invalid container name or ID: value is empty")
    try:
        doc = cli.client.commit(container, repo, tag, opts["message"], opts["author"],
                                opts["change"], opts["pause"])
    except API_ERRORS as exc:
        raise StatusError(1, daemon_error(exc))
    print(doc.get("Id", ""))
    return 0


def _split_reference(name: str) -> tuple[str, str]:
    """The docker client's ContainerCommit: the reference parsed, a digest refused, the
    tag ``latest`` if none, the repository as its familiar name."""
    from ketch.errors import InvalidArgument
    from ketch.oci import reference
    try:
        ref = reference.parse(name, default_tag=False)
    except InvalidArgument as exc:
        raise StatusError(1, str(exc))
    if ref.digest:
        raise StatusError(1, "refusing to create a tag with a digest reference")
    return ref.familiar_name, ref.tag or reference.DEFAULT_TAG
