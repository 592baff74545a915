"""Image archives: save (images to a tar) and load (images from one)."""

import os
import sys

from ketch.cli.commands import API_ERRORS, daemon_error, parse_args
from ketch.cli.flags import Command, FlagSpec
from ketch.cli.main import StatusError

SAVE = Command("save", "ketch save [OPTIONS] IMAGE [IMAGE...]",
               "Save one or more images to a tar archive (streamed to STDOUT by default)", (
    FlagSpec("output", "o", "string", help="Write to a file, instead of STDOUT"),
), min_args=1, aliases=("ketch image save",))
LOAD = Command("load", "ketch load [OPTIONS]", "Load an image from a tar archive or STDIN", (
    FlagSpec("input", "i", "string", help="Read from tar archive file, instead of STDIN"),
    FlagSpec("quiet", "q", "bool", help="Suppress the load output"),
), max_args=0, aliases=("ketch image load",))


def save(cli, args, path):
    from ketch.cli.commands.inspection import _check_output, _copy_to_file, _write_all
    opts, names = parse_args(SAVE, args, path)
    target = opts["output"]
    if not target and os.isatty(1):
        raise StatusError(1, "cowardly refusing to save to a terminal. Use the -o flag or redirect")
    if target:
        _check_output(target, "failed to save image")
    try:
        resp = cli.client.save_images(names)
        if target:
            _copy_to_file(target, resp)
            return 0
        for chunk in resp.chunks():
            _write_all(1, chunk)
    except API_ERRORS as exc:
        raise StatusError(1, daemon_error(exc))
    return 0


def _file_chunks(f):
    while chunk := f.read(1 << 20):
        yield chunk


def load(cli, args, path):
    from ketch.cli import jsonmessage
    opts, _ = parse_args(LOAD, args, path)
    if not opts["input"]:
        if os.isatty(0):
            raise StatusError(1, "requested load from stdin, but stdin is empty")
        f = sys.stdin.buffer
    else:
        try:
            f = open(opts["input"], "rb")
        except OSError as exc:
            raise StatusError(1, f"open {opts['input']}: {os.strerror(exc.errno).lower()}")
    terminal = sys.stdout.isatty()
    try:
        resp = cli.client.load_images(_file_chunks(f), opts["quiet"] or not terminal)
        jsonmessage.render(resp)
    except API_ERRORS as exc:
        raise StatusError(1, daemon_error(exc))
    finally:
        if f is not sys.stdin.buffer:
            f.close()
    return 0
