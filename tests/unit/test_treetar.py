"""ketch.storage.treetar: a tree as moby's TarWithOptions writes it, never leaving the tree."""

import io
import os
import socket
import tarfile

from ketch.storage import treetar


def _tar(root: str) -> list[tuple[tarfile.TarInfo, bytes | None]]:
    out = io.BytesIO()
    fd = treetar.open_root(root)
    try:
        treetar.write_tree(fd, out)
    finally:
        os.close(fd)
    out.seek(0)
    with tarfile.open(fileobj=out) as tf:
        return [(m, tf.extractfile(m).read() if m.isreg() else None) for m in tf.getmembers()]


def test_walk_order_types_and_links(tmp_path):
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text("root:x:0:0\n")
    os.link(root / "etc" / "passwd", root / "etc" / "zlink")
    (root / "B").write_text("upper case sorts first")
    os.symlink("/etc/shadow", root / "escape")  # a link out of the root stays a link
    os.symlink("../../../..", root / "etc" / "up")
    os.mkfifo(root / "fifo")
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(root / "sock"))
    s.close()
    os.chmod(root / "etc", 0o751)
    os.utime(root / "B", ns=(0, 1_700_000_000_900_000_000))
    pairs = _tar(str(root))
    members = [m for m, _ in pairs]
    data = {m.name: d for m, d in pairs}
    assert [m.name for m in members] == ["B", "escape", "etc", "etc/passwd", "etc/up", "etc/zlink", "fifo"]
    by = {m.name: m for m in members}
    assert data["B"] == b"upper case sorts first" and by["B"].mtime == 1_700_000_000
    assert by["escape"].issym() and by["escape"].linkname == "/etc/shadow"
    assert by["etc"].isdir() and by["etc"].mode == 0o751
    assert by["etc/zlink"].islnk() and by["etc/zlink"].linkname == "etc/passwd"
    assert by["etc/up"].issym() and by["fifo"].isfifo()
    assert all(m.uname == "" and m.gname == "" for m in members)


def test_the_root_itself_is_not_an_entry_and_an_empty_tree_is_an_empty_tar(tmp_path):
    assert _tar(str(tmp_path)) == []


def test_a_file_that_grows_is_cut_at_its_size(tmp_path):
    (tmp_path / "f").write_bytes(b"abc")
    src = io.BytesIO(b"abcdef")
    assert treetar._Exactly(src, 3).read() == b"abc"
    shrunk = treetar._Exactly(io.BytesIO(b"a"), 3)
    assert shrunk.read(3) == b"a" and shrunk.read(2) == b"\0\0" and shrunk.read() == b""
