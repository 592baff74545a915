"""ketch.storage.difftar: an upper dir as moby's overlay2 Diff archives it (whiteouts,
opaque directories, mount points left out)."""

import io
import os
import stat
import tarfile

import pytest

from ketch.storage import difftar
from ketch.storage.changes import OPAQUE_XATTR, bare_holders
from ketch.storage.overlay import OverlaySnapshotter


def _members(upper: str, skip=frozenset(), lazy=frozenset()):
    out = io.BytesIO()
    fd = os.open(upper, os.O_RDONLY | os.O_DIRECTORY)
    try:
        count, _size = difftar.write_diff(fd, out, skip, lazy)
    finally:
        os.close(fd)
    out.seek(0)
    with tarfile.open(fileobj=out) as tf:
        members = [(m, tf.extractfile(m).read() if m.isreg() else None) for m in tf.getmembers()]
    assert count == len(members)
    return members


def _whiteout(path) -> None:
    os.mknod(path, 0o600 | 0o020000, os.makedev(0, 0))


def test_whiteouts_become_wh_files_and_opaque_dirs_get_a_marker(tmp_path):
    upper = tmp_path / "upper"
    (upper / "etc").mkdir(parents=True)
    (upper / "etc" / "motd").write_text("hello\n")
    _whiteout(upper / "etc" / "gone")
    (upper / "var").mkdir(mode=0o750)
    os.chmod(upper / "var", 0o750)
    os.setxattr(upper / "var", OPAQUE_XATTR, b"y")
    (upper / "var" / "new").write_text("x")
    members = _members(str(upper))
    names = [m.name for m, _ in members]
    assert names == ["etc", "etc/.wh.gone", "etc/motd", "var", "var/.wh..wh..opq", "var/new"]
    by = {m.name: (m, d) for m, d in members}
    wh, data = by["etc/.wh.gone"]
    assert wh.isreg() and wh.mode == 0o600 and wh.size == 0 and data == b""
    opq, _ = by["var/.wh..wh..opq"]
    assert opq.isreg() and opq.mode == 0o750 and opq.mtime == 0
    assert by["etc/motd"][1] == b"hello\n"
    assert not any(k.startswith("SCHILY.xattr.trusted") for m, _ in members for k in m.pax_headers)


def test_mount_points_are_left_out_unless_deleted_and_bare_holders_only_when_needed(tmp_path):
    upper = tmp_path / "upper"
    (upper / "etc").mkdir(parents=True)
    (upper / "etc" / "hosts").write_text("")
    (upper / "proc").mkdir()
    (upper / "dev").mkdir()
    _whiteout(upper / ".dockerenv")
    skip = frozenset({"/etc/hosts", "/proc", "/.dockerenv", "/dev/pts"})
    lazy = frozenset({"/etc", "/dev"})
    assert [m.name for m, _ in _members(str(upper), skip, lazy)] == [".wh..dockerenv"]
    (upper / "etc" / "added").write_text("a")
    assert [m.name for m, _ in _members(str(upper), skip, lazy)] == [".wh..dockerenv", "etc", "etc/added"]


def test_an_unchanged_upper_is_an_empty_layer(tmp_path):
    upper = tmp_path / "upper"
    (upper / "etc").mkdir(parents=True)
    (upper / "etc" / "hostname").write_text("")
    assert _members(str(upper), frozenset({"/etc/hostname"}), frozenset({"/etc"})) == []


@pytest.mark.parametrize("lower_mode,upper_mode,bare", [(0o755, 0o755, True), (0o755, 0o700, False), (None, 0o755, True), (None, 0o711, False)])
def test_bare_holders_follow_the_diff_rule(tmp_path, lower_mode, upper_mode, bare):
    lower, upper = tmp_path / "lower", tmp_path / "upper"
    lower.mkdir()
    (upper / "etc").mkdir(parents=True)
    if lower_mode is not None:
        (lower / "etc").mkdir()
        os.chmod(lower / "etc", lower_mode)
    os.chmod(upper / "etc", upper_mode)
    got = bare_holders([str(lower)], str(upper), frozenset({"/etc/hosts"}))
    assert got == (frozenset({"/etc"}) if bare else frozenset())


def test_snapshotter_diff_streams_the_layer(tmp_path):
    snaps = OverlaySnapshotter(str(tmp_path / "snaps"))
    base = snaps.new()
    os.makedirs(os.path.join(snaps.fs(base), "etc"))
    rw = snaps.new(writable=True)
    os.makedirs(os.path.join(snaps.fs(rw), "etc"))
    open(os.path.join(snaps.fs(rw), "etc", "hosts"), "w").close()
    out = io.BytesIO()
    assert snaps.diff(rw, [base], out, frozenset({"/etc/hosts"})) == (0, 0)
    with open(os.path.join(snaps.fs(rw), "file"), "w") as f:
        f.write("data")
    out = io.BytesIO()
    assert snaps.diff(rw, [base], out, frozenset({"/etc/hosts"})) == (1, 4)
    out.seek(0)
    with tarfile.open(fileobj=out) as tf:
        assert tf.getnames() == ["file"]


def _tree(root: str) -> dict:
    """Everything apply_layer sets, per path: type, mode, owner, mtime, content, link, xattrs."""
    out = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            content = None
            if stat.S_ISREG(st.st_mode):
                with open(path, "rb") as f:
                    content = f.read()
            xattrs = {}
            if not stat.S_ISLNK(st.st_mode):
                xattrs = {k: os.getxattr(path, k) for k in os.listxattr(path)}
            out[os.path.relpath(path, root)] = (
                # a whiteout's time is its making's (apply_layer sets none)
                st.st_mode, st.st_uid, st.st_gid, st.st_rdev,
                0 if stat.S_ISLNK(st.st_mode) or stat.S_ISCHR(st.st_mode) else st.st_mtime_ns,
                content, os.readlink(path) if stat.S_ISLNK(st.st_mode) else None, st.st_nlink, xattrs)
    return out


def test_the_layer_tar_unpacks_to_the_upper_dirs_content(tmp_path):
    """What a commit stores: its tar, unpacked later (ImageService.ensure_unpacked) by
    apply_layer, gives the container's files back; the size is their content's."""
    from ketch.image.archive import apply_layer
    snaps = OverlaySnapshotter(str(tmp_path / "snaps"))
    rw = snaps.new(writable=True)
    upper = snaps.fs(rw)
    os.makedirs(os.path.join(upper, "etc", "deep"))
    with open(os.path.join(upper, "etc", "deep", "file"), "wb") as f:
        f.write(os.urandom(3 << 20))
    os.link(os.path.join(upper, "etc", "deep", "file"), os.path.join(upper, "etc", "hard"))
    os.symlink("../etc/deep/file", os.path.join(upper, "etc", "sym"))
    os.chown(os.path.join(upper, "etc", "deep"), 12, 34)
    os.chmod(os.path.join(upper, "etc", "deep"), 0o2750)
    _whiteout(os.path.join(upper, "etc", "gone"))
    os.mkdir(os.path.join(upper, "opq"))
    os.setxattr(os.path.join(upper, "opq"), OPAQUE_XATTR, b"y")
    os.mkfifo(os.path.join(upper, "opq", "fifo"))
    for i in range(50):
        with open(os.path.join(upper, "opq", f"small{i}"), "w") as f:
            f.write("x" * i)
    out = io.BytesIO()
    entries, size = snaps.diff(rw, [], out, frozenset())
    assert entries == 59 and size == (3 << 20) + sum(range(50))
    unpacked = tmp_path / "unpacked"
    out.seek(0)
    assert apply_layer(out, str(unpacked)) == size
    got, want = _tree(str(unpacked)), _tree(upper)
    assert sorted(got) == sorted(want)
    for path in ("etc/deep/file", "etc/hard", "etc/sym", "opq/small7", "opq/fifo"):
        assert got[path][:4] == want[path][:4] and got[path][5:8] == want[path][5:8], path
    assert stat.S_ISCHR(got["etc/gone"][0]) and got["etc/gone"][3] == 0  # the whiteout
    assert got["opq"][8] == want["opq"][8]  # the opaque mark


def test_the_tar_stream_writes_the_bytes_tarfile_writes(tmp_path):
    """_TarStream is tarfile's "w|" PAX output without its copies: same bytes, long names,
    xattrs and sizes that end mid-block included."""
    upper = tmp_path / "upper"
    deep = upper / ("d" * 120) / "sub"
    deep.mkdir(parents=True)
    (deep / ("f" * 90)).write_bytes(os.urandom(70_001))
    (upper / "small").write_text("x")
    (upper / "empty").write_text("")
    os.symlink("t" * 150, upper / "link")
    _whiteout(upper / "gone")
    os.setxattr(upper / "small", "security.capability", b"\x01\x00\x00\x02" + b"\x00" * 16)

    def run(make):
        out = io.BytesIO()
        fd = os.open(upper, os.O_RDONLY | os.O_DIRECTORY)
        try:
            make(fd, out)
        finally:
            os.close(fd)
        return out.getvalue()

    def with_tarfile(fd, out):
        with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT, encoding="utf-8",
                          errors="surrogateescape") as tf:
            difftar._DiffWriter(tf, frozenset(), frozenset()).tree("", fd)

    ours = run(lambda fd, out: difftar.write_diff(fd, out))
    assert ours == run(with_tarfile)
    assert len(ours) % tarfile.RECORDSIZE == 0
