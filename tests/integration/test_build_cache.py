"""The build cache through POST /build: hits and misses as moby's classic builder has them,
--no-cache, the cache across a ketchd restart, GET /system/df's BuildCache rows and
POST /build/prune."""

import io
import json
import tarfile
import time
import urllib.parse

import pytest

from tests.integration.conftest import REPO
from tests.integration.buildclean import remove_build_leftovers

pytestmark = pytest.mark.integration


def context_tar(files: dict[str, str | bytes], mtime: int = 1_600_000_000) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            data = data.encode() if isinstance(data, str) else data
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), mtime, 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def build(daemon, files: dict, mtime: int = 1_600_000_000, **params) -> tuple[str, list[dict]]:
    """POST /build with ``files`` (their mtimes ``mtime``) as the context; (final image
    id, the stream's messages)."""
    import sys
    sys.path.insert(0, REPO)
    from ketch.client.http import Connection
    query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None}, doseq=True)
    conn = Connection(daemon.socket, daemon.host)
    try:
        resp = conn.send("POST", "/v1.41/build?" + query, context_tar(files, mtime),
                         {"Content-Type": "application/x-tar"})
        payload = resp.read()
    finally:
        conn.close()
    assert resp.status == 200, payload
    messages = [json.loads(line) for line in payload.decode().splitlines() if line.strip()]
    errors = [m for m in messages if "error" in m or "errorDetail" in m]
    assert not errors, messages
    ids = [m["aux"]["ID"] for m in messages if "aux" in m and "ID" in m["aux"]]
    return ids[-1], messages


def text(messages: list[dict]) -> str:
    return "".join(m.get("stream", "") for m in messages)


def cached_steps(messages: list[dict]) -> list[int]:
    """The numbers of the steps whose image came from the cache."""
    out, step = [], 0
    for m in messages:
        s = m.get("stream", "")
        if s.startswith("Step "):
            step = int(s.split()[1].split("/")[0])
        elif s == " ---> Using cache\n":
            out.append(step)
    return out


DOCKERFILE = """FROM busybox
ENV A=1
COPY a.txt /a.txt
WORKDIR /work
COPY b.txt /work/b.txt
LABEL last=1
"""


def _files(b: str = "bee") -> dict:
    return {"Dockerfile": DOCKERFILE, "a.txt": "ay", "b.txt": b}


def _remove(daemon, *images: str) -> None:
    """The test's images and its steps' (the cache): the shared daemon's busybox is left with
    no child images for the next test on this worker."""
    for image in images:
        daemon.api("DELETE", f"/images/{image}?force=1")
    remove_build_leftovers(daemon)


def test_a_rebuild_takes_every_step_from_the_cache(daemon):
    first, messages = build(daemon, _files(), t="cache-hit:1")
    try:
        assert cached_steps(messages) == []
        again, messages = build(daemon, _files(), t="cache-hit:1")
        assert again == first
        assert cached_steps(messages) == [2, 3, 4, 5, 6]
        # the intermediate images are there, hidden from a listing without all
        status, listed = daemon.api("GET", "/images/json")
        status, every = daemon.api("GET", "/images/json?all=1")
        parent = daemon.api("GET", f"/images/{first}/json")[1]["Parent"]
        assert parent in {i["Id"] for i in every} and parent not in {i["Id"] for i in listed}
        status, history = daemon.api("GET", f"/images/{first}/history")
        assert [h["CreatedBy"] for h in history[:5]] == [
            "/bin/sh -c #(nop)  LABEL last=1", history[1]["CreatedBy"], "/bin/sh -c #(nop) WORKDIR /work",
            history[3]["CreatedBy"], "/bin/sh -c #(nop)  ENV A=1"]
        assert history[1]["CreatedBy"].startswith("/bin/sh -c #(nop) COPY file:")
    finally:
        _remove(daemon, "cache-hit:1")


def test_a_changed_file_invalidates_from_the_step_that_copies_it(daemon):
    first, _ = build(daemon, _files("one"), t="cache-change:1")
    try:
        second, messages = build(daemon, _files("two"), t="cache-change:1")
        assert second != first
        assert cached_steps(messages) == [2, 3, 4]  # COPY b.txt and LABEL run again
        # the old chain stays cached too: back to the first content, all hits
        third, messages = build(daemon, _files("one"), t="cache-change:1")
        assert third == first and cached_steps(messages) == [2, 3, 4, 5, 6]
    finally:
        _remove(daemon, "cache-change:1", first, second)


def test_no_cache_makes_every_step_anew(daemon):
    first, _ = build(daemon, _files(), t="cache-nocache:1")
    try:
        second, messages = build(daemon, _files(), t="cache-nocache:1", nocache=1)
        assert cached_steps(messages) == [] and second != first
        # what --no-cache made is recorded: the next build with the cache finds it
        third, messages = build(daemon, _files(), t="cache-nocache:1")
        assert third == second and cached_steps(messages) == [2, 3, 4, 5, 6]
    finally:
        _remove(daemon, "cache-nocache:1", first)


def test_the_cache_survives_a_restart(fresh_daemon):
    first, _ = build(fresh_daemon, _files(), t="cache-restart:1")
    fresh_daemon.restart()
    again, messages = build(fresh_daemon, _files(), t="cache-restart:1")
    assert again == first and cached_steps(messages) == [2, 3, 4, 5, 6]


def test_df_lists_the_cache_and_prune_removes_it(fresh_daemon):
    d = fresh_daemon
    kept, _ = build(d, _files(), t="cache-prune:1")
    loose, _ = build(d, {"Dockerfile": "FROM busybox\nCOPY big /big\nENV X=1\n", "big": "x" * 100_000})
    status, df = d.api("GET", "/system/df")
    records = df["BuildCache"]
    assert status == 200 and len(records) == 7  # five steps of the first build, two of the second
    by_type = {r["Type"] for r in records}
    assert by_type == {"regular"}
    assert sum(r["Size"] for r in records if not r["Shared"]) >= 100_000
    assert sum(1 for r in records if r["Shared"]) == 5  # the tagged chain
    # without all: only what no tag keeps (the untagged build), its images and layers with it
    status, pruned = d.api("POST", "/build/prune")
    assert status == 200 and len(pruned["CachesDeleted"]) == 2
    assert pruned["SpaceReclaimed"] >= 100_000
    assert d.api("GET", f"/images/{loose}/json")[0] == 404
    _, messages = build(d, _files(), t="cache-prune:1")
    assert cached_steps(messages) == [2, 3, 4, 5, 6]
    # all: the tagged chain's records too; the image stays, the next build makes it anew
    status, pruned = d.api("POST", "/build/prune?all=1")
    assert len(pruned["CachesDeleted"]) == 5 and pruned["SpaceReclaimed"] == 0
    assert d.api("GET", "/system/df")[1]["BuildCache"] in ([], None)
    assert d.api("GET", f"/images/{kept}/json")[0] == 200
    again, messages = build(d, _files(), t="cache-prune:1")
    assert cached_steps(messages) == [] and again != kept


def test_prune_until_keeps_what_was_used_lately(fresh_daemon):
    d = fresh_daemon
    build(d, {"Dockerfile": "FROM busybox\nENV OLD=1\n"})
    time.sleep(3)
    filters = urllib.parse.quote(json.dumps({"until": ["2s"]}))
    build(d, {"Dockerfile": "FROM busybox\nENV NEW=1\n"})
    status, pruned = d.api("POST", f"/build/prune?filters={filters}")
    assert status == 200 and len(pruned["CachesDeleted"] or []) == 1
    records = d.api("GET", "/system/df")[1]["BuildCache"]
    assert [r["Description"] for r in records] == ["/bin/sh -c #(nop)  ENV NEW=1"]


def test_cache_from_an_image_without_its_intermediate_images(fresh_daemon):
    d = fresh_daemon
    first, _ = build(d, _files(), t="cache-from:1")
    status, saved, _ = d.api("GET", "/images/cache-from:1/get", raw=True)
    assert status == 200
    # as if pulled: the image alone, no intermediate image, no cache entry
    assert d.api("DELETE", "/images/cache-from:1")[0] == 200
    assert d.api("POST", "/images/load?quiet=1", saved)[0] == 200
    assert d.api("GET", f"/images/{first}/json")[1]["Parent"] == ""
    again, messages = build(d, _files(), t="cache-from:1", cachefrom=json.dumps(["nosuch:1", "cache-from:1"]))
    assert cached_steps(messages) == [2, 3, 4, 5, 6] and again == first
    assert d.api("GET", f"/images/{first}/json")[1]["Parent"] != ""  # on the restored steps now
    # from then on the local cache knows the steps
    third, messages = build(d, _files(), t="cache-from:1")
    assert third == first and cached_steps(messages) == [2, 3, 4, 5, 6]
    # a changed file: the steps before it from the image, the rest built
    fourth, messages = build(d, _files("changed"), cachefrom=json.dumps(["cache-from:1"]))
    assert cached_steps(messages) == [2, 3, 4] and fourth != first


def test_a_build_killed_while_it_stages_a_layer_leaves_nothing_after_restart(fresh_daemon):
    """ketchd dies (SIGKILL) while a step's layer is being written: after the restart no
    image, blob, snapshot, ingest file or scratch directory of that step is left, and the
    build runs again from the cache it had."""
    import os
    import signal
    import threading

    from tests.integration.conftest import wait_until
    from tests.integration.test_commit import _store
    d = fresh_daemon
    base = "FROM busybox\nENV K=1\n"
    build(d, {"Dockerfile": base})  # acknowledged: its step stays in the cache
    images_before = {i["Id"] for i in d.api("GET", "/images/json?all=1")[1]}
    blobs, snapshots, _ingest = _store(d)
    files = {"Dockerfile": base + "RUN dd if=/dev/urandom of=/big bs=1M count=300 2>/dev/null\n"}
    done = threading.Thread(target=lambda: _quietly(build, d, files), daemon=True)
    done.start()
    ingest = os.path.join(d.data_root, "content", "ingest")
    assert wait_until(lambda: any(os.path.getsize(os.path.join(ingest, f)) > (1 << 20)
                                  for f in os.listdir(ingest)), 60), "the layer never started"
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait()
    d.proc = None
    done.join(30)
    d.start()
    for c in d.api("GET", "/containers/json?all=1")[1]:  # the RUN's container, as dockerd leaves it
        d.api("DELETE", f"/containers/{c['Id']}?force=1")
    assert {i["Id"] for i in d.api("GET", "/images/json?all=1")[1]} == images_before
    assert _store(d) == (blobs, snapshots, set())
    assert os.listdir(os.path.join(d.exec_root, "buildsteps")) == []
    _, messages = build(d, {"Dockerfile": base + "ENV AFTER=1\n"})
    assert cached_steps(messages) == [2]


def _quietly(fn, *args):
    try:
        fn(*args)
    except Exception:  # noqa: BLE001 - the daemon was killed under it
        pass
