"""engine/builds: a step's edit applied in a private mount namespace (mutate), the backend's
cache/commit/tag calls, over a real store and the real kernel's overlayfs."""

import asyncio
import errno
import gzip
import io
import os
import tarfile
import threading
import time

import pytest

from ketch import errors
from ketch.build.backend import HistoryEntry, MountedRoots, Step
from ketch.build.request import BuildRequest
from ketch.engine.builds.backend import BuildSession, EngineBuildBackend
from ketch.engine.builds.cache import BuildCache
from ketch.engine.builds.images import BuildImages
from ketch.engine.images.service import ImageService
from ketch.engine.store import Store
from ketch.image.content import ContentStore
from ketch.storage.overlay import OverlaySnapshotter

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (mounts)")


@pytest.fixture
def backend(tmp_path):
    store = Store(str(tmp_path / "ketch.db"))
    images = ImageService(store, ContentStore(str(tmp_path / "content")),
                          OverlaySnapshotter(str(tmp_path / "snapshots")))
    (tmp_path / "scratch").mkdir()
    session = BuildSession(BuildRequest(), None, images, BuildImages(images), str(tmp_path / "scratch"))
    yield EngineBuildBackend(session, BuildCache(images, lambda _id: {}), None, None)
    store.close()


def _step(parent, text: str, key: str = "") -> Step:
    return Step(parent, {"Cmd": ["sh"]}, {"Cmd": ["/bin/sh", "-c", f"#(nop) {text}"]},
                HistoryEntry(f"/bin/sh -c #(nop) {text}"), key)


def _write(root: int, path: str, data: bytes, mode: int = 0o644) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode, dir_fd=root)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _members(backend: EngineBuildBackend, image_id: str) -> dict[str, tarfile.TarInfo]:
    images = backend.images
    row = images.store.get_layer(images.resolve(image_id).chain_ids[-1])
    tar = tarfile.open(fileobj=io.BytesIO(gzip.decompress(images.content.read(row[2]))))
    return {m.name: m for m in tar.getmembers()}


def _mounted(path: str) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [line for line in f if path in line]


def test_edits_become_layers_with_whiteouts_and_sources_are_read_only(backend, tmp_path):
    async def main():
        def first(roots: MountedRoots) -> None:
            os.mkdir("etc", 0o755, dir_fd=roots.root)
            _write(roots.root, "etc/a", b"A")
            _write(roots.root, "etc/b", b"B")
        base = await backend.mutate(_step(None, "COPY dir:1 in / ", "sha256:one"), first)
        seen = {}

        def second(roots: MountedRoots) -> None:
            src = roots.sources[base.id]
            seen["source"] = sorted(os.listdir(f"/proc/self/fd/{src}/etc"))
            try:
                os.open("etc/new", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=src)
            except OSError as exc:
                seen["errno"] = exc.errno
            seen["thread"] = threading.current_thread().name
            os.unlink("etc/a", dir_fd=roots.root)
            _write(roots.root, "etc/c", b"C")
        top = await backend.mutate(_step(base, "COPY file:2 in /etc/c "), second, (base.id,))
        return base, top, seen
    base, top, seen = asyncio.run(main())
    assert seen == {"source": ["a", "b"], "errno": errno.EROFS, "thread": "build-mutate"}
    assert set(_members(backend, base.id)) == {"etc", "etc/a", "etc/b"}
    layer = _members(backend, top.id)
    assert set(layer) == {"etc", "etc/.wh.a", "etc/c"}
    assert len(top.document["rootfs"]["diff_ids"]) == 2 and "container" not in top.document
    assert backend.images.resolve(top.id).parent == base.id
    assert _mounted(str(tmp_path)) == [] and os.listdir(tmp_path / "scratch") == []
    # the layer is unpacked when first needed, with the deletion as an overlay whiteout
    image = backend.images.resolve(top.id)
    backend.images.ensure_unpacked(image)
    upper = backend.images.snapshots.fs(backend.images.snapshot_names(image)[0])
    assert sorted(os.listdir(os.path.join(upper, "etc"))) == ["a", "c"]
    assert os.stat(os.path.join(upper, "etc", "a")).st_rdev == 0


def test_a_failing_edit_leaves_no_image_layer_blob_or_mount(backend, tmp_path):
    snapshots_before = set(os.listdir(tmp_path / "snapshots"))

    def broken(roots: MountedRoots) -> None:
        _write(roots.root, "half", b"written")
        raise errors.NotFound("COPY failed: file not found in build context")

    async def main():
        await backend.mutate(_step(None, "COPY x", "sha256:k"), broken)
    with pytest.raises(errors.NotFound, match="COPY failed"):
        asyncio.run(main())
    assert backend.images.list_all() == [] and backend.images.store.get_cache_entry("sha256:k") is None
    assert set(os.listdir(tmp_path / "snapshots")) == snapshots_before
    assert os.listdir(tmp_path / "content" / "blobs" / "sha256") == []
    assert _mounted(str(tmp_path)) == [] and os.listdir(tmp_path / "scratch") == []


def test_a_cancelled_mutate_undoes_what_its_thread_made(backend, tmp_path):
    release = threading.Event()

    def slow(roots: MountedRoots) -> None:
        _write(roots.root, "f", b"x")
        release.wait(5)

    async def main():
        task = asyncio.create_task(backend.mutate(_step(None, "COPY f"), slow))
        await asyncio.sleep(0.2)
        task.cancel()
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        # the thread ends (it may not have staged anything yet when the task is cancelled),
        # then its staged layer is undone on the loop: wait for both, not for empty dirs
        deadline = time.monotonic() + 10
        while any(t.name == "build-mutate" for t in threading.enumerate()):
            assert time.monotonic() < deadline, "the mutate thread never ended"
            await asyncio.sleep(0.02)
        await asyncio.sleep(0)  # the thread's call_soon_threadsafe(settle) runs on this turn
        await asyncio.sleep(0)
    asyncio.run(main())
    assert backend.images.list_all() == []
    assert os.listdir(tmp_path / "content" / "blobs" / "sha256") == []
    assert os.listdir(tmp_path / "snapshots") == [] and backend.images._leases == {}


def test_cached_commit_and_tag(backend):
    async def main():
        assert await backend.cached("sha256:none") is None and await backend.cached("") is None
        made = await backend.commit(_step(None, 'CMD ["sh"]', "sha256:cmd"))
        hit = await backend.cached("sha256:cmd")
        await backend.tag(made.id, ("app:1", "other"))
        return made, hit
    made, hit = asyncio.run(main())
    assert hit == made
    assert sorted(backend.images.resolve(made.id).tags) == ["docker.io/library/app:1",
                                                             "docker.io/library/other:latest"]
    with pytest.raises(errors.NotFound):
        asyncio.run(backend.base_image("nosuch:1", "", False, lambda m: None))
    assert asyncio.run(backend.base_image("app:1", "", False, lambda m: None)).id == made.id


def test_cache_from_restores_a_source_images_steps_and_ends_on_the_source(backend):
    images = backend.images
    builds = backend.builds

    async def main():
        def base_files(roots: MountedRoots) -> None:
            _write(roots.root, "base", b"b")
        base = await backend.mutate(_step(None, "ADD file:base in / "), base_files)
        env = await backend.commit(_step(base, "ENV A=1"))

        def app_files(roots: MountedRoots) -> None:
            _write(roots.root, "app", b"a")
        source = await backend.mutate(_step(env, "COPY file:app in / "), app_files)
        # another build asks with keys the local cache does not know, --cache-from the source
        other = EngineBuildBackend(BuildSession(BuildRequest(cache_from=("nosuch:1", source.id)), None,
                                                images, builds, backend.session.scratch_dir),
                                   backend.cache, None, None)
        assert await other.cached("sha256:new-env") is None
        miss = await other.cached_from(_step(base, "ENV B=2", "sha256:other"))
        first = await other.cached_from(_step(base, "ENV A=1", "sha256:new-env"))
        second = await other.cached_from(_step(first, "COPY file:app in / ", "sha256:new-copy"))
        return base, env, source, miss, first, second
    base, env, source, miss, first, second = asyncio.run(main())
    assert miss is None
    # the ENV step restored as an image of its own: base's layers, base's history + the entry
    assert first.id != env.id  # config is the step's, the entry's created is the source's
    assert first.document["history"] == env.document["history"]
    assert first.document["rootfs"] == base.document["rootfs"]
    assert images.resolve(first.id).parent == base.id
    # the last step is the source itself, now the restored image's child; both keys recorded
    assert second.id == source.id and images.resolve(source.id).parent == first.id
    assert images.store.get_cache_entry("sha256:new-env")[1] == first.id
    assert images.store.get_cache_entry("sha256:new-copy")[1] == source.id


def test_cache_from_restores_a_layer_step_with_the_sources_layer(backend):
    images = backend.images

    async def main():
        base = await backend.commit(_step(None, "CMD x"))

        def files(roots: MountedRoots) -> None:
            _write(roots.root, "one", b"1")
        one = await backend.mutate(_step(base, "COPY file:one in / "), files)
        top = await backend.commit(_step(one, "ENV Z=1"))
        other = EngineBuildBackend(BuildSession(BuildRequest(cache_from=(top.id,)), None, images,
                                                backend.builds, backend.session.scratch_dir),
                                   backend.cache, None, None)
        restored = await other.cached_from(_step(base, "COPY file:one in / ", "sha256:k"))
        return one, restored
    one, restored = asyncio.run(main())
    assert restored.id != one.id
    assert restored.document["rootfs"]["diff_ids"] == one.document["rootfs"]["diff_ids"]
    assert images.resolve(restored.id).chain_ids == images.resolve(one.id).chain_ids


def test_a_local_base_image_of_another_platform_is_pulled_or_refused(backend):
    async def main():
        made = await backend.commit(Step(None, {}, {}, HistoryEntry("x"), "", platform="linux/arm64"))
        await backend.tag(made.id, ("armonly:1",))
        assert (await backend.base_image("armonly:1", "linux/arm64", False, lambda m: None)).id == made.id
        await backend.base_image("armonly:1", "linux/amd64", False, lambda m: None)
    with pytest.raises(errors.NotFound, match="does not match the specified platform"):
        asyncio.run(main())


def test_the_service_sweeps_the_scratch_dirs_a_killed_ketchd_left(backend, tmp_path):
    from ketch.engine.builds.service import BuildService
    scratch = tmp_path / "buildsteps"
    (scratch / "build-left1" / "root").mkdir(parents=True)
    (scratch / "other").mkdir()
    BuildService(backend.images, backend.cache, str(scratch)).sweep()
    assert sorted(os.listdir(scratch)) == ["other"]


def test_the_service_sweeps_the_downloads_a_killed_ketchd_left(backend, tmp_path):
    # REVIEW12 #7: ADD <url>'s files were in the host's /tmp, gone only with a GC'd object
    from ketch.engine.builds.service import BuildService
    downloads = tmp_path / "builder" / "downloads"
    (downloads / "downloads-left1" / "docker-remote1").mkdir(parents=True)
    (downloads / "other").mkdir()
    service = BuildService(backend.images, backend.cache, str(tmp_path / "buildsteps"),
                           downloads_dir=str(downloads))
    service.sweep()
    assert sorted(os.listdir(downloads)) == ["other"]
    assert service.downloads_dir == str(downloads)


def test_read_root_shows_an_image_read_only_and_leaves_nothing(backend, tmp_path):
    """COPY --from's hash is taken in the source image's root: mounted read-only in a
    thread's own namespace, gone after."""
    async def main():
        def first(roots: MountedRoots) -> None:
            _write(roots.root, "f", b"F")
        base = await backend.mutate(_step(None, "COPY file:1 in /f "), first)

        def look(root: int):
            with open(f"/proc/self/fd/{root}/f", "rb") as f:
                data = f.read()
            try:
                os.open("g", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=root)
            except OSError as exc:
                return data, exc.errno, threading.current_thread().name
        return await backend.read_root(base.id, look)
    assert asyncio.run(main()) == (b"F", errno.EROFS, "build-read")
    assert _mounted(str(tmp_path)) == [] and os.listdir(tmp_path / "scratch") == []
