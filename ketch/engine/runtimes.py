"""The OCI runtimes containers can use: ketch's own, runc/crun when installed, and the
ones daemon.json (``runtimes``) or ``--add-runtime`` name."""

import shutil
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

    def info(self) -> dict:
        """Docker's /info "Runtimes"."""
        return {name: {"path": r["path"] or "ketch-runtime",
                       **({"runtimeArgs": list(r["args"])} if r["args"] else {})}
                for name, r in self.table.items()}


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
