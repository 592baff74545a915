"""Fixtures the unit tests share."""

import pytest

from ketch.engine.images.service import ImageService
from ketch.engine.store import Store
from ketch.image.content import ContentStore
from ketch.storage.overlay import OverlaySnapshotter


@pytest.fixture
def images(tmp_path):
    """An ImageService over a real store in ``tmp_path`` (SQLite, content, snapshots)."""
    store = Store(str(tmp_path / "ketch.db"))
    svc = ImageService(store, ContentStore(str(tmp_path / "content")),
                       OverlaySnapshotter(str(tmp_path / "snapshots")))
    yield svc
    store.close()
