"""``docker system df``: moby's SystemDiskUsage over the image store and the containers.

Images, as ``docker images`` lists them (no intermediate build step), come with the
number of containers using each and their shared size (the layers more than one of them
has); ``layers_size`` is every layer's content once; containers
with the size of their writable layers; local volumes (those made without driver options,
as moby's LocalVolumesSize) with the size of their data and the number of containers
using them. The build cache's records are the build service's (`engine/builds`): the route
asks it; here that list is only made empty when asked for.
"""

from dataclasses import dataclass

from ketch.engine.containers.records import ContainerRecord
from ketch.engine.containers.service import ContainerService
from ketch.engine.images.service import Image, ImageService
from ketch.engine.volumes.service import VolumeService
from ketch.volume.model import Volume

KINDS = ("container", "image", "volume", "build-cache")


@dataclass(frozen=True)
class ImageUsage:
    image: Image
    containers: int
    shared_size: int


@dataclass(frozen=True)
class ContainerUsage:
    record: ContainerRecord
    size_rw: int
    image_size: int


@dataclass(frozen=True)
class VolumeUsage:
    volume: Volume
    size: int  # bytes of its data, -1 when unreadable
    ref_count: int  # containers using it


@dataclass(frozen=True)
class Usage:
    layers_size: int
    images: list[ImageUsage] | None  # None: not asked for
    containers: list[ContainerUsage] | None
    volumes: list[VolumeUsage] | None
    build_cache: list | None


class DiskUsage:
    def __init__(self, images: ImageService, containers: ContainerService,
                 volumes: VolumeService) -> None:
        self.images = images
        self.containers = containers
        self.volumes = volumes

    def usage(self, kinds: frozenset[str]) -> Usage:
        """The image part and the empty lists (on the loop: it reads the store); the
        containers' sizes come from ``measure``, which walks their layers."""
        images = self._images() if "image" in kinds else None
        layers = sum(self.images.store.get_layer(row[0])[6] for row in self.images.store.all_layers()) \
            if "image" in kinds else 0
        return Usage(layers, images, None, [] if "volume" in kinds else None,
                     [] if "build-cache" in kinds else None)

    def _images(self) -> list[ImageUsage]:
        # as ``docker images`` without -a (moby's SystemDiskUsage lists them so): an untagged
        # image with children is a build's intermediate step; its layers are counted in
        # layers_size, not as an image, nor in the shared sizes
        all_images = [image for image in self.images.list_all()
                      if image.tags or image.repo_digests or not self.images.store.children(image.id)]
        refs: dict[str, int] = {}
        for image in all_images:
            for chain in image.chain_ids:
                refs[chain] = refs.get(chain, 0) + 1
        used: dict[str, int] = {}
        for rec in self.containers.list_all():
            used[rec.image_id] = used.get(rec.image_id, 0) + 1
        out = []
        for image in sorted(all_images, key=lambda i: i.created, reverse=True):
            shared = 0
            for chain in image.chain_ids:
                row = self.images.store.get_layer(chain)
                if row is not None and refs.get(chain, 0) > 1:
                    shared += row[6]
            out.append(ImageUsage(image, used.get(image.id, 0), shared))
        return out

    def container_records(self) -> list[tuple[ContainerRecord, int]]:
        """(record, its image's size) of every container, newest first (on the loop)."""
        sizes = {image.id: image.size for image in self.images.list_all()}
        return [(rec, sizes.get(rec.image_id, 0)) for rec in self.containers.list_all()]

    def measure(self, records: list[tuple[ContainerRecord, int]]) -> list[ContainerUsage]:
        """Blocking: the writable layers' sizes (a walk of each)."""
        return [ContainerUsage(rec, self.containers.size_rw(rec), image_size) for rec, image_size in records]

    def volume_records(self) -> list[tuple[Volume, int]]:
        """(volume, containers using it) of the volumes df counts (on the loop)."""
        return self.volumes.usage_records()

    def measure_volumes(self, records: list[tuple[Volume, int]]) -> list[VolumeUsage]:
        """Blocking: each volume's data walked for its size."""
        return [VolumeUsage(vol, self.volumes.size(vol.name), refs) for vol, refs in records]
