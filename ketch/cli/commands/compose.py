"""``ketch compose ...``: Docker Compose v2's commands, run in the venv's interpreter.

The CLI runs with ``-IS`` (no site-packages, for start-up time) and compose needs PyYAML
and jsonschema, so this replaces the process with the same interpreter in ``-I`` mode
running ketch.compose.main (as ``ketch registry serve`` does); ``-H`` travels as KETCH_HOST.
"""

import os
import sys

import ketch

COMPOSE = "ketch.compose.main"  # exec'd, not imported (tests/unit/test_layering.py EXEC_EDGES)


def compose_argv(args: list[str]) -> list[str]:
    root = os.path.dirname(os.path.dirname(os.path.abspath(ketch.__file__)))
    code = f"import sys; sys.path.insert(0, {root!r}); from {COMPOSE} import main; sys.exit(main())"
    return [sys.executable, "-I", "-c", code, *args]


def compose(cli, args, path):
    argv = compose_argv(args)
    if cli.host:
        os.environ["KETCH_HOST"] = cli.host
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(argv[0], argv)
    return 1  # not reached
