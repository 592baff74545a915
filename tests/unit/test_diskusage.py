"""engine/diskusage over a real image store: which images ``system df`` counts."""

import os

from ketch.build.backend import HistoryEntry, ImageState, Step
from ketch.engine.builds.images import BuildImages
from ketch.engine.diskusage import DiskUsage
from ketch.engine.images.service import ImageService


class _NoContainers:
    def list_all(self):
        return []


def _step(images: ImageService, parent: ImageState | None, created_by: str, files=None) -> ImageState:
    builds = BuildImages(images)
    staged = None
    if files:
        upper = images.snapshots.new(writable=True)
        for name, data in files.items():
            with open(os.path.join(images.snapshots.fs(upper), name), "wb") as f:
                f.write(data)
        try:
            staged = builds.stage(upper, [])
        finally:
            images.snapshots.remove(upper)
    config = {"Cmd": ["sh"]}
    step = Step(parent, config, {**config, "Cmd": ["/bin/sh", "-c", "#(nop) ", created_by]},
                HistoryEntry(f"/bin/sh -c #(nop) {created_by}"), "", platform="linux/amd64")
    return builds.record_image(step, staged)


def test_df_hides_intermediate_images_as_docker_images_does(images):
    """moby's SystemDiskUsage lists images as ``docker images`` (no -a): an untagged image
    with children is a build's intermediate step, not counted; its layers still are."""
    base = _step(images, None, "ADD file:a in /", {"a": b"aa"})
    step = _step(images, base, "ENV X=1")
    final = _step(images, step, "COPY file:b in /", {"b": b"bbb"})
    images.store.tag("app:1", final.id)
    dangling = _step(images, base, "ENV Y=2")  # untagged, childless: listed, as docker images
    usage = DiskUsage(images, _NoContainers(), None).usage(frozenset({"image"}))
    assert sorted(u.image.id for u in usage.images) == sorted([final.id, dangling.id])
    assert usage.layers_size == 5
    shared = {u.image.id: u.shared_size for u in usage.images}
    assert shared == {final.id: 2, dangling.id: 2}  # base's layer, in both listed images
