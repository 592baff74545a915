#!/usr/bin/env python3
"""Record what the real docker CLI does against canned daemon answers: the goldens ketch's
CLI is tested against (tests/unit/test_network_cli.py).

    scripts/record_docker_cli.py CASES GOLDEN [--runs N]

Each line of CASES is a docker command line without the program name (shell quoting;
`` <<< text`` feeds stdin, ``\\n`` a newline). The canned answers are GOLDEN's own
``canned`` list (edit it there); GOLDEN is rewritten with a case per line: exit status,
stdout, stderr (``docker`` read as ``ketch`` where it names the program) and the requests
sent. A case whose record differs between runs (Go's random map order) is left out and
named on stderr. Needs the docker CLI; talks only to tests/fakedaemon.py on a temporary
socket.
"""

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tests.fakedaemon import FakeDaemon  # noqa: E402


def ketchify(text: str) -> str:
    """The program's name as ketch prints it; "docker" elsewhere (com.docker.*) stays."""
    text = re.sub(r"(^|\n)docker: ", r"\1ketch: ", text)
    return re.sub(r"(Usage:  |Run '|See '|'|  |, |: )docker ", r"\1ketch ", text)


def record(daemon: FakeDaemon, argv: list[str], stdin: str | None, config: str) -> dict:
    daemon.log.clear()
    env = dict(os.environ, DOCKER_CONFIG=config, COLUMNS="80")
    env.pop("DOCKER_CONTEXT", None)
    res = subprocess.run(["docker", "-H", f"unix://{daemon.socket}", *argv], input=stdin,
                         capture_output=True, text=True, env=env, timeout=60)
    return {"argv": argv, "stdin": stdin, "rc": res.returncode, "stdout": ketchify(res.stdout),
            "stderr": ketchify(res.stderr), "requests": daemon.requests()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cases")
    parser.add_argument("golden")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with open(args.golden) as f:
        canned = json.load(f)["canned"]
    cases = []
    with tempfile.TemporaryDirectory() as tmp, \
            FakeDaemon(os.path.join(tmp, "api.sock"), canned) as daemon:
        for line in open(args.cases):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            stdin = None
            if " <<< " in line:
                line, stdin = line.split(" <<< ", 1)
                stdin = stdin.replace("\\n", "\n")
            argv = shlex.split(line)
            runs = [record(daemon, argv, stdin, tmp) for _ in range(args.runs)]
            if all(r == runs[0] for r in runs):
                cases.append(runs[0])
            else:
                print(f"unstable, left out: {line}", file=sys.stderr)
    with open(args.golden, "w") as f:
        json.dump({"canned": canned, "cases": cases}, f, indent=1)
    print(f"{len(cases)} cases", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
