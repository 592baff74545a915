"""Garbage collection: mark every blob a manifest of any repository references (and the
manifests themselves), sweep the rest, as distribution's ``registry garbage-collect``.
Run it while nothing pushes: a blob uploaded for a manifest not yet pushed is unreferenced.
Uploads abandoned for longer than UPLOAD_AGE go too (distribution's upload purging)."""

from __future__ import annotations

import datetime
import json
from typing import TextIO

from ketch.registry.server.names import Digest, InvalidDigest
from ketch.registry.server.store import Store, blob_path


UPLOAD_AGE = datetime.timedelta(hours=168)  # distribution's maintenance.uploadpurging.age


def _references(data: bytes) -> list[Digest]:
    try:
        doc = json.loads(data)
    except ValueError:
        return []
    if not isinstance(doc, dict):
        return []
    descriptors = [doc.get("config")] + list(doc.get("layers") or []) + list(doc.get("manifests") or [])
    out = []
    for descriptor in descriptors:
        if isinstance(descriptor, dict) and isinstance(descriptor.get("digest"), str):
            try:
                out.append(Digest.parse(descriptor["digest"]))
            except InvalidDigest:
                continue
    return out


def collect(store: Store, out: TextIO, dry_run: bool = False, delete_untagged: bool = False) -> list[Digest]:
    """Delete (or with dry_run, list) the blobs nothing references; returns them."""
    marked: set[Digest] = set()
    untagged: list[tuple[str, Digest]] = []
    for name in store.repositories():
        print(name, file=out)
        tagged = {store.tag_digest(name, tag) for tag in store.tags(name)}
        revisions = store.revisions(name)
        roots = [d for d in revisions if d in tagged] if delete_untagged else revisions
        seen: set[Digest] = set()
        pending = list(roots)
        while pending:
            digest = pending.pop()
            if digest in seen or store.blob_size(digest) is None:
                continue
            seen.add(digest)
            print(f"{name}: marking manifest {digest}", file=out)
            marked.add(digest)
            for ref in _references(store.read_blob(digest)):
                if ref in set(revisions):  # a child manifest of an index
                    pending.append(ref)
                else:
                    print(f"{name}: marking blob {ref}", file=out)
                    marked.add(ref)
        untagged += [(name, d) for d in revisions if d not in seen]
    sweep = [digest for digest in store.blobs() if digest not in marked]
    manifests = untagged if delete_untagged else []
    print(f"\n{len(marked)} blobs marked, {len(sweep)} blobs and {len(manifests)} manifests "
          f"eligible for deletion", file=out)
    for name, digest in manifests:
        print(f"manifest eligible for deletion: {name}@{digest}", file=out)
        if not dry_run:
            store.delete_manifest(name, digest)
    for digest in sweep:
        print(f"blob eligible for deletion: {digest}", file=out)
        if not dry_run:
            print(f"Deleting blob: /{blob_path(digest).rpartition('/')[0]}", file=out)
            store.delete_blob(digest)
    cutoff = datetime.datetime.now(datetime.timezone.utc) - UPLOAD_AGE
    for name in store.repositories():
        for upload, started in store.uploads(name):
            if started is None or started < cutoff:
                print(f"upload eligible for deletion: {name}/{upload}", file=out)
                if not dry_run:
                    store.cancel_upload(name, upload)
    if not dry_run:  # tidy the links to blobs that are gone
        for name in store.repositories():
            for digest in store.layers(name):
                if store.blob_size(digest) is None:
                    store.unlink_blob(name, digest)
    return sweep
