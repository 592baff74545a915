"""A running build's images are leased (engine/builds/leases.py): builder prune, image
prune and image delete leave them alone until the build ends (REVIEW12 #3)."""

import asyncio

import pytest

from ketch import errors
from ketch.apitypes.prune import PruneFilter
from ketch.engine.builds.cache import BuildCache
from ketch.engine.builds.images import BuildImages
from ketch.engine.builds.leases import LeasingBackend
from ketch.engine.images.prune import ImagePruner
from ketch.engine.images.service import ImageService
from ketch.engine.store import Store
from ketch.image.content import ContentStore
from ketch.storage.overlay import OverlaySnapshotter
from tests.unit.test_build_images import _scratch_image, _step


@pytest.fixture
def images(tmp_path):
    store = Store(str(tmp_path / "ketch.db"))
    svc = ImageService(store, ContentStore(str(tmp_path / "content")),
                       OverlaySnapshotter(str(tmp_path / "snapshots")))
    yield svc
    store.close()


def no_users(_image_id):
    return {}


class StepBackend:
    """What the builder sees: ``commit`` records an ENV step's image on ``parent``."""

    def __init__(self, images: ImageService) -> None:
        self.builds = BuildImages(images)

    async def commit(self, step):
        return self.builds.record_image(step, None)

    def not_a_coroutine(self):
        return 42


def test_a_running_builds_step_image_survives_every_prune_until_the_build_ends(images):
    base = _scratch_image(images, BuildImages(images), key="sha256:base")
    backend = LeasingBackend(StepBackend(images), images)
    made = asyncio.run(backend.commit(_step(base, "ENV A=1", "sha256:step")))
    assert backend.not_a_coroutine() == 42
    cache = BuildCache(images, no_users)
    [rec] = [r for r in cache.records() if r.id == "step"]
    assert rec.in_use
    assert "step" not in cache.prune(lambda r: True)[0]
    assert images.find(made.id) is not None  # untagged, childless, no container: still here
    ImagePruner(images, no_users).prune(PruneFilter(), False)
    assert images.find(made.id) is not None
    with pytest.raises(errors.Conflict, match="being used by a running build"):
        images.remove(made.id, False, no_users)
    backend.close()
    assert images.holders(made.id) == 0
    ImagePruner(images, no_users).prune(PruneFilter(), False)
    assert images.find(made.id) is None
