"""Several compose files -> one: the specification's merge rules (13-merge.md), as
compose-go's ``override.Merge`` and ``EnforceUnicity`` apply them to canonical mappings.

Mappings merge key by key, scalars are overridden, sequences are appended, with the
exceptions: command, entrypoint and healthcheck.test are replaced; a logging block with a
different driver replaces the old one; ulimits entries are replaced; the "unique
resources" (ports by ip/published/target/protocol, volumes and devices by target,
secrets and configs by target, expose, dns, caps, links, tmpfs, profiles, aliases,
extra_hosts, env_file by path) keep one entry per key, the later one in the earlier
one's place. ``!reset`` and ``!override`` are paths removed from the base before merging.
"""

from __future__ import annotations

import copy
import fnmatch

from ketch.compose.errors import LoadError

# key=value maps merged as compose-go merges them, as sequences: a key without a value
# ("FOO" in a list, FOO: null) replaces the earlier value
_KEY_VALUE = ("services.*.environment.*", "services.*.build.args.*")

_REPLACE = _KEY_VALUE + ("services.*.command", "services.*.entrypoint", "services.*.healthcheck.test",
            "services.*.ulimits.*", "services.*.build.ulimits.*")


def _text_key(entry) -> str:
    return str(entry).partition("=")[0] if isinstance(entry, str) else str(entry)


def _port_key(port) -> str:
    if not isinstance(port, dict):
        return str(port)
    return (f"{port.get('host_ip') or '0.0.0.0'}:{port.get('published') or ''}:"
            f"{port.get('target')}/{port.get('protocol') or 'tcp'}")


def _target_key(default: str):
    def key(ref) -> str:
        if isinstance(ref, dict):
            return ref.get("target") or f"{default}/{ref.get('source')}"
        return f"{default}/{ref}"
    return key


def _path_key(entry) -> str:
    return entry.get("path") if isinstance(entry, dict) else str(entry)


def _same(entry) -> str:
    return repr(entry)


_UNIQUE = {
    "services.*.ports": _port_key,
    "services.*.volumes": lambda v: v.get("target") if isinstance(v, dict) else str(v),
    "services.*.devices": lambda d: d.get("target") if isinstance(d, dict) else str(d),
    "services.*.secrets": _target_key("/run/secrets"),
    "services.*.configs": _target_key(""),
    "services.*.env_file": _path_key,
    "services.*.label_file": _path_key,
    "services.*.extra_hosts": _same,
    "services.*.build.extra_hosts": _same,
    "services.*.build.tags": _text_key,
    "services.*.build.platforms": _text_key,
}
for _key in ("cap_add", "cap_drop", "dns", "dns_opt", "dns_search", "expose", "links",
             "tmpfs", "profiles", "networks.*.aliases", "networks.*.link_local_ips"):
    _UNIQUE[f"services.*.{_key}"] = _text_key


def _match(path: str, patterns) -> str | None:
    for pattern in patterns:
        if fnmatch.fnmatchcase(path, pattern) and path.count(".") == pattern.count("."):
            return pattern
    return None


def unique(entries: list, key) -> list:
    """EnforceUnicity: one entry per key, a later one replacing the earlier in place."""
    out: list = []
    where: dict[str, int] = {}
    for entry in entries:
        k = key(entry)
        if k in where:
            out[where[k]] = entry
        else:
            where[k] = len(out)
            out.append(entry)
    return out


def _merge_ipam_config(base: list, other: list) -> list:
    """networks.*.ipam.config: pools merge by subnet."""
    out = [copy.deepcopy(p) for p in base]
    for pool in other:
        for i, existing in enumerate(out):
            if isinstance(existing, dict) and isinstance(pool, dict) and existing.get("subnet") == pool.get("subnet"):
                out[i] = merge_values(existing, pool, "networks.*.ipam.config.*")
                break
        else:
            out.append(pool)
    return out


def merge_values(base, other, path: str):
    """Merge ``other`` over ``base`` at ``path`` (a dotted key path, "services.web.ports")."""
    if _match(path, _REPLACE):
        return other
    if other is None:
        return base
    if path.endswith(".logging") and path.count(".") == 2 and isinstance(base, dict) and isinstance(other, dict):
        if base.get("driver") and other.get("driver") and base["driver"] != other["driver"]:
            return other
    if isinstance(base, dict):
        if not isinstance(other, dict):
            raise LoadError(f"cannot override {path}")
        out = dict(base)
        for key, value in other.items():
            out[key] = merge_values(out[key], value, f"{path}.{key}") if key in out else value
        return out
    if isinstance(base, list):
        if not isinstance(other, list):
            raise LoadError(f"cannot override {path}")
        if fnmatch.fnmatchcase(path, "networks.*.ipam.config"):
            return _merge_ipam_config(base, other)
        merged = base + other
        pattern = _match(path, _UNIQUE)
        return unique(merged, _UNIQUE[pattern]) if pattern else merged
    return other


def enforce_unicity(doc: dict) -> dict:
    """Deduplicate the unique sequences of one file's services too (a file may repeat)."""
    for name, service in (doc.get("services") or {}).items():
        for key, value in list(service.items()):
            pattern = _match(f"services.{name}.{key}", _UNIQUE)
            if pattern and isinstance(value, list):
                service[key] = unique(value, _UNIQUE[pattern])
    return doc


def remove_paths(doc: dict, paths) -> None:
    """``!reset`` / ``!override``: drop these key paths (tuples) from ``doc`` in place."""
    for path in paths:
        node = doc
        for key in path[:-1]:
            if isinstance(node, dict) and key in node:
                node = node[key]
            elif isinstance(node, list) and isinstance(key, int) and key < len(node):
                node = node[key]
            else:
                node = None
                break
        if isinstance(node, dict):
            node.pop(path[-1], None)


def merge(base: dict, other: dict) -> dict:
    """Two canonical mappings, ``other`` over ``base`` (neither is modified)."""
    out = copy.deepcopy(base)
    for key, value in copy.deepcopy(other).items():
        out[key] = merge_values(out[key], value, key) if key in out else value
    return enforce_unicity(out)
