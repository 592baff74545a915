"""The images a running build holds: every image its backend hands it (base, cache hit,
step made) is leased (``ImageService.lease``) until the build ends, so no prune (image,
builder, system) or image delete takes an intermediate image the next step is built on.

A step's image is untagged and childless until the next step records its child: without
the lease it is exactly what ``image prune`` and ``builder prune`` delete.
"""

import inspect

from ketch.build.backend import ImageState
from ketch.engine.images.service import ImageService


class LeasingBackend:
    """``backend`` with every ``ImageState`` one of its calls returns leased; ``close``
    releases them all (the build's end)."""

    def __init__(self, backend, images: ImageService) -> None:
        self._backend = backend
        self._images = images
        self._held: list[str] = []

    def __getattr__(self, name: str):
        attr = getattr(self._backend, name)
        if not inspect.iscoroutinefunction(attr):
            return attr

        async def call(*args, **kwargs):
            result = await attr(*args, **kwargs)
            if isinstance(result, ImageState):  # leased before anything else runs on the loop
                self._images.lease(result.id)
                self._held.append(result.id)
            return result
        return call

    def close(self) -> None:
        held, self._held = self._held, []
        self._images.release(*held)
