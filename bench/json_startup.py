#!/usr/bin/env python3
"""What ``ketch.fastjson`` saves against ``json``, in whole-process start-up.

Runs each command as it is really launched (``python3 -I -S``, as the ``ketch`` and
``ketch-runtime`` scripts do), once with ``ketch.fastjson`` and once with the stdlib
``json`` module standing in for it (imported first and put in ``sys.modules``), the
two interleaved so they share the machine's noise. Prints the median wall time of each
and the difference. Needs no root and no daemon:

    ketch ps              the CLI against a socket nobody listens on (every import of
                          a real ``ps``, then a connection error)
    ketch-runtime features  the runtime printing its features as JSON
    import only           ``python3 -I -S -c 'import json'`` vs ``from ketch import fastjson``

    .venv/bin/python3 bench/json_startup.py -n 40

Measured on the project machine (2 vCPUs, Python 3.11, December 2026), -n 40:

    command                  fastjson ms   json ms   json costs
    import only                  18.6        27.5       +8.9
    ketch ps                     52.0        61.3       +9.3
    ketch-runtime features       38.0        47.3       +9.3

``import json`` alone is 1.3 ms where ``re`` and ``enum`` are already loaded, which is
what ``-X importtime`` shows in a normal interpreter; neither the CLI nor the runtime
loads them on these paths, so there ``json`` brings them in (8-13 ms cumulative in
``-X importtime``, the same ~9 ms here).
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYTHON = os.path.join(REPO, ".venv", "bin", "python3")
if not os.path.exists(PYTHON):
    PYTHON = sys.executable

_PRELUDE = {
    "fastjson": "",
    "json": "import json; sys.modules['ketch.fastjson'] = json; ",
}
_COMMANDS = {
    "import only": {"fastjson": "from ketch import fastjson", "json": "pass"},
    "ketch ps": "from ketch.cli.main import main; main(['ps'])",
    "ketch-runtime features": "from ketch.runtime.cli import main; main(['features'])",
}


def _code(command: str, variant: str) -> str:
    body = _COMMANDS[command]
    body = body[variant] if isinstance(body, dict) else body
    return f"import sys; sys.path.insert(0, {REPO!r}); {_PRELUDE[variant]}{body}"


def _once(code: str, env: dict) -> float:
    t0 = time.perf_counter()
    subprocess.run([PYTHON, "-I", "-S", "-c", code], env=env, stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return (time.perf_counter() - t0) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=40, help="runs per command and variant")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, KETCH_HOST=f"unix://{tmp}/nobody.sock", HOME=tmp)
        print(f"{'command':24} {'fastjson ms':>11} {'json ms':>9} {'json costs':>11}")
        for command in _COMMANDS:
            times: dict[str, list[float]] = {"fastjson": [], "json": []}
            for _ in range(args.n):
                for variant in times:
                    times[variant].append(_once(_code(command, variant), env))
            fast, slow = (statistics.median(times[v]) for v in ("fastjson", "json"))
            print(f"{command:24} {fast:11.1f} {slow:9.1f} {slow - fast:+11.1f}")


if __name__ == "__main__":
    main()
