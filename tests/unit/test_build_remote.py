"""ADD <url> and remote build contexts against a loopback HTTP server (and a dumb-HTTP git repo)."""

import gzip
import hashlib
import io
import os
import stat
import subprocess
import tarfile
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ketch import errors
from ketch.build import gitcontext, remote
from ketch.build.copier import copy_sources


class Handler(SimpleHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def end_headers(self):
        if self.path.startswith("/disp/"):
            self.send_header("Content-Disposition", 'attachment; filename="named.bin"')
        super().end_headers()

    def guess_type(self, path):
        if path.endswith("Dockerfile"):
            return "text/plain"
        if path.endswith(".html"):
            return "text/html"
        return "application/octet-stream"


@pytest.fixture
def served(tmp_path):
    root = tmp_path / "www"
    (root / "lm").mkdir(parents=True)
    (root / "disp").mkdir()
    (root / "remote.txt").write_text("R\n")
    (root / "lm/remote.txt").write_text("R\n")
    os.utime(root / "lm/remote.txt", (1500000000, 1500000000))  # the server's Last-Modified
    (root / "disp/index.html").write_text("<html></html>")
    (root / "Dockerfile").write_text("FROM busybox\n")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in (("Dockerfile", b"FROM scratch\n"), ("sub/a.txt", b"A")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    (root / "ctx.tar.gz").write_bytes(gzip.compress(buf.getvalue()))
    evil = io.BytesIO()
    with tarfile.open(fileobj=evil, mode="w") as tf:
        info = tarfile.TarInfo("../escape")
        tf.addfile(info, io.BytesIO(b""))
    (root / "evil.tar").write_bytes(evil.getvalue())
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    work = tmp_path / "work"
    work.mkdir()
    yield f"http://127.0.0.1:{server.server_address[1]}", root, str(work)
    server.shutdown()
    server.server_close()


def test_url_kinds():
    assert remote.is_url("https://x/y") and not remote.is_url("git://x")
    for url in ("https://h/r.git", "https://h/r.git#main:sub", "git://h/r", "git@h:r", "github.com/a/b"):
        assert remote.is_git_url(url), url
    assert not remote.is_git_url("https://h/r.tar")


def test_download_as_dockerd(served, tmp_path):
    url, _, work = served
    dl = remote.download(url + "/lm/remote.txt", work, "/r/")
    # the value dockerd 20.10 put in history for the same download (ORACLE12 add_url)
    assert dl.hash == "82b3495fc64ec1a1258580f60846119b383ca5d8ceefccb2d5ff9ad06f2c237c"
    assert dl.filename == "remote.txt" and os.path.dirname(dl.directory) == work
    st = os.stat(os.path.join(dl.directory, "remote.txt"))
    assert stat.S_IMODE(st.st_mode) == 0o600 and st.st_mtime == 1500000000
    img = tmp_path / "img"
    img.mkdir()
    (img / "bin.tar").mkdir()
    src, dst = dl.open(), os.open(img, os.O_PATH | os.O_DIRECTORY)
    try:
        copy_sources(src, [dl.source], dst, "/r/")
    finally:
        os.close(src)
        os.close(dst)
    assert (img / "r/remote.txt").read_text() == "R\n"


def test_download_names(served):
    url, _, work = served
    assert remote.download(url + "/disp/", work, "/x").filename == "named.bin"
    dl = remote.download(url + "/", work, "/x")  # a directory listing, no name
    assert dl.filename == "" and dl.source.path == remote.UNNAMED
    assert os.stat(os.path.join(dl.directory, remote.UNNAMED)).st_mtime == 0  # no Last-Modified: the epoch
    with pytest.raises(errors.InvalidArgument) as exc:
        remote.download(url + "/", work, "/x/")
    assert str(exc.value) == f"ADD failed: cannot determine filename for source {url}/"
    assert os.listdir(work).count("x") == 0


def test_download_errors(served):
    url, _, work = served
    with pytest.raises(errors.NotFound) as exc:
        remote.download(url + "/nosuch", work, "/x")
    assert str(exc.value).startswith(f"ADD failed: failed to GET {url}/nosuch with status 404 File not found: <!DOCTYPE HTML>")
    with pytest.raises(errors.Internal, match=r'^ADD failed: Get "http://127.0.0.1:1/x": dial tcp 127.0.0.1:1: connect: connection refused$'):
        remote.download("http://127.0.0.1:1/x", work, "/x")
    assert os.listdir(work) == []  # nothing left behind


def test_download_checksum(served):
    url, _, work = served
    good = "sha256:" + hashlib.sha256(b"R\n").hexdigest()
    remote.download(url + "/remote.txt", work, "/x", checksum=good)
    bad = "sha256:" + "0" * 64
    with pytest.raises(errors.InvalidArgument, match=f"^digest mismatch {bad}: {good}$"):
        remote.download(url + "/remote.txt", work, "/x", checksum=bad)
    with pytest.raises(errors.InvalidArgument, match="invalid checksum digest length"):
        remote.download(url + "/remote.txt", work, "/x", checksum="sha256:0000")
    with pytest.raises(errors.InvalidArgument, match="unsupported digest algorithm"):
        remote.download(url + "/remote.txt", work, "/x", checksum="md5:00")


def test_remote_contexts(served):
    url, _, work = served
    got = remote.fetch_context(url + "/Dockerfile", work)
    assert got.directory is None and got.dockerfile_text == "FROM busybox\n"
    got = remote.fetch_context(url + "/ctx.tar.gz", work)
    assert open(os.path.join(got.directory, "sub/a.txt")).read() == "A"
    with pytest.raises(errors.InvalidArgument, match='unsupported Content-Type "text/html"'):
        remote.fetch_context(url + "/disp/index.html", work)
    before = sorted(os.listdir(work))
    with pytest.raises(errors.InvalidArgument, match="is outside of"):
        remote.fetch_context(url + "/evil.tar", work)
    assert sorted(os.listdir(work)) == before
    with pytest.raises(errors.InvalidArgument, match=r"^remoteURL \(ftp://x\) could not be recognized as URL$"):
        remote.fetch_context("ftp://x", work)
    with pytest.raises(errors.NotFound, match=f"^error downloading remote context {url}/nosuch: failed to GET"):
        remote.fetch_context(url + "/nosuch", work)


def test_parse_git_url_refuses_option_injection():
    assert gitcontext.parse_git_url("https://h/r.git#v1:docs") == gitcontext.GitRemote("https://h/r.git", "v1", "docs")
    assert gitcontext.parse_git_url("github.com/a/b") == gitcontext.GitRemote("https://github.com/a/b", "master", "")
    assert gitcontext.parse_git_url("git@h:r.git#dev") == gitcontext.GitRemote("git@h:r.git", "dev", "")
    with pytest.raises(errors.InvalidArgument, match="^invalid refspec: --upload-pack=touch /tmp/pwned$"):
        gitcontext.parse_git_url("https://h/r.git#--upload-pack=touch /tmp/pwned")


def git(cwd, *args):
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd, check=True,
                   capture_output=True, env={"PATH": os.environ["PATH"], "HOME": "/dev/null"})


def test_clone_over_dumb_http(served, tmp_path):
    url, root, work = served
    src = tmp_path / "src"
    src.mkdir()
    git(src, "init", "-q", "-b", "master")
    (src / "Dockerfile").write_text("FROM scratch\n")
    (src / "docs").mkdir()
    (src / "docs/x").write_text("x")
    os.symlink("/etc", src / "escape")
    git(src, "add", "-A")
    git(src, "commit", "-q", "-m", "one")
    git(src, "tag", "v1")
    git(tmp_path, "clone", "-q", "--bare", str(src), str(root / "repo.git"))
    git(root / "repo.git", "update-server-info")
    ctx = gitcontext.clone(url + "/repo.git", work)
    assert open(os.path.join(ctx, "Dockerfile")).read() == "FROM scratch\n"
    sub = remote.fetch_context(url + "/repo.git#v1:docs", work)
    assert os.listdir(sub.directory) == ["x"]
    assert sorted(os.listdir(work)) == sorted([os.path.basename(ctx), os.path.basename(sub.directory)])
    with pytest.raises(errors.InvalidArgument, match="not within git root"):
        gitcontext.clone(url + "/repo.git#:../..", work)
    with pytest.raises(errors.InvalidArgument):
        gitcontext.clone(url + "/repo.git#:escape", work)  # /etc of the checkout: none
    with pytest.raises(errors.Internal, match="error fetching"):
        gitcontext.clone(url + "/nosuch.git", work)
    # moby's texts, without the daemon's own directories (ACCEPT12 F3e)
    with pytest.raises(errors.InvalidArgument, match=r"^stat docker-build-git\w+/nosuch: no such file or directory$"):
        gitcontext.clone(url + "/repo.git#master:nosuch", work)
    with pytest.raises(errors.InvalidArgument,
                       match=r"^error setting git context, not a directory: docker-build-git\w+/Dockerfile$"):
        gitcontext.clone(url + "/repo.git#master:Dockerfile", work)
    assert len(os.listdir(work)) == 2  # the failures left nothing


def test_git_reads_none_of_the_hosts_configuration(tmp_path, monkeypatch):
    """$XDG_CONFIG_HOME/git/config is git's global file too (HOME=/dev/null is not enough):
    a url.insteadOf there could send a clone elsewhere."""
    xdg = tmp_path / "xdg"
    (xdg / "git").mkdir(parents=True)
    (xdg / "git" / "config").write_text("[user]\n\tname = from-the-host\n")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(xdg))
    code, out = gitcontext._git(str(tmp_path), "config", "--get", "user.name")
    assert (code, out) == (1, "")
