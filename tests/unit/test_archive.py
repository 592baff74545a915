"""Layer archives: round trips, overlayfs whiteouts, breakouts, compression, streaming.

Runs as root on the real kernel (ownership, devices and trusted.* xattrs need it);
everything is written under pytest's tmp_path.
"""

import bz2
import errno
import gzip
import hashlib
import io
import lzma
import os
import stat
import tarfile
import tracemalloc

import pytest

from ketch.errors import InvalidArgument
from ketch.image.archive import apply_layer, gzip_stream, open_decompressed, write_tar
from ketch.linux.safepath import mkdir_all_in_root, resolve_in_root

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")

MTIME = 1_600_000_000


# -- helpers ----------------------------------------------------------------------


def snapshot(root: str) -> dict:
    """Everything extraction must preserve about each path under ``root``."""
    tree = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            try:
                xattrs = {
                    n: os.getxattr(path, n, follow_symlinks=False)
                    for n in os.listxattr(path, follow_symlinks=False)
                }
            except OSError:
                xattrs = {}
            entry = {
                "type": stat.S_IFMT(st.st_mode),
                "mode": stat.S_IMODE(st.st_mode),
                "uid": st.st_uid,
                "gid": st.st_gid,
                "mtime": int(st.st_mtime),
                "xattrs": xattrs,
            }
            if stat.S_ISLNK(st.st_mode):
                entry["target"] = os.readlink(path)
                entry.pop("mode")  # a symlink's mode is whatever the kernel says
            elif stat.S_ISREG(st.st_mode):
                with open(path, "rb") as f:
                    entry["sha256"] = hashlib.sha256(f.read()).hexdigest()
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                entry["rdev"] = (os.major(st.st_rdev), os.minor(st.st_rdev))
            tree[os.path.relpath(path, root)] = entry
    return tree


def make_tar(*members) -> bytes:
    """A tar of ``(TarInfo, data)`` pairs, names written exactly as given."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for info, data in members:
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def _info(name, kind, mode=0o644, **fields):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.mtime = MTIME
    for key, value in fields.items():
        setattr(info, key, value)
    return info


def F(name, data=b"", mode=0o644, **fields):
    info = _info(name, tarfile.REGTYPE, mode, **fields)
    info.size = len(data)
    return info, data


def D(name, mode=0o755, **fields):
    return _info(name, tarfile.DIRTYPE, mode, **fields), None


def S(name, target):
    return _info(name, tarfile.SYMTYPE, 0o777, linkname=target), None


def H(name, target):
    return _info(name, tarfile.LNKTYPE, linkname=target), None


def apply(data: bytes, dest) -> int:
    return apply_layer(io.BytesIO(data), str(dest))


class OneWay(io.RawIOBase):
    """A stream that cannot seek and returns short reads, like a pipe."""

    def __init__(self, data: bytes, most: int = 3):
        self._data = memoryview(data)
        self._most = most

    def readable(self):
        return True

    def readinto(self, buffer):
        n = min(len(buffer), self._most, len(self._data))
        buffer[:n] = self._data[:n]
        self._data = self._data[n:]
        return n


# -- safepath ---------------------------------------------------------------------


def test_resolve_in_root_follows_symlinks_inside_root(tmp_path):
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "abs").symlink_to("/etc")
    (root / "up").symlink_to("../../../..")
    (root / "chain").symlink_to("abs/../up/etc")
    assert resolve_in_root(str(root), "/abs/passwd") == f"{root}/etc/passwd"
    assert resolve_in_root(str(root), "up/etc") == f"{root}/etc"
    assert resolve_in_root(str(root), "chain") == f"{root}/etc"
    assert resolve_in_root(str(root), "../../missing/../x/y") == f"{root}/x/y"
    assert resolve_in_root(str(root), "") == str(root)


def test_resolve_in_root_gives_up_on_symlink_loops(tmp_path):
    (tmp_path / "a").symlink_to("b")
    (tmp_path / "b").symlink_to("/a")
    with pytest.raises(OSError) as err:
        resolve_in_root(str(tmp_path), "a/x")
    assert err.value.errno == errno.ELOOP


def test_mkdir_all_in_root_stays_inside_and_ignores_umask(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "link").symlink_to(str(outside))
    old = os.umask(0o077)
    try:
        host = mkdir_all_in_root(str(root), "link/a/b", 0o751)
    finally:
        os.umask(old)
    assert host == f"{root}{outside}/a/b"
    assert stat.S_IMODE(os.stat(host).st_mode) == 0o751
    assert list(outside.iterdir()) == []
    (root / "file").write_bytes(b"")
    with pytest.raises(NotADirectoryError):
        mkdir_all_in_root(str(root), "file/sub")


# -- round trip -------------------------------------------------------------------


def build_tree(src):
    """A tree with one of everything a layer can hold."""
    src.mkdir()
    os.mkdir(src / "dir", 0o750)
    os.mkdir(src / "tmp")
    os.chmod(src / "tmp", 0o1777)
    os.mkdir(src / "shared")
    os.chmod(src / "shared", 0o2775)
    os.chown(src / "shared", 0, 50)
    (src / "dir" / "setuid").write_bytes(b"#!/bin/sh\n")
    os.chown(src / "dir" / "setuid", 0, 0)
    os.chmod(src / "dir" / "setuid", 0o4755)
    (src / "owned").write_bytes(b"owned by someone else")
    os.chown(src / "owned", 1234, 5678)
    os.chmod(src / "owned", 0o640)
    (src / "empty").write_bytes(b"")
    (src / "dir" / "hard1").write_bytes(b"linked")
    os.link(src / "dir" / "hard1", src / "hard2")
    (src / "rel-link").symlink_to("dir/setuid")
    (src / "abs-link").symlink_to("/etc/passwd")
    os.chown(src / "abs-link", 7, 8, follow_symlinks=False)
    os.mknod(src / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    os.mknod(src / "loop0", stat.S_IFBLK | 0o660, os.makedev(7, 0))
    os.mkfifo(src / "fifo", 0o600)
    os.setxattr(src / "owned", "user.note", b"hello")
    os.setxattr(src / "owned", "user.binary", b"\x00\xff\x80 binary")
    os.setxattr(src / "dir", "user.dirnote", b"on a directory")
    deep = src / "a" / ("long-name-" * 12) / "ünïcödé"
    deep.mkdir(parents=True)
    (deep / "file").write_bytes(os.urandom(70_000))
    # Times last, deepest first, so writing content does not change them.
    for n, path in enumerate(sorted(src.rglob("*"), key=lambda p: -len(p.parts))):
        os.utime(path, (MTIME + n, MTIME + n), follow_symlinks=False)


def test_round_trip_preserves_everything(tmp_path):
    src, dest = tmp_path / "src", tmp_path / "dest"
    build_tree(src)
    out = io.BytesIO()
    write_tar(str(src), out)

    size = apply(out.getvalue(), dest)

    assert snapshot(str(dest)) == snapshot(str(src))
    assert os.stat(dest / "dir" / "hard1").st_ino == os.stat(dest / "hard2").st_ino
    assert os.stat(dest / "hard2").st_nlink == 2
    content = [p for p in src.rglob("*") if p.is_file() and not p.is_symlink()]
    assert size == sum(p.stat().st_size for p in content) - len(b"linked")


def test_write_tar_overrides_and_headers(tmp_path):
    src = tmp_path / "src"
    build_tree(src)
    out = io.BytesIO()
    write_tar(str(src), out, mtime=42, uid=0, gid=0)

    out.seek(0)
    with tarfile.open(fileobj=out) as tf:
        members = tf.getmembers()
    keys = [os.fsencode(m.name + ("/" if m.isdir() else "")) for m in members]
    assert keys == sorted(keys)
    assert all(not m.name.startswith(("/", "./")) for m in members)
    assert {(m.mtime, m.uid, m.gid, m.uname, m.gname) for m in members} == {(42, 0, 0, "", "")}
    assert [m.name for m in members if m.islnk()] == ["hard2"]
    # Directory headers carry the trailing slash in the raw bytes.
    assert b"dir/\x00" in out.getvalue()

    dest = tmp_path / "dest"
    apply(out.getvalue(), dest)
    st = os.lstat(dest / "owned")
    assert (st.st_uid, st.st_gid, st.st_mtime, stat.S_IMODE(st.st_mode)) == (0, 0, 42, 0o640)


def test_implicit_parents_get_the_entry_metadata_later(tmp_path):
    dest = tmp_path / "dest"
    apply(
        make_tar(
            F("a/b/c", b"x"),
            D("a/b", mode=0o700, uid=5, gid=6),
            D("a", mode=0o1777),
        ),
        dest,
    )
    st = os.lstat(dest / "a" / "b")
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, st.st_mtime) == (0o700, 5, 6, MTIME)
    st = os.lstat(dest / "a")
    assert (stat.S_IMODE(st.st_mode), st.st_mtime) == (0o1777, MTIME)


def test_pax_subsecond_mtime(tmp_path):
    info, data = F("f", b"x")
    info.pax_headers = {"mtime": "1600000000.123456789"}
    apply(make_tar((info, data)), tmp_path / "dest")
    assert os.lstat(tmp_path / "dest" / "f").st_mtime_ns == 1_600_000_000_123_456_789


# -- replacing --------------------------------------------------------------------


def test_entries_replace_what_is_there(tmp_path):
    dest = tmp_path / "dest"
    apply(
        make_tar(
            D("d"), F("d/x", b"child"),
            F("d", b"now a file"),
            F("f", b"a file"), D("f"), F("f/y", b"child"),
            S("s", "elsewhere"), F("s", b"now a file"),
            D("keep"), F("keep/one", b"1"), D("keep", mode=0o700), F("keep/two", b"2"),
        ),
        dest,
    )
    assert (dest / "d").read_bytes() == b"now a file"
    assert (dest / "f" / "y").read_bytes() == b"child"
    assert not (dest / "s").is_symlink() and (dest / "s").read_bytes() == b"now a file"
    assert sorted(os.listdir(dest / "keep")) == ["one", "two"]
    assert stat.S_IMODE(os.lstat(dest / "keep").st_mode) == 0o700


# -- whiteouts --------------------------------------------------------------------


def is_whiteout(path) -> bool:
    st = os.lstat(path)
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def opaque(path) -> bool:
    try:
        return os.getxattr(path, "trusted.overlay.opaque", follow_symlinks=False) == b"y"
    except OSError as exc:
        if exc.errno == errno.ENODATA:
            return False
        raise


def test_whiteouts_become_overlayfs_whiteouts(tmp_path):
    dest = tmp_path / "dest"
    apply(
        make_tar(
            F(".wh.top"),
            D("dir"),
            F("dir/.wh.gone"),
            D("opq"),
            F("opq/.wh..wh..opq"),
            F("opq/kept", b"kept"),
            F("noparent/.wh..wh..opq"),
            F(".wh..wh.aufs"),
            D(".wh..wh.plnk"),
            F(".wh..wh.plnk/123.456", b"aufs"),
        ),
        dest,
    )
    assert is_whiteout(dest / "top")
    assert is_whiteout(dest / "dir" / "gone")
    assert not opaque(dest / "dir")
    assert opaque(dest / "opq") and (dest / "opq" / "kept").read_bytes() == b"kept"
    assert opaque(dest / "noparent")
    assert sorted(os.listdir(dest)) == ["dir", "noparent", "opq", "top"]


def test_whiteouts_hide_only_lower_layers(tmp_path):
    dest = tmp_path / "dest"
    apply(
        make_tar(
            F(".wh.redone"), D("redone"), F("redone/new", b"n"),
            D("same"), F("same/child", b"c"), F(".wh.same"),
            F("file", b"f"), F(".wh.file"),
        ),
        dest,
    )
    # Deleted and recreated: a fresh directory over the lower one, so opaque.
    assert opaque(dest / "redone") and os.listdir(dest / "redone") == ["new"]
    assert opaque(dest / "same") and os.listdir(dest / "same") == ["child"]
    assert (dest / "file").read_bytes() == b"f"


@pytest.mark.parametrize("name", [".wh.", ".wh..", ".wh...", "etc/.wh..", "etc/.wh..."])
def test_invalid_whiteouts_are_refused(tmp_path, name):
    with pytest.raises(InvalidArgument, match="invalid whiteout name"):
        apply(make_tar(D("etc"), F("etc/passwd", b"x"), F(name)), tmp_path / "dest")
    assert (tmp_path / "dest" / "etc" / "passwd").read_bytes() == b"x"


def test_layer_cannot_set_overlay_xattrs(tmp_path):
    info, data = F("f", b"x")
    info.pax_headers = {
        "SCHILY.xattr.trusted.overlay.redirect": "/elsewhere",
        "SCHILY.xattr.user.ok": "fine",
    }
    apply(make_tar((info, data)), tmp_path / "dest")
    assert os.listxattr(tmp_path / "dest" / "f") == ["user.ok"]


# -- breakouts --------------------------------------------------------------------

# Modelled on containerd's pkg/archive/tar_test.go TestBreakouts, aimed at a
# sentinel directory next to dest instead of the host's /etc.


def _up(victim: str) -> str:
    return "../" * 20 + victim.lstrip("/")


def _inside(dest, victim):
    return os.path.join(str(dest), str(victim).lstrip("/"))


BREAKOUTS = {
    "absolute-name": lambda v: (
        [F(f"{v}/hello", b"pwned")],
        lambda d: open(f"{_inside(d, v)}/hello", "rb").read() == b"pwned",
    ),
    "dotdot-name": lambda v: (
        [F("../victim/hello", b"pwned"), F(_up(f"{v}/hello"), b"pwned2")],
        lambda d: open(f"{d}/victim/hello", "rb").read() == b"pwned"
        and open(f"{_inside(d, v)}/hello", "rb").read() == b"pwned2",
    ),
    "symlink-to-root-then-file": lambda v: (
        [S("root", "/"), F(f"root/{v}/hello", b"pwned")],
        lambda d: open(f"{_inside(d, v)}/hello", "rb").read() == b"pwned",
    ),
    "symlink-up-then-file": lambda v: (
        [S("up", "../.."), F("up/victim/hello", b"pwned")],
        lambda d: open(f"{d}/victim/hello", "rb").read() == b"pwned",
    ),
    "symlink-sibling-then-file": lambda v: (
        [S("sib", "../victim"), F("sib/hello", b"pwned"), F("sib/new", b"pwned")],
        lambda d: open(f"{d}/victim/new", "rb").read() == b"pwned",
    ),
    "symlink-absolute-then-dir": lambda v: (
        [S("abs", str(v)), D("abs/newdir", mode=0o777), F("abs/newdir/f", b"pwned")],
        lambda d: os.path.isdir(f"{_inside(d, v)}/newdir"),
    ),
    "symlink-far-up-then-file": lambda v: (
        [S("far", _up(str(v))), F("far/hello", b"pwned")],
        lambda d: open(f"{_inside(d, v)}/hello", "rb").read() == b"pwned",
    ),
    "symlink-chain": lambda v: (
        [S("a", "b"), D("dummy"), S("b", "dummy/../c"), S("c", "/d"), S("d", _up(str(v))),
         F("a/hello", b"pwned")],
        lambda d: open(f"{_inside(d, v)}/hello", "rb").read() == b"pwned",
    ),
    "symlink-then-file-over-it": lambda v: (
        [S("f", f"{v}/hello"), F("f", b"pwned")],
        lambda d: not os.path.islink(f"{d}/f") and open(f"{d}/f", "rb").read() == b"pwned",
    ),
    "symlink-named-dotdot": lambda v: (
        [S("..", str(v)), S("x/..", str(v)), F("../hello", b"pwned")],
        lambda d: not os.path.islink(f"{d}/x") and open(f"{d}/hello", "rb").read() == b"pwned",
    ),
    "dir-over-symlink": lambda v: (
        [S("d", str(v)), D("d"), F("d/hello", b"pwned")],
        lambda d: not os.path.islink(f"{d}/d") and open(f"{d}/d/hello", "rb").read() == b"pwned",
    ),
    "hardlink-to-etc-passwd-inside": lambda v: (
        [D("etc"), F("etc/passwd", b"inside"),
         H("pw", "/etc/passwd"), H("pw2", "../../etc/passwd")],
        lambda d: os.stat(f"{d}/pw").st_ino == os.stat(f"{d}/etc/passwd").st_ino
        == os.stat(f"{d}/pw2").st_ino,
    ),
    "hardlink-through-symlink": lambda v: (
        [D("etc"), F("etc/passwd", b"inside"), D("b"), S("b/d1", "../../etc"),
         H("b/mine", "/b/d1/passwd")],
        lambda d: os.stat(f"{d}/b/mine").st_ino == os.stat(f"{d}/etc/passwd").st_ino,
    ),
    "hardlink-to-symlink-out-then-chmod": lambda v: (
        [S("s", f"{v}/hello"), H("l", "s")],
        lambda d: os.readlink(f"{d}/l") == f"{v}/hello"
        and os.lstat(f"{d}/l").st_ino == os.lstat(f"{d}/s").st_ino,
    ),
    "whiteout-through-symlink": lambda v: (
        [S("v", str(v)), F("v/.wh.hello"), F("v/.wh..wh..opq")],
        lambda d: is_whiteout(f"{_inside(d, v)}/hello") and opaque(_inside(d, v)),
    ),
}

BREAKOUTS.update({
    # owner, xattrs and times of a symlink entry are the link's own, never its target's
    "symlink-metadata-not-followed": lambda v: (
        [(_info("s", tarfile.SYMTYPE, 0o777, linkname=f"{v}/hello", uid=1234, gid=1234,
                pax_headers={"SCHILY.xattr.user.x": "y"}), None)],
        lambda d: os.lstat(f"{d}/s").st_uid == 1234,
    ),
    "dir-entry-metadata-through-symlink-parent": lambda v: (
        [S("p", str(v.parent)), D(f"p/{v.name}", mode=0o777, uid=99)],
        lambda d: os.stat(f"{_inside(d, v)}").st_uid == 99,
    ),
    "device-through-symlink": lambda v: (
        [S("dev", str(v)), (_info("dev/null", tarfile.CHRTYPE, 0o666, devmajor=1, devminor=3), None)],
        lambda d: os.path.exists(f"{_inside(d, v)}/null"),
    ),
    "whiteout-named-above-the-root": lambda v: (
        [F("../../.wh.victim"), F("a/../../../.wh..wh..opq")],
        lambda d: is_whiteout(f"{d}/victim") and opaque(str(d)),
    ),
    "hardlink-then-file-over-it": lambda v: (
        [F("inside", b"keep"), H("l", "inside"), F("l", b"new")],
        lambda d: open(f"{d}/inside", "rb").read() == b"keep" and open(f"{d}/l", "rb").read() == b"new",
    ),
})

# Archives that must be refused, still without touching anything outside.
REFUSED = {
    "hardlink-to-etc-passwd": lambda v: [H("pw", "/etc/passwd")],
    "hardlink-through-symlink-out": lambda v: [S("v", str(v)), H("l", "v/hello")],
    "hardlink-dotdot-out": lambda v: [H("l", "../victim/hello")],
    "symlink-loop": lambda v: [S("l1", "l2"), S("l2", "l1"), F("l1/x", b"pwned")],
}


@pytest.fixture
def victim(tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "hello").write_bytes(b"hello")
    os.chmod(victim / "hello", 0o400)
    os.utime(victim / "hello", (MTIME, MTIME))
    os.utime(victim, (MTIME, MTIME))
    return victim


def assert_untouched(tmp_path, victim, before, passwd_before):
    assert sorted(os.listdir(tmp_path)) == ["dest", "victim"]
    assert snapshot(str(victim)) == before
    assert os.lstat(victim).st_mtime == MTIME
    st = os.stat("/etc/passwd")
    assert (st.st_nlink, st.st_mode, st.st_mtime_ns) == passwd_before


@pytest.mark.parametrize("case", sorted(BREAKOUTS))
def test_breakouts_stay_inside_dest(tmp_path, victim, case):
    entries, check = BREAKOUTS[case](victim)
    before, pw = snapshot(str(victim)), os.stat("/etc/passwd")
    dest = tmp_path / "dest"

    apply(make_tar(*entries), dest)

    assert check(str(dest))
    assert_untouched(tmp_path, victim, before, (pw.st_nlink, pw.st_mode, pw.st_mtime_ns))


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_breakouts_refused(tmp_path, victim, case):
    before, pw = snapshot(str(victim)), os.stat("/etc/passwd")
    with pytest.raises(InvalidArgument, match="layer entry"):
        apply(make_tar(*REFUSED[case](victim)), tmp_path / "dest")
    assert_untouched(tmp_path, victim, before, (pw.st_nlink, pw.st_mode, pw.st_mtime_ns))


# -- bad archives -----------------------------------------------------------------


def test_bad_archives_raise_invalid_argument(tmp_path):
    good = make_tar(F("first", b"1"), F("second", b"x" * 5000))
    with pytest.raises(InvalidArgument, match="'second'"):
        apply(good[:2048], tmp_path / "a")
    with pytest.raises(InvalidArgument, match="invalid layer archive"):
        apply(b"not a tar at all" * 64, tmp_path / "b")
    with pytest.raises(InvalidArgument, match="unsupported entry type"):
        apply(make_tar((_info("volume-label", b"V"), None)), tmp_path / "c")


# -- compression ------------------------------------------------------------------


@pytest.mark.parametrize(
    "compress",
    [gzip.compress, bz2.compress, lzma.compress, lambda data: data],
    ids=["gzip", "bzip2", "xz", "plain"],
)
def test_open_decompressed_sniffs_the_format(tmp_path, compress):
    data = make_tar(F("hello", b"hello world" * 1000))
    stream = open_decompressed(OneWay(compress(data)))
    assert stream.read() == data
    stream = open_decompressed(OneWay(compress(data)))
    apply_layer(stream, str(tmp_path / "dest"))
    assert (tmp_path / "dest" / "hello").read_bytes() == b"hello world" * 1000


def test_zstd_needs_the_zstandard_package():
    import importlib.util
    if importlib.util.find_spec("zstandard") is not None:
        pytest.skip("zstandard is installed")
    with pytest.raises(InvalidArgument, match="zstd layers need the zstandard package"):
        open_decompressed(io.BytesIO(b"\x28\xb5\x2f\xfd" + b"\x00" * 20))


# -- determinism ------------------------------------------------------------------


def tar_gz(root, **overrides) -> bytes:
    tar, gz = io.BytesIO(), io.BytesIO()
    write_tar(str(root), tar, **overrides)
    tar.seek(0)
    gzip_stream(tar, gz)
    return gz.getvalue()


def test_write_tar_and_gzip_are_deterministic(tmp_path):
    src = tmp_path / "src"
    build_tree(src)
    first = tar_gz(src)
    for path in src.rglob("*"):
        os.utime(path, ns=(123, os.lstat(path).st_mtime_ns), follow_symlinks=False)
    assert tar_gz(src) == first
    assert first[4:8] == b"\x00\x00\x00\x00"  # gzip mtime
    assert first[3] == 0  # no FNAME, no other flags

    # Two trees made at different times are the same image once overridden.
    other = tmp_path / "other"
    build_tree(other)
    for path in other.rglob("*"):
        os.utime(path, (1, 1), follow_symlinks=False)
    data = (src / "a").rglob("file").__next__().read_bytes()
    next((other / "a").rglob("file")).write_bytes(data)
    fixed = dict(mtime=0, uid=0, gid=0)
    assert tar_gz(src, **fixed) == tar_gz(other, **fixed)


# -- streaming --------------------------------------------------------------------

BIG = 200 * 1024 * 1024


class GeneratedTar(io.RawIOBase):
    """A tar holding one ``BIG``-byte file, made up as it is read."""

    def __init__(self):
        header = _info("big", tarfile.REGTYPE, size=BIG).tobuf(tarfile.PAX_FORMAT)
        self._parts = iter([header, None, b"\0" * (2 * tarfile.BLOCKSIZE + -BIG % 512)])
        self._current = b""
        self._zeros_left = 0

    def readable(self):
        return True

    def readinto(self, buffer):
        while not self._current and not self._zeros_left:
            part = next(self._parts, b"")
            if part is None:
                self._zeros_left = BIG
            elif not part:
                return 0
            else:
                self._current = part
        if self._zeros_left:
            n = min(len(buffer), self._zeros_left)
            buffer[:n] = bytes(n)
            self._zeros_left -= n
            return n
        n = min(len(buffer), len(self._current))
        buffer[:n] = self._current[:n]
        self._current = self._current[n:]
        return n


def test_apply_layer_streams_large_files(tmp_path):
    tracemalloc.start()
    try:
        size = apply_layer(io.BufferedReader(GeneratedTar()), str(tmp_path / "dest"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert size == BIG
    assert os.path.getsize(tmp_path / "dest" / "big") == BIG
    assert peak < 16 * 1024 * 1024


class Sink(io.RawIOBase):
    def __init__(self):
        self.count = 0
        self.digest = hashlib.sha256()

    def writable(self):
        return True

    def write(self, data):
        self.count += len(data)
        self.digest.update(data)
        return len(data)


def test_write_tar_and_gzip_stream_large_files(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    with open(src / "sparse", "wb") as f:
        f.truncate(BIG)
    tar = tmp_path / "layer.tar"
    tracemalloc.start()
    try:
        sink = Sink()
        write_tar(str(src), sink)
        with open(tar, "wb") as out:
            write_tar(str(src), out)
        with open(tar, "rb") as f:
            gzip_stream(f, Sink(), level=1)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sink.count >= BIG
    assert peak < 16 * 1024 * 1024


# -- later entries changing the tree under deferred work ----------------------------


def test_directory_times_not_set_through_a_later_symlink(tmp_path, victim):
    """Directory times are applied after the last entry; a symlink that replaced a parent
    meanwhile must not lead them out (it did: ``a/victim`` followed ``a -> tmp``)."""
    before, pw = snapshot(str(victim)), os.stat("/etc/passwd")
    os.utime(tmp_path, (MTIME, MTIME))
    entries = [D("a"), D("a/victim", mtime=1), D("a/victim/sub", mtime=2), S("a", str(tmp_path))]

    apply(make_tar(*entries), tmp_path / "dest")

    assert os.readlink(tmp_path / "dest" / "a") == str(tmp_path)
    assert_untouched(tmp_path, victim, before, (pw.st_nlink, pw.st_mode, pw.st_mtime_ns))


def test_directory_times_not_set_on_a_directory_moved_in_later(tmp_path):
    """A deferred time belongs to the directory of that entry: one a later entry put
    elsewhere under the same name through a symlink keeps its own time."""
    dest = tmp_path / "dest"
    entries = [D("a", mtime=5), D("a/d", mtime=1), S("a", "b"), D("b", mtime=6), D("b/d", mtime=7)]
    apply(make_tar(*entries), dest)
    assert os.lstat(dest / "b" / "d").st_mtime == 7


# -- size limits ------------------------------------------------------------------


def _gzip_bomb(size: int) -> bytes:
    """A gzip of a tar holding one file of ``size`` zero bytes: a few KiB on the wire."""
    class Zeros(io.RawIOBase):
        def __init__(self):
            self.left = size

        def readable(self):
            return True

        def readinto(self, b):
            n = min(len(b), self.left)
            b[:n] = bytes(n)
            self.left -= n
            return n

    info = tarfile.TarInfo("zeros")
    info.size = size
    raw = io.BytesIO()
    with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9) as gz:
        with tarfile.open(fileobj=gz, mode="w|") as tf:
            tf.addfile(info, io.BufferedReader(Zeros()))
    return raw.getvalue()


def test_max_size_stops_a_decompression_bomb(tmp_path):
    bomb = _gzip_bomb(64 << 20)
    assert len(bomb) < 256 << 10
    dest = tmp_path / "dest"
    with pytest.raises(InvalidArgument, match="exceeds its declared size of 1048576 bytes"):
        apply_layer(open_decompressed(io.BytesIO(bomb)), str(dest), max_size=1 << 20)
    written = sum(p.stat().st_size for p in dest.rglob("*") if p.is_file())
    assert written <= 2 << 20


def test_max_size_allows_a_layer_of_that_size(tmp_path):
    data = make_tar(F("f", b"x" * 1000))
    assert apply_layer(io.BytesIO(data), str(tmp_path / "dest"), max_size=len(data)) == 1000
    with pytest.raises(InvalidArgument, match="declared size"):
        apply_layer(io.BytesIO(data), str(tmp_path / "dest2"), max_size=len(data) - 1)


def test_max_size_counts_sparse_content(tmp_path):
    """A GNU sparse entry inflates to its real size in zeros: that counts too."""
    src = tmp_path / "src"
    src.mkdir()
    with open(src / "holes", "wb") as f:
        f.truncate(32 << 20)
        f.write(b"end")
    tar = tmp_path / "sparse.tar"
    import subprocess
    subprocess.run(["tar", "--sparse", "-C", str(src), "-cf", str(tar), "holes"], check=True)
    assert tar.stat().st_size < 1 << 20
    with open(tar, "rb") as f:
        with pytest.raises(InvalidArgument, match="declared size"):
            apply_layer(f, str(tmp_path / "dest"), max_size=1 << 20)


def test_device_nodes_are_made_as_docker_makes_them(tmp_path):
    """As root, Docker's archive package mknods character and block devices and fifos."""
    dev = _info("null", tarfile.CHRTYPE, 0o666, devmajor=1, devminor=3)
    blk = _info("loop", tarfile.BLKTYPE, 0o660, devmajor=7, devminor=0)
    fifo = _info("pipe", tarfile.FIFOTYPE, 0o600)
    apply(make_tar((dev, None), (blk, None), (fifo, None)), tmp_path / "dest")
    st = os.lstat(tmp_path / "dest" / "null")
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(1, 3)
    assert stat.S_ISBLK(os.lstat(tmp_path / "dest" / "loop").st_mode)
    assert stat.S_ISFIFO(os.lstat(tmp_path / "dest" / "pipe").st_mode)


def test_ingest_bounds_what_follows_the_end_of_the_tar(tmp_path):
    """The DiffID covers the bytes after the end-of-archive blocks too, and they are read
    to hash them: ``max_size`` bounds that read as well."""
    from ketch.image.content import ContentStore
    from ketch.image.layer import ingest
    tail = gzip.compress(make_tar(F("f", b"x")) + bytes(8 << 20), 9)
    store = ContentStore(str(tmp_path / "content"))
    with pytest.raises(InvalidArgument, match="declared size"):
        ingest(io.BytesIO(tail), store, str(tmp_path / "dest"), max_size=1 << 20)
    assert os.listdir(tmp_path / "content" / "blobs" / "sha256") == []
    assert os.listdir(tmp_path / "content" / "ingest") == []
