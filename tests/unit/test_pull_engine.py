"""engine/images/pull: one download per layer however many pulls ask, leases that keep a
pull's layers from the garbage collector, and a failed pull that records nothing."""

import asyncio
import gzip
import hashlib
import io
import json
import os
import tarfile
import threading

import pytest

from ketch import errors
from ketch.engine.events import EventBus
from ketch.engine.images import pull as pulling
from ketch.engine.images.service import ImageService
from ketch.engine.store import Store
from ketch.image.content import ContentStore
from ketch.oci import reference
from ketch.registry.client import manifest as mf
from ketch.registry.client.auth import AuthConfig
from ketch.storage.overlay import OverlaySnapshotter


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def layer(name: str) -> tuple[bytes, str]:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        data = os.urandom(20000)
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return gzip.compress(buf.getvalue()), sha(buf.getvalue())


class FakeRepo:
    """One image under tag "1"; ``gate`` holds every blob download until set."""

    def __init__(self, layers: int = 2, broken: bool = False) -> None:
        made = [layer(f"f{i}") for i in range(layers)]
        self.blobs = {sha(blob): blob for blob, _ in made}
        self.config = json.dumps({"architecture": "amd64", "os": "linux", "created": "2026-01-01T00:00:00Z",
                                  "rootfs": {"type": "layers", "diff_ids": [d for _, d in made]}}).encode()
        self.raw = json.dumps({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": sha(self.config), "size": len(self.config)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                        "digest": sha(blob), "size": len(blob)} for blob, _ in made]}).encode()
        self.gate = threading.Event()
        self.gate.set()
        self.opened: list[str] = []
        self.broken = broken
        self.held = set(self.blobs)  # the blobs the gate holds

    def get_manifest(self, ref: str, expected=None):
        media, doc = mf.parse(self.raw)
        return mf.Manifest(sha(self.raw), media, self.raw, doc)

    def fetch_blob(self, desc):
        return self.config

    def open_blob(self, desc, on_progress=None):
        self.opened.append(desc.digest)
        if desc.digest in self.held:
            self.gate.wait(10)
        if self.broken and desc.digest == list(self.blobs)[-1]:
            raise errors.Unavailable("connection reset by peer")
        return _Blob(self.blobs[desc.digest])


class _Blob:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def __iter__(self):
        yield self.data

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.fixture
def service(tmp_path):
    store = Store(str(tmp_path / "ketch.db"))
    images = ImageService(store, ContentStore(str(tmp_path / "content")),
                          OverlaySnapshotter(str(tmp_path / "snapshots")), EventBus())
    yield images
    store.close()


def run_pulls(service, repo, count: int, while_held=None):
    puller = pulling.Puller(service, session=None)
    messages: list[dict] = []

    async def main():
        original = pulling.remote.open_repository
        pulling.remote.open_repository = lambda session, ref, auth: repo
        try:
            repo.gate.clear()
            tasks = [asyncio.ensure_future(puller.pull(reference.parse("localhost:5000/app:1"), False,
                                                       None, AuthConfig(), messages.append))
                     for _ in range(count)]
            await asyncio.sleep(0.2)
            if while_held is not None:
                while_held()
            repo.gate.set()
            return await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            pulling.remote.open_repository = original
    return asyncio.run(main()), messages


def test_concurrent_pulls_download_each_layer_once(service):
    repo = FakeRepo(layers=2)
    results, messages = run_pulls(service, repo, 3)
    assert results == [None, None, None]
    assert sorted(repo.opened) == sorted(repo.blobs)  # each blob opened once
    image = service.resolve("localhost:5000/app:1")
    assert image.repo_digests == (f"localhost:5000/app@{sha(repo.raw)}",)
    assert len(service.store.all_layers()) == 2
    assert sum(m.get("status", "").startswith("Status: Downloaded newer image") for m in messages) >= 1
    assert not service._leases


def test_garbage_collection_during_a_pull_keeps_its_layers(service):
    """The first layer is recorded, the second still downloading, when GC runs."""
    repo = FakeRepo(layers=2)
    first = list(repo.blobs)[0]
    repo.held.discard(first)

    def collect():
        assert service.content.exists(first)  # recorded, not yet an image's
        service.collect_garbage(set())
    results, _ = run_pulls(service, repo, 1, while_held=collect)
    assert results == [None]
    image = service.resolve("localhost:5000/app:1")
    for chain in image.chain_ids:
        assert service.store.get_layer(chain) is not None
    for digest in repo.blobs:
        assert service.content.exists(digest)


def test_a_failed_pull_records_no_image_and_leaves_nothing_after_gc(service, tmp_path):
    repo = FakeRepo(layers=3, broken=True)
    results, _ = run_pulls(service, repo, 1)
    assert isinstance(results[0], errors.Unavailable)
    assert service.find("localhost:5000/app:1") is None
    assert service.store.all_images() == []
    service.collect_garbage(set())
    assert service.store.all_layers() == []
    assert os.listdir(tmp_path / "content" / "blobs" / "sha256") == []
    assert os.listdir(tmp_path / "snapshots") == []


def test_a_cancelled_pull_removes_its_snapshot_once_the_download_thread_ends(service, tmp_path):
    """The client went away mid-download: the thread cannot be interrupted, so the
    snapshot it writes into is removed only after it ended."""
    repo = FakeRepo(layers=1)
    puller = pulling.Puller(service, session=None)

    async def main():
        original = pulling.remote.open_repository
        pulling.remote.open_repository = lambda session, ref, auth: repo
        try:
            repo.gate.clear()
            task = asyncio.ensure_future(puller.pull(reference.parse("localhost:5000/app:1"), False,
                                                     None, AuthConfig(), lambda m: None))
            await asyncio.sleep(0.2)
            assert len(os.listdir(tmp_path / "snapshots")) == 1  # the download under way
            task.cancel()
            await asyncio.sleep(0.2)
            assert len(os.listdir(tmp_path / "snapshots")) == 1  # still written into: kept
            repo.gate.set()
            with pytest.raises(asyncio.CancelledError):
                await task
        finally:
            pulling.remote.open_repository = original
    asyncio.run(main())
    assert os.listdir(tmp_path / "snapshots") == []
    assert service.store.all_layers() == [] and service.store.all_images() == []
    assert not service._leases
