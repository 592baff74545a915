#!/usr/bin/env python3
"""Time of `logs --tail N` on a big json-file log: the engine's reader, without the daemon.

Writes a json-file log of about --size-mb megabytes (default 500) to a temporary file,
then times ``ketch.engine.logs._read_all`` with tail=N, which is what
`GET /containers/{id}/logs?tail=N` runs before it streams. Reading backwards from the
end, the figure stays in milliseconds whatever the log's size; `--all` times the whole
file for comparison.

    .venv/bin/python3 bench/logs_tail.py                 # 500 MB, tail 100
    .venv/bin/python3 bench/logs_tail.py --size-mb 50 --tail 10000 --all
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ketch.engine.logs import LogOptions, _read_all  # noqa: E402


def write_log(path: str, size: int) -> None:
    chunk = b"".join(b'{"log":"line %d %s\\n","stream":"%s","time":"2026-12-06T13:00:00.%09dZ"}\n'
                     % (i, b"z" * (i * 13 % 120), b"stdout" if i % 3 else b"stderr", i)
                     for i in range(4000))
    with open(path, "wb") as f:
        for _ in range(max(1, size // len(chunk))):
            f.write(chunk)


def timed(path: str, opts: LogOptions, runs: int) -> tuple[float, int]:
    times, count = [], 0
    for _ in range(runs):
        t0 = time.perf_counter()
        entries, _ = _read_all(path, opts)
        times.append(time.perf_counter() - t0)
        count = len(entries)
    return statistics.median(times), count


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=int, default=500)
    ap.add_argument("--tail", type=int, default=100)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--all", action="store_true", help="also time reading the whole log")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="ketch-bench-") as tmp:
        path = os.path.join(tmp, "c-json.log")
        t0 = time.perf_counter()
        write_log(path, args.size_mb << 20)
        size = os.path.getsize(path)
        print(f"log: {size / 1e6:.0f} MB written in {time.perf_counter() - t0:.1f} s")
        secs, n = timed(path, LogOptions(tail=args.tail), args.runs)
        print(f"tail {args.tail}: {secs * 1e3:.2f} ms median of {args.runs} ({n} entries)")
        if args.all:
            secs, n = timed(path, LogOptions(), 1)
            print(f"all: {secs * 1e3:.0f} ms ({n} entries)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
