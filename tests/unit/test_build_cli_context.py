"""The context ``ketch build`` sends (cli/buildcontext), as docker/cli prepares it: the
tar of a directory minus .dockerignore's exclusions (owners 0:0), ``<Dockerfile>.dockerignore``
first, a Dockerfile from outside or from stdin added under a random name, stdin as a tar or
as a Dockerfile, URLs left to the daemon, and docker/cli's errors."""

import gzip
import io
import os
import tarfile

import pytest

from ketch.cli import buildcontext as bc


def _tree(root, files: dict[str, str]) -> str:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return str(root)


class Entry:
    def __init__(self, info: tarfile.TarInfo, data: bytes | None) -> None:
        self.uid, self.gid, self.mode, self.data = info.uid, info.gid, info.mode, data


def _entries(ctx: bc.Context) -> dict[str, Entry]:
    data = ctx.body.read()
    assert len(data) == ctx.size
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        return {m.name: Entry(m, tf.extractfile(m).read() if m.isreg() else None)
                for m in tf.getmembers()}


def test_a_directory_minus_what_dockerignore_excludes(tmp_path):
    root = _tree(tmp_path, {"Dockerfile": "FROM x\n", "a.txt": "A", "x.log": "", "keep.log": "",
                            "secret/k": "", "sub/ok": "", "sub/z.tmp": "",
                            ".dockerignore": "*.log\n!keep.log\nsecret/\n**/*.tmp\nDockerfile\n"})
    os.chown(tmp_path / "a.txt", 1234, 5678)
    ctx = bc.prepare(root, "", io.BytesIO())
    entries = _entries(ctx)
    assert sorted(entries) == [".dockerignore", "Dockerfile", "a.txt", "keep.log", "sub", "sub/ok"]
    assert ctx.dockerfile == "Dockerfile"
    assert (entries["a.txt"].uid, entries["a.txt"].gid) == (0, 0)  # docker's ChownOpts 0:0
    ctx.close()


def test_the_dockerfiles_own_ignore_file_comes_first(tmp_path):
    root = _tree(tmp_path, {"app.Dockerfile": "FROM x\n", "app.Dockerfile.dockerignore": "b\n",
                            ".dockerignore": "a\n", "a": "", "b": ""})
    entries = _entries(bc.prepare(root, str(tmp_path / "app.Dockerfile"), io.BytesIO()))
    assert "a" in entries and "b" not in entries


def test_lowercase_dockerfile_and_missing_ones(tmp_path):
    root = _tree(tmp_path, {"dockerfile": "FROM x\n"})
    assert bc.prepare(root, "", io.BytesIO()).dockerfile == "dockerfile"
    with pytest.raises(bc.ContextError) as err:
        bc.prepare(root, str(tmp_path / "Nope"), io.BytesIO())
    assert str(err.value) == ("unable to prepare context: unable to evaluate symlinks in Dockerfile path: "
                              f"lstat {tmp_path}/Nope: no such file or directory")
    with pytest.raises(bc.ContextError) as err:
        bc.prepare(str(tmp_path / "gone"), "", io.BytesIO())
    assert str(err.value) == f'unable to prepare context: path "{tmp_path}/gone" not found'
    with pytest.raises(bc.ContextError) as err:
        bc.prepare(str(tmp_path / "dockerfile"), "", io.BytesIO())
    assert str(err.value) == f"unable to prepare context: context must be a directory: {tmp_path}/dockerfile"


def test_a_dockerfile_outside_the_context_goes_in_under_a_random_name(tmp_path):
    root = _tree(tmp_path / "ctx", {"a": "", ".dockerignore": "x\n"})
    outside = tmp_path / "Dockerfile.other"
    outside.write_text("FROM outside\n")
    ctx = bc.prepare(root, str(outside), io.BytesIO())
    assert ctx.dockerfile.startswith(".dockerfile.") and len(ctx.dockerfile) == len(".dockerfile.") + 20
    entries = _entries(ctx)
    assert entries[ctx.dockerfile].data == b"FROM outside\n"
    assert entries[ctx.dockerfile].mode == 0o600
    assert entries[".dockerignore"].data == f"x\n\n{ctx.dockerfile}\n".encode()


def test_a_dockerfile_from_stdin_with_a_directory(tmp_path):
    root = _tree(tmp_path, {"a": ""})
    ctx = bc.prepare(root, "-", io.BytesIO(b"FROM stdin\n"))
    entries = _entries(ctx)
    assert entries[ctx.dockerfile].data == b"FROM stdin\n"
    assert entries[".dockerignore"].data == f".dockerignore\n{ctx.dockerfile}\n".encode()


def test_stdin_is_a_tar_or_a_dockerfile():
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo("Dfile")
        info.size = 7
        tf.addfile(info, io.BytesIO(b"FROM x\n"))
    for body in (buf.getvalue(), gzip.compress(buf.getvalue())):
        ctx = bc.prepare("-", "Dfile", io.BytesIO(body))
        assert (ctx.body.read(), ctx.dockerfile) == (body, "Dfile")
    ctx = bc.prepare("-", "", io.BytesIO(b"FROM plain\n"))
    entries = _entries(ctx)
    assert ctx.dockerfile == "Dockerfile" and entries["Dockerfile"].data == b"FROM plain\n"
    for dockerfile, text in (("-", "invalid argument: can't use stdin for both build context and dockerfile"),
                             ("Dfile", "unable to prepare context from STDIN: ambiguous Dockerfile source: "
                                       "both stdin and flag correspond to Dockerfiles")):
        with pytest.raises(bc.ContextError) as err:
            bc.prepare("-", dockerfile, io.BytesIO(b"FROM plain\n"))
        assert str(err.value) == text


@pytest.mark.parametrize("url, git", [
    ("https://example.com/ctx.tar.gz", False), ("https://example.com/repo.git", True),
    ("https://example.com/repo.git#main:sub", True), ("git@github.com:a/b.git", True),
    ("github.com/a/b", True), ("git://host/repo", True),
])
def test_urls_go_to_the_daemon(url, git):
    assert bc.is_git_url(url) is git
    ctx = bc.prepare(url, "Dfile", io.BytesIO())
    assert (ctx.body, ctx.remote, ctx.dockerfile) == (None, url, "Dfile")


def test_the_tar_ends_as_gos_so_the_size_is_dockers(tmp_path):
    # ORACLE12: "Sending build context to Docker daemon  2.048kB" for a lone Dockerfile
    ctx = bc.prepare(_tree(tmp_path, {"Dockerfile": "FROM busybox\nRUN echo hi\n"}), "", io.BytesIO())
    assert ctx.size == 2048 and len(ctx.body.read()) == 2048
    assert bc.prepare("-", "", io.BytesIO(b"FROM x\n")).size == 2048


def test_a_socket_or_a_dockerfile_symlinked_out_of_the_context(tmp_path):
    import socket
    root = _tree(tmp_path / "ctx", {"a": ""})
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(tmp_path / "ctx" / "sock"))
    (tmp_path / "real").write_text("FROM linked\n")
    os.symlink(tmp_path / "real", tmp_path / "ctx" / "Dockerfile")
    try:
        ctx = bc.prepare(root, "", io.BytesIO())
    finally:
        s.close()
    entries = _entries(ctx)
    assert "sock" not in entries
    assert entries[ctx.dockerfile].data == b"FROM linked\n" and ctx.dockerfile.startswith(".dockerfile.")
