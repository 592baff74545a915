"""ketch.volume.copyup: an image directory copied into an empty volume, faithfully and
never from outside the image's rootfs. Runs as root on a real filesystem (tmp_path)."""

import os
import socket
import stat
import time

import pytest

from ketch.volume.copyup import copy_into_empty

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (chown, mknod)")

CAP_NET_BIND = bytes.fromhex("0100000200040000000000000000000000000000")  # setcap cap_net_bind_service+ep


def _tree(tmp_path):
    rootfs = tmp_path / "rootfs"
    src = rootfs / "data"
    (src / "sub" / "deep").mkdir(parents=True)
    (src / "file").write_bytes(b"hello\n")
    (src / "big").write_bytes(os.urandom(3 << 20))
    (src / "sub" / "deep" / "x").write_text("x")
    os.chown(src / "file", 1000, 1001)
    os.chmod(src / "file", 0o4755)
    os.chmod(src / "sub", 0o1777)
    os.chown(src / "sub", 12, 34)
    os.chmod(src / "sub" / "deep", 0o2750)
    os.symlink("/etc/passwd", src / "abs-link")
    os.symlink("../file", src / "sub" / "rel-link")
    os.lchown(src / "abs-link", 5, 6)
    os.link(src / "file", src / "sub" / "hard")
    os.mkfifo(src / "fifo", 0o640)
    os.mknod(src / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(src / "sock"))
    sock.close()
    os.setxattr(src / "file", "user.note", b"kept")
    os.setxattr(src / "big", "security.capability", CAP_NET_BIND)
    os.setxattr(src / "sub", "user.dir", b"d")
    os.utime(src / "file", ns=(1_000_000_123, 2_000_000_456))
    os.utime(src / "sub" / "deep", ns=(3_000_000_000, 4_000_000_789))
    os.utime(src / "abs-link", ns=(5_000_000_000, 6_000_000_000), follow_symlinks=False)
    os.chown(src, 42, 43)
    os.chmod(src, 0o750)
    os.setxattr(src, "user.root", b"r")
    vol = tmp_path / "vol"
    vol.mkdir()
    return rootfs, src, vol


def test_copies_everything_faithfully(tmp_path):
    rootfs, src, vol = _tree(tmp_path)
    assert copy_into_empty(str(rootfs), "/data", str(vol)) is True

    def same(rel, *, times=True):
        a, b = os.lstat(src / rel), os.lstat(vol / rel)
        assert (b.st_mode, b.st_uid, b.st_gid) == (a.st_mode, a.st_uid, a.st_gid), rel
        if times:
            assert b.st_mtime_ns == a.st_mtime_ns, rel
        return a, b

    for rel in ("file", "big", "sub", "sub/deep", "sub/deep/x", "abs-link", "sub/rel-link",
                "fifo", "null", "sock"):
        same(rel)
    assert (vol / "file").read_bytes() == b"hello\n"
    assert (vol / "big").read_bytes() == (src / "big").read_bytes()
    assert os.stat(vol / "file").st_mode & stat.S_ISUID
    assert os.stat(vol / "sub").st_mode & stat.S_ISVTX
    assert os.readlink(vol / "abs-link") == "/etc/passwd"
    assert os.readlink(vol / "sub" / "rel-link") == "../file"
    assert os.lstat(vol / "abs-link").st_uid == 5
    assert os.stat(vol / "file").st_ino == os.stat(vol / "sub" / "hard").st_ino
    assert os.stat(vol / "file").st_nlink == 2
    assert stat.S_ISFIFO(os.lstat(vol / "fifo").st_mode)
    assert os.lstat(vol / "null").st_rdev == os.makedev(1, 3)
    assert stat.S_ISSOCK(os.lstat(vol / "sock").st_mode)
    assert os.getxattr(vol / "file", "user.note") == b"kept"
    assert os.getxattr(vol / "big", "security.capability") == CAP_NET_BIND
    assert os.getxattr(vol / "sub", "user.dir") == b"d"
    # copyOwnership: the volume's root takes the image directory's owner and mode
    st = os.stat(vol)
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (42, 43, 0o750)
    assert os.getxattr(vol, "user.root") == b"r"


def test_an_empty_image_directory_still_gives_its_owner_and_mode(tmp_path):
    (tmp_path / "rootfs" / "data").mkdir(parents=True)
    os.chown(tmp_path / "rootfs" / "data", 7, 8)
    os.chmod(tmp_path / "rootfs" / "data", 0o1770)
    vol = tmp_path / "vol"
    vol.mkdir()
    assert copy_into_empty(str(tmp_path / "rootfs"), "data", str(vol))
    st = os.stat(vol)
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode), os.listdir(vol)) == (7, 8, 0o1770, [])


def test_nonempty_volume_is_left_alone(tmp_path):
    rootfs, _src, vol = _tree(tmp_path)
    (vol / "mine").write_text("keep")
    assert copy_into_empty(str(rootfs), "/data", str(vol)) is False
    assert os.listdir(vol) == ["mine"]


@pytest.mark.parametrize("path", ["/missing", "/data/file", "/data/missing/deeper"])
def test_nothing_to_copy(tmp_path, path):
    rootfs, _src, vol = _tree(tmp_path)
    assert copy_into_empty(str(rootfs), path, str(vol)) is False
    assert os.listdir(vol) == []


def test_symlinks_in_the_image_stay_inside_the_rootfs(tmp_path):
    host = tmp_path / "host-secret"
    host.mkdir()
    (host / "shadow").write_text("host data")
    rootfs = tmp_path / "rootfs"
    (rootfs / "etc").mkdir(parents=True)
    (rootfs / "etc" / "inside").write_text("image data")
    # the image's /data is an absolute link: it means the rootfs's /etc, never the host's
    os.symlink("/etc", rootfs / "data")
    # ../../.. climbs to the rootfs's root and stops there
    os.symlink("../../../../../../" + str(host).lstrip("/"), rootfs / "up")
    (rootfs / "etc" / "link-out").symlink_to(host / "shadow")
    for path, expect in (("/data", {"inside", "link-out"}), ("/up", None)):
        vol = tmp_path / ("vol" + path.replace("/", "-"))
        vol.mkdir()
        copied = copy_into_empty(str(rootfs), path, str(vol))
        if expect is None:
            # resolves to <rootfs>/<host path>, which does not exist in the image
            assert copied is False and os.listdir(vol) == []
        else:
            assert copied and set(os.listdir(vol)) == expect
            # a link is copied as a link, never read through
            assert os.path.islink(vol / "link-out")
            assert not any("host data" in p.read_text() for p in vol.iterdir() if not p.is_symlink())


def test_fifty_megabytes_at_disk_speed(tmp_path):
    rootfs = tmp_path / "rootfs"
    src = rootfs / "data"
    src.mkdir(parents=True)
    blob = os.urandom(1 << 20)
    for i in range(40):
        (src / f"f{i}").write_bytes(blob)
    small = src / "small"
    small.mkdir()
    for i in range(2000):
        (small / f"s{i}").write_bytes(blob[:5000])
    vol = tmp_path / "vol"
    vol.mkdir()
    start = time.monotonic()
    assert copy_into_empty(str(rootfs), "/data", str(vol))
    elapsed = time.monotonic() - start
    assert len(os.listdir(vol / "small")) == 2000
    assert (vol / "f39").read_bytes() == blob
    assert elapsed < 5, f"50 MB copy-up took {elapsed:.2f}s"


def test_across_filesystems(tmp_path):
    """copy_file_range refuses most pairs of filesystems (EXDEV): sendfile copies then."""
    if not os.path.isdir("/dev/shm") or os.stat("/dev/shm").st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("needs /dev/shm on another filesystem")
    import tempfile
    with tempfile.TemporaryDirectory(dir="/dev/shm", prefix="kt-copyup-") as shm:
        src = os.path.join(shm, "data")
        os.mkdir(src)
        blob = os.urandom((1 << 20) + 17)
        with open(os.path.join(src, "f"), "wb") as f:
            f.write(blob)
        vol = tmp_path / "vol"
        vol.mkdir()
        assert copy_into_empty(shm, "/data", str(vol))
        assert (vol / "f").read_bytes() == blob
