"""``extends``: a service built on another, in the same file or another (compose-go's
``ApplyExtends``).

The base is resolved first (it may extend too), then the service is merged over it with
the merge rules of several files. A base from another file has that file's relative paths
made absolute against its own directory, and its ``extends.file`` relative to it; the
first file's ``extends.file`` is relative to the project directory. Loops are compose-go's
"Circular reference:" error, listing each step.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable

from ketch.compose.errors import LoadError
from ketch.compose.loader.merge import merge_values
from ketch.compose.loader.normalize import abs_path, resolve_paths

# path -> that file's canonical mapping (interpolated, no include/extends applied)
LoadFile = Callable[[str], dict]


class _Tracker:
    """The chain of (file, service) being extended, to name a loop."""

    def __init__(self, loaded: tuple = ()) -> None:
        self.loaded = loaded

    def add(self, filename: str, service: str) -> "_Tracker":
        ref = (filename, service)
        if ref in self.loaded:
            first = self.loaded[0]
            lines = ["Circular reference:", f"  {first[1]} in {first[0]}"]
            lines += [f"  extends {s} in {f}" for f, s in self.loaded[1:] + (ref,)]
            raise LoadError("\n".join(lines))
        return _Tracker(self.loaded + (ref,))


def _base_from_file(name: str, ref: str, filename: str, path: str, load_file: LoadFile) -> dict:
    if not os.path.exists(path):
        raise LoadError(f"open {path}: no such file or directory")
    doc = load_file(path)
    services = doc.get("services")
    if services is None:
        raise LoadError(f'cannot extend service "{name}" in {path}: no services section')
    if ref not in services:
        raise LoadError(f'cannot extend service "{name}" in {filename}: service "{ref}" not found in {path}')
    resolve_paths(doc, os.path.dirname(path))
    return services


def _extend(name: str, services: dict, filename: str, base_dir: str, load_file: LoadFile,
            tracker: _Tracker, done: set) -> dict | None:
    service = services.get(name)
    extends = service.get("extends") if isinstance(service, dict) else None
    if not extends or (id(services), name) in done:
        return service
    ref = extends["service"]
    if extends.get("file"):
        path = abs_path(base_dir, extends["file"])
        base_services = _base_from_file(name, ref, filename, path, load_file)
        base_file, base_base_dir = path, os.path.dirname(path)
    else:
        if ref not in services:
            raise LoadError(f'cannot extend service "{name}" in {filename}: service "{ref}" not found')
        base_services, base_file, base_base_dir = services, filename, base_dir
    tracker = tracker.add(base_file, name)
    base = _extend(ref, base_services, base_file, base_base_dir, load_file, tracker, done)
    if base is None:
        return service
    merged = merge_values(copy.deepcopy(base), service, "services.x")
    merged.pop("extends", None)
    services[name] = merged
    done.add((id(services), name))
    return merged


def apply_extends(doc: dict, filename: str, base_dir: str, load_file: LoadFile) -> dict:
    """Resolve every ``extends`` of one file's canonical mapping, in place; ``base_dir`` is
    where its ``extends.file`` paths are relative to."""
    services = doc.get("services") or {}
    done: set = set()
    for name in list(services):
        _extend(name, services, filename, base_dir, load_file, _Tracker(), done)
    return doc
