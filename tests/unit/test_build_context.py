"""COPY/ADD sources in a root: globs, clamping, symlinks kept inside, hashes, moby's texts."""

import os
import threading

import pytest

from ketch import errors
from ketch.build.context import check_destination, read_dockerfile, resolve_sources, sources_hash


@pytest.fixture
def ctx(tmp_path):
    root = tmp_path / "ctx"
    for path, text in {"a.txt": "a", "b.txt": "b", "c.md": "c", "sub/d.txt": "d", "sub/deep/e.txt": "e",
                       "Dockerfile": "FROM scratch\n"}.items():
        p = root / path
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    (tmp_path / "secret").write_text("outside")
    fd = os.open(root, os.O_PATH | os.O_DIRECTORY)
    yield root, fd
    os.close(fd)


def paths(sources):
    return [(s.path, s.is_dir) for s in sources]


def test_plain_and_prefixed_paths(ctx):
    root, fd = ctx
    assert paths(resolve_sources(fd, ["a.txt", "/b.txt", "./sub"])) == [("a.txt", False), ("b.txt", False), ("sub", True)]
    assert paths(resolve_sources(fd, ["."])) == [(".", True)]


def test_globs_are_gos_and_walk_order(ctx):
    _, fd = ctx
    assert paths(resolve_sources(fd, ["*.txt"])) == [("a.txt", False), ("b.txt", False)]
    assert paths(resolve_sources(fd, ["*/*.txt"])) == [("sub/d.txt", False)]
    assert paths(resolve_sources(fd, ["s?b", "[ab].txt"])) == [("sub", True), ("a.txt", False), ("b.txt", False)]
    with pytest.raises(errors.InvalidArgument, match=r"^COPY failed: no source files were specified$"):
        resolve_sources(fd, ["*.nothere"])
    with pytest.raises(errors.InvalidArgument, match="no source files were specified"):
        resolve_sources(fd, ["["])  # a malformed pattern matches nothing, as in moby


def test_missing_source_texts(ctx):
    _, fd = ctx
    with pytest.raises(errors.InvalidArgument) as exc:
        resolve_sources(fd, ["a.txt", "nothere"])
    assert str(exc.value) == ("COPY failed: file not found in build context or excluded by .dockerignore: "
                              "stat nothere: file does not exist")
    with pytest.raises(errors.InvalidArgument) as exc:
        resolve_sources(fd, ["x/y"], cmd="ADD", in_context=False)
    assert str(exc.value) == "ADD failed: stat x/y: file does not exist"


def test_dotdot_and_symlinks_stay_in_the_root(ctx):
    root, fd = ctx
    # a path climbing out is refused (dockerd 20.10's text); a symlink climbing out is clamped
    for word, shown in (("../secret", "../secret"), ("/sub/../../a.txt", "sub/../../a.txt"), ("..", "..")):
        with pytest.raises(errors.InvalidArgument) as exc:
            resolve_sources(fd, [word])
        assert str(exc.value) == f"COPY failed: forbidden path outside the build context: {shown} ()"
    assert paths(resolve_sources(fd, ["sub/../a.txt"])) == [("sub/../a.txt", False)]
    os.symlink("../secret", root / "up")
    os.symlink(str(root.parent / "secret"), root / "abs")
    os.symlink("/a.txt", root / "toa")
    for link in ("up", "abs"):
        with pytest.raises(errors.InvalidArgument, match="file does not exist"):
            resolve_sources(fd, [link])
    (src,) = resolve_sources(fd, ["toa"])
    assert src.name == "toa" and src.hash == resolve_sources(fd, ["a.txt"])[0].hash  # moby hashes the target


def test_hashes(ctx):
    root, fd = ctx
    h = lambda *words: sources_hash(resolve_sources(fd, list(words)))  # noqa: E731
    file_hash, dir_hash = h("a.txt"), h("sub")
    assert file_hash.startswith("file:") and len(file_hash) == 5 + 64
    assert dir_hash.startswith("dir:") and h("*.txt").startswith("multi:")
    assert h("a.txt") == file_hash  # stable
    os.utime(root / "a.txt", (1, 1))
    assert h("a.txt") == file_hash  # mtime is not part of it (moby's tarsum v1)
    os.chmod(root / "a.txt", 0o600)
    assert h("a.txt") != file_hash
    before = h("sub")
    (root / "sub/deep/e.txt").write_text("E")
    assert h("sub") != before and h("sub") != dir_hash
    before = h("sub")
    os.chown(root / "sub/d.txt", 1000, 1000)
    assert h("sub") != before
    before = h(".")
    (root / "new").write_text("")
    assert h(".") != before


def test_check_destination():
    check_destination("COPY", 1, "/x")
    check_destination("COPY", 2, "/x/")
    with pytest.raises(errors.InvalidArgument) as exc:
        check_destination("ADD", 2, "/x")
    assert str(exc.value) == ("When using ADD with more than one source file, the destination must be a directory "
                              "and end with a /")


def test_hashes_are_dockerds_for_a_context_the_cli_sent(tmp_path):
    """The values dockerd 20.10 put in history for the same files (ORACLE12, copy_files)."""
    files = {"a.txt": "A\n", "b.txt": "B\n", "dir/x": "X\n", "dir/sub/y": "Y\n"}
    for path, text in files.items():
        p = tmp_path / path
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
        os.chmod(p, 0o644)
    for d in (tmp_path / "dir", tmp_path / "dir/sub"):
        os.chmod(d, 0o755)
    fd = os.open(tmp_path, os.O_PATH | os.O_DIRECTORY)
    try:
        h = lambda *words: sources_hash(resolve_sources(fd, list(words)))  # noqa: E731
        assert h("a.txt") == "file:aec08426edefc75f205424b22fe8c93576ea0fd9822f7721f72d73f3aae898ea"
        assert h("dir") == h("dir/") == "dir:567ffb566b52f3aa17ba4dbed52ef230c8f65e2c8dadcd0ddcdd9b71a1a54bf3"
        assert h("*.txt") == "multi:45610053e726cbbc8db4345937274b723fcc966bdcd698d5d6e7cca3dc12d0e4"
        assert h("a.txt", "dir") == "multi:b546d00db31ae4e828d243d3138efa3ba336682ee67af279c2c156985d36fa48"
    finally:
        os.close(fd)


def test_read_dockerfile(ctx):
    root, fd = ctx
    assert read_dockerfile(fd, "Dockerfile") == ("Dockerfile", "FROM scratch\n")
    with pytest.raises(errors.InvalidArgument, match="^Cannot locate specified Dockerfile: sub/Dockerfile$"):
        read_dockerfile(fd, "sub/Dockerfile")
    with pytest.raises(errors.InvalidArgument, match="^Cannot locate specified Dockerfile: sub$"):
        read_dockerfile(fd, "sub")
    os.rename(root / "Dockerfile", root / "dockerfile")
    # moby's lower-case fallback
    assert read_dockerfile(fd, "Dockerfile") == ("dockerfile", "FROM scratch\n")
    (root / "empty").write_text("")
    with pytest.raises(errors.InvalidArgument, match=r"^the Dockerfile \(empty\) cannot be empty$"):
        read_dockerfile(fd, "empty")
    os.symlink(str(root.parent / "secret"), root / "out")  # out of the context: resolved inside it
    with pytest.raises(errors.InvalidArgument, match="Cannot locate"):
        read_dockerfile(fd, "out")


def test_read_dockerfile_takes_a_regular_file_of_a_bounded_size(ctx):
    """A FIFO named Dockerfile would block the reading thread, a device could be read
    forever: only a regular file is a Dockerfile, of 16 MiB at most."""
    root, fd = ctx
    os.mkfifo(root / "fifo")
    unblock = threading.Timer(3, lambda: os.close(os.open(root / "fifo", os.O_WRONLY | os.O_NONBLOCK)))
    unblock.start()  # a reader that blocked is let go, so the test fails instead of hanging
    try:
        with pytest.raises(errors.InvalidArgument, match="^Cannot locate specified Dockerfile: fifo$"):
            read_dockerfile(fd, "fifo")
    finally:
        unblock.cancel()
    with open(root / "big", "wb") as f:
        f.truncate((16 << 20) + 1)
    with pytest.raises(errors.InvalidArgument, match=r"^the Dockerfile \(big\) is larger than 16777216 bytes$"):
        read_dockerfile(fd, "big")
