"""A new image made on a parent, recorded: what ``docker commit`` and every build step share.

    stage(...)        blocking, in a thread: a writable snapshot's diff ─▶ tar ─┬─▶ sha256 ─▶ diff_id
                                                                             └─▶ gzip ─▶ blob
    write_image(...)  on the loop: the config document gets its rootfs, config and
                      manifest blobs are written, then ONE transaction records the layer,
                      the image, its parent link and what the caller adds (a tag, a cache
                      entry)

The staged layer's snapshot is only named: its files are made from the blob when a
container first needs them (``ImageService.ensure_unpacked``), as containerd does. A layer
with no entries is no layer (moby's ``layer.IsEmpty``): the image gets the parent's
layers only and the caller's history entry says ``empty_layer``. Until the transaction
nothing is visible; whatever fails before it removes the snapshot and the blobs written
here (a ``kill -9`` leaves them to the start-up sweep and the garbage collector).
"""

from dataclasses import dataclass
from typing import Callable

from ketch import errors
from ketch.engine.images.service import Image, ImageService
from ketch.image import layer as layers
from ketch.oci import digest as dg
from ketch.oci import mediatypes


@dataclass(frozen=True)
class Staged:
    """A layer written and hashed but not recorded; ``entries`` 0: an empty layer. Its
    blob is leased (``ImageService.lease``) until the caller releases it."""
    info: layers.LayerInfo
    snapshot: str
    entries: int


def adds_layer(staged: Staged | None) -> bool:
    return staged is not None and staged.entries > 0


def stage(images: ImageService, snapshot: str, parents: list[str],
          skip: frozenset[str] = frozenset(), clamp: int | None = None) -> Staged:
    """Blocking: writable snapshot ``snapshot``'s changes over ``parents`` (top-most first)
    as a layer blob, walked once; ``skip`` names mount points left out, ``clamp`` caps
    mtimes (reproducible builds). On failure nothing is left."""
    snapshots = images.snapshots
    name = snapshots.reserve()
    counted: dict[str, int] = {}

    def produce(sink) -> int:
        counted["entries"], size = snapshots.diff(snapshot, parents, sink, skip, clamp)
        return size

    try:
        info = layers.store(produce, images.content)
    except BaseException:
        snapshots.remove(name)
        raise
    images.lease(info.digest)
    return Staged(info, name, counted["entries"])


def write_image(images: ImageService, parent: Image | None, staged: Staged | None, doc: dict,
                within: Callable[[str], None] | None = None, reuse: str = "") -> str:
    """Record the image whose config document is ``doc`` (all but ``rootfs``, which the
    parent's layers and the staged one make) on ``parent`` (None: scratch); returns its id.
    ``reuse`` instead of a staged layer: the diff id of a layer this store has on top of
    the parent's (a --cache-from image's). ``within(image id)`` runs inside the
    transaction. On any failure the staged layer and the blobs written here go; the caller
    still releases ``staged``'s lease."""
    made: list[str] = []
    recorded: list[str] = []
    try:
        return _write(images, parent, staged, doc, within, made, recorded, reuse)
    except BaseException:
        if recorded:
            raise  # recorded: what failed came after, and the image keeps its blobs
        if staged is not None:
            discard(images, staged)
        for digest in made:
            images.content.delete(digest)
        raise


def _write(images: ImageService, parent: Image | None, staged: Staged | None, doc: dict,
           within: Callable[[str], None] | None, made: list[str], recorded: list[str],
           reuse: str = "") -> str:
    store, content = images.store, images.content
    diff_ids = list((parent.config.get("rootfs") or {}).get("diff_ids") or []) if parent else []
    chain_ids = list(parent.chain_ids) if parent else []
    manifest_layers = []
    for chain in chain_ids:
        row = store.get_layer(chain)
        if row is None:
            raise errors.Internal(f"layer {chain} of image {parent.id} is missing")
        manifest_layers.append({"mediaType": row[3], "digest": row[2], "size": content.size(row[2])})
    chain = None
    size = parent.size if parent else 0
    if reuse:
        diff_ids.append(reuse)
        row = store.get_layer(dg.chain_ids(diff_ids)[-1])
        if row is None:
            raise errors.Internal(f"layer {reuse} is missing")
        manifest_layers.append({"mediaType": row[3], "digest": row[2], "size": content.size(row[2])})
        size += row[6]
    elif adds_layer(staged):
        info = staged.info
        diff_ids.append(info.diff_id)
        chain = dg.chain_ids(diff_ids)[-1]
        manifest_layers.append({"mediaType": info.media_type, "digest": info.digest,
                                "size": info.compressed_size})
    rootfs: dict = {"type": "layers"}
    if diff_ids:  # Go's omitempty: a scratch image with no layer has none
        rootfs["diff_ids"] = diff_ids
    config_bytes = dg.canonical_json({**doc, "rootfs": rootfs})
    config_digest = _put(content, config_bytes, made)
    manifest = dg.canonical_json({
        "schemaVersion": 2, "mediaType": mediatypes.OCI_MANIFEST,
        "config": {"mediaType": mediatypes.OCI_CONFIG, "digest": config_digest,
                   "size": len(config_bytes)},
        "layers": manifest_layers,
    })
    manifest_digest = _put(content, manifest, made)
    existing = store.get_layer(chain) if chain else None
    if chain:
        size += staged.info.size
    with store.transaction():
        if chain and existing is None:
            store.put_layer(chain, staged.info.diff_id, staged.info.digest, staged.info.media_type,
                            chain_ids[-1] if chain_ids else None, staged.snapshot, staged.info.size)
        store.put_image(config_digest, config_bytes, manifest_digest, doc.get("created") or "", size)
        if parent is not None:
            store.set_parent(config_digest, parent.id)
        if within is not None:
            within(config_digest)
    recorded.append(config_digest)
    if staged is not None and (chain is None or existing is not None):
        discard(images, staged)  # no new layer after all: the copy goes
    return config_digest


def _put(content, data: bytes, made: list[str]) -> str:
    """Store ``data``; remembered in ``made`` (undone on failure) only if it is new here:
    a blob another image has (the same config twice, a reproducible build) stays."""
    digest = dg.of_bytes(data)
    new = not content.exists(digest)
    digest = content.put(data)
    if new:
        made.append(digest)
    return digest


def discard(images: ImageService, staged: Staged) -> None:
    """Undo a staged layer that no record names (on the loop thread: the store is read),
    its lease still held: a blob another holder leases too (the same layer staged by a
    build's other stage, or a pull) stays for that one."""
    store = images.store
    rows = store.all_layers()
    if not any(row[2] == staged.snapshot for row in rows):
        images.snapshots.remove(staged.snapshot)
    if not any(row[3] == staged.info.digest for row in rows) and images.holders(staged.info.digest) <= 1:
        images.content.delete(staged.info.digest)
