"""The OCI runtimes containers can use: ketch's own, runc/crun when installed, and the
ones daemon.json (``runtimes``) or ``--add-runtime`` name."""

import json
import os
import shutil
import subprocess
from dataclasses import dataclass

from ketch.errors import InvalidArgument

BUILTIN = "ketch"
DETECTED = ("runc", "crun")


@dataclass(frozen=True)
class Runtimes:
    table: dict  # name -> {"name", "path", "args"}; ketch's own has no path
    default: str = BUILTIN

    def resolve(self, name: str | None) -> str:
        name = name or self.default
        if name not in self.table:
            raise InvalidArgument(f"unknown or invalid runtime name: {name}")
        return name

    def spec(self, name: str) -> dict:
        return self.table[self.resolve(name)]

    def features(self, name: str) -> dict | None:
        """The runtime's OCI features document (``<runtime> features``), asked once per
        binary; None when it has none (runc before 1.1)."""
        spec = self.spec(name)
        if not spec["path"]:
            from ketch.runtime.defaults import features
            return features()
        if spec["path"] not in _FEATURES:
            try:
                out = subprocess.run([spec["path"], *spec["args"], "features"], capture_output=True,
                                     timeout=30, check=True).stdout
                _FEATURES[spec["path"]] = json.loads(out)
            except (OSError, subprocess.SubprocessError, ValueError):
                _FEATURES[spec["path"]] = None
        return _FEATURES[spec["path"]]

    def rro_error(self, name: str) -> str:
        """Why a read-only bind cannot be recursively read-only ("rro") with this runtime;
        "" when it can (moby's supportsRecursivelyReadOnly)."""
        if _kernel() < (5, 12):
            return "rro is not supported: mount_setattr is not available (kernel is older than 5.12?)"
        name = self.resolve(name)
        features = self.features(name)
        if features is None:
            return f'rro is not supported by runtime "{name}": OCI features struct is not available'
        if "rro" not in (features.get("mountOptions") or ()):
            return f'rro is not supported by runtime "{name}"'
        return ""

    def info(self) -> dict:
        """Docker's /info "Runtimes"."""
        return {name: {"path": r["path"] or "ketch-runtime",
                       **({"runtimeArgs": list(r["args"])} if r["args"] else {})}
                for name, r in self.table.items()}


_FEATURES: dict[str, dict | None] = {}  # runtime binary -> its features document


def _kernel() -> tuple[int, int]:
    release = os.uname().release.split("-")[0].split(".")
    try:
        return int(release[0]), int(release[1])
    except (IndexError, ValueError):
        return (0, 0)


def build(configured: dict | None, added: list[str] | None, default: str | None) -> Runtimes:
    table = {BUILTIN: {"name": BUILTIN, "path": "", "args": []}}
    for name in DETECTED:
        path = shutil.which(name)
        if path:
            table[name] = {"name": name, "path": path, "args": []}
    for name, doc in (configured or {}).items():
        if not isinstance(doc, dict) or not doc.get("path"):
            raise InvalidArgument(f"runtime {name!r} in daemon.json needs a path")
        table[name] = {"name": name, "path": doc["path"], "args": list(doc.get("runtimeArgs") or [])}
    for item in added or []:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise InvalidArgument(f"invalid --add-runtime {item!r}: use name=path")
        table[name] = {"name": name, "path": path, "args": []}
    runtimes = Runtimes(table, default or BUILTIN)
    runtimes.resolve(None)
    return runtimes
