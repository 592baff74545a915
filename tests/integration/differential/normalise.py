"""Normalising what a command printed, so that two daemons' answers compare.

What differs between two runs of the same command on two daemons without meaning
anything: ids (64 and 12 hex digits, also after ``sha256:``), generated names, times
(RFC 3339, Go's ``time.String``, and go-units' human durations: "Less than a second",
"About a minute", "3 hours"), sizes ("2.14MB", "0B"), the column padding of tables,
the daemon's address and root, the runtime's name in OCI errors, and, where a row says so, the API version each daemon
speaks (ketchd 1.45, dockerd 20.10 1.41). Each becomes a placeholder; tables become
lists of cells (split on runs of two or more spaces, as tabwriter pads).
"""

import re
from dataclasses import dataclass

_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})"  # RFC 3339
    r"|\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)? [+-]\d{4} [A-Z]+")    # Go's time.String
_ID = re.compile(r"\b[0-9a-f]{64}\b|\b[0-9a-f]{12}\b")
_DURATION = re.compile(
    r"\b(?:Less than a second|About a minute|About an hour"
    r"|\d+ (?:second|minute|hour|day|week|month|year)s?)\b")
_SIZE = re.compile(r"(?<![\w.])\d+(?:\.\d+)?\s?(?:B|kB|MB|GB|TB|KiB|MiB|GiB)\b")
_API = re.compile(r"\b1\.(?:[2-4][0-9]|50)\b")
# docker's namesgenerator: adjective_surname (a digit appended on a retry)
_NAME = re.compile(r"\b[a-z]+_[a-z]+\d?\b")
_COLUMNS = re.compile(r" {2,}")
# The runtime's name in OCI errors ("runc create failed: ..."): ketchd's default runtime
# is its own, by design.
_RUNTIME = re.compile(r"\b(?:runc|crun|ketch)(?= (?:create|start|exec) failed)")


@dataclass(frozen=True)
class Norm:
    table: bool = False        # compare cell-wise: split each line on 2+ spaces
    api_version: bool = False  # API version numbers become <api>
    names: bool = False        # generated container names become <name>
    sizes: bool = True
    times: bool = True
    sort_lines: bool = False   # where Docker's own order is not stable


@dataclass(frozen=True)
class Side:
    """What is particular to one daemon and its client in what they print."""
    host: str           # unix:///tmp/kt-xxx/ketch.sock
    root: str           # /tmp/kt-xxx
    program: str = "docker"  # the client's name as it prints it ("ketch" for ketch's CLI)


def normalise_text(text: str, side: Side, norm: Norm, mask: tuple[str, ...] = ()) -> str:
    for pattern in mask:
        text = re.sub(pattern, "", text)
    text = text.replace(side.host, "<host>").replace(side.root, "<root>")
    if side.program != "docker":  # "ketch: Error ...", "See 'ketch run --help'."
        prog = re.escape(side.program)
        text = re.sub(rf"^{prog}:|(?<=')({prog})(?= )|(?<=Usage:  ){prog}(?= )",
                      lambda m: m.group().replace(side.program, "docker"), text)
    if norm.times:
        text = _TIME.sub("<time>", text)
    text = _ID.sub("<id>", text)
    if norm.times:
        text = _DURATION.sub("<duration>", text)
    if norm.sizes:
        text = _SIZE.sub("<size>", text)
    if norm.api_version:
        text = _API.sub("<api>", text)
    if norm.names:
        text = _NAME.sub("<name>", text)
    return _RUNTIME.sub("<runtime>", text).rstrip()


def normalise(text: str, side: Side, norm: Norm, mask: tuple[str, ...] = ()) -> list:
    """The lines of ``text`` normalised: strings, or lists of cells for a table.
    ``mask``: regular expressions of what a row says differs by design (removed)."""
    lines = [line.rstrip() for line in text.splitlines()]
    if norm.table:
        out = [[normalise_text(cell, side, norm, mask) for cell in _COLUMNS.split(line)] for line in lines]
    else:
        out = [normalise_text(line, side, norm, mask) for line in lines]
    return sorted(out) if norm.sort_lines else out
