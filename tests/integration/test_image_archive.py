"""save, load and import from a URL against a ketchd of this module's own (so that its
blobs, snapshots and images can be counted): round trips, Docker's messages, hostile and
broken archives that change nothing, and a load cut off half-way."""

import hashlib
import http.server
import io
import json
import os
import pty
import socket
import subprocess
import tarfile
import threading

import pytest

from tests.integration.conftest import destroy_daemon, make_daemon

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def kd():
    d = make_daemon()
    yield d
    destroy_daemon(d)


def _tar(files: dict[str, bytes], gz: bool = False) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz" if gz else "w") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _rootfs(marker: str) -> bytes:
    with open("/bin/busybox", "rb") as f:
        return _tar({"bin/busybox": f.read(), "marker": marker.encode()}, gz=True)


def _import(kd, tmp_path, ref: str, marker: str) -> str:
    path = tmp_path / f"{marker}.tar.gz"
    path.write_bytes(_rootfs(marker))
    res = kd.ketch("import", "-c", 'CMD ["/bin/busybox", "cat", "/marker"]', str(path), ref, check=True)
    return res.stdout.strip()


def _state(kd) -> dict:
    """What a load must leave as it was when it fails."""
    content = os.path.join(kd.data_root, "content")
    return {
        "images": sorted((i["Id"], tuple(sorted(i["RepoTags"] or ()))) for i in kd.api("GET", "/images/json")[1]),
        "blobs": sorted(os.listdir(os.path.join(content, "blobs", "sha256"))),
        "ingest": os.listdir(os.path.join(content, "ingest")),
        "snapshots": sorted(os.listdir(os.path.join(kd.data_root, "snapshots"))),
    }


def _load_api(kd, data: bytes, quiet: bool = True) -> list[dict]:
    status, body, _ = kd.api("POST", f"/images/load?quiet={int(quiet)}", data, raw=True)
    assert status == 200, body
    return [json.loads(line) for line in body.splitlines() if line.strip()]


def _gc(kd) -> None:
    """The garbage collection an rmi runs: of a throwaway tag's image."""
    kd.ketch("tag", "busybox", "gc-trigger:x", check=True)
    kd.ketch("rmi", "gc-trigger:x", check=True)


def test_save_rmi_load_run(kd, tmp_path):
    image_id = _import(kd, tmp_path, "arch/app:1", "one")
    kd.ketch("tag", "arch/app:1", "arch/app:extra", check=True)
    archive = tmp_path / "app.tar"
    kd.ketch("save", "-o", str(archive), "arch/app", check=True)
    with tarfile.open(archive) as tf:
        manifest = json.load(tf.extractfile("manifest.json"))
        assert "index.json" in tf.getnames() and "oci-layout" in tf.getnames()
    assert manifest[0]["RepoTags"] == ["arch/app:1", "arch/app:extra"]
    kd.ketch("rmi", "arch/app:1", "arch/app:extra", check=True)

    res = kd.ketch("load", "-i", str(archive), check=True)
    assert res.stdout == "Loaded image: arch/app:1\nLoaded image: arch/app:extra\n"
    assert kd.api("GET", "/images/arch/app:1/json")[1]["Id"] == image_id
    run = kd.ketch("run", "--rm", "arch/app:extra", check=True)
    assert run.stdout == "one"
    # the same archive again: nothing renamed, the layer reused
    before = _state(kd)
    res = kd.ketch("load", "-q", input=archive.read_bytes(), check=True)
    assert res.stdout == "Loaded image: arch/app:1\nLoaded image: arch/app:extra\n"
    assert _state(kd) == before
    kd.ketch("rmi", "arch/app:1", "arch/app:extra", check=True)


def test_load_moves_a_tag_with_dockers_message(kd, tmp_path):
    old = _import(kd, tmp_path, "arch/moved:1", "old")
    archive = tmp_path / "new.tar"
    new = _import(kd, tmp_path, "arch/moved:1", "new")
    kd.ketch("save", "-o", str(archive), "arch/moved:1", check=True)
    kd.ketch("tag", old, "arch/moved:1", check=True)

    res = kd.ketch("load", "-i", str(archive), check=True)
    assert res.stdout == (f"The image arch/moved:1 already exists, renaming the old one with ID {old} "
                          "to empty string\nLoaded image: arch/moved:1\n")
    assert kd.api("GET", "/images/arch/moved:1/json")[1]["Id"] == new
    kd.ketch("rmi", old, new, check=True)


def test_save_by_id_has_no_tags_and_load_prints_the_id(kd, tmp_path):
    image_id = _import(kd, tmp_path, "arch/byid:1", "byid")
    status, body, headers = kd.api("GET", f"/images/{image_id[7:19]}/get", raw=True)
    assert status == 200 and headers["content-type"] == "application/x-tar"
    with tarfile.open(fileobj=io.BytesIO(body)) as tf:
        assert json.load(tf.extractfile("manifest.json"))[0]["RepoTags"] is None
        assert "repositories" not in tf.getnames()
    kd.ketch("rmi", "arch/byid:1", check=True)
    assert _load_api(kd, body) == [{"stream": f"Loaded image ID: {image_id}\n"}]
    kd.ketch("rmi", image_id, check=True)


def test_save_errors_are_dockers(kd, tmp_path):
    res = kd.ketch("save", "-o", str(tmp_path / "x.tar"), "nosuch:tag")
    assert (res.returncode, res.stderr) == (1, "Error response from daemon: reference does not exist\n")
    assert not (tmp_path / "x.tar").exists()
    res = kd.ketch("save", "-o", str(tmp_path / "x.tar"), "nosuchrepo")
    assert res.stderr == "Error response from daemon: No such image: nosuchrepo\n"
    res = kd.ketch("save", "-o", str(tmp_path / "missing" / "x.tar"), "busybox")
    assert res.stderr == (f"failed to save image: invalid output path: stat {tmp_path}/missing: "
                          "no such file or directory\n")
    # stdout on a terminal: refused before the daemon is asked
    leader, follower = pty.openpty()
    try:
        proc = subprocess.run(kd._ketch_cmd(["save", "busybox"]), stdout=follower, stderr=subprocess.PIPE,
                              stdin=subprocess.DEVNULL, env=kd.env(), timeout=30)
    finally:
        os.close(follower)
        os.close(leader)
    assert (proc.returncode, proc.stderr) == (
        1, b"cowardly refusing to save to a terminal. Use the -o flag or redirect\n")


def test_load_from_a_terminal_stdin_is_refused(kd):
    leader, follower = pty.openpty()
    try:
        proc = subprocess.run(kd._ketch_cmd(["load"]), stdin=follower, capture_output=True,
                              env=kd.env(), timeout=30)
    finally:
        os.close(follower)
        os.close(leader)
    assert (proc.returncode, proc.stderr) == (1, b"requested load from stdin, but stdin is empty\n")


def test_load_progress_when_not_quiet(kd, tmp_path):
    _import(kd, tmp_path, "arch/progress:1", "progress")
    status, body, _ = kd.api("GET", "/images/get?names=arch/progress:1", raw=True)
    kd.ketch("rmi", "arch/progress:1", check=True)
    messages = _load_api(kd, body, quiet=False)
    progress = [m for m in messages if m.get("status") == "Loading layer"]
    assert progress and progress[-1]["progressDetail"]["current"] == progress[-1]["progressDetail"]["total"]
    assert len(progress[-1]["id"]) == 12
    assert progress[-1]["progress"].startswith("[" + "=" * 50 + ">]")
    assert messages[-1] == {"stream": "Loaded image: arch/progress:1\n"}
    kd.ketch("rmi", "arch/progress:1", check=True)


def _layer(files: dict[str, bytes]) -> bytes:
    return _tar(files)


def _docker_archive(images, extra=()) -> bytes:
    """A manifest.json archive of (tags, layers, diff_ids or None) images."""
    entries, manifest = dict(extra), []
    for tags, layers, diff_ids in images:
        diff_ids = diff_ids or ["sha256:" + hashlib.sha256(x).hexdigest() for x in layers]
        config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                             "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
        cname = hashlib.sha256(config).hexdigest() + ".json"
        entries[cname] = config
        paths = []
        for layer in layers:
            name = hashlib.sha256(layer).hexdigest()[:16] + "/layer.tar"
            entries[name] = layer
            paths.append(name)
        manifest.append({"Config": cname, "RepoTags": tags, "Layers": paths})
    entries["manifest.json"] = json.dumps(manifest).encode()
    return _tar(entries)


def test_failed_load_changes_nothing(kd):
    """The first image is fine, the second's layer does not match its DiffID: neither is
    loaded, no tag moves, and no blob, snapshot or spooled file is left."""
    before = _state(kd)
    good = _layer({"good": b"1"})
    bad = _layer({"bad": b"2"})
    data = _docker_archive([(["arch/first:1"], [good], None),
                            (["arch/second:1"], [good, bad],
                             ["sha256:" + hashlib.sha256(good).hexdigest(), "sha256:" + "0" * 64])])
    messages = _load_api(kd, data)
    assert messages[-1]["error"] == (f'invalid diffID for layer 1: expected "sha256:{"0" * 64}", '
                                     f'got "sha256:{hashlib.sha256(bad).hexdigest()}"')
    assert messages[-1]["errorDetail"] == {"message": messages[-1]["error"]}
    assert _state(kd) == before


def test_a_layer_named_twice_gets_two_directories_and_a_stray_tar_nothing(kd):
    """A layer named twice (two chain ids) gets two snapshots, a tar no manifest names
    leaves nothing, and a load that fails once its layer is spooled leaves nothing."""
    layer = _layer({"twice": b"1"})
    stray = _layer({"stray": b"2"})
    before = _state(kd)
    data = _docker_archive([(["arch/twice:1"], [layer, layer], None)], extra={"stray.tar": stray})
    messages = _load_api(kd, data)
    assert messages[-1] == {"stream": "Loaded image: arch/twice:1\n"}
    added = set(_state(kd)["snapshots"]) - set(before["snapshots"])
    assert len(added) == 2
    kd.ketch("rmi", "arch/twice:1", check=True)
    _gc(kd)
    before = _state(kd)
    config = json.dumps({"os": "linux", "rootfs": {"type": "layers", "diff_ids": [
        "sha256:" + hashlib.sha256(layer).hexdigest()]}}).encode()
    broken = _tar({"l/layer.tar": layer, "c.json": config, "manifest.json": json.dumps(
        [{"Config": "c.json", "RepoTags": ["arch/broken:1"], "Layers": ["missing/layer.tar"]}]).encode()})
    messages = _load_api(kd, broken)
    assert "missing/layer.tar" in messages[-1]["error"]
    assert _state(kd) == before


HOSTILE = {
    "config-dotdot": ({"manifest.json": b'[{"Config":"../../../../etc/passwd","Layers":[]}]'},
                      "leads outside the archive"),
    "layer-absolute": ({"c.json": b'{"os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:' + b"1" * 64 + b'"]}}',
                        "manifest.json": b'[{"Config":"c.json","Layers":["/etc/shadow"]}]'},
                       "absolute path"),
    "not-a-tar": ({}, "Error processing tar file(exit status 1): archive/tar: invalid tar header"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_archives_change_nothing(kd, case):
    files, message = HOSTILE[case]
    before = _state(kd)
    data = _tar(files) if files else b"garbage" * 1000
    messages = _load_api(kd, data)
    assert message in messages[-1]["error"]
    assert _state(kd) == before
    res = kd.ketch("load", input=data)
    assert res.returncode == 1 and message in res.stderr


def test_symlink_in_the_archive_pointing_out_is_refused(kd):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo("manifest.json")
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/passwd"
        tf.addfile(info)
    before = _state(kd)
    messages = _load_api(kd, buf.getvalue())
    assert "outside the archive" in messages[-1]["error"]
    assert _state(kd) == before


def test_interrupted_load_leaves_nothing(kd, tmp_path):
    """The client goes away half-way through the upload."""
    big = _layer({"big": os.urandom(4 << 20)})
    data = _docker_archive([(["arch/cut:1"], [big], None)])
    before = _state(kd)
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(kd.socket)
        s.sendall(b"POST /images/load HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-tar\r\n"
                  b"Content-Length: %d\r\n\r\n" % len(data) + data[: len(data) // 2])
        # The upload ends there; ketchd closes the connection once the load is undone (its
        # clean-up runs before the handler ends). Waiting for that, not for the state to
        # match: before ketchd read the request, it matched already.
        s.shutdown(socket.SHUT_WR)
        s.settimeout(30)
        while s.recv(65536):
            pass
    assert _state(kd) == before
    _gc(kd)
    assert _state(kd) == before


def test_kill_during_load_then_restart_leaves_nothing(fresh_daemon, tmp_path):
    """kill -9 of ketchd while a load has spooled part of the archive: after the restart
    (and a garbage collection) the store is as before."""
    d = fresh_daemon
    before = _state(d)
    big = _layer({"big": os.urandom(8 << 20)})
    data = _docker_archive([(["arch/killed:1"], [big], None)])
    s = socket.socket(socket.AF_UNIX)
    s.connect(d.socket)
    s.sendall(b"POST /images/load HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-tar\r\n"
              b"Content-Length: %d\r\n\r\n" % len(data) + data[: len(data) - 4096])
    ingest = os.path.join(d.data_root, "content", "ingest")
    import time
    deadline = time.monotonic() + 10
    while not os.listdir(ingest) and time.monotonic() < deadline:
        time.sleep(0.05)
    d.proc.kill()
    d.proc.wait()
    s.close()
    d.start()
    _gc(d)
    assert _state(d) == before


class _Files(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}

    def do_GET(self):
        data = self.files.get(self.path)
        if data is None:
            self.send_response(404)
            self.end_headers()
            self.wfile.write(b"not here\n")
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def web():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_import_from_a_url(kd, web):
    server, base = web
    _Files.files = {"/rootfs.tar.gz": _rootfs("from-url")}
    res = kd.ketch("import", "-c", 'CMD ["/bin/busybox", "cat", "/marker"]', f"{base}/rootfs.tar.gz",
                   "arch/url:1", check=True)
    lines = res.stdout.splitlines()
    assert lines[0] == f"Downloading from {base}/rootfs.tar.gz"
    assert lines[-1].startswith("sha256:") and len(lines[-1]) == 71
    image = kd.api("GET", "/images/arch/url:1/json")[1]
    assert image["Id"] == lines[-1]
    assert kd.ketch("run", "--rm", "arch/url:1", check=True).stdout == "from-url"
    # the API's stream: the status, the progress, moby's blank status after it, the id
    status, body, _ = kd.api("POST", f"/images/create?fromSrc={base}/rootfs.tar.gz", raw=True)
    messages = [json.loads(line) for line in body.splitlines() if line.strip()]
    assert messages[0] == {"status": f"Downloading from {base}/rootfs.tar.gz"}
    assert messages[-2] == {"status": ""} and messages[-3]["status"] == "Importing"
    assert messages[-1]["status"].startswith("sha256:")
    kd.ketch("rmi", "arch/url:1", check=True)
    kd.ketch("rmi", messages[-1]["status"], check=True)


def test_import_from_a_url_that_fails(kd, web):
    server, base = web
    res = kd.ketch("import", f"{base}/missing.tar", "arch/nope:1")
    assert (res.returncode, res.stderr) == (
        1, f"Error response from daemon: failed to GET {base}/missing.tar with status 404 Not Found: not here\n")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    res = kd.ketch("import", f"http://127.0.0.1:{port}/x.tar")
    assert res.returncode == 1
    assert res.stderr == (f'Error response from daemon: Get "http://127.0.0.1:{port}/x.tar": '
                          f"dial tcp 127.0.0.1:{port}: connect: connection refused\n")


def test_import_with_platform(kd, tmp_path):
    path = tmp_path / "rootfs.tar.gz"
    path.write_bytes(_rootfs("arm"))
    kd.ketch("import", "--platform", "linux/arm/v7", str(path), "arch/arm:1", check=True)
    image = kd.api("GET", "/images/arch/arm:1/json")[1]
    assert (image["Os"], image["Architecture"], image.get("Variant")) == ("linux", "arm", "v7")
    res = kd.ketch("import", "--platform", "windows/amd64", str(path), "arch/win:1")
    assert (res.returncode, res.stderr) == (1, "Error response from daemon: operating system is not supported\n")
    kd.ketch("rmi", "arch/arm:1", check=True)


def test_docker_sdk_saves_and_loads(kd, tmp_path):
    image_id = _import(kd, tmp_path, "arch/sdk:1", "sdk")
    client = kd.sdk()
    try:
        data = b"".join(client.images.get("arch/sdk:1").save(named=True))
        kd.ketch("rmi", "arch/sdk:1", check=True)
        (image,) = client.images.load(data)
        assert image.id == image_id and image.tags == ["arch/sdk:1"]
        import time
        until = int(time.time()) + 1
        status, body, _ = kd.api("GET", f"/events?since=0&until={until}&filters=" +
                                 '{"type":["image"],"event":["save","load"]}', raw=True)
        actions = [json.loads(line)["Action"] for line in body.splitlines() if line.strip()]
        assert "save" in actions and "load" in actions
    finally:
        client.close()
        kd.ketch("rmi", "arch/sdk:1")


def test_loads_what_dockerd_2010_saved_and_saves_it_back(kd, tmp_path):
    from tests.unit.test_tarball import DOCKERD_ARCHIVE, DOCKERD_IMAGE_ID
    res = kd.ketch("load", "-i", DOCKERD_ARCHIVE, check=True)
    assert res.stdout == "Loaded image: dockerd-made:20.10\n"
    image = kd.api("GET", "/images/dockerd-made:20.10/json")[1]
    assert image["Id"] == DOCKERD_IMAGE_ID and image["Config"]["Env"] == ["A=b"]
    out = tmp_path / "again.tar"
    kd.ketch("save", "-o", str(out), "dockerd-made:20.10", check=True)
    with tarfile.open(DOCKERD_ARCHIVE) as a, tarfile.open(out) as b:
        original = a.extractfile(DOCKERD_IMAGE_ID[7:] + ".json").read()
        assert b.extractfile("blobs/sha256/" + DOCKERD_IMAGE_ID[7:]).read() == original
        layer = json.load(b.extractfile("manifest.json"))[0]["Layers"][0]
        assert "sha256:" + hashlib.sha256(b.extractfile(layer).read()).hexdigest() == image["RootFS"]["Layers"][0]
    kd.ketch("rmi", "dockerd-made:20.10", check=True)
