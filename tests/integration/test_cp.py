"""docker cp and the archive API on the real kernel, through the docker CLI, the SDK
and ketch's CLI; running and stopped containers; the CVE-2018-15664 race."""

import io
import os
import shutil
import subprocess
import tarfile

import pytest

from tests.integration.conftest import PYTHON, REPO

needs_docker = pytest.mark.skipif(shutil.which("docker") is None, reason="docker CLI not installed")


@pytest.fixture
def running(daemon, names):
    name = names("cp")
    daemon.docker("run", "-d", "--name", name, "busybox", "sleep", "600", check=True)
    yield name
    daemon.docker("rm", "-f", name)


@pytest.fixture
def stopped(daemon, names):
    name = names("cps")
    daemon.docker("create", "--name", name, "busybox", "sh", check=True)
    yield name
    daemon.docker("rm", "-f", name)


def _mounts(daemon) -> list[str]:
    """The host's mounts under this daemon's roots (the other test worker's come and go)."""
    with open("/proc/self/mountinfo") as f:
        return [line for line in f if daemon.root in line]


@needs_docker
@pytest.mark.parametrize("which", ["running", "stopped"])
def test_docker_cp_both_ways(daemon, request, tmp_path, which):
    name = request.getfixturevalue(which)
    before = _mounts(daemon)
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "f.txt").write_text("hello\n")
    (src / "top.txt").write_text("top\n")
    os.symlink("top.txt", src / "link")
    res = daemon.docker("cp", str(src), f"{name}:/tmp/")
    assert res.returncode == 0, res.stderr
    # a directory copied into an existing directory keeps its name...
    out = tmp_path / "out"
    res = daemon.docker("cp", f"{name}:/tmp/src", str(out))
    assert res.returncode == 0, res.stderr
    assert (out / "sub" / "f.txt").read_text() == "hello\n"
    assert os.readlink(out / "link") == "top.txt"
    # ...and "/." copies its contents
    contents = tmp_path / "contents"
    contents.mkdir()
    assert daemon.docker("cp", f"{name}:/tmp/src/.", str(contents)).returncode == 0
    assert sorted(os.listdir(contents)) == ["link", "sub", "top.txt"]
    # a file to a new name
    res = daemon.docker("cp", f"{name}:/etc/passwd", str(tmp_path / "pw"))
    assert res.returncode == 0 and (tmp_path / "pw").read_text().startswith("root:")
    assert _mounts(daemon) == before  # a stopped container's root was mounted privately, and is gone


@needs_docker
def test_docker_cp_errors(daemon, running, tmp_path):
    res = daemon.docker("cp", f"{running}:/nosuch", str(tmp_path))
    assert res.returncode == 1
    assert res.stderr == f"Error response from daemon: Could not find the file /nosuch in container {running}\n"
    res = daemon.docker("cp", f"{running}:/etc/passwd/", str(tmp_path))
    assert res.returncode == 1 and res.stderr.endswith("not a directory\n"), res.stderr
    (tmp_path / "file").write_text("x")
    res = daemon.docker("cp", f"{running}:/etc", str(tmp_path / "file"))
    assert res.returncode == 1
    assert "cannot copy directory" in res.stderr, res.stderr
    res = daemon.docker("cp", str(tmp_path / "file"), f"{running}:/nosuchdir/")
    assert res.returncode == 1 and "no such directory" in res.stderr.lower() or \
        "Could not find the file" in res.stderr, res.stderr


@needs_docker
def test_docker_cp_read_only_rootfs(daemon, names, tmp_path):
    name = names("cpro")
    daemon.docker("run", "-d", "--read-only", "--name", name, "busybox", "sleep", "600", check=True)
    try:
        (tmp_path / "f").write_text("x")
        res = daemon.docker("cp", str(tmp_path / "f"), f"{name}:/tmp/")
        assert res.returncode == 1
        assert res.stderr == "Error response from daemon: container rootfs is marked read-only\n"
        assert daemon.docker("cp", f"{name}:/etc/passwd", str(tmp_path / "pw")).returncode == 0
    finally:
        daemon.docker("rm", "-f", name)


@needs_docker
def test_docker_cp_tar_on_stdin_and_stdout(daemon, running):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo("from-stdin.txt")
        info.size = 3
        tf.addfile(info, io.BytesIO(b"abc"))
    res = subprocess.run(["docker", "cp", "-", f"{running}:/tmp"], input=buf.getvalue(),
                         capture_output=True, env=daemon.env(), timeout=60)
    assert res.returncode == 0, res.stderr
    res = subprocess.run(["docker", "cp", f"{running}:/tmp/from-stdin.txt", "-"],
                         capture_output=True, env=daemon.env(), timeout=60)
    members = tarfile.open(fileobj=io.BytesIO(res.stdout))
    (m,) = members.getmembers()
    assert m.name == "from-stdin.txt" and members.extractfile(m).read() == b"abc"


def test_sdk_put_and_get_archive(daemon, running):
    client = daemon.sdk()
    c = client.containers.get(running)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        d = tarfile.TarInfo("d")
        d.type, d.mode = tarfile.DIRTYPE, 0o750
        tf.addfile(d)
        info = tarfile.TarInfo("d/x")
        info.size, info.uid, info.mode = 2, 1000, 0o640
        tf.addfile(info, io.BytesIO(b"hi"))
        link = tarfile.TarInfo("d/l")
        link.type, link.linkname = tarfile.SYMTYPE, "x"
        tf.addfile(link)
    assert c.put_archive("/tmp", buf.getvalue()) is True
    chunks, st = c.get_archive("/tmp/d")
    assert st["name"] == "d" and st["mode"] == (1 << 31) | 0o750
    assert st["mtime"].endswith("Z") and st["linkTarget"] == ""
    tf = tarfile.open(fileobj=io.BytesIO(b"".join(chunks)))
    x = tf.getmember("d/x")
    assert (x.uid, x.mode, tf.extractfile(x).read()) == (1000, 0o640, b"hi")
    assert tf.getmember("d").isdir()
    chunks, st = c.get_archive("/tmp/d/l")
    assert st["mode"] == (1 << 27) | 0o777 and st["linkTarget"] == "/tmp/d/x"
    (m,) = tarfile.open(fileobj=io.BytesIO(b"".join(chunks))).getmembers()
    assert m.name == "l" and m.issym() and m.linkname == "x"
    import docker
    with pytest.raises(docker.errors.NotFound):
        c.get_archive("/nosuch")
    with pytest.raises(docker.errors.APIError) as err:
        c.put_archive("/etc/passwd", buf.getvalue())
    assert "extraction point is not a directory" in str(err.value)


def test_api_stat_header_and_events(daemon, running):
    status, _body, headers = daemon.api("HEAD", f"/containers/{running}/archive?path=/etc", raw=True)
    assert status == 200
    import base64
    import json
    doc = json.loads(base64.b64decode(headers["x-docker-container-path-stat"]))
    assert doc["name"] == "etc" and doc["mode"] & (1 << 31)
    status, body = daemon.api("GET", f"/containers/{running}/archive")
    assert (status, body) == (400, {"message": "bad parameter: path cannot be empty"})


SWAPPER = r"""
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(void) {
    for (;;)  /* RENAME_EXCHANGE: /w/dir and /w/link (-> /) trade places, atomically */
        syscall(SYS_renameat2, AT_FDCWD, "/w/dir", AT_FDCWD, "/w/link", 2);
}
"""


def test_cp_survives_the_symlink_exchange_race(daemon, names, tmp_path):
    """CVE-2018-15664: while the container swaps a directory and a symlink to / in a
    loop, 200 copies in and out through the swapping path never reach the host."""
    if shutil.which("gcc") is None:
        pytest.skip("gcc not found: scripts/install.sh --with-tests installs it")
    import docker
    src = tmp_path / "swap.c"
    src.write_text(SWAPPER)
    subprocess.run(["gcc", "-static", "-O2", "-o", str(tmp_path / "swap"), str(src)], check=True)
    host_dir = tmp_path / "hostdir"
    host_dir.mkdir()
    (host_dir / "secret").write_text("HOST\n")
    rel = str(host_dir).lstrip("/")  # the same path inside /w/dir, in the container
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        parts = ["w", "w/dir"] + ["w/dir/" + "/".join(rel.split("/")[:i + 1]) for i in range(len(rel.split("/")))]
        for p in parts:
            info = tarfile.TarInfo(p)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tf.addfile(info)
        info = tarfile.TarInfo(f"w/dir/{rel}/secret")
        info.size = 7
        tf.addfile(info, io.BytesIO(b"inside\n"))
        link = tarfile.TarInfo("w/link")
        link.type, link.linkname = tarfile.SYMTYPE, "/"
        tf.addfile(link)
        tf.add(str(tmp_path / "swap"), "swap")
    client = daemon.sdk()
    name = names("race")
    c = client.containers.create("busybox", ["/swap"], name=name)
    try:
        assert c.put_archive("/", buf.getvalue())  # into the stopped container
        c.start()
        payload = io.BytesIO()
        with tarfile.open(fileobj=payload, mode="w") as tf:
            info = tarfile.TarInfo("pwned")
            info.size = 4
            tf.addfile(info, io.BytesIO(b"evil"))
        seen = {"inside": 0, "missing": 0}
        for i in range(200):
            try:
                if i % 2:
                    c.put_archive(f"/w/dir/{rel}", payload.getvalue())
                    continue
                chunks, _ = c.get_archive(f"/w/dir/{rel}/secret")
                data = tarfile.open(fileobj=io.BytesIO(b"".join(chunks)))
                content = data.extractfile(data.getmembers()[0]).read()
                assert content == b"inside\n", content
                seen["inside"] += 1
            except (docker.errors.NotFound, docker.errors.APIError):
                seen["missing"] += 1  # the swap was in the way: refused, never the host's
        assert sorted(os.listdir(host_dir)) == ["secret"]
        assert (host_dir / "secret").read_text() == "HOST\n"
        assert seen["inside"] > 0  # the copies did run through the swapping path
    finally:
        c.remove(force=True)


@pytest.mark.parametrize("which", ["running", "stopped"])
def test_ketch_cp_both_ways(daemon, request, tmp_path, which):
    name = request.getfixturevalue(which)
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "f.txt").write_text("hello\n")
    os.symlink("sub/f.txt", src / "link")
    res = daemon.ketch("cp", str(src), f"{name}:/tmp/")
    assert (res.returncode, res.stderr) == (0, ""), res.stderr
    # what ketch put in, docker's own client reads back the same
    out = tmp_path / "out"
    assert daemon.docker("cp", f"{name}:/tmp/src", str(out)).returncode == 0
    assert (out / "sub" / "f.txt").read_text() == "hello\n" and os.readlink(out / "link") == "sub/f.txt"
    back = tmp_path / "back"
    res = daemon.ketch("cp", f"{name}:/tmp/src", str(back))
    assert res.returncode == 0, res.stderr
    assert (back / "sub" / "f.txt").read_text() == "hello\n"
    contents = tmp_path / "contents"
    contents.mkdir()
    assert daemon.ketch("cp", f"{name}:/tmp/src/.", str(contents)).returncode == 0
    assert sorted(os.listdir(contents)) == ["link", "sub"]
    res = daemon.ketch("cp", f"{name}:/etc/passwd", str(tmp_path / "pw"))
    assert res.returncode == 0 and (tmp_path / "pw").read_text().startswith("root:")
    res = daemon.ketch("cp", str(tmp_path / "pw"), f"{name}:/tmp/renamed")
    assert res.returncode == 0, res.stderr
    raw = subprocess.run([PYTHON, "-I", "-S", "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
                          "from ketch.cli.main import main; sys.exit(main(sys.argv[2:]))", REPO,
                          "cp", f"{name}:/tmp/renamed", "-"], capture_output=True, env=daemon.env(),
                         timeout=60)
    (m,) = tarfile.open(fileobj=io.BytesIO(raw.stdout)).getmembers()
    assert m.name == "renamed" and m.size == (tmp_path / "pw").stat().st_size


def test_ketch_cp_errors(daemon, running, tmp_path):
    res = daemon.ketch("cp", f"{running}:/nosuch", str(tmp_path))
    assert (res.returncode, res.stderr) == (
        1, f"Error response from daemon: Could not find the file /nosuch in container {running}\n")
    (tmp_path / "file").write_text("x")
    res = daemon.ketch("cp", f"{running}:/etc", str(tmp_path / "file"))
    assert (res.returncode, res.stderr) == (1, "cannot copy directory\n")
    res = daemon.ketch("cp", f"{running}:/etc/passwd", str(tmp_path / "nodir" / "x"))
    assert (res.returncode, res.stderr) == (
        1, f'invalid output path: directory "{tmp_path / "nodir"}" does not exist\n')
    res = daemon.ketch("cp", f"{running}:/etc/passwd", str(tmp_path / "nodir") + "/")
    assert (res.returncode, res.stderr) == (1, "no such directory\n")
    res = daemon.ketch("cp", str(tmp_path / "file"), f"{running}:/etc/passwd/")
    assert (res.returncode, res.stderr) == (1, "no such directory\n")
    res = daemon.ketch("cp", str(tmp_path / "file"), f"{running}:/nosuchdir/x")
    assert (res.returncode, res.stderr) == (
        1, f"Error response from daemon: Could not find the file /nosuchdir in container {running}\n")
    res = daemon.ketch("cp", f"{running}:/a", f"{running}:/b")
    assert (res.returncode, res.stderr) == (1, "copying between containers is not supported\n")


@needs_docker
def test_docker_cp_archive_mode_owns_files_by_the_container_user(daemon, names, tmp_path):
    name = names("cpa")
    daemon.docker("create", "--name", name, "--user", "nobody", "busybox", "sh", check=True)
    try:
        (tmp_path / "f").write_text("x")
        os.chown(tmp_path / "f", 1234, 1234)
        assert daemon.docker("cp", "-a", str(tmp_path / "f"), f"{name}:/tmp/a").returncode == 0
        assert daemon.docker("cp", str(tmp_path / "f"), f"{name}:/tmp/plain").returncode == 0
        chunks, _ = daemon.sdk().containers.get(name).get_archive("/tmp")
        tf = tarfile.open(fileobj=io.BytesIO(b"".join(chunks)))
        owners = {m.name: (m.uid, m.gid) for m in tf}
        assert owners["tmp/a"] == (65534, 65534)  # busybox's nobody
        assert owners["tmp/plain"] == (1234, 1234)  # the tar's own ids, as moby keeps them
    finally:
        daemon.docker("rm", "-f", name)
