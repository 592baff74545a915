"""engine/builds: the images a build's steps record, the build-cache table and its prune,
over a real store (SQLite, content and snapshots in a temp dir)."""

import io
import json
import os
import sqlite3
import tarfile

import pytest

from ketch import errors
from ketch.build.backend import HistoryEntry, ImageState, Step
from ketch.build.request import CacheRecord
from ketch.engine.builds.cache import BuildCache
from ketch.engine.builds.images import BuildImages
from ketch.engine.builds.service import beyond, record_filter
from ketch.engine.images import record
from ketch.engine.images.service import ImageService
from ketch.engine.store import SCHEMA_VERSION, Store
from ketch.image.content import ContentStore
from ketch.storage.overlay import OverlaySnapshotter


def _blobs(svc: ImageService) -> set[str]:
    return set(os.listdir(os.path.join(svc.content.root, "blobs", "sha256")))


def _stage(svc: ImageService, builds: BuildImages, files: dict[str, bytes], mtime: int = 2_000_000_000,
           parents=()) -> record.Staged:
    """A writable snapshot holding ``files``, staged as a build stages one."""
    upper = svc.snapshots.new(writable=True)
    for name, data in files.items():
        path = os.path.join(svc.snapshots.fs(upper), name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        os.utime(path, (mtime, mtime))
    try:
        return builds.stage(upper, list(parents))
    finally:
        svc.snapshots.remove(upper)


def _step(parent: ImageState | None, created_by: str, key: str = "", env=("A=1",)) -> Step:
    config = {"Env": list(env), "Cmd": ["sh"]}
    return Step(parent, config, {**config, "Cmd": ["/bin/sh", "-c", "#(nop) ", created_by]},
                HistoryEntry(f"/bin/sh -c #(nop) {created_by}"), key, platform="linux/amd64")


def _scratch_image(svc: ImageService, builds: BuildImages, key: str = "") -> ImageState:
    staged = _stage(svc, builds, {"bin/sh": b"#!"})
    return builds.record_image(_step(None, "ADD file:abc in / ", key), staged)


def test_a_step_on_scratch_records_layer_config_history_and_cache_entry(images):
    builds = BuildImages(images)
    base = _scratch_image(images, builds, key="sha256:k1")
    doc = base.document
    assert doc["architecture"] == "amd64" and doc["os"] == "linux"
    assert len(doc["rootfs"]["diff_ids"]) == 1 and doc["config"]["Env"] == ["A=1"]
    assert doc["history"] == [{"created": doc["created"], "created_by": "/bin/sh -c #(nop) ADD file:abc in / "}]
    assert doc["container_config"]["Cmd"][-1] == "ADD file:abc in / "
    assert "container" not in doc
    assert images.store.get_cache_entry("sha256:k1")[1] == base.id
    image = images.resolve(base.id)
    assert image.size == 2 and image.parent == "" and not image.tags
    manifest = json.loads(images.content.read(image.manifest_digest))
    assert [layer["digest"] for layer in manifest["layers"]] == [images.store.get_layer(image.chain_ids[0])[2]]


def test_a_step_without_changes_adds_an_empty_layer_history_entry(images):
    builds = BuildImages(images)
    base = _scratch_image(images, builds)
    child = builds.record_image(_step(base, "ENV B=2", "sha256:k2", env=("A=1", "B=2")), None)
    doc = child.document
    assert doc["rootfs"]["diff_ids"] == base.document["rootfs"]["diff_ids"]
    assert doc["history"][0] == base.document["history"][0]
    assert doc["history"][1]["empty_layer"] is True
    assert doc["history"][1]["created_by"] == "/bin/sh -c #(nop) ENV B=2"
    assert images.resolve(child.id).parent == base.id
    assert images.store.children(base.id) == [child.id]
    # a staged layer with no entries is no layer either, and its blob goes
    before = _blobs(images)
    staged = _stage(images, builds, {})
    assert staged.entries == 0
    empty = builds.record_image(_step(child, "WORKDIR /"), staged)
    assert empty.document["history"][-1]["empty_layer"] is True
    assert len(empty.document["rootfs"]["diff_ids"]) == 1
    assert _blobs(images) - before == {empty.id[7:], images.resolve(empty.id).manifest_digest[7:]}


def test_a_scratch_image_without_layers_has_no_diff_ids(images):
    builds = BuildImages(images)
    image = builds.record_image(_step(None, 'CMD ["x"]'), None)
    assert image.document["rootfs"] == {"type": "layers"}
    assert images.resolve(image.id).chain_ids == ()


def test_the_step_container_is_named_unless_reproducible(images):
    base = _scratch_image(images, BuildImages(images))
    step = _step(base, "X")
    step = Step(step.parent, step.config, {**step.container_config, "Hostname": "c" * 12},
                step.history, "")
    made = BuildImages(images).record_image(step, None, container_id="c" * 64)
    assert made.document["container"] == "c" * 64 and made.document["docker_version"]
    assert made.document["container_config"]["Hostname"] == "c" * 12
    made = BuildImages(images, epoch=1_700_000_000).record_image(step, None, container_id="c" * 64)
    assert "container" not in made.document and made.document["container_config"]["Hostname"] == ""


def test_a_step_the_builder_named_a_container_for_records_it(images):
    base = _scratch_image(images, BuildImages(images))
    step = _step(base, "ENV A=1")
    named = Step(step.parent, step.config, step.container_config, step.history, "", container_id="d" * 64)
    assert BuildImages(images).record_image(named, None).document["container"] == "d" * 64
    assert "container" not in BuildImages(images).record_image(step, None).document


@pytest.mark.parametrize("failure", ["transaction", "parent layer gone"])
def test_a_record_that_fails_leaves_no_layer_blob_image_or_cache_entry(images, monkeypatch, failure):
    builds = BuildImages(images)
    base = _scratch_image(images, builds)
    staged = _stage(images, builds, {"etc/x": b"new"})
    before = _blobs(images) - {staged.info.digest[7:]}
    if failure == "transaction":
        monkeypatch.setattr(images.store, "put_cache_entry", lambda *a: (_ for _ in ()).throw(RuntimeError("disk on fire")))
    else:
        monkeypatch.setattr(images.store, "get_layer", lambda chain: None)
    with pytest.raises((RuntimeError, errors.Internal)):
        builds.record_image(_step(base, "COPY x", "sha256:k3"), staged)
    monkeypatch.undo()
    assert _blobs(images) == before
    assert len(images.list_all()) == 1 and images.store.get_cache_entry("sha256:k3") is None
    assert not os.path.exists(images.snapshots.fs(staged.snapshot))
    assert staged.info.digest not in images._leases


def _layer_tar(svc: ImageService, image: ImageState) -> bytes:
    row = svc.store.get_layer(svc.resolve(image.id).chain_ids[-1])
    import gzip
    return gzip.decompress(svc.content.read(row[2]))


def test_a_reproducible_step_clamps_mtimes_and_writes_the_epoch_as_created(images, tmp_path):
    epoch = 1_600_000_000
    builds = BuildImages(images, epoch=epoch)
    staged = _stage(images, builds, {"a/new": b"1", "a/old": b"2"}, mtime=2_000_000_000)
    image = builds.record_image(_step(None, "COPY a /a"), staged)
    assert image.document["created"] == "2020-09-13T12:26:40Z"
    assert image.document["history"][-1]["created"] == "2020-09-13T12:26:40Z"
    # the cache entry is as old as the build, not the epoch: `builder prune --filter until=` sees it new
    builds.record_image(_step(image, "ENV X=1", "sha256:epoch"), None)
    from ketch import timefmt
    assert timefmt.parse_ns(images.store.get_cache_entry("sha256:epoch")[2]) > epoch * 10**9 + 10**9
    members = tarfile.open(fileobj=io.BytesIO(_layer_tar(images, image))).getmembers()
    assert [m.name for m in members] == ["a", "a/new", "a/old"]
    assert {m.mtime for m in members} == {epoch}
    # the same files written at another time on another data root: the same image id
    other = tmp_path / "other"
    other.mkdir()
    store = Store(str(other / "ketch.db"))
    svc = ImageService(store, ContentStore(str(other / "content")), OverlaySnapshotter(str(other / "snapshots")))
    again = BuildImages(svc, epoch=epoch)
    staged = _stage(svc, again, {"a/old": b"2", "a/new": b"1"}, mtime=1_900_000_000)
    assert again.record_image(_step(None, "COPY a /a"), staged).id == image.id
    store.close()
    # an earlier mtime stays as it is
    staged = _stage(images, builds, {"b": b"3"}, mtime=1_000_000_000)
    early = builds.record_image(_step(None, "COPY b /b"), staged)
    assert tarfile.open(fileobj=io.BytesIO(_layer_tar(images, early))).getmembers()[0].mtime == 1_000_000_000


# -- the cache table -----------------------------------------------------------------------

def test_schema_4_adds_the_build_cache_to_a_version_3_database(tmp_path):
    path = str(tmp_path / "v3.db")
    db = sqlite3.connect(path)
    db.executescript("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
                     "INSERT INTO meta VALUES ('schema_version', '3');"
                     "CREATE TABLE images (id TEXT PRIMARY KEY, config BLOB NOT NULL, "
                     "manifest_digest TEXT NOT NULL, created TEXT NOT NULL, size INTEGER NOT NULL);"
                     "INSERT INTO images VALUES ('sha256:aa', '{}', 'sha256:m', 't', 0);")
    db.close()
    store = Store(path)
    assert SCHEMA_VERSION == 4
    assert store.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == "4"
    with store.transaction():
        store.put_cache_entry("sha256:k", "sha256:aa", "2026-01-01T00:00:00Z")
    with store.transaction():
        store.use_cache_entry("sha256:k", "2026-01-02T00:00:00Z")
        store.use_cache_entry("sha256:k", "2026-01-03T00:00:00Z")
    assert store.get_cache_entry("sha256:k") == ("sha256:k", "sha256:aa", "2026-01-01T00:00:00Z",
                                                 "2026-01-03T00:00:00Z", 2)
    assert store.cache_keys_of("sha256:aa") == ["sha256:k"]
    with store.transaction():  # the entry goes with its image
        store.delete_image("sha256:aa")
    assert store.get_cache_entry("sha256:k") is None and store.all_cache_entries() == []
    store.close()


def no_users(_image_id):
    return {}


def test_lookup_counts_hits_and_misses_an_image_whose_layer_is_gone(images):
    builds = BuildImages(images)
    cache = BuildCache(images, no_users)
    base = _scratch_image(images, builds, key="sha256:base")
    assert cache.lookup("sha256:nothing") is None
    assert cache.lookup("sha256:base").id == base.id
    assert cache.lookup("sha256:base").id == base.id
    row = images.store.get_cache_entry("sha256:base")
    assert row[4] == 2 and row[3] is not None
    with images.store.transaction():
        images.store.delete_layer(images.resolve(base.id).chain_ids[0])
    assert cache.lookup("sha256:base") is None


def _chain(images: ImageService, builds: BuildImages, prefix: str, tag: str | None = None) -> list[ImageState]:
    """A three-step build: a layer on scratch, an ENV, a layer; tagged at the end."""
    made = [builds.record_image(_step(None, f"ADD {prefix}", f"sha256:{prefix}1"),
                                _stage(images, builds, {f"{prefix}/base": prefix.encode() * 10}))]
    made.append(builds.record_image(_step(made[-1], f"ENV {prefix}=1", f"sha256:{prefix}2"), None))
    made.append(builds.record_image(_step(made[-1], f"COPY {prefix}", f"sha256:{prefix}3"),
                                    _stage(images, builds, {f"{prefix}/top": prefix.encode() * 100})))
    if tag:
        images.tag(made[-1].id, tag, "")
    return made


def test_records_say_parents_sizes_shared_and_in_use(images):
    builds = BuildImages(images)
    _chain(images, builds, "kept", tag="app:1")
    loose = _chain(images, builds, "loose")
    used = {loose[0].id}
    cache = BuildCache(images, lambda image_id: {"c" * 64: False} if image_id in used else {})
    records = {r.id: r for r in cache.records()}
    assert records["kept1"].parents == () and records["kept2"].parents == ("kept1",)
    assert records["kept3"].parents == ("kept2",)
    assert (records["kept1"].size, records["kept2"].size, records["kept3"].size) == (40, 0, 400)
    assert all(records[f"kept{i}"].shared for i in (1, 2, 3))
    assert not any(records[f"loose{i}"].shared for i in (1, 2, 3))
    assert records["loose1"].in_use and not records["loose2"].in_use
    assert records["kept3"].type == "regular" and records["kept3"].description == "/bin/sh -c #(nop) COPY kept"
    assert records["kept3"].usage_count == 0 and records["kept3"].last_used_at is None


def test_prune_removes_dangling_records_and_their_images_leaf_first(images):
    builds = BuildImages(images)
    kept = _chain(images, builds, "kept", tag="app:1")
    loose = _chain(images, builds, "loose")
    gone: list[int] = []
    cache = BuildCache(images, no_users, collect_garbage=lambda: gone.append(1))
    deleted, reclaimed = cache.prune(lambda r: not r.shared)
    assert sorted(deleted) == ["loose1", "loose2", "loose3"]
    assert reclaimed == 50 + 500  # the two layers of the loose chain
    assert all(images.find(i.id) is None for i in loose) and gone == [1]
    assert all(images.find(i.id) is not None for i in kept)
    # -a: the tagged chain's records go, its images stay (a tag holds them)
    deleted, reclaimed = cache.prune(lambda r: True)
    assert sorted(deleted) == ["kept1", "kept2", "kept3"] and reclaimed == 0
    assert images.store.all_cache_entries() == [] and all(images.find(i.id) for i in kept)


def test_prune_keeps_what_a_container_uses_and_its_ancestors(images):
    builds = BuildImages(images)
    loose = _chain(images, builds, "loose")
    cache = BuildCache(images, lambda image_id: {"c" * 64: True} if image_id == loose[1].id else {})
    deleted, reclaimed = cache.prune(lambda r: True)
    assert sorted(deleted) == ["loose1", "loose3"]
    assert images.find(loose[2].id) is None
    assert images.find(loose[1].id) is not None and images.find(loose[0].id) is not None  # a child holds it
    assert reclaimed == 500


def _rec(rid: str, size: int, used: str, shared: bool = False, kind: str = "regular") -> CacheRecord:
    return CacheRecord(rid, (), kind, f"desc {rid}", False, shared, size, used, used, 1)


def test_prune_filters_and_keep_storage():
    old = _rec("aa", 10, "2020-01-01T00:00:00.000000000Z")
    new = _rec("bb", 20, "2030-01-01T00:00:00.000000000Z", shared=True, kind="exec.cachemount")
    assert record_filter({"until": ["2025-01-01T00:00:00Z"]})(old)
    assert not record_filter({"until": ["2025-01-01T00:00:00Z"]})(new)
    assert record_filter({"type": ["exec.cachemount"]})(new) and not record_filter({"type": ["regular"]})(new)
    assert record_filter({"id": ["a"]})(old) and not record_filter({"id": ["b"]})(old)
    assert record_filter({"shared": ["true"]})(new) and not record_filter({"private": ["true"]})(new)
    assert record_filter({"description": ["desc a"]})(old)
    with pytest.raises(errors.InvalidArgument):
        record_filter({"until": ["soon"]})
    # moby's other keys: docker's system prune sends its label filters here too
    assert not record_filter({"label": ["a=b"]})(old) and record_filter({"label!": ["a=b"]})(old)
    assert record_filter({"mutable": ["true"]})(new) and not record_filter({"mutable": ["true"]})(old)
    assert record_filter({"immutable": ["true"]})(old) and not record_filter({"immutable": ["true"]})(new)
    assert record_filter({"unused-for": ["2025-01-01T00:00:00Z"]})(old)
    with pytest.raises(errors.InvalidArgument, match="conflicting filters"):
        record_filter({"until": ["1h"], "unused-for": ["1h"]})
    # keep 20 bytes of 30: the least recently used goes first
    assert beyond({"aa", "bb"}, [old, new], 20) == {"aa"}
    assert beyond({"aa", "bb"}, [old, new], 5) == {"aa", "bb"}



def test_a_discarded_layer_keeps_a_blob_another_stage_staged_too(images):
    builds = BuildImages(images, epoch=1)  # the same files give the same blob
    first = _stage(images, builds, {"same": b"x"})
    second = _stage(images, builds, {"same": b"x"})
    assert first.info.digest == second.info.digest and images.holders(first.info.digest) == 2
    builds.discard(second)  # that stage failed: the other one still needs the blob
    assert images.content.exists(first.info.digest)
    image = builds.record_image(_step(None, "COPY same /"), first)
    assert images.resolve(image.id).chain_ids and images.holders(first.info.digest) == 0
    assert images.content.exists(first.info.digest)


def _img(history: list[dict], diff_ids: list[str]):
    from ketch.engine.images.service import Image
    return Image("sha256:" + str(len(history)) * 64, {"history": history, "rootfs": {"diff_ids": diff_ids}},
                 "", "", 0, (), ())


def test_cache_from_matches_moby_is_valid_parent_and_the_layer_of_an_entry():
    from ketch.engine.builds import cachefrom
    a, b, c = ({"created": "t1", "created_by": "ADD x"}, {"created": "t2", "created_by": "ENV A=1", "empty_layer": True},
               {"created": "t3", "created_by": "COPY y"})
    target = _img([a, b, c], ["sha256:l1", "sha256:l3"])
    assert cachefrom.valid_parent(target, None) and cachefrom.valid_parent(target, _img([], []))
    assert cachefrom.valid_parent(target, _img([a], ["sha256:l1"]))
    assert not cachefrom.valid_parent(target, _img([a], ["sha256:other"]))  # another layer
    assert not cachefrom.valid_parent(target, _img([{**a, "created": "t0"}], ["sha256:l1"]))
    assert not cachefrom.valid_parent(target, _img([a, b, c], ["sha256:l1", "sha256:l3"]))  # not shorter
    assert not cachefrom.valid_parent(_img([], []), None)
    assert [cachefrom.layer_at(target, i) for i in range(3)] == ["sha256:l1", "", "sha256:l3"]
    match = cachefrom.find([target], _img([a], ["sha256:l1"]), "ENV A=1")
    assert match.index == 1 and not match.is_target
    assert cachefrom.find([target], _img([a, b], ["sha256:l1"]), "COPY y").is_target
    assert cachefrom.find([target], _img([a], ["sha256:l1"]), "ENV B=2") is None


def test_pull_credentials_are_x_registry_configs_by_registry():
    from ketch.engine.builds.service import auth_for
    lookup = auth_for({"https://index.docker.io/v1/": {"username": "hub", "password": "p"},
                       "localhost:5000": {"auth": "dTpw"}, "http://other:1/v2/": {"username": "o"}})
    assert lookup("docker.io").username == "hub"
    assert (lookup("localhost:5000").username, lookup("localhost:5000").password) == ("u", "p")
    assert lookup("other:1").username == "o"
    assert lookup("elsewhere:5000").empty
