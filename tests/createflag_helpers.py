"""What ``ketch create <argv> busybox`` makes of a command line, in the shape of the tables
recorded from the docker 28 CLI (tests/golden/*flags_docker28.jsonl, one case a line: its
``argv``, then the fields of the create body docker sent, or docker's exit status and
stderr with "docker" read as "ketch")."""

import json
import pathlib
from typing import Callable

from ketch.cli import runconfig
from ketch.cli.flags import UsageError, parse

GOLDEN = pathlib.Path(__file__).resolve().parent / "golden"


def golden_cases(name: str) -> list[dict]:
    """The cases of ``tests/golden/<name>``."""
    return [json.loads(line) for line in (GOLDEN / name).read_text().splitlines()]


def create_outcome(argv: list[str], fields: Callable[[dict], dict]) -> dict:
    """``{"fields": fields(body)}`` for the body ketch builds, or ``{"exit", "stderr"}`` as
    ketch's CLI would end (a flag error, or a ConfigError after the flags)."""
    try:
        opts, args = parse(runconfig.CREATE, argv + ["busybox"], "ketch create")
        return {"fields": fields(runconfig.build(opts, args, False))}
    except UsageError as exc:
        return {"exit": exc.exit_code, "stderr": exc.text() + "\n"}
    except runconfig.ConfigError as exc:
        return {"exit": 125, "stderr": f"ketch: {exc}\n\nRun 'ketch create --help' for more information\n"}
