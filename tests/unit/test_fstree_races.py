"""linux/fstree.remove_tree when entries vanish between the listing and their removal,
as a container's monitor removing its own monitor.sock while ketchd tears the bundle down."""

import os

from ketch.linux import fstree


class _Ghost:
    """A directory entry that was listed but is gone by the time it is removed."""

    def __init__(self, name: str, is_dir: bool) -> None:
        self.name, self._dir = name, is_dir

    def is_dir(self, follow_symlinks: bool = True) -> bool:
        return self._dir


def test_entries_gone_after_the_listing_are_not_errors(tmp_path, monkeypatch):
    real_scandir = os.scandir

    class _Listing:
        def __init__(self, fd):
            self._entries = list(real_scandir(fd)) + [_Ghost("monitor.sock", False),
                                                      _Ghost("gone-dir", True)]

        def __enter__(self):
            return iter(self._entries)

        def __exit__(self, *exc):
            return False

    (tmp_path / "bundle" / "rootfs").mkdir(parents=True)
    (tmp_path / "bundle" / "config.json").write_text("{}")
    monkeypatch.setattr(fstree.os, "scandir", _Listing)
    fstree.remove_tree(str(tmp_path / "bundle"))
    assert not (tmp_path / "bundle").exists()


def test_a_tree_already_gone_is_fine(tmp_path):
    fstree.remove_tree(str(tmp_path / "never-was"))
