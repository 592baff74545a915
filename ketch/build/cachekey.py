"""The key a build step's image is cached under.

moby's classic builder finds a cached step by walking the parent image's children and
comparing each child's ``container_config`` with the step's (``image/cache/compare.go``):
equal Cmd, Env, Entrypoint in order; equal Labels, ExposedPorts and Volumes as sets;
equal User, AttachStdout, AttachStderr, Tty; a config with OpenStdin never matches.
Everything a step depends on is in those fields: the instruction (Cmd: the nop comment,
or RUN's command with its ``|N ARG=v`` prefix), the files (COPY/ADD's content hash in
the comment), the ENV and ARGs in effect, and the parent (all earlier steps).

So the key is a digest over the parent's id and exactly those fields, in a canonical
form (sorted maps, None and empty alike, as ``len()`` in Go treats them): equal keys
exactly when moby's compare says equal, stable across processes and restarts. A step
whose config has OpenStdin gets no key (never cached), as compare refuses it.
"""

import hashlib
import json

_SEQUENCES = ("Cmd", "Env", "Entrypoint")
_SETS = ("ExposedPorts", "Volumes")
_SCALARS = (("User", ""), ("AttachStdout", False), ("AttachStderr", False), ("Tty", False))


def step_key(parent_id: str, container_config: dict) -> str:
    """``sha256:<hex>`` for the step on ``parent_id`` ("" for scratch); "" if uncacheable."""
    if container_config.get("OpenStdin"):
        return ""
    canon = {
        "parent": parent_id or "",
        **{k: list(container_config.get(k) or ()) for k in _SEQUENCES},
        **{k: sorted(container_config.get(k) or {}) for k in _SETS},
        "Labels": sorted((container_config.get("Labels") or {}).items()),
        **{k: container_config.get(k) or zero for k, zero in _SCALARS},
    }
    text = json.dumps(canon, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()
