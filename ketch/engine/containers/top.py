"""``docker top``: the host's ``ps`` output, cut down to the container's processes.

As dockerd does, the user's ps options go to the host's ``ps`` (default ``-ef``) with
``-q`` and the container's pids appended (retried without them, as some options such as
``f`` refuse ``-q``), and the rows are kept whose PID column names a process of the
container's cgroup; the last column takes the rest of the line (a command with spaces).
Parsing follows moby's ``parsePSOutput``, including the thread rows (``-L``/``m``) whose
PID is ``-`` and which belong to the process row above them. Pids are the host's.
"""

import re
import subprocess
from dataclasses import dataclass

from ketch import errors

DEFAULT_ARGS = "-ef"
_GO_ASCII_SPACE = "\t\n\f\r "  # moby's fieldsASCII: no \v, no Unicode spaces
# moby's validatePSArgs: "k=PID..." is how ps renames a column; only pid may be PID.
_RENAMED_PID = re.compile(r"\s+(\S*)=\s*(PID\S*)")
_NO_HEADERS = ("--no-header", "--no-headers", "--no-heading", "--no-headings",
               "--noheader", "--noheaders", "--noheading", "--noheadings")


@dataclass(frozen=True)
class Top:
    titles: list[str]
    processes: list[list[str]]

    def to_docker(self) -> dict:
        return {"Titles": self.titles, "Processes": self.processes}


def validate_args(ps_args: str) -> None:
    for key, value in _RENAMED_PID.findall(ps_args):
        if key != "pid":
            raise errors.Internal(f'specifying "{key}={value}" is not allowed')
    for arg in ps_args.split(" "):  # ps without a header line leaves no PID column to find
        if arg in _NO_HEADERS:
            raise errors.Internal(f"option {arg} is not allowed")


def _fields(line: str) -> list[str]:
    out, word = [], []
    for ch in line:
        if ch in _GO_ASCII_SPACE:
            if word:
                out.append("".join(word))
                word = []
        else:
            word.append(ch)
    if word:
        out.append("".join(word))
    return out


def parse_ps_output(output: str, pids: set[int]) -> Top:
    """The rows of ``ps`` output whose PID is in ``pids``, with their threads' rows."""
    lines = output.split("\n")
    titles = _fields(lines[0])
    if "PID" not in titles:
        raise errors.Internal("Couldn't find PID field in ps output")
    pid_index = titles.index("PID")
    processes: list[list[str]] = []
    previous_kept = False
    for line in lines[1:]:
        fields = _fields(line)
        if len(fields) <= pid_index:  # an empty line (moby would index out of range)
            continue
        if fields[pid_index] == "-":  # a thread of the process above
            if previous_kept:
                processes.append(_row(fields, len(titles)))
            continue
        try:
            pid = int(fields[pid_index], 10)
        except ValueError:
            raise errors.Internal(f"Unexpected pid '{fields[pid_index]}': strconv.Atoi: "
                                  f'parsing "{fields[pid_index]}": invalid syntax') from None
        previous_kept = pid in pids
        if previous_kept:
            processes.append(_row(fields, len(titles)))
    return Top(titles, processes)


def _row(fields: list[str], width: int) -> list[str]:
    return fields[:width - 1] + [" ".join(fields[width - 1:])]


def _ps(args: list[str]) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["ps", *args], capture_output=True, text=True, errors="replace",
                              timeout=30, stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise errors.Internal('ps: exec: "ps": executable file not found in $PATH') from None


def run_ps(ps_args: str, pids: list[int]) -> str:
    """The host's ps with the user's options (moby: ``ps ARGS -qPIDS``, then ``ps ARGS``)."""
    args = ps_args.split(" ")
    res = _ps(args + ["-q" + ",".join(str(p) for p in pids)])
    if res.returncode != 0:
        res = _ps(args)
    if res.returncode != 0:
        first = res.stderr.split("\n", 1)[0]
        raise errors.Internal(f"ps: {first}" if first else f"ps: exit status {res.returncode}")
    return res.stdout


def top(ps_args: str, pids: list[int]) -> Top:
    """``docker top`` of the processes ``pids`` (already validated args)."""
    return parse_ps_output(run_ps(ps_args, pids), set(pids))
