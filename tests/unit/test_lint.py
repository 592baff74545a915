"""pyflakes over the whole tree: unused imports and names, undefined names, dead f-strings."""

import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_pyflakes_finds_nothing():
    res = subprocess.run([sys.executable, "-m", "pyflakes", "ketch", "tests", "bench"],
                         cwd=REPO, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
