"""What an image's layers show at a path, without mounting them (storage/layerstat.py)."""

import os

import pytest

from ketch.storage import layerstat
from ketch.storage.changes import OPAQUE_XATTR


@pytest.fixture
def layers(tmp_path):
    top, mid, low = (tmp_path / n for n in ("top", "mid", "low"))
    for d in (top, mid, low):
        d.mkdir()
    (low / "etc").mkdir()
    (low / "etc" / "passwd").write_text("root")
    (low / "etc" / "gone").write_text("x")
    (low / "data").mkdir()
    (low / "data" / "f").write_text("x")
    (low / "opq").mkdir()
    (low / "opq" / "f").write_text("x")
    (mid / "etc").mkdir()
    os.mknod(mid / "etc" / "gone", 0o600 | 0o020000, os.makedev(0, 0))  # a whiteout
    (mid / "link").symlink_to("/etc")
    (top / "opq").mkdir()
    try:
        os.setxattr(top / "opq", OPAQUE_XATTR, b"y")
    except OSError:
        pytest.skip("no trusted xattrs here")
    (top / "file-as-dir").write_text("x")
    (mid / "file-as-dir").mkdir()
    return [str(top), str(mid), str(low)]


@pytest.mark.parametrize("path, kind", [
    ("/", layerstat.DIR), ("/etc", layerstat.DIR), ("/etc/passwd", layerstat.FILE),
    ("/etc/gone", None), ("/data", layerstat.DIR), ("/data/f", layerstat.FILE), ("/nope", None),
    ("/etc/passwd/x", None), ("/opq", layerstat.DIR), ("/opq/f", None),
    ("/link", layerstat.SYMLINK), ("/link/passwd", layerstat.SYMLINK),
    ("/file-as-dir", layerstat.FILE),
])
def test_the_merged_view(layers, path, kind):
    assert layerstat.kind_at(layers, path) == kind
