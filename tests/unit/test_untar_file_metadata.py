"""archive/untar applies a regular file's owner, mode (set-id bits kept: mode after
owner) and times through the descriptor that created it, as it does by path for the
other kinds."""

import io
import os
import tarfile

from ketch.archive.untar import UntarOptions, untar


def _tar() -> io.BytesIO:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo("d/f")
        info.size, info.mode, info.uid, info.gid, info.mtime = 3, 0o4750, 1234, 99, 1_000_000_000
        tf.addfile(info, io.BytesIO(b"abc"))
    buf.seek(0)
    return buf


def _untar(tmp_path, options: UntarOptions = UntarOptions()) -> os.stat_result:
    fd = os.open(tmp_path, os.O_PATH | os.O_DIRECTORY)
    try:
        untar(_tar(), fd, "/", options)
    finally:
        os.close(fd)
    assert (tmp_path / "d" / "f").read_bytes() == b"abc"
    return os.lstat(tmp_path / "d" / "f")


def test_a_files_owner_mode_and_time(tmp_path):
    st = _untar(tmp_path)
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777, st.st_mtime_ns) == (1234, 99, 0o4750, 10**18)


def test_chown_and_no_lchown(tmp_path):
    (tmp_path / "a").mkdir()
    st = _untar(tmp_path / "a", UntarOptions(chown=(7, 8)))
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (7, 8, 0o4750)
    (tmp_path / "b").mkdir()
    st = _untar(tmp_path / "b", UntarOptions(no_lchown=True))
    assert (st.st_uid, st.st_gid) == (os.geteuid(), os.getegid())
