"""The images a build makes: one per step, as moby's classic builder (``NewChildImage``).

Every step's image is the parent's layers plus at most one new one, the step's config,
the parent's history plus the step's entry, and is recorded in one transaction together
with the step's cache entry (``record.write_image``)::

    RUN (runstep)   container's snapshot ─ stage() ─▶ Staged ─┐
    COPY (mutate)   a private upper dir ── stage() ─▶ Staged ─┼─▶ record_image(step, staged)
    ENV ... (nop)   nothing ─────────────────────── None ─────┘        │
                                                      config + manifest + layer + image
                                                      + parent link + cache entry

A reproducible build (``epoch``, SOURCE_DATE_EPOCH) stages its layers with mtimes
clamped to the epoch (``difftar``: the walk is sorted, ids numeric, gzip has no name and
mtime 0), writes the epoch as every ``created`` it adds, and names no container (no
``container``, no ``container_config.Hostname``), so two daemons building the same
context make the same image ids.

moby records the container a step ran in (``container``, 64 hex; its short id is the
``container_config.Hostname``) for every step but COPY/ADD, nop steps included. ketch makes
a nop step's image without a container; the builder still names one (``Step.container_id``,
the stream's "Running in <id>"), which the image records.
"""

from ketch import __version__, timefmt
from ketch.build.backend import ImageState, Step
from ketch.engine.images import record
from ketch.engine.images.record import Staged
from ketch.engine.images.service import ARCH, Image, ImageService
from ketch.oci import platform as platforms


def state(image: Image) -> ImageState:
    return ImageState(image.id, image.config)


def history_entry(step: Step, created: str, empty: bool) -> dict:
    """moby's NewHistory with the builder's created_by; ``empty`` from the layer itself
    (``layer.IsEmpty``), so history and rootfs always agree."""
    h = step.history
    entry: dict = {"created": created}
    if h.author:
        entry["author"] = h.author
    entry["created_by"] = h.created_by
    if h.comment:
        entry["comment"] = h.comment
    if empty:
        entry["empty_layer"] = True
    return entry


class BuildImages:
    """The image side of one build; ``epoch`` set: reproducible."""

    def __init__(self, images: ImageService, epoch: int | None = None) -> None:
        self.images = images
        self.epoch = epoch

    def created(self) -> str:
        if self.epoch is not None:
            return timefmt.format_ns_trimmed(self.epoch * 10**9)
        return timefmt.now()

    def stage(self, snapshot: str, parents: list[str], skip: frozenset[str] = frozenset()) -> Staged:
        """Blocking (a thread): writable snapshot ``snapshot``'s changes over ``parents``
        (top-most first; ``skip``: mount points of a container left out) as a staged layer,
        leased until ``record_image`` or ``discard``."""
        return record.stage(self.images, snapshot, parents, skip, self.epoch)

    def discard(self, staged: Staged) -> None:
        """Undo a staged layer that will not be recorded (on the loop thread)."""
        record.discard(self.images, staged)
        self.images.release(staged.info.digest)

    def parent(self, step: Step) -> Image | None:
        return self.images.resolve(step.parent.id) if step.parent is not None else None

    def record_image(self, step: Step, staged: Staged | None, container_id: str = "") -> ImageState:
        """Record ``step``'s image (on the loop thread): ``staged`` is its new layer (None
        or empty: none), ``container_id`` the RUN container it came from (else the one the
        builder named, ``step.container_id``). The cache entry
        ``step.cache_key`` (unless empty) is written in the same transaction. On failure
        nothing is left, the staged layer included; the lease is released either way."""
        try:
            parent = self.parent(step)
            doc = self.document(step, parent, record.adds_layer(staged),
                                container_id or step.container_id)
            image_id = record.write_image(self.images, parent, staged, doc, self._cache_entry(step))
        except BaseException:
            if staged is not None:
                record.discard(self.images, staged)
            raise
        finally:
            if staged is not None:
                self.images.release(staged.info.digest)
        return state(self.images.resolve(image_id))

    def restore(self, step: Step, parent: Image | None, target: Image, index: int, layer: str) -> ImageState:
        """A ``--cache-from`` image's step as an image of its own (moby's
        ``restoreCachedImage``): the parent's layers plus ``layer`` (a diff id of
        ``target``'s, "" for none), the parent's history plus ``target``'s entry ``index``,
        the step's config; recorded with the step's cache entry."""
        entry = (target.config.get("history") or [])[index]
        doc = {
            "architecture": target.config.get("architecture") or target.platform.architecture,
            "config": step.config,
            "created": entry.get("created") or "",
            "docker_version": __version__,
            "history": list(parent.config.get("history") or []) + [entry] if parent else [entry],
            "os": target.config.get("os") or "linux",
        }
        if target.config.get("author"):
            doc["author"] = target.config["author"]
        if target.config.get("variant"):
            doc["variant"] = target.config["variant"]
        image_id = record.write_image(self.images, parent, None, doc, self._cache_entry(step),
                                      reuse=layer)
        return state(self.images.resolve(image_id))

    def adopt(self, step: Step, parent: Image | None, target: Image) -> ImageState:
        """A ``--cache-from`` image that is the step's image itself: made the parent's
        child (moby's SetParent) and recorded under the step's key."""
        store = self.images.store
        with store.transaction():
            if parent is not None:
                store.set_parent(target.id, parent.id)
            if step.cache_key:
                store.put_cache_entry(step.cache_key, target.id, timefmt.now())
        return state(self.images.resolve(target.id))

    def _cache_entry(self, step: Step):
        def within(image_id: str) -> None:
            if step.cache_key:  # when it was made, not the image's (a reproducible one's epoch)
                self.images.store.put_cache_entry(step.cache_key, image_id, timefmt.now())
        return within

    def document(self, step: Step, parent: Image | None, layer: bool, container_id: str) -> dict:
        """The image config document but ``rootfs`` (moby's ``NewChildImage``)."""
        created = self.created()
        if parent is not None:
            plat = parent.platform
            history = list(parent.config.get("history") or [])
        else:
            plat = platforms.parse(step.platform) if step.platform else platforms.Platform("linux", ARCH)
            history = []
        container_config = step.container_config
        if self.epoch is not None:  # the step container's id is random: not in a reproducible image
            container_id = ""
            if container_config.get("Hostname"):
                container_config = {**container_config, "Hostname": ""}
        doc = {
            "architecture": plat.architecture,
            "config": step.config,
            "container_config": container_config,
            "created": created,
            "docker_version": __version__,  # moby's dockerversion.Version: the engine's
            "history": history + [history_entry(step, created, not layer)],
            "os": plat.os,
        }
        if container_id:
            doc["container"] = container_id
        if step.history.author:
            doc["author"] = step.history.author
        if plat.variant:
            doc["variant"] = plat.variant
        return doc
