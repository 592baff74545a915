"""``docker save`` and ``docker load``: images between the local store and the archive
medium (``image/tarball.py``).

Save picks images as moby's tarexporter does (a repository name: each of its tags; a
name with a tag: that tag; an id: the image, untagged), finds each layer's uncompressed
size before the first byte goes out (so a missing or corrupt layer is an error, not a
truncated archive) and streams the layers from the content store.

Load is all or nothing, in three steps::

    stage   (thread)  the archive's files spooled into the content store's ingest/,
                      hashed on the way; its metadata read and checked
    apply   (thread)  each layer not in the store yet (by chain id) unpacked into a new
                      snapshot, its DiffID checked against the config
    commit  (loop)    the blobs kept renamed into blobs/ (leased), then ONE transaction
                      records layers, images and tags

Any failure, or a client gone, before the transaction removes the new snapshots and
the spooled files and blobs written; a ``kill -9`` leaves files in ingest/ (emptied at
start-up), snapshots no layer names (swept at start-up) and blobs nothing refers to
(removed by the next garbage collection). Layer blobs are kept as the archive holds
them (uncompressed for Docker's archives, as containerd keeps them), so a loaded image
saves again without recompression.
"""

import contextlib
import hashlib
import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import BinaryIO

from ketch import errors, timefmt
from ketch.engine.images.progress import ProgressReader, Report
from ketch.engine.images.service import ImageService
from ketch.image import tarball
from ketch.image.archive import CHUNK, apply_layer, apply_layer_file, open_decompressed, sniff
from ketch.image.content import Writer
from ketch.oci import digest as dg
from ketch.oci import mediatypes, reference

_LAYER_TYPES = {"tar": mediatypes.OCI_LAYER_TAR, "gzip": mediatypes.OCI_LAYER_GZIP,
                "zstd": mediatypes.OCI_LAYER_ZSTD}
_ZERO_TIME = "0001-01-01T00:00:00Z"
UNPACKERS = 3


def short_id(digest: str) -> str:
    """moby's stringid.TruncateID."""
    return digest.partition(":")[2][:12] if ":" in digest else digest[:12]


# -- save ---------------------------------------------------------------------------


def _layer(digest: str, path: str, diff_id: str) -> tarball.SaveLayer:
    with open(path, "rb") as f:
        compressed = sniff(f.read(6)) != "tar"
    if not compressed:
        size = os.path.getsize(path)
    else:  # the tar's size is in no header: decompress once to count, and check it
        h, size = hashlib.sha256(), 0
        with open(path, "rb") as f, open_decompressed(f) as src:
            while chunk := src.read(CHUNK):
                h.update(chunk)
                size += len(chunk)
        if f"sha256:{h.hexdigest()}" != diff_id:
            raise errors.Internal(f"layer {diff_id} does not match its content (blob {digest})")

    @contextlib.contextmanager
    def opener():
        with open(path, "rb") as f:
            if compressed:
                with open_decompressed(f) as src:
                    yield src
            else:
                yield f
    return tarball.SaveLayer(diff_id, size, opener)


@dataclass(frozen=True)
class Chosen:
    id: str
    config: dict
    tags: tuple[reference.Reference, ...]
    layers: tuple[tuple[str, str], ...]  # (blob digest, its path), bottom first


class ImageSaver:
    def __init__(self, images: ImageService) -> None:
        self.images = images

    def select(self, names: list[str]) -> dict[str, list[reference.Reference]]:
        """Image id -> the tags to save it with, in the order named (moby's parseNames)."""
        chosen: dict[str, list[reference.Reference]] = {}

        def add(image_id: str, ref: reference.Reference | None) -> None:
            refs = chosen.setdefault(image_id, [])
            if ref is not None and ref.tag and not ref.digest and ref not in refs:
                refs.append(ref)

        store = self.images.store
        for name in names:
            bare = name.removeprefix("sha256:")
            if len(bare) == 64 and all(c in "0123456789abcdef" for c in bare):
                image = self.images.find(name)
                if image is None:
                    raise errors.NotFound(f"No such image: {name}")
                add(image.id, None)
                continue
            ref = reference.parse(name, default_tag=False)
            if ref.familiar_name == "sha256" or (not ref.tag and not ref.digest):
                tags = [] if ref.familiar_name == "sha256" else sorted(
                    t for t, _ in store.all_tags() if reference.parse(t).name == ref.name)
                for tag in tags:
                    add(store.resolve_tag(tag), reference.parse(tag))
                if not tags:
                    image = self.images.find(name)
                    if image is None:
                        raise errors.NotFound(f"No such image: {name}")
                    add(image.id, None)
                continue
            image_id = store.resolve_tag(str(ref.with_tag(ref.tag))) if ref.tag else None
            if image_id is None:
                image = self.images.find(name) if ref.digest else None
                if image is None:
                    raise errors.NotFound("reference does not exist")
                image_id = image.id
            add(image_id, ref)
        return chosen

    def choose(self, names: list[str]) -> list["Chosen"]:
        """On the loop thread: the images, their tags and their layers' blobs."""
        out = []
        for image_id, tags in self.select(names).items():
            image = self.images.resolve(image_id)
            if not image.chain_ids:
                raise errors.Internal("empty export - not implemented")
            blobs = []
            for chain in image.chain_ids:
                row = self.images.store.get_layer(chain)
                if row is None:
                    raise errors.Internal(f"layer {chain} of image {image.id} is missing")
                blobs.append((row[2], self.images.content.path(row[2])))
            out.append(Chosen(image.id, image.config, tuple(tags), tuple(blobs)))
        return out

    def plan(self, chosen: list["Chosen"]) -> list[tarball.SaveImage]:
        """Blocking: what to write, every layer's size known and its content checked."""
        out = []
        for c in chosen:
            config = self.images.content.read(c.id)
            diff_ids = c.config["rootfs"]["diff_ids"]
            layers = tuple(_layer(digest, path, diff_id)
                           for (digest, path), diff_id in zip(c.layers, diff_ids))
            created = c.config.get("created")
            try:
                mtime = timefmt.parse_ns(created) // 10**9 if created else 0
            except ValueError:
                mtime = 0
            out.append(tarball.SaveImage(config, c.tags, layers, max(mtime, 0)))
        return out

    def write(self, plan: list[tarball.SaveImage], out: BinaryIO) -> None:
        tarball.write_archive(plan, out)

    def saved(self, plan: list[tarball.SaveImage]) -> None:
        for image in plan:
            self.images.publish(image.id, image.id, "save", None)


# -- load ---------------------------------------------------------------------------


@dataclass(frozen=True)
class NewLayer:
    chain_id: str
    diff_id: str
    digest: str
    media_type: str
    parent: str | None
    snapshot: str
    size: int


@dataclass
class Load:
    """One load in progress: what it has made so far, all of it undone by ``discard``."""
    writers: dict[str, Writer] = field(default_factory=dict)  # spooled files by path
    archive: tarball.Archive | None = None
    existing: set[str] = field(default_factory=set)  # chain ids already in the store
    layers: dict[str, NewLayer] = field(default_factory=dict)  # chain id -> unpacked here
    blobs: set[str] = field(default_factory=set)  # blobs this load put into blobs/
    done: bool = False


class _Hashing:
    def __init__(self, src: BinaryIO) -> None:
        self._src = src
        self.hash = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        data = self._src.read(n)
        self.hash.update(data)
        return data


class ImageLoader:
    def __init__(self, images: ImageService) -> None:
        self.images = images

    def stage(self, load: Load, stream: BinaryIO) -> None:
        """Blocking: spool and read the archive."""
        def spool(src: BinaryIO) -> tarball.Staged:
            writer = self.images.content.writer()
            load.writers[writer.path] = writer
            while chunk := src.read(CHUNK):
                writer.write(chunk)
            writer.close()
            return tarball.Staged(writer.path, writer.digest, writer.size)
        load.archive = tarball.read_archive(stream, spool)

    def check(self, load: Load) -> None:
        """On the loop thread, between stage and apply: which layers the store has."""
        for image in load.archive.images:
            for chain in dg.chain_ids(image.diff_ids):
                if self.images.store.get_layer(chain) is not None:
                    load.existing.add(chain)

    def apply(self, load: Load, report: Report | None) -> None:
        """Blocking: unpack every layer the store lacks, checking its DiffID. Each layer
        goes to a directory of its own, so they unpack side by side (``UNPACKERS`` at a
        time, Docker's default of three downloads); the first failure is raised once all
        have stopped, every snapshot made recorded in ``load`` for ``discard``."""
        todo: dict[str, tuple] = {}
        for image in load.archive.images:
            parent = None
            for i, (diff_id, chain, staged) in enumerate(
                    zip(image.diff_ids, dg.chain_ids(image.diff_ids), image.layers)):
                if chain not in load.existing and chain not in todo:
                    todo[chain] = (i, diff_id, chain, parent, staged)
                parent = chain
        lock = threading.Lock()
        if report is not None:
            def report(p, _report=report):
                with lock:
                    _report(p)

        def unpack(args) -> None:
            layer = self._unpack(*args, report)
            with lock:
                load.layers[layer.chain_id] = layer

        with ThreadPoolExecutor(UNPACKERS) as pool:
            futures = [pool.submit(unpack, args) for args in todo.values()]
        for future in futures:
            future.result()  # the first failure, in the archive's order

    def _unpack(self, i: int, diff_id: str, chain: str, parent: str | None,
                staged: tarball.Staged, report: Report | None) -> NewLayer:
        snapshots = self.images.snapshots
        snapshot = snapshots.new()
        try:
            with open(staged.path, "rb") as raw:
                kind = sniff(raw.read(6))
                raw.seek(0)
                if kind == "tar":  # the spooled file is the layer tar: its digest is the DiffID
                    return self._unpack_tar(i, diff_id, chain, parent, staged, raw, snapshot, report)
                src: BinaryIO = raw
                if report is not None:
                    src = ProgressReader(raw, staged.size, report, short_id(diff_id), "Loading layer")
                with open_decompressed(src) as tar:
                    hashing = _Hashing(tar)
                    size = apply_layer(hashing, snapshots.fs(snapshot))
                    while hashing.read(CHUNK):  # the end-of-archive padding is part of the DiffID
                        pass
        except BaseException:
            snapshots.remove(snapshot)
            raise
        got = f"sha256:{hashing.hash.hexdigest()}"
        if got != diff_id:
            snapshots.remove(snapshot)
            raise errors.InvalidArgument(f'invalid diffID for layer {i}: expected "{diff_id}", got "{got}"')
        media_type = _LAYER_TYPES.get(kind)
        if media_type is None:
            snapshots.remove(snapshot)
            raise errors.InvalidArgument(f"layer {i}: {kind} layers are not supported")
        return NewLayer(chain, diff_id, staged.digest, media_type, parent, snapshot, size)

    def _unpack_tar(self, i: int, diff_id: str, chain: str, parent: str | None,
                    staged: tarball.Staged, raw: BinaryIO, snapshot: str,
                    report: Report | None) -> NewLayer:
        """An uncompressed layer: checked by the digest its spooling computed, then
        unpacked with the file contents copied by the kernel (``apply_layer_file``)."""
        if staged.digest != diff_id:
            raise errors.InvalidArgument(
                f'invalid diffID for layer {i}: expected "{diff_id}", got "{staged.digest}"')
        progress = None
        if report is not None:
            progress = ProgressReader(raw, staged.size, report, short_id(diff_id), "Loading layer")
        size = apply_layer_file(raw.fileno(), self.images.snapshots.fs(snapshot))
        if progress is not None:
            progress.done()
        return NewLayer(chain, diff_id, staged.digest, _LAYER_TYPES["tar"], parent, snapshot, size)

    def commit(self, load: Load) -> list[str]:
        """On the loop thread: make the load visible in one transaction; returns the
        lines Docker prints ("Loaded image: ...")."""
        content, store = self.images.content, self.images.store
        images = load.archive.images
        keep = {layer.digest for layer in load.layers.values()} | {image.id for image in images}
        kept = []
        for path, writer in list(load.writers.items()):
            if writer.digest in keep and writer.digest not in kept:
                if not content.exists(writer.digest):
                    load.blobs.add(writer.digest)
                writer.commit()
                kept.append(writer.digest)
                del load.writers[path]
        records = []
        for image in images:
            layers = []
            for chain in dg.chain_ids(image.diff_ids):
                new = load.layers.get(chain)
                if new is not None:
                    layers.append((new.media_type, new.digest, new.size))
                else:
                    row = store.get_layer(chain)
                    if row is None:  # garbage-collected while this load unpacked its own
                        raise errors.Conflict(f"layer {chain} was removed during the load; load again")
                    layers.append((row[3], row[2], row[6]))
            manifest = dg.canonical_json({
                "schemaVersion": 2,
                "mediaType": mediatypes.OCI_MANIFEST,
                "config": {"mediaType": mediatypes.OCI_CONFIG, "digest": image.id, "size": len(image.config)},
                "layers": [{"mediaType": mt, "digest": d, "size": content.size(d)} for mt, d, _ in layers],
            })
            if not content.exists(dg.of_bytes(manifest)):
                load.blobs.add(dg.of_bytes(manifest))
            records.append((image, content.put(manifest), sum(size for _, _, size in layers)))
        self.images.lease(*load.blobs)
        try:
            previous: dict[str, str | None] = {}
            shared: list[str] = []
            with store.transaction():
                for layer in load.layers.values():
                    if store.get_layer(layer.chain_id) is not None:
                        shared.append(layer.snapshot)  # loaded meanwhile by another: keep theirs
                        continue
                    store.put_layer(layer.chain_id, layer.diff_id, layer.digest, layer.media_type,
                                    layer.parent, layer.snapshot, layer.size)
                for image, manifest_digest, size in records:
                    created = json.loads(image.config).get("created") or _ZERO_TIME
                    store.put_image(image.id, image.config, manifest_digest, str(created), size)
                    for ref in image.tags:
                        previous[f"{image.id} {ref}"] = store.tag(str(ref), image.id)
        finally:
            self.images.release(*load.blobs)
        load.done = True
        for snapshot in shared:
            self.images.snapshots.remove(snapshot)
        lines, ids = [], []
        for image, _, _ in records:
            ids.append(f"Loaded image ID: {image.id}")
            for ref in image.tags:
                before = previous[f"{image.id} {ref}"]
                if before is not None and before != image.id:
                    lines.append(f"The image {ref.familiar} already exists, renaming the old one "
                                 f"with ID {before} to empty string")
                lines.append(f"Loaded image: {ref.familiar}")
            labels = (json.loads(image.config).get("config") or {}).get("Labels")
            self.images.publish(image.id, image.id, "load", labels)
        if images and not images[-1].tags:  # moby counts the last image's tags only
            lines += ids
        return lines

    def drop_blobs(self, load: Load) -> None:
        """On the loop thread: delete the blobs a load that did not commit put into
        blobs/ and nothing refers to (checked and deleted in one step, so that a load
        committing the same blob meanwhile keeps it)."""
        if load.done or not load.blobs:
            return
        store = self.images.store
        used = {row[3] for row in store.all_layers()} | {row[0] for row in store.all_images()} \
            | {row[2] for row in store.all_images()}
        for digest in load.blobs - used:
            self.images.content.delete(digest)
        load.blobs.clear()

    def discard(self, load: Load) -> None:
        """Blocking: undo whatever else a load that did not commit made (its spooled
        files and snapshots); after a commit, only the spooled files it did not keep go."""
        for writer in load.writers.values():
            writer.abort()
        load.writers.clear()
        if load.done:
            return
        for layer in load.layers.values():
            self.images.snapshots.remove(layer.snapshot)
