"""What the runtime creates in a rootfs before pivot_root stays inside it.

An image's ``/dev`` or ``/etc`` may be a symlink (absolute, or enough ``..``) to a host
directory. The runtime resolves it inside the rootfs, as the container will see it; a
path merely joined to the root would follow it to the host. No mount is made here:
the pieces that create entries run on a plain directory tree.
"""

import os
import stat

import pytest

from ketch.errors import InvalidArgument
from ketch.linux import safepath
from ketch.runtime import rootfs
from ketch.runtime.specconv import ContainerConfig, Device, MountSpec, Process

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (mknod, chown)")

LINKS = {"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1",
         "stderr": "/proc/self/fd/2", "ptmx": "pts/ptmx"}


def _tree(tmp_path, name: str, form: str):
    """A rootfs whose ``name`` is a symlink to a fresh host directory, which exists inside
    the rootfs too (as ``/etc`` would for ``dev -> /etc``). Returns (root, host, inside)."""
    root, host = tmp_path / "rootfs", tmp_path / f"host-{name}"
    host.mkdir()
    inside = root / str(host).lstrip("/")
    inside.mkdir(parents=True)
    target = str(host) if form == "absolute" else "../" * 16 + str(host).lstrip("/")
    (root / name).symlink_to(target)
    return root, host, inside


def _config(root, devices=()) -> ContainerConfig:
    return ContainerConfig(bundle=str(root.parent), root=str(root), readonly_root=False,
                           process=Process(args=("sh",)), devices=tuple(devices))


@pytest.mark.parametrize("form", ["absolute", "relative"])
def test_dev_nodes_and_links_go_where_the_container_sees_dev(tmp_path, form):
    root, host, inside = _tree(tmp_path, "dev", form)
    tun = Device("/dev/net/tun", "c", 10, 200, 0o600, 0, 5)
    old = os.umask(0o077)
    try:
        rootfs._setup_dev(_config(root, [tun]))
    finally:
        os.umask(old)
    assert list(host.iterdir()) == []
    made = {p.name: p for p in inside.iterdir()}
    assert {name: os.readlink(made[name]) for name in LINKS} == LINKS
    null = os.lstat(made["null"])
    assert stat.S_ISCHR(null.st_mode) and stat.S_IMODE(null.st_mode) == 0o666  # not the umask's
    assert os.major(null.st_rdev) == 1 and os.minor(null.st_rdev) == 3
    node = os.lstat(inside / "net" / "tun")
    assert (stat.S_IMODE(node.st_mode), node.st_uid, node.st_gid) == (0o600, 0, 5)


@pytest.mark.parametrize("form", ["absolute", "relative"])
def test_file_bind_target_is_created_inside(tmp_path, form):
    root, host, inside = _tree(tmp_path, "etc", form)
    source = tmp_path / "hosts"
    source.write_text("127.0.0.1 localhost\n")
    target = rootfs._mount_target(str(root), MountSpec("/etc/hosts", "bind", str(source), ("rbind",)))
    assert target == str(inside / "hosts") and os.path.isfile(target)
    assert list(host.iterdir()) == []


def test_mount_points_get_their_missing_parents(tmp_path):
    """``dev -> /a/b`` where the image has no /a: the /dev tmpfs goes to <root>/a/b."""
    root = tmp_path / "rootfs"
    root.mkdir()
    (root / "dev").symlink_to("/a/b")
    target = rootfs._mount_target(str(root), MountSpec("/dev", "tmpfs", "tmpfs"))
    assert target == str(root / "a" / "b") and os.path.isdir(target)
    init = rootfs._mount_target(str(root), MountSpec("/sbin/docker-init", "bind", "/bin/true", ("bind",)))
    assert init == str(root / "sbin" / "docker-init") and os.path.isfile(init)


def test_mount_destination_that_is_a_file_is_refused(tmp_path):
    root = tmp_path / "rootfs"
    root.mkdir()
    (root / "data").write_text("")
    with pytest.raises(InvalidArgument, match="mount destination /data is not a directory"):
        rootfs._mount_target(str(root), MountSpec("/data", "tmpfs", "tmpfs"))


def test_open_dir_in_root_never_follows_a_symlink_swapped_in(tmp_path, monkeypatch):
    """Between resolving and opening, a directory is replaced by a symlink to the host:
    the walk refuses it instead of handing back a descriptor outside the root."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "a").mkdir(parents=True)
    outside.mkdir()
    real = safepath.mkdir_all_in_root

    def racing(r, path, mode=0o755):
        host = real(r, path, mode)
        os.rename(root / "a", root / "gone")
        (root / "a").symlink_to(str(outside))
        return host

    monkeypatch.setattr(safepath, "mkdir_all_in_root", racing)
    with pytest.raises(NotADirectoryError):
        safepath.open_dir_in_root(str(root), "/a")
    monkeypatch.setattr(safepath, "mkdir_all_in_root", real)
    fd = safepath.open_dir_in_root(str(root), "/gone/b/c", 0o700)
    try:
        os.symlink("x", "made", dir_fd=fd)
    finally:
        os.close(fd)
    assert os.readlink(root / "gone" / "b" / "c" / "made") == "x"
    assert stat.S_IMODE(os.stat(root / "gone" / "b").st_mode) == 0o700
    assert list(outside.iterdir()) == []


def test_mkdir_all_in_root_never_follows_a_symlink_swapped_in(tmp_path, monkeypatch):
    """A parent is replaced by a symlink to the host between two of the mkdirs: the
    directories made after it still land inside the root (they were made by path, through
    the new symlink, when the walk was not by descriptor)."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "a").mkdir(parents=True)
    outside.mkdir()
    real_mkdir = os.mkdir
    calls = []

    def racing(path, mode=0o777, *, dir_fd=None):
        calls.append(path)
        if len(calls) == 2:
            os.rename(root / "a", root / "gone")
            (root / "a").symlink_to(str(outside))
        return real_mkdir(path, mode, dir_fd=dir_fd)

    monkeypatch.setattr(os, "mkdir", racing)
    try:
        safepath.mkdir_all_in_root(str(root), "a/b/c", 0o700)
    except OSError:
        pass  # refusing is fine too; leaving the root is not
    monkeypatch.setattr(os, "mkdir", real_mkdir)
    assert list(outside.iterdir()) == []
