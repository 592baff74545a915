"""The build cache: step keys -> the intermediate images they made.

moby's classic builder keeps no cache of its own: a step's cache is the image a former
build made for the same parent and config (``imageCache.GetCache``). ketch records that
link explicitly (the ``build_cache`` table, schema 4 in ``engine/store.py``), keyed by
the builder's step key, so a lookup is one row, and it survives restarts::

    build_cache(key, image_id, created, last_used, usage_count)   image gone -> row gone

The images themselves are ordinary images: untagged intermediate ones are hidden from
``images`` without ``-a`` while they have children, as moby's. (``RUN --mount=type=cache``
directories are the other kind of record, ``cachemounts.py``'s.)

Each entry is a record of type ``regular`` for ``system df`` and ``builder prune``:
*in use* while a container uses its image or a running build holds it (``leases.py``), *shared* while its image is tagged or an
ancestor of a tagged one (its layers stay whatever happens to the record); its size is
the layer its step added. A pruned record's image goes too when nothing else holds it
(untagged, childless, unused, no other entry: leaf first, so a chain of intermediate
images goes whole); the space reclaimed is that of the layers no image keeps.
"""

from typing import Callable

from ketch import errors, timefmt
from ketch.build.request import CacheRecord
from ketch.engine.images.delete import ImageDeleter, Users
from ketch.engine.images.service import Image, ImageService


def record_id(key: str) -> str:
    return key.removeprefix("sha256:")


def _layer_size(images: ImageService, image: Image) -> int:
    """What the image's step added: its top layer when it has one its parent lacks."""
    parent = images.find(image.parent) if image.parent else None
    if not image.chain_ids or (parent is not None and parent.chain_ids == image.chain_ids):
        return 0
    row = images.store.get_layer(image.chain_ids[-1])
    return row[6] if row is not None else 0


def _description(image: Image) -> str:
    history = image.config.get("history") or []
    return (history[-1].get("created_by") or "") if history else ""


class BuildCache:
    def __init__(self, images: ImageService, users_of: Users,
                 collect_garbage: Callable[[], None] = lambda: None) -> None:
        self.images = images
        self.users_of = users_of
        self.collect_garbage = collect_garbage  # layers and blobs no image needs any more

    # -- lookups (on the loop thread) -------------------------------------------------
    def lookup(self, key: str) -> Image | None:
        """The image recorded under ``key`` if it and all its layers still exist; the
        hit is counted (last used, usage count)."""
        store = self.images.store
        row = store.get_cache_entry(key)
        if row is None:
            return None
        image = self.images.find(row[1])
        if image is None or any(store.get_layer(c) is None for c in image.chain_ids):
            return None
        with store.transaction():
            store.use_cache_entry(key, timefmt.now())
        return image

    def records(self) -> list[CacheRecord]:
        """A record per cache entry, oldest first."""
        store = self.images.store
        entries = store.all_cache_entries()
        keys_of: dict[str, list[str]] = {}
        for key, image_id, *_rest in entries:
            keys_of.setdefault(image_id, []).append(record_id(key))
        shared = self._shared()
        out = []
        for key, image_id, created, last_used, count in entries:
            image = self.images.find(image_id)
            if image is None:
                continue
            out.append(CacheRecord(
                id=record_id(key), parents=tuple(keys_of.get(image.parent, ())), type="regular",
                description=_description(image), in_use=bool(self.users_of(image_id) or self.images.holders(image_id)),
                shared=image_id in shared, size=_layer_size(self.images, image),
                created_at=created, last_used_at=last_used, usage_count=count))
        return out

    def _shared(self) -> set[str]:
        """The tagged images and their ancestors."""
        store = self.images.store
        out: set[str] = set()
        for _ref, image_id in store.all_tags():
            while image_id and image_id not in out:
                out.add(image_id)
                image_id = store.image_meta(image_id)[0]
        return out

    # -- prune ------------------------------------------------------------------------
    def prune(self, select: Callable[[CacheRecord], bool]) -> tuple[list[str], int]:
        """Remove the records not in use that ``select`` accepts, and their images where
        nothing else holds them (on the loop thread); (record ids, bytes reclaimed)."""
        store = self.images.store
        chosen = [r for r in self.records() if not r.in_use and select(r)]
        if not chosen:
            return [], 0
        sizes = {row[0]: store.get_layer(row[0])[6] for row in store.all_layers()}
        entries = {record_id(e[0]): e for e in store.all_cache_entries()}
        images: set[str] = set()
        with store.transaction():
            for r in chosen:
                store.delete_cache_entry(entries[r.id][0])
                images.add(entries[r.id][1])
        reclaimed = sum(sizes.get(chain, 0) for chain in self._delete_images(images))
        self.collect_garbage()
        return [r.id for r in chosen], reclaimed

    def _delete_images(self, candidates: set[str]) -> list[str]:
        """Delete the candidates nothing holds, leaves first, until none more can go;
        returns the chain ids of the layers no image keeps any more."""
        store = self.images.store
        released: list[str] = []
        progress = True
        while candidates and progress:
            progress = False
            for image_id in sorted(candidates):
                if (store.get_image(image_id) is None or store.tags_of(image_id)
                        or store.repo_digests_of(image_id) or store.children(image_id)
                        or self.users_of(image_id)
                        or store.cache_keys_of(image_id)):
                    continue
                try:
                    report = ImageDeleter(self.images, self.users_of).delete(image_id, False, False)
                except (errors.Conflict, errors.NotFound):
                    continue
                released += [d["Deleted"] for d in report if "Deleted" in d and d["Deleted"] != image_id]
                candidates.discard(image_id)
                progress = True
        return released
