"""The pure parts of commit, history, image delete/prune and disk usage: moby's config merge
and history entry, the history and df rows docker/cli prints, system prune's prompt, and
image delete/prune over a real store (SQLite, content and snapshots in a temp dir)."""

import json
import os
import time

import pytest

from ketch import errors
from ketch.apitypes.prune import PruneFilter
from ketch.cli.commands.prune import system_warning
from ketch.cli.format import diskusage, history
from ketch.engine.images import commit
from ketch.engine.images.delete import ImageDeleter
from ketch.engine.images.history import image_history
from ketch.engine.images.prune import ImagePruner
from ketch.engine.images.service import ImageService
from ketch.oci import digest as dg


def test_merge_fills_what_the_new_config_lacks_from_the_container():
    container = {"User": "app", "Env": ["A=1", "PATH=/bin"], "Cmd": ["sh"], "Entrypoint": None,
                 "ExposedPorts": {"80/tcp": {}}, "Labels": {"a": "1", "b": "2"}, "WorkingDir": "/w",
                 "Volumes": {"/v": {}}, "StopSignal": "SIGINT"}
    new = commit.merge({"Env": ["A=2"], "Labels": {"b": "3"}, "ExposedPorts": {"443/tcp": {}},
                        "Volumes": {"/x": {}}}, container)
    assert new["User"] == "app" and new["WorkingDir"] == "/w" and new["StopSignal"] == "SIGINT"
    assert new["Env"] == ["A=2", "PATH=/bin"]
    assert new["Labels"] == {"a": "1", "b": "3"}
    assert new["ExposedPorts"] == {"80/tcp": {}, "443/tcp": {}}
    assert new["Volumes"] == {"/x": {}, "/v": {}}
    assert new["Cmd"] == ["sh"] and new["Entrypoint"] is None
    # an entrypoint of its own keeps its (empty) Cmd
    assert commit.merge({"Entrypoint": ["run"]}, container).get("Cmd") is None


def test_history_entry_is_mobys_new_history():
    entry = commit.history_entry("", "", ["sh", "-c", "echo hi"], "2026-01-01T00:00:00Z", False)
    assert entry == {"created": "2026-01-01T00:00:00Z", "created_by": "sh -c echo hi"}
    entry = commit.history_entry("me", "msg", None, "t", True)
    assert entry == {"created": "t", "author": "me", "created_by": "", "comment": "msg", "empty_layer": True}


@pytest.fixture
def utc():
    import os
    old = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if old is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = old
    time.tzset()


def test_history_rows_as_docker_prints_them(utc):
    item = {"Id": "sha256:" + "f" * 64, "Created": 1_700_000_000, "CreatedBy": "sh\t-c " + "x" * 60,
            "Size": 1_234_567, "Comment": "c", "Tags": None}
    row = history.HistoryContext(item, trunc=True, human=False)
    assert row.ID == "f" * 12 and row.CreatedSince == row.CreatedAt == "2023-11-14T22:13:20Z"
    assert row.Size == "1234567" and len(row.CreatedBy) == 45 and row.CreatedBy.startswith("sh -c ")
    human = history.HistoryContext({**item, "Id": "<missing>"}, trunc=False, human=True)
    assert human.ID == "<missing>" and human.Size == "1.23MB" and human.CreatedSince.endswith(" ago")
    assert history.table_format("", True, True) == "{{.ID}}"
    assert history.table_format("table", False, False) == history.TABLE_NOT_HUMAN
    assert history.table_format("{{.ID}}", True, True) == "{{.ID}}"


def test_df_summary_rows_follow_docker_28():
    doc = {"LayersSize": 1000,
           "Images": [{"Containers": 1, "Size": 600, "SharedSize": 100}, {"Containers": 0, "Size": 400, "SharedSize": 100}],
           "Containers": [{"State": "running", "SizeRw": 30}, {"State": "exited", "SizeRw": 10}],
           "Volumes": [], "BuildCache": []}
    rows = diskusage.summary_rows(doc)
    assert [(r.Type, r.TotalCount, r.Active, r.Size, r.Reclaimable) for r in rows] == [
        ("Images", "2", "1", "1kB", "500B (50%)"),
        ("Containers", "2", "1", "40B", "10B (25%)"),
        ("Local Volumes", "0", "0", "0B", "0B"),
        ("Build Cache", "0", "0", "0B", "0B"),
    ]


def test_system_prune_prompt_lists_what_goes_and_the_filters_in_natural_order():
    assert system_warning(True, True, {"until": ["10m"], "label": ["b=10", "b=9"]}) == (
        "WARNING! This will remove:\n  - all stopped containers\n"
        "  - all networks not used by at least one container\n"
        "  - all anonymous volumes not used by at least one container\n"
        "  - all images without at least one container associated to them\n  - all build cache\n\n"
        "  Items to be pruned will be filtered with:\n  - label=b=9\n  - label=b=10\n  - until=10m\n\n"
        "Are you sure you want to continue?")


def test_system_prune_prompt_orders_as_sortorder_natural_less():
    """Equal numbers: the one with fewer leading zeros first (the order given is not kept)."""
    text = system_warning(False, False, {"label": ["b=01", "b=1", "a10", "a9x"]})
    assert "  - label=a9x\n  - label=a10\n  - label=b=1\n  - label=b=01\n" in text


# -- delete and prune over a real store ---------------------------------------------------

def _image(svc: ImageService, name: str | None, parent: str | None = None, layer: str = "",
           created: str = "2026-01-01T00:00:00Z", labels: dict | None = None) -> str:
    """An image of one more layer over ``parent`` (recorded as a commit records one)."""
    diff_ids = list(json.loads(svc.store.get_image(parent)[1])["rootfs"]["diff_ids"]) if parent else []
    diff_id = dg.of_bytes((layer or name or created).encode())
    diff_ids.append(diff_id)
    chain = dg.chain_ids(diff_ids)[-1]
    config = dg.canonical_json({"created": created, "config": {"Labels": labels},
                                "rootfs": {"type": "layers", "diff_ids": diff_ids},
                                "history": [{"created": created}] * len(diff_ids)})
    image_id = dg.of_bytes(config)
    snapshot = svc.snapshots.new()
    with svc.store.transaction():
        svc.store.put_layer(chain, diff_id, svc.content.put(diff_id.encode()), "x", None, snapshot, 7)
        svc.store.put_image(image_id, config, image_id, created, 7 * len(diff_ids))
        if parent:
            svc.store.set_parent(image_id, parent)
        if name:
            svc.store.tag(f"docker.io/library/{name}", image_id)
    return image_id


def no_users(_image_id):
    return {}


def test_delete_refuses_a_parent_and_prunes_untagged_parents(images):
    base = _image(images, "base:1")
    mid = _image(images, None, base, "mid")
    top = _image(images, "top:1", mid, "top")
    with pytest.raises(errors.Conflict, match=r"\(cannot be forced\) - image has dependent child images"):
        ImageDeleter(images, no_users).delete(mid, True, True)
    report = ImageDeleter(images, no_users).delete("top:1", False, True)
    chain = images.resolve(base).chain_ids
    assert report[:3] == [{"Untagged": "top:1"}, {"Deleted": top}, {"Deleted": report[2]["Deleted"]}]
    assert {"Deleted": mid} in report and images.find(mid) is None
    assert images.find(base) is not None and chain  # tagged: the pruning stops there
    assert images.resolve(base).last_tag_time


def test_delete_with_no_prune_keeps_the_parent(images):
    base = _image(images, None)
    top = _image(images, "top:1", base, "top")
    report = ImageDeleter(images, no_users).delete("top:1", False, False)
    assert report[:2] == [{"Untagged": "top:1"}, {"Deleted": top}]
    assert images.find(base) is not None


def test_untagging_the_last_tag_of_a_parent_keeps_it_quietly(images):
    base = _image(images, "base:1")
    _image(images, None, base, "child")
    assert ImageDeleter(images, no_users).delete("base:1", False, True) == [{"Untagged": "base:1"}]
    assert images.find(base) is not None


def test_history_follows_parents_and_sizes_layers(images):
    base = _image(images, "base:1")
    top = _image(images, "top:1", base, "top")
    items = image_history(images, "top:1")
    assert [(i.id, i.size, i.tags) for i in items] == [(top, 7, ("top:1",)), (base, 7, ("base:1",))]


def test_prune_dangling_then_all_with_filters(images):
    used = _image(images, "used:1", layer="u")
    dangling = _image(images, None, layer="d")
    old = _image(images, "old:1", layer="o", created="2000-01-01T00:00:00Z", labels={"k": "v"})
    pruner = ImagePruner(images, lambda image_id: {"c" * 64: False} if image_id == used else {})
    report = pruner.prune(PruneFilter(), True)
    assert [d for d in report.deleted if "Deleted" in d][0] == {"Deleted": dangling}
    assert report.reclaimed == 7
    report = pruner.prune(PruneFilter(not_labels=("k=v",)), False)
    assert report.deleted == [] and report.reclaimed == 0
    report = pruner.prune(PruneFilter(until_ns=10**18), False)  # 2001-09-09: only the old one
    assert report.deleted[:2] == [{"Untagged": "old:1"}, {"Deleted": old}]
    assert images.find(used) is not None


@pytest.mark.parametrize("failure", ["transaction", "parent layer gone"])
def test_a_record_that_fails_leaves_no_layer_blob_or_image(images, monkeypatch, failure):
    from ketch.engine.containers.records import ContainerRecord
    from ketch.image.layer import LayerInfo
    parent = _image(images, "base:1")
    snapshot = images.snapshots.new()
    blob = images.content.put(b"layer blob")
    staged = commit.Staged(LayerInfo(dg.of_bytes(b"tar"), blob, "x", 10, 3), snapshot, 2)
    rec = ContainerRecord(id="c" * 64, name="n", created="2026-01-01T00:00:00Z", image="base:1",
                          image_id=parent, config={"Cmd": ["sh"]}, host_config={}, path="sh", args=[],
                          snapshot="s", parents=[])
    blobs_before = set(os.listdir(os.path.join(images.content.root, "blobs", "sha256"))) - {blob[7:]}

    def broken(*args):
        raise RuntimeError("disk on fire")
    if failure == "transaction":
        monkeypatch.setattr(images.store, "set_parent", broken)
    else:
        monkeypatch.setattr(images.store, "get_layer", lambda chain: None)
    committer = commit.Committer(images, None)
    with pytest.raises((RuntimeError, errors.Internal)):
        committer._record(rec, images.resolve(parent), staged, {"Cmd": ["sh"]},
                          commit.CommitRequest("c", repo="new", tag="1"), {"Cmd": ["sh"]})
    assert not os.path.exists(images.snapshots.fs(snapshot))
    assert set(os.listdir(os.path.join(images.content.root, "blobs", "sha256"))) == blobs_before
    assert len(images.list_all()) == 1 and images.find("new:1") is None
