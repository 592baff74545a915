"""Images: import, resolve, list, remove, and the layers containers are built on.

An image is its config (whose digest is the image id), an OCI manifest, and layers
unpacked by the snapshotter. Every write happens in this order: blobs into the
content store, layers into new snapshot dirs, then one SQLite transaction that makes
them visible. A failure before the transaction removes what it created.
"""

import collections
import json
import os
import threading
from dataclasses import dataclass
from typing import BinaryIO

from ketch import errors, timefmt
from ketch.build import changes as change_cmds
from ketch.engine.events import Event, EventBus
from ketch.engine.store import Store
from ketch.image import layer as layers
from ketch.image import pulled
from ketch.image.content import ContentStore
from ketch.oci import digest as dg
from ketch.oci import mediatypes, reference
from ketch.oci import platform as platforms
from ketch.storage.overlay import OverlaySnapshotter

ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le",
        "s390x": "s390x", "riscv64": "riscv64"}.get(os.uname().machine, os.uname().machine)


def familiar(name: str) -> str:
    """``name`` as Docker echoes it in errors: ``nosuch`` -> ``nosuch:latest``."""
    try:
        return reference.parse(name).familiar
    except errors.InvalidArgument:
        return name


def tag_reference(repo: str, tag: str) -> reference.Reference:
    """moby's RepoTagReference and its check of the name: a repository, and a tag that
    replaces the repository's own (``latest`` if neither has one); never a digest."""
    ref = reference.parse(repo, default_tag=False)
    if ref.digest:
        raise errors.InvalidArgument("cannot import digest reference")
    if tag and not reference.is_valid_tag(tag):
        raise errors.InvalidArgument("invalid tag format")
    ref = ref.with_tag(tag or ref.tag or reference.DEFAULT_TAG)
    if ref.familiar_name == "sha256":
        raise errors.InvalidArgument("refusing to create an ambiguous tag using digest algorithm as name")
    return ref


@dataclass(frozen=True)
class Image:
    id: str  # "sha256:<config digest hex>"
    config: dict  # the whole image config document
    manifest_digest: str
    created: str
    size: int
    tags: tuple[str, ...]  # full references, "docker.io/library/busybox:latest"
    chain_ids: tuple[str, ...]  # bottom layer first
    repo_digests: tuple[str, ...] = ()  # "localhost:5000/app@sha256:...", as pulled or pushed
    parent: str = ""  # the image a commit was made on (moby's SetParent), else ""
    last_tag_time: str = ""  # when a tag last pointed here, else ""

    @property
    def container_config(self) -> dict:
        return self.config.get("config") or {}

    @property
    def platform(self) -> platforms.Platform:
        return platforms.Platform(self.config.get("os") or "linux",
                                 self.config.get("architecture") or ARCH, self.config.get("variant") or "")

    def check_platform(self, ref: str, wanted: str) -> None:
        """A create's ``platform``: the image must be of it (moby's GetImage with a platform)."""
        want = platforms.parse(wanted)
        if not want.matches(self.platform):
            raise errors.NotFound(f"image with reference {ref} was found but does not match the "
                                  f"specified platform: wanted {want}, actual: {self.platform}")


class ImageService:
    def __init__(self, store: Store, content: ContentStore, snapshots: OverlaySnapshotter,
                 bus: EventBus | None = None) -> None:
        self.store = store
        self.content = content
        self.snapshots = snapshots
        self.bus = bus
        # blobs and chain ids written but not yet recorded, counted per holder: GC keeps them
        self._leases: collections.Counter[str] = collections.Counter()
        self._unpack_locks: dict[str, threading.Lock] = {}  # chain id -> its unpack
        self._unpack_locks_guard = threading.Lock()

    # -- lookups ----------------------------------------------------------------
    def _load(self, image_id: str) -> Image:
        row = self.store.get_image(image_id)
        if row is None:
            raise errors.no_such_image(image_id)
        config = json.loads(row[1])
        diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
        parent, last_tag_time = self.store.image_meta(row[0])
        return Image(row[0], config, row[2], row[3], row[4], tuple(self.store.tags_of(row[0])),
                     tuple(dg.chain_ids(diff_ids)), tuple(self.store.repo_digests_of(row[0])),
                     parent, last_tag_time)

    def resolve(self, name: str) -> Image:
        """An image by reference (``busybox``, ``busybox:1``), full id, or unique id prefix."""
        found = self.find(name)
        if found is None:
            raise errors.no_such_image(familiar(name))
        return found

    def find(self, name: str) -> Image | None:
        candidate = name[len("sha256:"):] if name.startswith("sha256:") else name
        if len(candidate) == 64 and all(c in "0123456789abcdef" for c in candidate):
            row = self.store.get_image("sha256:" + candidate)
            return self._load(row[0]) if row else None
        try:
            ref = reference.parse(name)
        except errors.InvalidArgument:
            ref = None
        if ref is not None:
            image_id = self.store.resolve_tag(str(ref)) if ref.tag and not ref.digest else None
            if ref.digest:  # name@digest: as pulled (or pushed) from that repository
                image_id = self.store.resolve_repo_digest(ref.name, ref.digest)
            if image_id:
                return self._load(image_id)
        if candidate and all(c in "0123456789abcdef" for c in candidate):
            matches = self.store.find_images_by_prefix("sha256:" + candidate)
            if len(matches) == 1:
                return self._load(matches[0])
        return None

    def list_all(self) -> list[Image]:
        return [self._load(row[0]) for row in self.store.all_images()]

    def snapshot_chain(self, image: Image) -> list[str]:
        """Snapshot names of the image's layers, top-most first (overlayfs lowerdir order),
        each unpacked (``ensure_unpacked``; callers on the event loop call that first in a
        thread, so that this only finds them there)."""
        self.ensure_unpacked(image)
        return self.snapshot_names(image)

    def snapshot_names(self, image: Image) -> list[str]:
        """The names of the image's layers' snapshots, top-most first, unpacked or not."""
        names = []
        for chain_id in reversed(image.chain_ids):
            row = self.store.get_layer(chain_id)
            if row is None:
                raise errors.Internal(f"layer {chain_id} of image {image.id} is missing")
            names.append(row[5])
        return names

    def ensure_unpacked(self, image: Image) -> None:
        """Blocking: unpack the image's layers that were stored but not unpacked yet (a
        commit's: containerd's way, the layer's files made when a container first needs
        them, not while the committed container is paused). One unpack per layer at a time;
        the snapshot appears under its recorded name only once complete."""
        for chain_id in image.chain_ids:
            row = self.store.get_layer(chain_id)
            if row is None or self.snapshots.exists(row[5]):
                continue
            with self._unpacking(chain_id):
                if self.snapshots.exists(row[5]):
                    continue  # another caller unpacked it meanwhile
                made = self.snapshots.new()
                try:
                    pulled.unpack_stored(self.content, row[2], row[1], self.snapshots.fs(made))
                    self.snapshots.adopt(made, row[5])
                except BaseException:
                    self.snapshots.remove(made)
                    raise

    def _unpacking(self, chain_id: str) -> threading.Lock:
        with self._unpack_locks_guard:
            return self._unpack_locks.setdefault(chain_id, threading.Lock())

    def graph_driver_data(self, image: Image) -> dict[str, str] | None:
        """inspect's GraphDriver.Data as overlay2 gives it for an image: its top layer as
        UpperDir, the ones below as LowerDir (left out for a single layer)."""
        names = self.snapshot_names(image) if image.chain_ids else []
        if not names:
            return None
        top = names[0]
        data = {}
        if names[1:]:
            data["LowerDir"] = ":".join(self.snapshots.fs(n) for n in names[1:])
        data["MergedDir"] = os.path.join(self.snapshots.root, top, "merged")
        data["UpperDir"] = self.snapshots.fs(top)
        data["WorkDir"] = self.snapshots.work(top)
        return data

    # -- import -----------------------------------------------------------------
    @staticmethod
    def check_import_args(repo: str | None, changes: list[str]) -> None:
        """Reject a bad reference or change before any byte of the upload is stored."""
        if repo:
            reference.parse(repo, default_tag=False)
        change_cmds.apply({}, changes)

    def ingest_layer(self, stream: BinaryIO, parent_chain: str | None) -> tuple[layers.LayerInfo, str, str]:
        """Blocking: unpack and store one layer. Returns (info, chain id, snapshot name)."""
        snapshot = self.snapshots.new()
        try:
            info = layers.ingest(stream, self.content, self.snapshots.fs(snapshot))
        except BaseException:
            self.snapshots.remove(snapshot)
            raise
        self.lease(info.digest)
        chain = info.diff_id if parent_chain is None else dg.of_bytes(f"{parent_chain} {info.diff_id}".encode())
        return info, chain, snapshot

    def commit_import(self, info: layers.LayerInfo, chain: str, snapshot: str, repo: str | None,
                      tag: str | None, changes: list[str], comment: str,
                      created: str | None = None, platform: platforms.Platform | None = None) -> str:
        """Record an imported single-layer image; returns its id. Runs on the loop thread.
        ``platform`` is the config's os/architecture/variant (the host's if None)."""
        try:
            return self._commit_import(info, chain, snapshot, repo, tag, changes, comment, created,
                                       platform)
        except BaseException:
            self._discard_layer(info, chain, snapshot)
            raise
        finally:
            self.release(info.digest)

    def _commit_import(self, info, chain, snapshot, repo, tag, changes, comment, created,
                       platform=None) -> str:
        ref = None
        if repo:
            ref = reference.parse(repo, default_tag=False)
            ref = ref.with_tag(tag or ref.tag or reference.DEFAULT_TAG)
        created = created or timefmt.now()
        platform = platform or platforms.Platform("linux", ARCH)
        config_doc = {
            "architecture": platform.architecture,
            "config": change_cmds.apply({}, changes),
            "created": created,
            "history": [{"created": created, "comment": comment}],
            "os": platform.os,
            "rootfs": {"type": "layers", "diff_ids": [info.diff_id]},
        }
        if platform.variant:
            config_doc["variant"] = platform.variant
        config = dg.canonical_json(config_doc)
        config_digest = self.content.put(config)
        manifest = dg.canonical_json({
            "schemaVersion": 2,
            "mediaType": mediatypes.OCI_MANIFEST,
            "config": {"mediaType": mediatypes.OCI_CONFIG, "digest": config_digest,
                       "size": len(config)},
            "layers": [{"mediaType": info.media_type, "digest": info.digest,
                        "size": info.compressed_size}],
        })
        manifest_digest = self.content.put(manifest)
        existing = self.store.get_layer(chain)
        with self.store.transaction():
            if existing is None:
                self.store.put_layer(chain, info.diff_id, info.digest, info.media_type, None,
                                     snapshot, info.size)
            self.store.put_image(config_digest, config, manifest_digest, created, info.size)
            if ref is not None:
                self.store.tag(str(ref), config_digest)
        if existing is not None:  # the same layer was already unpacked: keep the old copy
            self.snapshots.remove(snapshot)
        labels = config_doc["config"].get("Labels")
        if ref is not None:  # moby tags first (TagImage), then logs the import
            self._log(config_digest, ref.familiar, "tag", labels)
        self._log(config_digest, config_digest, "import", labels)
        return config_digest

    def _discard_layer(self, info: layers.LayerInfo, chain: str, snapshot: str) -> None:
        existing = self.store.get_layer(chain)
        if existing is None or existing[5] != snapshot:
            self.snapshots.remove(snapshot)
        if existing is None:
            self.content.delete(info.digest)

    # -- tags and removal -------------------------------------------------------
    def tag(self, source: str, repo: str, tag: str) -> None:
        """POST /images/{name}/tag: the new reference is checked before the image is
        looked up, as moby does."""
        ref = tag_reference(repo, tag)
        image = self.resolve(source)
        with self.store.transaction():
            self.store.tag(str(ref), image.id)
        self._log(image.id, ref.familiar, "tag", image.container_config.get("Labels"))

    def remove(self, name: str, force: bool, users_of, prune: bool = True) -> list[dict]:
        """Docker's image delete (``delete.py``); ``users_of(image id)`` maps the ids of the
        containers using an image to whether they run. Returns the ``[{"Untagged": ...},
        {"Deleted": ...}]`` report."""
        from ketch.engine.images.delete import ImageDeleter
        return ImageDeleter(self, users_of).delete(name, force, prune)

    def _log(self, image_id: str, name: str, action: str, labels: dict | None) -> None:
        """moby's LogImageEvent: the image's labels (none once it is deleted) and a name:
        the new tag for "tag", the image id otherwise."""
        if self.bus is not None:
            self.bus.publish(Event("image", action, image_id, {**(labels or {}), "name": name}))

    def lease(self, *keys: str) -> None:
        """Keep blobs (or chain ids) from the garbage collector until ``release``: written,
        not yet recorded. Counted: a load and a pull holding one blob keep it until both
        have released it."""
        self._leases.update(keys)

    def release(self, *keys: str) -> None:
        self._leases.subtract(keys)
        for key in keys:
            if self._leases[key] <= 0:
                del self._leases[key]

    def holders(self, key: str) -> int:
        """How many holders lease ``key`` now."""
        return self._leases[key]

    def publish(self, image_id: str, name: str, action: str, labels: dict | None) -> None:
        """An image event (``_log``), for the modules beside this one (commit, prune)."""
        self._log(image_id, name, action, labels)

    def collect_garbage(self, in_use_chains: set[str]) -> None:
        """Delete layers, snapshots and blobs that no image and no container needs."""
        live: set[str] = set(in_use_chains) | set(self._leases)  # a pull's layers before its image
        live_blobs: set[str] = set()
        for row in self.store.all_images():
            live_blobs.add(row[0])
            live_blobs.add(row[2])
            diff_ids = (json.loads(row[1]).get("rootfs") or {}).get("diff_ids") or []
            live.update(dg.chain_ids(diff_ids))
        for chain_id, _parent, snapshot, digest in self.store.all_layers():
            if chain_id in live:
                live_blobs.add(digest)
                continue
            with self.store.transaction():
                self.store.delete_layer(chain_id)
            self.snapshots.remove(snapshot)
        blob_dir = os.path.join(self.content.root, "blobs", "sha256")
        for hexname in os.listdir(blob_dir):
            if "sha256:" + hexname not in live_blobs and "sha256:" + hexname not in self._leases:
                self.content.delete("sha256:" + hexname)
