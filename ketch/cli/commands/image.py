"""Image commands: images, import, rmi, tag, image inspect."""

import sys

from ketch.cli.commands import API_ERRORS, daemon_error, parse_args
from ketch.cli.flags import Command, FlagSpec
from ketch.cli.main import StatusError

IMAGES = Command("images", "ketch images [OPTIONS] [REPOSITORY[:TAG]]", "List images", (
    FlagSpec("all", "a", "bool", help="Show all images (default hides intermediate images)"),
    FlagSpec("digests", None, "bool", help="Show digests"),
    FlagSpec("filter", "f", "list", help="Filter output based on conditions provided"),
    FlagSpec("format", None, "string", help="Format output using a custom template"),
    FlagSpec("no-trunc", None, "bool", help="Don't truncate output"),
    FlagSpec("quiet", "q", "bool", help="Only show image IDs"),
), max_args=1, aliases=("ketch image ls", "ketch image list"))



def images(cli, args, path):
    opts, rest = parse_args(IMAGES, args, path)
    from ketch.cli.format import formatter, rows
    from ketch.cli.commands.container import parse_filters
    filters = parse_filters(opts["filter"])
    if rest:
        filters.setdefault("reference", []).append(rest[0])
    try:
        items = cli.client.images(all=opts["all"], filters=filters)
    except API_ERRORS as exc:
        raise StatusError(1, daemon_error(exc))
    trunc = not opts["no-trunc"]
    fmt = opts["format"] or ("" if opts["quiet"] else cli.setting("imagesFormat"))
    shown_rows = rows.image_rows(items, trunc, digests=opts["digests"])
    if opts["quiet"] and not fmt:  # one id per row, as docker prints them: an id per tag
        sys.stdout.write("".join(f"{row.ID}\n" for row in shown_rows))
        return 0
    default = rows.IMAGE_TABLE_DIGESTS if opts["digests"] else rows.IMAGE_TABLE
    try:
        sys.stdout.write(formatter.render(fmt, shown_rows, rows.IMAGE_HEADERS, default))
    except formatter.FormatError as exc:
        raise StatusError(1, str(exc))
    return 0


IMPORT = Command("import", "ketch import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]",
                 "Import the contents from a tarball to create a filesystem image", (
    FlagSpec("change", "c", "list", help="Apply Dockerfile instruction to the created image"),
    FlagSpec("message", "m", "string", help="Set commit message for imported image"),
    FlagSpec("platform", None, "string", help="Set platform if server is multi-platform capable"),
), min_args=1, max_args=2, aliases=("ketch image import",))


def _file_chunks(f):
    while chunk := f.read(1 << 20):
        yield chunk


def import_(cli, args, path):
    opts, rest = parse_args(IMPORT, args, path)
    source = rest[0]
    repo = tag = None
    if len(rest) > 1:
        ref = rest[1]
        name, _, maybe_tag = ref.rpartition(":")
        if name and "/" not in maybe_tag:
            repo, tag = name, maybe_tag
        else:
            repo = ref
    from ketch.cli import jsonmessage
    url = source.startswith(("http://", "https://"))  # else a file, as docker's client decides
    f = None
    if not url:
        try:
            f = sys.stdin.buffer if source == "-" else open(source, "rb")
        except OSError as exc:
            raise StatusError(1, f"open {source}: {exc.strerror.lower()}")
    try:
        resp = cli.client.import_image(_file_chunks(f) if f else None, repo, tag, opts["change"],
                                       opts["message"] or None, source=source if url else "-",
                                       platform=opts["platform"] or None)
        jsonmessage.render(resp)
    except API_ERRORS as exc:
        raise StatusError(1, daemon_error(exc))
    finally:
        if f is not None and f is not sys.stdin.buffer:
            f.close()
    return 0


RMI = Command("rmi", "ketch rmi [OPTIONS] IMAGE [IMAGE...]", "Remove one or more images", (
    FlagSpec("force", "f", "bool", help="Force removal of the image"),
    FlagSpec("no-prune", None, "bool", help="Do not delete untagged parents"),
), min_args=1, aliases=("ketch image rm", "ketch image remove"))


def rmi(cli, args, path):
    opts, names = parse_args(RMI, args, path)
    failed = False
    for name in names:
        try:
            report = cli.client.remove_image(name, opts["force"], opts["no-prune"])
        except API_ERRORS as exc:
            print(daemon_error(exc), file=sys.stderr)
            failed = True
            continue
        for item in report or []:
            for key in ("Untagged", "Deleted"):
                if key in item:
                    print(f"{key}: {item[key]}")
    return 1 if failed else 0


TAG = Command("tag", "ketch tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
              "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE", (),
              min_args=2, max_args=2, aliases=("ketch image tag",))


def tag(cli, args, path):
    """docker/cli's ImageTag: both names are checked here, and a digest refused, before
    the daemon is asked; the repository goes as its full name, the tag ``latest`` if none."""
    opts, (source, target) = parse_args(TAG, args, path)
    from ketch.oci import reference
    _checked_reference(source, reference.check_any)
    ref = _checked_reference(target, lambda name: reference.parse(name, default_tag=False))
    if ref.digest:
        raise StatusError(1, "refusing to create a tag with a digest reference")
    try:
        cli.client.tag_image(source, ref.name, ref.tag or reference.DEFAULT_TAG)
    except API_ERRORS as exc:
        raise StatusError(1, daemon_error(exc))
    return 0


def _checked_reference(name: str, parse):
    from ketch.errors import InvalidArgument
    from ketch.units import go_quote
    try:
        return parse(name)
    except InvalidArgument as exc:
        raise StatusError(1, f"Error parsing reference: {go_quote(name)} is not a valid repository/tag: {exc}")


def inspect(cli, args, path):
    from ketch.cli.commands.system import inspect_objects
    return inspect_objects(cli, args, path, "image")
