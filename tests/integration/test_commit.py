"""commit and history: a container's changes as a new image (ketch CLI, docker CLI, SDK),
and a commit that fails or is killed leaves the store as it was."""

import json
import os
import shutil
import signal
import subprocess

import pytest

from tests.integration.conftest import wait_until

needs_docker = pytest.mark.skipif(shutil.which("docker") is None, reason="docker CLI not installed")

CHANGES = ("mkdir -p /data/keep /data/opaque/sub /etc/extra && echo added > /data/keep/new.txt && "
           "echo changed > /etc/motd && rm /etc/group && "
           "echo old > /data/opaque/sub/old.txt")


def _store(d) -> tuple[set, set, set]:
    """(blobs, snapshot dirs, ingest files) of a daemon."""
    content = os.path.join(d.data_root, "content")
    return (set(os.listdir(os.path.join(content, "blobs", "sha256"))),
            set(os.listdir(os.path.join(d.data_root, "snapshots"))),
            set(os.listdir(os.path.join(content, "ingest"))))


def test_commit_adds_changes_deletions_and_opaque_dirs_then_runs(daemon, names):
    base, child = names(), names()
    daemon.ketch("run", "--name", base, "busybox", "sh", "-c", CHANGES, check=True)
    first = daemon.ketch("commit", "-a", "Ann <ann@example.com>", "-m", "first", base, "kt-commit/base:1")
    assert first.returncode == 0, first.stderr
    base_id = first.stdout.strip()
    assert base_id.startswith("sha256:") and len(base_id) == 71
    # a directory deleted and made again is opaque: nothing of the lower one shows through
    daemon.ketch("run", "--name", child, "kt-commit/base:1", "sh", "-c",
                 "rm -rf /data/opaque && mkdir -p /data/opaque && echo fresh > /data/opaque/only.txt",
                 check=True)
    res = daemon.ketch("container", "commit", "-c", "ENV STAGE=two", "-c", 'CMD ["cat", "/data/keep/new.txt"]',
                       child, "kt-commit/child")
    assert res.returncode == 0, res.stderr
    try:
        out = daemon.ketch("run", "--rm", "kt-commit/child").stdout
        assert out == "added\n"
        probe = daemon.ketch("run", "--rm", "kt-commit/child", "sh", "-c",
                             "cat /etc/motd; ls /etc/group 2>&1; ls /data/opaque; echo $STAGE; "
                             "test -d /etc/extra && echo dir")
        assert probe.stdout.splitlines() == [
            "changed", "ls: /etc/group: No such file or directory", "only.txt", "two", "dir"], probe.stderr
        doc = json.loads(daemon.ketch("image", "inspect", "kt-commit/child").stdout)[0]
        assert doc["Parent"] == base_id
        assert doc["Config"]["Cmd"] == ["cat", "/data/keep/new.txt"]
        assert "STAGE=two" in doc["Config"]["Env"]
        assert len(doc["RootFS"]["Layers"]) == 3
        assert doc["Metadata"]["LastTagTime"] != "0001-01-01T00:00:00Z"
        assert set(doc["GraphDriver"]["Data"]) == {"LowerDir", "MergedDir", "UpperDir", "WorkDir"}
        base_doc = json.loads(daemon.ketch("image", "inspect", "kt-commit/base:1").stdout)[0]
        assert (base_doc["Author"], base_doc["Comment"]) == ("Ann <ann@example.com>", "first")
        # history: newest first, ids down the parent chain, the commit's created_by is its Cmd
        hist = daemon.ketch("history", "--no-trunc", "--format",
                            "{{.ID}}|{{.CreatedBy}}|{{.Comment}}", "kt-commit/child").stdout.splitlines()
        child_id = json.loads(daemon.ketch("image", "inspect", "kt-commit/child").stdout)[0]["Id"]
        status, bb = daemon.api("GET", "/images/busybox/json")
        assert status == 200, bb
        busybox_id = bb["Id"]
        assert [line.split("|")[0] for line in hist] == [child_id, base_id, busybox_id]
        assert hist[0].split("|")[1] == ("sh -c rm -rf /data/opaque && mkdir -p /data/opaque && "
                                         "echo fresh > /data/opaque/only.txt")
        assert hist[1].split("|")[2] == "first"
        table = daemon.ketch("history", "kt-commit/child").stdout.splitlines()
        assert table[0].split() == ["IMAGE", "CREATED", "CREATED", "BY", "SIZE", "COMMENT"]
        assert table[1].startswith(child_id[7:19]) and "…" in table[1]
        assert daemon.ketch("history", "-q", "kt-commit/child").stdout.split() == \
            [child_id[7:19], base_id[7:19], busybox_id[7:19]]
        raw = daemon.ketch("history", "-H=false", "kt-commit/child").stdout.splitlines()[1]
        assert "T" in raw.split()[1] and raw.split()[-1].isdigit() or raw.split()[-2].isdigit()
    finally:
        daemon.ketch("rm", child)
        daemon.ketch("rm", base)
        daemon.ketch("rmi", "kt-commit/child")
    # the parent is untagged, childless and unused now: rmi pruned it along
    assert daemon.api("GET", f"/images/{base_id}/json")[0] == 200  # still tagged kt-commit/base:1
    out = daemon.ketch("rmi", "kt-commit/base:1").stdout
    assert out.startswith(f"Untagged: kt-commit/base:1\nDeleted: {base_id}\nDeleted: sha256:")


def test_a_committed_layer_is_unpacked_when_a_container_first_needs_it(daemon, names):
    """commit stores the layer's blob only (containerd's way); inspect does not unpack
    it; the first create does, once, even when several creates race for it."""
    base = names()
    daemon.ketch("run", "--name", base, "busybox", "sh", "-c", "echo lazy > /lazy.txt", check=True)
    assert daemon.ketch("commit", base, "kt-commit/lazy:1").returncode == 0
    doc = json.loads(daemon.ketch("image", "inspect", "kt-commit/lazy:1").stdout)[0]
    upper = doc["GraphDriver"]["Data"]["UpperDir"]
    assert not os.path.exists(upper)  # named, not made
    runs = [daemon.popen_ketch("run", "--rm", "kt-commit/lazy:1", "cat", "/lazy.txt") for _ in range(3)]
    outs = [p.communicate(timeout=60) for p in runs]
    assert [(p.returncode, out) for p, (out, _err) in zip(runs, outs)] == [(0, b"lazy\n")] * 3, outs
    assert os.path.isdir(upper)
    snapshots = os.path.join(daemon.data_root, "snapshots")
    assert os.path.basename(os.path.dirname(upper)) in os.listdir(snapshots)
    assert daemon.ketch("rmi", "kt-commit/lazy:1").returncode == 0


def test_rmi_prunes_untagged_parents_unless_no_prune(daemon, names):
    name = names()
    daemon.ketch("run", "--name", name, "busybox", "touch", "/a", check=True)
    parent = daemon.ketch("commit", name).stdout.strip()  # untagged
    daemon.ketch("rm", name, check=True)
    daemon.ketch("run", "--name", name, parent, "touch", "/b", check=True)
    child = daemon.ketch("commit", name, "kt-commit/pruned").stdout.strip()
    daemon.ketch("rm", name, check=True)
    res = daemon.ketch("rmi", parent[7:19])
    assert res.returncode == 1
    assert res.stderr.strip() == (f"Error response from daemon: conflict: unable to delete {parent[7:19]} "
                                  "(cannot be forced) - image has dependent child images")
    images = daemon.ketch("images", "-q").stdout.split()
    assert parent[7:19] not in images  # an intermediate image: only -a lists it
    assert parent[7:19] in daemon.ketch("images", "-a", "-q").stdout.split()
    out = daemon.ketch("rmi", "--no-prune", "kt-commit/pruned").stdout.splitlines()
    assert out[:2] == ["Untagged: kt-commit/pruned:latest", f"Deleted: {child}"]
    assert daemon.api("GET", f"/images/{parent}/json")[0] == 200
    out = daemon.ketch("rmi", parent).stdout.splitlines()
    assert out[0] == f"Deleted: {parent}"


def test_commit_of_a_running_container_pauses_it_and_an_unchanged_one_has_no_new_layer(daemon, names):
    name = names()
    daemon.ketch("run", "-d", "--name", name, "busybox", "sleep", "600", check=True)
    try:
        res = daemon.ketch("commit", name)
        assert res.returncode == 0, res.stderr
        image_id = res.stdout.strip()
        doc = daemon.api("GET", f"/images/{image_id}/json")[1]
        busybox = daemon.api("GET", "/images/busybox/json")[1]
        assert doc["RootFS"]["Layers"] == busybox["RootFS"]["Layers"]  # /etc/hosts & co are no change
        status, hist = daemon.api("GET", f"/images/{image_id}/history")
        assert hist[0]["CreatedBy"] == "sleep 600" and hist[0]["Size"] == 0
        assert daemon.api("GET", f"/containers/{name}/json")[1]["State"]["Status"] == "running"
        assert daemon.ketch("commit", "--pause=false", name).returncode == 0
    finally:
        daemon.ketch("rm", "-f", name)
    for image in daemon.api("GET", "/images/json?all=1")[1]:
        if not image["RepoTags"]:
            daemon.api("DELETE", f"/images/{image['Id']}")


def test_commit_errors_in_dockers_words(daemon, names):
    res = daemon.ketch("commit", "nosuch")
    assert (res.returncode, res.stderr.strip()) == (1, "Error response from daemon: No such container: nosuch")
    name = names()
    daemon.ketch("create", "--name", name, "busybox", check=True)
    res = daemon.ketch("commit", name, "UPPER")
    assert res.returncode == 1
    assert res.stderr.strip() == "invalid reference format: repository name (library/UPPER) must be lowercase"
    res = daemon.ketch("commit", "-c", "FROM busybox", name)
    assert res.stderr.strip() == "Error response from daemon: from is not a valid change command"
    daemon.ketch("rm", name)


@needs_docker
def test_docker_cli_and_sdk_commit_and_history(daemon, names):
    name = names()
    daemon.docker("run", "--name", name, "busybox", "sh", "-c", "echo sdk > /sdk.txt", check=True)
    try:
        res = daemon.docker("commit", "-m", "by docker", "-c", "LABEL via=cli", name, "kt-commit/docker:cli")
        assert res.returncode == 0, res.stderr
        assert daemon.docker("run", "--rm", "kt-commit/docker:cli", "cat", "/sdk.txt").stdout == "sdk\n"
        hist = daemon.docker("history", "--format", "{{.Comment}}|{{.CreatedBy}}", "kt-commit/docker:cli")
        assert hist.stdout.splitlines()[0] == "by docker|sh -c echo sdk > /sdk.txt", hist.stderr
        client = daemon.sdk()
        image = client.containers.get(name).commit("kt-commit/docker", "sdk", message="by sdk",
                                                   author="sdk", changes=["ENV X=1"])
        assert image.tags == ["kt-commit/docker:sdk"]
        assert image.attrs["Author"] == "sdk" and "X=1" in image.attrs["Config"]["Env"]
        assert image.history()[0]["Comment"] == "by sdk"
        assert image.labels == {"via": "cli"} or image.labels == {}
    finally:
        daemon.docker("rm", name)
        daemon.docker("rmi", "kt-commit/docker:cli", "kt-commit/docker:sdk")


def _big_container(d, name: str, megabytes: int) -> None:
    d.ketch("run", "--name", name, "busybox", "sh", "-c",
            f"dd if=/dev/urandom of=/big bs=1M count={megabytes} 2>/dev/null", check=True)


def test_a_commit_killed_midway_leaves_nothing_after_restart(fresh_daemon):
    d = fresh_daemon
    _big_container(d, "kt-big", 300)
    before = _store(d)
    images_before = {i["Id"] for i in d.api("GET", "/images/json?all=1")[1]}
    proc = subprocess.Popen(d._ketch_cmd(("commit", "kt-big", "kt-commit/killed")), env=d.env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        ingest = os.path.join(d.data_root, "content", "ingest")
        assert wait_until(lambda: any(os.path.getsize(os.path.join(ingest, f)) > (1 << 20)
                                      for f in os.listdir(ingest)), 30), "the commit never started writing"
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait()
        d.proc = None
    finally:
        proc.wait(30)
    d.start()
    assert {i["Id"] for i in d.api("GET", "/images/json?all=1")[1]} == images_before
    assert _store(d) == before
    assert d.ketch("images", "-q", "kt-commit/killed").stdout == ""


def test_a_failed_commit_leaves_nothing(fresh_daemon):
    """The blob's disk fills up midway: an error, and no image, blob, snapshot or ingest file."""
    d = fresh_daemon
    d.ketch("run", "--name", "kt-fail", "busybox", "sh", "-c",
            "dd if=/dev/urandom of=/big bs=1M count=16 2>/dev/null", check=True)
    before = _store(d)
    ingest = os.path.join(d.data_root, "content", "ingest")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", ingest], check=True)
    try:
        res = d.ketch("commit", "kt-fail", "kt-commit/failed")
        left_in_ingest = os.listdir(ingest)
    finally:
        subprocess.run(["umount", ingest], check=True)
    assert res.returncode == 1
    assert "no space left on device" in res.stderr, res.stderr
    assert left_in_ingest == []
    assert _store(d) == before
    assert d.ketch("images", "-q", "kt-commit/failed").stdout == ""
    assert d.ketch("run", "--rm", "busybox", "true").returncode == 0


def test_a_blob_a_crash_left_unrecorded_is_gone_after_restart(fresh_daemon):
    """The window between a layer blob's rename into the store and the transaction that
    records it: ketchd's start collects what no image names."""
    import hashlib
    d = fresh_daemon
    d.stop()
    data = b"a layer nobody recorded"
    blob = os.path.join(d.data_root, "content", "blobs", "sha256", hashlib.sha256(data).hexdigest())
    with open(blob, "wb") as f:
        f.write(data)
    d.start()
    assert not os.path.exists(blob)
    assert d.ketch("run", "--rm", "busybox", "true").returncode == 0
