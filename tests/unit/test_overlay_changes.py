"""ketch.storage.changes on plain directory trees: moby's OverlayChanges rules."""

import os

import pytest

from ketch.storage import changes as ch

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="whiteouts and trusted.* xattrs need root")


def _file(path: str, data: str = "x") -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(data)


def _whiteout(path: str) -> None:
    os.mknod(path, 0o600 | 0o020000, os.makedev(0, 0))


def _same_times(src: str, dst: str) -> None:
    st = os.lstat(src)
    os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)


@needs_root
def test_mobys_rules_on_a_tree(tmp_path):
    lower, upper = str(tmp_path / "lower"), str(tmp_path / "upper")
    for name in ("etc/passwd", "etc/old", "opq/a", "same/f", "y"):
        _file(os.path.join(lower, name))
    os.symlink("/etc", os.path.join(lower, "lnk"))  # the image's symlink, never followed here
    os.makedirs(upper)
    _file(os.path.join(upper, "a-new-dir/f"))
    _file(os.path.join(upper, "etc/new"))
    _whiteout(os.path.join(upper, "etc/old"))
    _file(os.path.join(upper, "etc/passwd"), "changed")
    os.utime(os.path.join(upper, "etc"), (1, 1))
    _file(os.path.join(upper, "lnk/hosts"))  # /etc/hosts exists on the host: still added
    _file(os.path.join(upper, "opq/c"))
    os.setxattr(os.path.join(upper, "opq"), ch.OPAQUE_XATTR, b"y")
    _file(os.path.join(upper, "same/g"))
    os.chmod(os.path.join(upper, "same"), os.lstat(os.path.join(lower, "same")).st_mode & 0o7777)
    _same_times(os.path.join(lower, "same"), os.path.join(upper, "same"))
    os.makedirs(os.path.join(upper, "untouched"))
    os.makedirs(os.path.join(lower, "untouched"))
    _same_times(os.path.join(lower, "untouched"), os.path.join(upper, "untouched"))
    _whiteout(os.path.join(upper, "y"))
    _file(os.path.join(upper, "zz"))
    got = [str(c) for c in ch.overlay_changes([lower], upper)]
    assert got == [
        "A /a-new-dir", "A /a-new-dir/f",
        "C /etc", "A /etc/new", "D /etc/old", "C /etc/passwd",
        "C /lnk", "A /lnk/hosts",
        "D /opq", "A /opq/c",
        "C /same", "A /same/g",
        "D /y", "A /zz",
    ]


@needs_root
def test_lower_layers_in_order_and_nothing_changed(tmp_path):
    top_layer, base, upper = (str(tmp_path / n) for n in ("top", "base", "upper"))
    _file(os.path.join(base, "deep/f"))
    os.makedirs(top_layer)
    os.makedirs(upper)
    assert ch.overlay_changes([top_layer, base], upper) == []
    _file(os.path.join(upper, "deep/f"), "new")
    got = ch.overlay_changes([top_layer, base], upper)
    assert [(c.path, c.kind) for c in got] == [("/deep", ch.MODIFY), ("/deep/f", ch.MODIFY)]
    assert got[1].to_docker() == {"Path": "/deep/f", "Kind": 0}


@needs_root
def test_names_sort_as_bytes(tmp_path):
    lower, upper = str(tmp_path / "lower"), str(tmp_path / "upper")
    os.makedirs(lower)
    for name in ("b", "B", "a.txt", "a", "\u00e9"):
        _file(os.path.join(upper, name))
    assert [c.path for c in ch.overlay_changes([lower], upper)] == ["/B", "/a", "/a.txt", "/b", "/\u00e9"]


@needs_root
def test_mount_points_are_left_out_as_in_dockers_init_layer(tmp_path):
    lower, upper = str(tmp_path / "lower"), str(tmp_path / "upper")
    _file(os.path.join(lower, "etc/passwd"))
    os.chmod(os.path.join(lower, "etc"), 0o755)
    points = frozenset({"/etc/hosts", "/proc", "/dev/console"})
    for name in ("etc/hosts", "dev/console"):
        _file(os.path.join(upper, name), "")
    os.chmod(os.path.join(upper, "etc"), 0o755)
    os.chmod(os.path.join(upper, "dev"), 0o755)
    os.makedirs(os.path.join(upper, "proc"))
    assert ch.overlay_changes([lower], upper, points) == []
    _file(os.path.join(upper, "etc/x"))
    _whiteout(os.path.join(upper, "etc/passwd"))
    got = [str(c) for c in ch.overlay_changes([lower], upper, points)]
    assert got == ["C /etc", "D /etc/passwd", "A /etc/x"]
    assert "A /etc/hosts" in [str(c) for c in ch.overlay_changes([lower], upper)]
