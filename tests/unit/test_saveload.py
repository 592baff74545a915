"""engine/images/saveload against a real store in a temporary directory (no daemon):
a load whose transaction fails leaves blobs, snapshots, spooled files and rows as they
were; a committed load saves back the same image."""

import hashlib
import io
import json
import os
import tarfile

import pytest

from ketch.engine.images.saveload import ImageLoader, ImageSaver, Load
from ketch.engine.images.service import ImageService
from ketch.engine.store import Store
from ketch.image.content import ContentStore
from ketch.storage.overlay import OverlaySnapshotter

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


def _tar(entries) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _archive() -> bytes:
    layers = [_tar([("a", b"1")]), _tar([("b", b"2")])]
    config = json.dumps({"os": "linux", "architecture": "amd64", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": [
                             "sha256:" + hashlib.sha256(x).hexdigest() for x in layers]}}).encode()
    return _tar([("l0.tar", layers[0]), ("l1.tar", layers[1]), ("c.json", config),
                 ("manifest.json", json.dumps([{"Config": "c.json", "RepoTags": ["unit/x:1"],
                                                "Layers": ["l0.tar", "l1.tar"]}]).encode())])


@pytest.fixture
def images(tmp_path):
    store = Store(str(tmp_path / "ketch.db"))
    yield ImageService(store, ContentStore(str(tmp_path / "content")), OverlaySnapshotter(str(tmp_path / "snap")))
    store.close()


def _state(images, tmp_path):
    return (sorted(os.listdir(tmp_path / "content" / "blobs" / "sha256")),
            os.listdir(tmp_path / "content" / "ingest"), sorted(os.listdir(tmp_path / "snap")),
            images.store.all_images(), images.store.all_layers(), images.store.all_tags())


def _load(loader, data):
    load = Load()
    try:
        loader.stage(load, io.BytesIO(data))
        loader.check(load)
        loader.apply(load, None)
        return loader.commit(load)
    finally:
        loader.drop_blobs(load)
        loader.discard(load)


def test_a_transaction_that_fails_leaves_nothing(images, tmp_path, monkeypatch):
    before = _state(images, tmp_path)
    loader = ImageLoader(images)

    def broken(*args):
        raise RuntimeError("disk full")
    monkeypatch.setattr(images.store, "put_image", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        _load(loader, _archive())
    assert _state(images, tmp_path) == before
    assert not images._leases


def test_load_then_save_gives_the_same_image(images, tmp_path):
    loader = ImageLoader(images)
    assert _load(loader, _archive()) == ["Loaded image: unit/x:1"]
    again = _state(images, tmp_path)
    assert _load(loader, _archive()) == ["Loaded image: unit/x:1"]  # the layers reused
    assert _state(images, tmp_path) == again
    saver = ImageSaver(images)
    plan = saver.plan(saver.choose(["unit/x"]))
    out = io.BytesIO()
    saver.write(plan, out)
    assert _load(loader, out.getvalue()) == ["Loaded image: unit/x:1"]
    assert _state(images, tmp_path) == again
