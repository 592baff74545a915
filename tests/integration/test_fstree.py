"""linux/fstree.remove_tree: never deletes through a mount point (issue: rmtree followed a
re-mounted overlay and wrote whiteouts over a container's image)."""

import os
import stat
import subprocess
import tempfile

import pytest

from ketch.linux import fstree, mount as mnt


@pytest.fixture
def tree():
    root = tempfile.mkdtemp(prefix="ketch-fstree-")
    yield root
    for point in mnt.mounts_under(root):
        mnt.unmount(point, lazy=True)
    subprocess.run(["rm", "-rf", "--one-file-system", root], check=False)


def _tmpfs_with_a_file(where: str) -> str:
    os.makedirs(where)
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", where], check=True)
    keep = os.path.join(where, "precious")
    with open(keep, "w") as f:
        f.write("x")
    return keep


def test_mounts_below_are_unmounted_before_anything_is_deleted(tree):
    keep = _tmpfs_with_a_file(os.path.join(tree, "a", "rootfs"))
    with open(os.path.join(tree, "a", "config.json"), "w") as f:
        f.write("{}")
    fstree.remove_tree(os.path.join(tree, "a"))
    assert not os.path.exists(os.path.join(tree, "a"))
    assert mnt.mounts_under(tree) == []
    assert not os.path.exists(keep)  # gone with the unmount, never deleted through it


def test_a_bind_mount_of_the_same_filesystem_is_unmounted_not_emptied(tree):
    """Same device, so only the mount-root check sees it (rmtree would empty src/)."""
    src = os.path.join(tree, "src")
    os.makedirs(src)
    with open(os.path.join(src, "precious"), "w") as f:
        f.write("x")
    target = os.path.join(tree, "d", "deep", "bind")
    os.makedirs(target)
    subprocess.run(["mount", "--bind", src, target], check=True)
    assert os.lstat(target).st_dev == os.lstat(src).st_dev
    fstree.remove_tree(os.path.join(tree, "d"))
    assert not os.path.exists(os.path.join(tree, "d"))
    assert os.path.exists(os.path.join(src, "precious"))
    assert mnt.mounts_under(tree) == []


def test_stacked_mounts_all_come_off(tree):
    where = os.path.join(tree, "e", "rootfs")
    _tmpfs_with_a_file(where)
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", where], check=True)
    fstree.remove_tree(os.path.join(tree, "e"))
    assert not os.path.exists(os.path.join(tree, "e")) and mnt.mounts_under(tree) == []


def test_symlinks_are_removed_not_followed(tree):
    outside = os.path.join(tree, "outside")
    os.makedirs(outside)
    with open(os.path.join(outside, "f"), "w") as f:
        f.write("x")
    inside = os.path.join(tree, "c")
    os.makedirs(inside)
    os.symlink(outside, os.path.join(inside, "link"))
    fstree.remove_tree(inside)
    assert os.path.exists(os.path.join(outside, "f"))
    assert not os.path.exists(inside)


def test_missing_and_plain_files(tree):
    fstree.remove_tree(os.path.join(tree, "nope"))
    path = os.path.join(tree, "file")
    with open(path, "w"):
        pass
    fstree.remove_tree(path)
    assert not os.path.exists(path)
    assert stat.S_ISDIR(os.lstat(tree).st_mode)
