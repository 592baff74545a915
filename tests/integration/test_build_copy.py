"""COPY and ADD through a real ketchd (POST /build): what lands in the image and what its
history says, compared with what dockerd 20.10's classic builder gave for the same context
(/work/wt/ORACLE12.md: copy_files, copy_chown, add_forms, add_url, .dockerignore)."""

import gzip
import io
import json
import os
import tarfile
import threading
import urllib.parse
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.integration.conftest import REPO
from tests.integration.buildclean import remove_build_leftovers

pytestmark = pytest.mark.integration

MTIME = 1_600_000_000


def _tar(entries, links=()) -> bytes:
    """(name, data or None for a directory, mode[, uid, gid, mtime]) and (name, target)
    symlinks -> a tar."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, target in links:
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
        for name, data, mode, *rest in entries:
            uid, gid, mtime = rest or (0, 0, MTIME)
            info = tarfile.TarInfo(name)
            info.mode, info.uid, info.gid, info.mtime = mode, uid, gid, mtime
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def build(daemon, context: bytes, **params) -> tuple[int, list[dict]]:
    import sys
    sys.path.insert(0, REPO)
    from ketch.client.http import Connection
    query = urllib.parse.urlencode(params, doseq=True)
    conn = Connection(daemon.socket, daemon.host)
    try:
        resp = conn.send("POST", "/v1.41/build?" + query, context, {"Content-Type": "application/x-tar"})
        payload = resp.read()
    finally:
        conn.close()
    return resp.status, [json.loads(x) for x in payload.decode().splitlines() if x.strip()]


def final_id(messages) -> str:
    errors = [m for m in messages if "error" in m]
    assert not errors, messages
    return [m["aux"]["ID"] for m in messages if "aux" in m][-1]


@pytest.fixture
def served(tmp_path):
    www = tmp_path / "www"
    www.mkdir()
    (www / "remote.txt").write_text("R\n")
    os.utime(www / "remote.txt", (1_500_000_000, 1_500_000_000))

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *a):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(www)))
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_copy_and_add_as_dockerd(daemon, served):
    inner = _tar([("top", None, 0o755, 1234, 5678, 1_000_000_000),
                  ("top/f", b"in the archive\n", 0o640, 1234, 5678, 1_000_000_000)])
    dockerfile = f"""FROM busybox
COPY a.txt /a.txt
COPY dir /d
COPY *.txt /g/
COPY --chown=daemon:bin dir /newparent/sub/dir
COPY --chown=7 a.txt /own/deep/a
ADD t.tar.gz /ex/
ADD {served}/remote.txt /r/
ADD evil.tar /
COPY a.txt /evil/
COPY . /ctx
"""
    context = _tar([
        # the CLI left x.log out; the daemon drops the Dockerfile .dockerignore names
        ("Dockerfile", dockerfile.encode(), 0o644), (".dockerignore", b"*.log\nDockerfile\n", 0o644),
        ("a.txt", b"A\n", 0o644), ("b.txt", b"B\n", 0o644),
        ("dir", None, 0o755), ("dir/x", b"X\n", 0o644), ("dir/sub", None, 0o755), ("dir/sub/y", b"Y\n", 0o644),
        ("t.tar.gz", gzip.compress(inner), 0o644), ("evil.tar", _tar([], links=[("evil", "/tmp")]), 0o644)])
    status, messages = build(daemon, context, t="copy-oracle:1")
    assert status == 200
    image = final_id(messages)
    try:
        _, history = daemon.api("GET", f"/images/{image}/history")
        created = [h["CreatedBy"] for h in reversed(history) if "#(nop) COPY" in h["CreatedBy"]
                   or "#(nop) ADD" in h["CreatedBy"]]
        # dockerd's own hashes for these files (ORACLE12 copy_files, copy_chown, add_url)
        assert created[:7] == [
            "/bin/sh -c #(nop) COPY file:aec08426edefc75f205424b22fe8c93576ea0fd9822f7721f72d73f3aae898ea in /a.txt ",
            "/bin/sh -c #(nop) COPY dir:567ffb566b52f3aa17ba4dbed52ef230c8f65e2c8dadcd0ddcdd9b71a1a54bf3 in /d ",
            "/bin/sh -c #(nop) COPY multi:45610053e726cbbc8db4345937274b723fcc966bdcd698d5d6e7cca3dc12d0e4 in /g/ ",
            "/bin/sh -c #(nop) COPY --chown=daemon:bindir:567ffb566b52f3aa17ba4dbed52ef230c8f65e2c8dadcd0ddcdd9b71a1a54bf3"
            " in /newparent/sub/dir ",
            "/bin/sh -c #(nop) COPY --chown=7file:aec08426edefc75f205424b22fe8c93576ea0fd9822f7721f72d73f3aae898ea"
            " in /own/deep/a ",
            created[5],
            "/bin/sh -c #(nop) ADD 82b3495fc64ec1a1258580f60846119b383ca5d8ceefccb2d5ff9ad06f2c237c in /r/ ",
        ]
        assert created[5].startswith("/bin/sh -c #(nop) ADD file:") and created[5].endswith(" in /ex/ ")
        probe = ("stat -c '%n %a %u:%g %Y' /a.txt /d/x /d/sub/y /g/a.txt /g/b.txt /newparent /newparent/sub"
                 " /newparent/sub/dir /newparent/sub/dir/x /own /own/deep /own/deep/a /ex/top/f /r/remote.txt"
                 " /tmp/a.txt; ls -A /ctx; ls -A /ctx/dir")
        res = daemon.ketch("run", "--rm", "--network", "none", image, "sh", "-c", probe)
        assert res.returncode == 0, res.stderr
        lines = res.stdout.splitlines()
        stats = dict(line.split(" ", 1) for line in lines[:15])
        assert stats["/a.txt"] == f"644 0:0 {MTIME}"
        assert stats["/d/x"] == stats["/d/sub/y"] == stats["/g/b.txt"] == f"644 0:0 {MTIME}"
        assert stats["/newparent"].startswith("755 0:0 ") and stats["/newparent/sub"].startswith("755 0:0 ")
        assert stats["/newparent/sub/dir"].startswith("755 1:2 ") and stats["/newparent/sub/dir/x"] == f"644 1:2 {MTIME}"
        assert stats["/own"].startswith("755 7:7 ") and stats["/own/deep/a"] == f"644 7:7 {MTIME}"
        assert stats["/ex/top/f"] == "640 1234:5678 1000000000"  # the archive's owners and times
        assert stats["/r/remote.txt"] == "600 0:0 1500000000"
        assert stats["/tmp/a.txt"] == f"644 0:0 {MTIME}"  # /evil -> /tmp, followed inside the image
        assert lines[15:] == [".dockerignore", "a.txt", "b.txt", "dir", "evil.tar", "t.tar.gz", "sub", "x"]
        assert all(line.split()[0] in stats for line in lines[:15])
    finally:
        daemon.api("DELETE", f"/images/{image}?force=1")
        remove_build_leftovers(daemon)  # its steps' images: busybox's children


@pytest.mark.parametrize("dockerfile,message", [
    ("FROM busybox\nCOPY nosuch /x\n",
     "COPY failed: file not found in build context or excluded by .dockerignore: stat nosuch: file does not exist"),
    ("FROM busybox\nCOPY nomatch* /x/\n", "COPY failed: no source files were specified"),
    ("FROM busybox\nCOPY ../a.txt /up\n", "COPY failed: forbidden path outside the build context: ../a.txt ()"),
    ("FROM busybox\nCOPY link /link\n",
     "COPY failed: file not found in build context or excluded by .dockerignore: stat link: file does not exist"),
    ("FROM busybox\nCOPY a.txt Dockerfile /m\n",
     "When using COPY with more than one source file, the destination must be a directory and end with a /"),
    ("FROM busybox\nCOPY --chown=nosuch a.txt /x\n",
     "unable to convert uid/gid chown string to host mapping: can't find uid for user nosuch: no such user: nosuch"),
])
def test_copy_errors_are_dockerds(daemon, dockerfile, message):
    context = _tar([("Dockerfile", dockerfile.encode(), 0o644), ("a.txt", b"A\n", 0o644)],
                   links=[("link", "/etc/hostname")])  # out of the context: resolved inside it
    status, messages = build(daemon, context)
    assert status == 200
    assert messages[-1].get("error") == message, messages


def test_a_heredoc_name_with_dotdot_stays_in_the_image(daemon, tmp_path):
    """REVIEW12 #1: `COPY <<../../..x /` wrote a file on the host as root; BuildKit keeps
    only the cleaned name's last component."""
    victim = tmp_path / "heredoc-victim"
    name = "../" * 20 + str(victim).lstrip("/")
    dockerfile = f"FROM busybox\nCOPY <<{name} /\nwritten by a Dockerfile\n{name}\nRUN cat /heredoc-victim\n"
    status, messages = build(daemon, _tar([("Dockerfile", dockerfile.encode(), 0o644)]))
    try:
        assert status == 200
        final_id(messages)
        assert not victim.exists()
        assert "written by a Dockerfile\n" in "".join(m.get("stream", "") for m in messages)
    finally:
        ids = [m["aux"]["ID"] for m in messages if "aux" in m]
        if ids:
            daemon.api("DELETE", f"/images/{ids[-1]}?force=1")
        daemon.ketch("builder", "prune", "-af", check=True)
