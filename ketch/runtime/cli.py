"""``ketch-runtime``: the runc-compatible command line over the runtime library.

Each command is a few lines that call ``ketch.runtime.container``; the flags are the
ones containerd, conmon and the OCI runtime-tools pass to runc.
"""

import argparse
import json
import os
import signal
import sys

from ketch.errors import KetchError
from ketch.linux import syscalls as sc
from ketch.runtime import container
from ketch.runtime.process import Stdio

DEFAULT_ROOT = "/run/ketch-runtime"


def parse_signal(text: str) -> int:
    if text.isdigit():
        return int(text)
    name = text.upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    try:
        return int(signal.Signals[name])
    except KeyError:
        raise KetchError(f"unknown signal {text!r}") from None


def _write_pid_file(path: str | None, pid: int) -> None:
    if path:
        tmp = f"{path}.tmp"
        with open(tmp, "w") as f:
            f.write(str(pid))
        os.replace(tmp, path)


def _create(args) -> container.Container:
    sc.prctl(sc.PR_SET_CHILD_SUBREAPER, 1)
    c, created = container.create(args.root, args.id, args.bundle, Stdio(0, 1, 2))
    _write_pid_file(args.pid_file, c.pid)
    return c


def cmd_create(args) -> int:
    _create(args)
    return 0


def cmd_start(args) -> int:
    container.load(args.root, args.id).start()
    return 0


def cmd_run(args) -> int:
    c = _create(args)
    c.start()
    if args.detach:
        return 0
    status = 0
    while True:
        pid, st = os.waitpid(-1, 0)
        if pid == c.pid:
            status = os.waitstatus_to_exitcode(st)
            break
    c.delete(force=True)
    return status if status >= 0 else 128 - status


def cmd_state(args) -> int:
    print(json.dumps(container.load(args.root, args.id).state(), indent=2))
    return 0


def cmd_kill(args) -> int:
    container.load(args.root, args.id).kill(parse_signal(args.signal))
    return 0


def cmd_delete(args) -> int:
    try:
        c = container.load(args.root, args.id)
    except KetchError:
        if args.force:
            return 0
        raise
    c.delete(force=args.force)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ketch-runtime", description="ketch's OCI runtime")
    p.add_argument("--root", default=DEFAULT_ROOT)
    p.add_argument("--log")
    p.add_argument("--log-format", default="text")
    p.add_argument("--debug", action="store_true")
    p.add_argument("--systemd-cgroup", action="store_true")
    sub = p.add_subparsers(dest="command", required=True)

    def with_bundle(name, fn, detach=False):
        s = sub.add_parser(name)
        s.add_argument("--bundle", "-b", default=".")
        s.add_argument("--pid-file")
        s.add_argument("--console-socket")
        s.add_argument("--no-pivot", action="store_true")
        s.add_argument("--no-new-keyring", action="store_true")
        if detach:
            s.add_argument("--detach", "-d", action="store_true")
        s.add_argument("id")
        s.set_defaults(fn=fn)

    with_bundle("create", cmd_create)
    with_bundle("run", cmd_run, detach=True)
    for name, fn in (("start", cmd_start), ("state", cmd_state)):
        s = sub.add_parser(name)
        s.add_argument("id")
        s.set_defaults(fn=fn)
    s = sub.add_parser("kill")
    s.add_argument("--all", "-a", action="store_true")
    s.add_argument("id")
    s.add_argument("signal", nargs="?", default="SIGTERM")
    s.set_defaults(fn=cmd_kill)
    s = sub.add_parser("delete")
    s.add_argument("--force", "-f", action="store_true")
    s.add_argument("id")
    s.set_defaults(fn=cmd_delete)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.fn(args)
    except (KetchError, OSError) as exc:
        print(f"ketch-runtime: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
