"""The client's config file, read as docker/cli reads its own: ``config.json`` in the
directory given by ``--config``, else ``$KETCH_CONFIG``, else ``~/.ketch``.

ketch reads the keys of Docker's that shape its output and keys: ``detachKeys``,
``psFormat``, ``imagesFormat`` and ``statsFormat``. A missing file is an empty config;
a broken one is a warning, and the command goes on without it, as with docker.
"""

import os
import sys

from ketch import fastjson

FILENAME = "config.json"


def directory(flag: str | None) -> str:
    return flag or os.environ.get("KETCH_CONFIG") or os.path.join(os.path.expanduser("~"), ".ketch")


def load(config_dir: str) -> dict:
    path = os.path.join(config_dir, FILENAME)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        print(f"WARNING: Error loading config file: {path}: {exc.strerror}", file=sys.stderr)
        return {}
    if not data.strip():
        return {}
    try:
        doc = fastjson.loads(data)
    except ValueError as exc:
        print(f"WARNING: Error loading config file: {path}: {exc}", file=sys.stderr)
        return {}
    return doc if isinstance(doc, dict) else {}


def string(doc: dict, key: str) -> str:
    """A string setting, or "" when it is absent or not a string."""
    value = doc.get(key)
    return value if isinstance(value, str) else ""
