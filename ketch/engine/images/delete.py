"""``docker rmi``: moby's ImageDelete, with its conflicts and the pruning of parents.

Conflicts, as moby sorts them::

    hard (never forced)   a child image (a commit made on it); a running container
    soft (-f overrides)   a tag; a stopped container

A name that is a reference untags first (refused while a container uses the image and
the reference is its only one, unless forced); the image itself is then deleted only if
nothing else holds it, and quietly not deleted if something does. An image id deletes
the image, untagging all its references. Once an image is deleted, its parent (the image
it was committed on) goes the same quiet way if it is left untagged, childless and
unused, unless ``prune`` is false (``--no-prune``). Each deleted image is followed in the
report by the layers no image needs any more, top-most first (moby's layer store).

One deviation: an image that stopped containers use is untagged by ``-f`` but kept
(dangling), because those containers' layers are its layers.
"""

import json
from dataclasses import dataclass
from typing import Callable

from ketch import errors
from ketch.engine.images.service import Image, ImageService
from ketch.oci import digest as dg
from ketch.oci import reference

Users = Callable[[str], dict[str, bool]]  # image id -> {container id: running}


@dataclass(frozen=True)
class _Conflict:
    message: str
    hard: bool
    used: bool

    def error(self, image_id: str) -> errors.Conflict:
        forced = "cannot be forced" if self.hard else "must be forced"
        return errors.Conflict(f"conflict: unable to delete {image_id[7:19]} ({forced}) - {self.message}")


def _matching_tag(name: str, image: Image) -> str | None:
    if _is_id_prefix(image.id, name):
        return None
    try:
        ref = str(reference.parse(name))
    except errors.InvalidArgument:
        return None
    return ref if ref in image.tags or ref in image.repo_digests else None


def _references(image: Image) -> int:
    """moby counts tags and digest references alike."""
    return len(image.tags) + len(image.repo_digests)


def _is_id_prefix(image_id: str, name: str) -> bool:
    return image_id.startswith(name) or image_id[7:].startswith(name)


class ImageDeleter:
    def __init__(self, images: ImageService, users_of: Users) -> None:
        self.images = images
        self.store = images.store
        self.users_of = users_of
        self.report: list[dict] = []

    def delete(self, name: str, force: bool, prune: bool) -> list[dict]:
        image = self.images.resolve(name)
        by_reference = _matching_tag(name, image)
        if by_reference is not None:
            users = self.users_of(image.id)
            if not force and _references(image) == 1 and users:
                raise errors.Conflict(
                    f'conflict: unable to remove repository reference "{name}" (must force) - '
                    f"container {next(iter(users))[:12]} is using its referenced image {image.id[7:19]}")
            gone = self._untag(by_reference, image)
            if _references(image) > len(gone):
                return self.report
            self._delete(image.id, force, prune, quiet=True)
            return self.report
        if _references(image) <= 1:  # moby's isSingleReference: the id stands for the one tag
            conflict = self._conflict(image.id, soft=not force, references=False)
            if conflict is not None:
                raise conflict.error(image.id)
            self._untag_all(image)
        self._delete(image.id, force, prune, quiet=False)
        return self.report

    def _conflict(self, image_id: str, soft: bool, references: bool = True) -> _Conflict | None:
        if self.store.children(image_id):
            return _Conflict("image has dependent child images", True, False)
        if self.images.holders(image_id):  # a running build's image (builds/leases.py)
            return _Conflict("image is being used by a running build", True, True)
        users = self.users_of(image_id)
        running = [cid for cid, is_running in users.items() if is_running]
        if running:
            return _Conflict(f"image is being used by running container {running[0][:12]}", True, True)
        if soft and references and self._references_of(image_id):
            return _Conflict("image is referenced in multiple repositories", False, False)
        if soft and users:
            return _Conflict(f"image is being used by stopped container {next(iter(users))[:12]}", False, True)
        return None

    def _delete(self, image_id: str, force: bool, prune: bool, quiet: bool) -> None:
        conflict = self._conflict(image_id, soft=not force)
        if conflict is not None:
            dangling = not self._references_of(image_id) and not self.store.children(image_id)
            if quiet and (not dangling or conflict.used):
                return
            raise conflict.error(image_id)
        image = self.images.resolve(image_id)
        self._untag_all(image)
        if self.users_of(image_id):  # forced past stopped containers: kept (see above)
            return
        with self.store.transaction():
            self.store.delete_image(image_id)
        self.report.append({"Deleted": image_id})
        self.images.publish(image_id, image_id, "delete", None)
        self.report += [{"Deleted": chain} for chain in self._released(image)]
        if prune and image.parent and self.store.get_image(image.parent) is not None:
            self._delete(image.parent, False, True, quiet=True)

    def _released(self, image: Image) -> list[str]:
        """The image's layers no remaining image has, top-most first."""
        live: set[str] = set()
        for row in self.store.all_images():
            diff_ids = (json.loads(row[1]).get("rootfs") or {}).get("diff_ids") or []
            live.update(dg.chain_ids(diff_ids))
        return [chain for chain in reversed(image.chain_ids) if chain not in live]

    def _references_of(self, image_id: str) -> list[str]:
        return self.store.tags_of(image_id) + self.store.repo_digests_of(image_id)

    def _untag_all(self, image: Image) -> None:
        while remaining := sorted(self._references_of(image.id)):
            self._untag(remaining[0], image)  # moby's lexical order of references

    def _untag(self, ref: str, image: Image) -> list[str]:
        """Remove a tag or digest reference; returns the references removed. As moby's
        ImageDelete: the last tag of a repository takes that repository's digest
        references with it."""
        gone = [ref]
        repository = ref.split("@", 1)[0] if "@" in ref else reference.parse(ref).name
        with self.store.transaction():
            if "@" in ref:
                self.store.delete_repo_digest(repository, image.id)
            else:
                self.store.untag(ref)
                if not any(reference.parse(t).name == repository for t in self.store.tags_of(image.id)):
                    for digest_ref in self.store.repo_digests_of(image.id):
                        if digest_ref.split("@", 1)[0] == repository:
                            self.store.delete_repo_digest(repository, image.id)
                            gone.append(digest_ref)
        for item in gone:
            self.report.append({"Untagged": reference.parse(item).familiar})
            self.images.publish(image.id, image.id, "untag", image.container_config.get("Labels"))
        return gone
