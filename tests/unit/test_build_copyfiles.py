"""ContextFiles: the context's and ADD <url>'s sources hashed, then written into a root."""

import hashlib
import os
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ketch import errors
from ketch.build.backend import MountedRoots
from ketch.build.copyfiles import ContextFiles
from ketch.build.copyjob import CopyJob


@pytest.fixture(autouse=True)
def _system_temp_of_the_test(tmp_path_factory, monkeypatch):
    """A ContextFiles() without a scratch dir downloads into the system's temp dir, which
    the test never removed (/tmp/downloads-* piled up): the test's own one instead."""
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path_factory.mktemp("systemp")))


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *a):
        pass


@pytest.fixture
def setup(tmp_path):
    www, ctx, img = tmp_path / "www", tmp_path / "ctx", tmp_path / "img"
    for d in (www, ctx, img):
        d.mkdir()
    (www / "remote.txt").write_text("R\n")
    os.utime(www / "remote.txt", (1500000000, 1500000000))
    (ctx / "a.txt").write_text("A\n")
    os.chmod(ctx / "a.txt", 0o644)
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(www)))
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", str(ctx), img
    server.shutdown()
    server.server_close()


def edit(files, job, img):
    fd = os.open(img, os.O_PATH | os.O_DIRECTORY)
    try:
        files.edit(job)(MountedRoots(fd, {}))
    finally:
        os.close(fd)


def test_add_url_hashed_and_written_as_dockerd(setup):
    url, ctx, img = setup
    files = ContextFiles()
    job = CopyJob("ADD", (url + "/remote.txt",), "/r/", ctx, decompress=True)
    assert files.hash(job) == "82b3495fc64ec1a1258580f60846119b383ca5d8ceefccb2d5ff9ad06f2c237c"
    edit(files, job, img)
    st = os.stat(img / "r/remote.txt")
    assert (img / "r/remote.txt").read_text() == "R\n" and st.st_mtime == 1500000000 and st.st_mode & 0o777 == 0o600
    downloads = files._downloads
    assert os.path.isdir(downloads)
    files.close()
    assert not os.path.exists(downloads)  # the downloads go with the build's end


def test_downloads_go_under_the_daemons_scratch_and_close_removes_them(setup, tmp_path):
    url, ctx, _img = setup
    scratch = tmp_path / "downloads"
    scratch.mkdir()
    files = ContextFiles(str(scratch))
    files.hash(CopyJob("ADD", (url + "/remote.txt",), "/r/", ctx))
    [made] = os.listdir(scratch)
    assert made.startswith("downloads-")
    files.close()
    assert os.listdir(scratch) == []


def test_mixed_sources_keep_their_order(setup):
    url, ctx, img = setup
    files = ContextFiles()
    job = CopyJob("ADD", ("a.txt", "nomatch*", url + "/remote.txt"), "/m/", ctx, decompress=True)
    local = "file:aec08426edefc75f205424b22fe8c93576ea0fd9822f7721f72d73f3aae898ea"
    remote_hash = "82b3495fc64ec1a1258580f60846119b383ca5d8ceefccb2d5ff9ad06f2c237c"
    assert files.hash(job) == "multi:" + hashlib.sha256(f"{local},{remote_hash}".encode()).hexdigest()
    edit(files, job, img)
    assert sorted(os.listdir(img / "m")) == ["a.txt", "remote.txt"]


def test_url_sources_refused_or_missing(setup):
    url, ctx, _ = setup
    files = ContextFiles()
    with pytest.raises(errors.InvalidArgument, match="^COPY failed: source can't be a URL for COPY$"):
        files.hash(CopyJob("COPY", (url + "/remote.txt",), "/x", ctx))
    with pytest.raises(errors.InvalidArgument, match="^ADD failed: no source files were specified$"):
        files.hash(CopyJob("ADD", ("nomatch*",), "/x", ctx))
    with pytest.raises(errors.NotFound, match="^ADD failed: failed to GET .* with status 404"):
        files.hash(CopyJob("ADD", (url + "/nosuch",), "/x", ctx))


def test_a_download_prints_the_empty_line_dockerd_does(setup):
    """ORACLE12 api stream: after an ADD <url> step's header, {"stream": "\\n"}."""
    from ketch.build import instructions as ins
    from ketch.build.request import Message
    from tests.unit.buildhelpers import L, Build, dockerfile, stage

    url, ctx, _ = setup
    b = Build()
    b.files = ContextFiles()
    sd = ins.SourcesAndDest((url + "/remote.txt", "a.txt"), "/r/")
    b(dockerfile(stage("busybox", ins.AddInstr(L, f"ADD {url}/remote.txt a.txt /r/", files=sd))), ctx)
    kinds = [(type(e).__name__, getattr(e, "text", "")) for e in b.events]
    start = kinds.index(("StepStart", f"ADD {url}/remote.txt a.txt /r/"))
    assert kinds[start + 1] == ("Message", "\n") and kinds[start + 2][0] == "StepDone"
    assert not any(isinstance(e, Message) for e in b.events[:start])


def test_a_contextless_builds_empty_root_is_made_under_the_scratch(tmp_path, monkeypatch):
    # REVIEW12 #7: it was made in the host's /tmp
    import tempfile

    from ketch.build import copyfiles
    made = []
    real = tempfile.TemporaryDirectory

    def recording(*args, **kwargs):
        made.append(kwargs.get("dir"))
        return real(*args, **kwargs)
    monkeypatch.setattr(copyfiles.tempfile, "TemporaryDirectory", recording)
    with pytest.raises(errors.KetchError):
        ContextFiles(str(tmp_path)).hash(CopyJob("COPY", ("a.txt",), "/a", None))
    assert made == [str(tmp_path)] and os.listdir(tmp_path) == []


def test_copy_from_hashes_the_image_files_as_dockerd(tmp_path):
    """ORACLE12 multistage: ``COPY --from=b /b /b`` (RUN echo b > /b) and ``COPY --from=0
    /a /a0`` are dockerd's ``file:4680...`` and ``file:4f79...``, the same for any image
    holding the same files."""
    for name, data in (("b", b"b\n"), ("a", b"a\n")):
        (tmp_path / name).write_bytes(data)
        os.chmod(tmp_path / name, 0o644)
        os.chown(tmp_path / name, 0, 0)
    fd = os.open(tmp_path, os.O_PATH | os.O_DIRECTORY)
    try:
        def hashed(src, image):
            job = CopyJob(kind="COPY", sources=(src,), dest="/x", context_dir=None, from_image=image)
            return ContextFiles().hash(job, fd)
        assert hashed("/b", "sha256:1") == \
            "file:468064841c1720b182fd2d452baf885b13e50394e2cf5049483cbf6cbd13e611"
        assert hashed("/a", "sha256:2") == hashed("/a", "sha256:3") == \
            "file:4f79ed3bc08cc1dc3c9b85e5249b0dad0a92a4da32e272c4a13021fbc28bf3ca"
    finally:
        os.close(fd)
