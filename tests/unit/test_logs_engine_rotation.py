"""The log follower's view of rotation (engine/logs.py)."""

import os
from types import SimpleNamespace

from ketch.engine import logs


def test_a_removed_file_whose_inode_number_the_new_live_file_got_is_replaced(tmp_path, monkeypatch):
    """Two rotations between polls remove the file the follower holds; ext4 may give its
    freed inode number to the new live file. The follower must still move on (it stayed,
    and `containers.run` of the SDK ended with the first lines of a rotated log)."""
    path = tmp_path / "c-json.log"
    path.write_bytes(b"")
    with open(path, "rb") as held:
        ino = os.fstat(held.fileno()).st_ino
        assert not logs._replaced(str(path), held)
        real_fstat = os.fstat
        monkeypatch.setattr(logs.os, "fstat", lambda fd: SimpleNamespace(
            st_ino=ino, st_nlink=0, st_size=real_fstat(fd).st_size))
        assert logs._replaced(str(path), held)  # same number, but the held file has no links
        assert logs._rotated_after(str(path), held) == []
        os.unlink(path)
        assert not logs._replaced(str(path), held)  # no live file: the log was removed
