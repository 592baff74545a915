"""``ketch registry serve|gc``: ketch's registry server, run in the venv's interpreter.

The CLI runs with ``-IS`` (no site-packages, for start-up time) and the server needs
h11, PyYAML, bcrypt and cryptography, so these commands replace the process with the
same interpreter in ``-I`` mode (site-packages on, environment ignored) running
ketch.registry.server.main: signals and the exit status are the server's own.
"""

import os
import sys

import ketch

SERVER = "ketch.registry.server.main"  # exec'd, not imported (tests/unit/test_layering.py EXEC_EDGES)


def server_argv(command: str, args: list[str]) -> list[str]:
    root = os.path.dirname(os.path.dirname(os.path.abspath(ketch.__file__)))
    code = f"import sys; sys.path.insert(0, {root!r}); from {SERVER} import main; sys.exit(main())"
    return [sys.executable, "-I", "-c", code, command, *args]


def _exec(command: str, args: list[str]) -> int:
    argv = server_argv(command, args)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(argv[0], argv)
    return 1  # not reached


def serve(cli, args, path):
    return _exec("serve", args)


def gc(cli, args, path):
    return _exec("gc", args)
