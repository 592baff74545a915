"""``docker image prune``: moby's ImagesPrune over the image store.

Candidates are the images without children (all of them with ``dangling=false``, i.e.
``-a``), minus an untagged image that still has children, those created after ``until``
and those the label filters turn away. Each goes through the ordinary delete
(``delete.py``: not forced, parents pruned): a dangling image by its id, an unused
tagged one (``-a`` only) by each of its references; a conflict (a container uses it)
skips it silently. The space reclaimed is the size of the layers that went.
"""

from dataclasses import dataclass

from ketch import errors, timefmt
from ketch.apitypes.prune import PruneFilter
from ketch.engine.events import Event
from ketch.engine.images.delete import ImageDeleter, Users
from ketch.engine.images.service import ImageService


@dataclass(frozen=True)
class PruneReport:
    deleted: list[dict]  # moby's ImagesDeleted: {"Untagged": ...} / {"Deleted": ...}
    reclaimed: int


class ImagePruner:
    def __init__(self, images: ImageService, users_of: Users) -> None:
        self.images = images
        self.users_of = users_of
        self._running = False

    def prune(self, f: PruneFilter, dangling_only: bool = True, on_deleted=None) -> PruneReport:
        """Remove what ``f`` selects (``dangling_only`` False: ``-a``); ``on_deleted()``
        runs after each candidate (the GC)."""
        if self._running:
            raise errors.Conflict("a prune operation is already running")
        self._running = True
        try:
            return self._prune(f, dangling_only, on_deleted)
        finally:
            self._running = False

    def _prune(self, f: PruneFilter, dangling_only: bool, on_deleted) -> PruneReport:
        store = self.images.store
        sizes = {row[0]: store.get_layer(row[0])[6] for row in store.all_layers()}
        deleted: list[dict] = []
        for image in sorted(self.images.list_all(), key=lambda i: i.created, reverse=True):
            if store.get_image(image.id) is None:
                continue  # went with an image pruned before it (its child)
            children = store.children(image.id)
            if dangling_only and children:
                continue  # not a head
            tags = store.tags_of(image.id)
            if not tags and children:
                continue
            if not f.matches(timefmt.parse_ns(image.created), image.container_config.get("Labels") or {}):
                continue
            if tags and dangling_only:
                continue  # tagged: only -a prunes it
            names = tags or [image.id[7:]]
            for name in names:
                try:
                    deleted += ImageDeleter(self.images, self.users_of).delete(name, False, True)
                except (errors.Conflict, errors.NotFound):
                    continue
            if on_deleted is not None:
                on_deleted()
        reclaimed = sum(sizes.get(d["Deleted"], 0) for d in deleted if "Deleted" in d)
        if self.images.bus is not None:
            self.images.bus.publish(Event("image", "prune", "", {"reclaimed": str(reclaimed)}))
        return PruneReport(deleted, reclaimed)
