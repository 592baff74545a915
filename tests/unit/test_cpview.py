"""cp's view of a container's mounts: which mount points, in which order, which writes are
refused (pure), the volumes held for a copy, and the binds made in a thread's own mount
namespace on the real kernel (root only; nothing is left mounted once the thread ends)."""

import errno
import os
import threading

import pytest

from ketch import errors
from ketch.engine.containers import cpview
from ketch.engine.volumes.mountpoint import MountPoint


def _vol(dest: str, name: str = "v", rw: bool = True, **kw) -> MountPoint:
    return MountPoint("volume", dest, source=f"/var/lib/ketch/volumes/{name}/_data", name=name,
                      driver="local", rw=rw, **kw)


def _bind(dest: str, source: str, rw: bool = True, **kw) -> MountPoint:
    return MountPoint("bind", dest, source=source, rw=rw, propagation="rprivate", **kw)


# -- pure ---------------------------------------------------------------------------------
def test_view_points_skip_tmpfs_and_sort_by_depth():
    points = [_vol("/a/b/c", "deep"), MountPoint("tmpfs", "/t"), _bind("/a", "/srv"),
              _vol("/x/y", "mid"), _vol("/run/tmp", "hidden"), _bind("/b", "/srv2")]
    chosen = cpview.view_points(points, {"/run/tmp": "size=1m"})
    assert [mp.destination for mp in chosen] == ["/a", "/b", "/x/y", "/a/b/c"]


@pytest.mark.parametrize("path,dest", [
    ("/data", "/data"), ("/data/", "/data"), ("/data/f", "/data"), ("/data/sub", "/data/sub"),
    ("/data/sub/f", "/data/sub"), ("/data/subway", "/data"), ("/datum", None), ("/", None),
    ("/etc/hosts", "/etc/hosts"), ("/etc/hostsx", None),
])
def test_holding_is_the_deepest_mount_point(path, dest):
    points = [_vol("/data/sub", "sub"), _vol("/data"), _bind("/etc/hosts", "/tmp/h")]
    found = cpview.holding(points, path)
    assert (found.destination if found else None) == dest


@pytest.mark.parametrize("path,readonly_rootfs,message", [
    ("/ro", False, "mounted volume is marked read-only"),
    ("/ro/d", True, "mounted volume is marked read-only"),
    ("/ro/rw/d", True, None),  # the nested writable one holds it, whatever the order
    ("/rw", True, None),
    ("/tmp", True, "container rootfs is marked read-only"),
    ("/tmp", False, None),
    ("/tm", True, None),  # a --mount type=tmpfs is a mount point too (moby's)
])
def test_check_writable(path, readonly_rootfs, message):
    points = [_vol("/ro/rw", "a"), _vol("/ro", "b", rw=False), _bind("/rw", "/srv"),
              MountPoint("tmpfs", "/tm")]
    for order in (points, points[::-1]):
        if message is None:
            cpview.check_writable(order, path, readonly_rootfs)
            continue
        with pytest.raises(errors.InvalidArgument) as info:
            cpview.check_writable(order, path, readonly_rootfs)
        assert str(info.value) == message


class FakeVolumes:
    def __init__(self, fail: str = "") -> None:
        self.calls: list[tuple] = []
        self.fail = fail

    def mount(self, name, container_id, attributes):
        if name == self.fail:
            raise errors.NotFound(f"get {name}: no such volume")
        self.calls.append(("mount", name, container_id, attributes))
        return f"/vols/{name}/_data"

    def unmount(self, name, container_id):
        self.calls.append(("unmount", name, container_id))


def test_hold_mounts_volumes_with_moby_attributes_and_release_undoes_them(tmp_path):
    vols = FakeVolumes()
    src = tmp_path / "made"
    points = [_vol("/a", "one"), _bind("/b", str(src), options={"create_source": True}),
              _vol("/c", "two", rw=False)]
    bound = cpview.hold(vols, "cid", points)
    assert [b.source for b in bound] == ["/vols/one/_data", str(src), "/vols/two/_data"]
    assert src.is_dir() and (src.stat().st_mode & 0o777) == 0o755  # a -v source is made
    assert vols.calls[1] == ("mount", "two", "cid", {
        "driver": "local", "container": "cid", "destination": "/c", "read/write": "false",
        "propagation": ""})
    cpview.release(vols, "cid", bound)
    assert vols.calls[2:] == [("unmount", "two", "cid"), ("unmount", "one", "cid")]


def test_hold_fails_whole_and_a_mount_source_is_not_made(tmp_path):
    vols = FakeVolumes(fail="two")
    points = [_vol("/a", "one"), _bind("/b", str(tmp_path / "not-made")), _vol("/c", "two")]
    with pytest.raises(errors.NotFound) as info:
        cpview.hold(vols, "cid", points)
    assert str(info.value) == ("error while mounting volume '/var/lib/ketch/volumes/two/_data': "
                               "get two: no such volume")  # moby's MountPoint.Setup
    assert vols.calls[-1] == ("unmount", "one", "cid")  # what it had mounted, undone
    assert not (tmp_path / "not-made").exists()  # --mount type=bind: moby never makes it


def test_hold_keeps_a_volume_subpath_for_the_bind():
    mp = _vol("/a", "one", spec={"Type": "volume", "VolumeOptions": {"Subpath": "../../etc"}})
    (b,) = cpview.hold(FakeVolumes(), "cid", [mp])
    assert (b.source, b.subpath) == ("/vols/one/_data", "../../etc")


def test_release_unmounts_every_volume_when_one_unmount_fails(caplog):
    """A device volume whose unmount fails (EBUSY) must not leave the copy's other volumes
    counted for the container: each would stay "in use" until ketchd restarts."""
    class Failing(FakeVolumes):
        def unmount(self, name, container_id):
            super().unmount(name, container_id)
            if name == "two":
                raise errors.Internal("unmount /vols/two/_data: device or resource busy")

    vols = Failing()
    bound = cpview.hold(vols, "cid", [_vol("/a", "one"), _vol("/c", "two")])
    cpview.release(vols, "cid", bound)  # the copy's own result is not replaced by it
    assert vols.calls[2:] == [("unmount", "two", "cid"), ("unmount", "one", "cid")]
    assert "device or resource busy" in caplog.text


# -- the kernel: binds in a private namespace of a thread ------------------------------------
root_only = pytest.mark.skipif(os.geteuid() != 0, reason="mounts need root")


def _in_private_thread(fn):
    """Run ``fn()`` as archive.py does: a thread, its own private mount namespace."""
    from ketch.linux import syscalls as sc
    out: dict = {}

    def body():
        try:
            sc.unshare(sc.CLONE_NEWNS)
            sc.mount(None, "/", None, sc.MS_REC | sc.MS_PRIVATE)
            out["result"] = fn()
        except BaseException as exc:  # noqa: BLE001 - raised in the test's thread
            out["error"] = exc

    t = threading.Thread(target=body)
    t.start()
    t.join()
    if "error" in out:
        raise out["error"]
    return out["result"]


def _host_mounts(path) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [line for line in f if str(path) in line]


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "data").mkdir()
    (root / "data" / "under").write_text("rootfs\n")  # hidden by the volume, as in the container
    for name in ("vol", "sub", "ro", "outside"):
        (tmp_path / name).mkdir()
    (tmp_path / "vol" / "v.txt").write_text("volume\n")
    (tmp_path / "sub" / "s.txt").write_text("nested\n")
    (tmp_path / "ro" / "r.txt").write_text("readonly\n")
    (tmp_path / "file").write_text("a file\n")
    # a container's symlink to the host's path of a directory outside the root
    os.symlink(str(tmp_path / "outside"), root / "escape")
    return tmp_path


def _bind_and(root, bound, fn):
    def run():
        fd = os.open(root, os.O_PATH | os.O_DIRECTORY)
        try:
            cpview.bind_all(str(root), fd, bound)
            return fn()
        finally:
            os.close(fd)
    return _in_private_thread(run)


@root_only
def test_binds_nest_in_order_and_go_with_the_thread(tree):
    root = tree / "root"
    points = cpview.view_points([_vol("/data/sub/deeper", "sub"), _vol("/data", "vol")], {})
    sources = {"/data": str(tree / "vol"), "/data/sub/deeper": str(tree / "sub")}
    bound = [cpview.Bound(mp, sources[mp.destination]) for mp in points]
    seen = _bind_and(root, bound, lambda: (sorted(os.listdir(root / "data")),
                                           (root / "data/sub/deeper/s.txt").read_text()))
    # /data/sub/deeper was made inside the volume, where the container sees it
    assert seen == (["sub", "v.txt"], "nested\n")
    assert (tree / "vol" / "sub" / "deeper").is_dir()
    assert not (root / "data" / "sub").exists()
    assert _host_mounts(tree) == []


@root_only
def test_read_only_is_recursive(tree):
    root = tree / "root"
    inner = tree / "ro" / "inner"
    inner.mkdir()

    def check():
        # a mount under the read-only source, writable itself: read-only in the view
        from ketch.linux import syscalls as sc
        sc.mount(str(tree / "sub"), str(inner), None, sc.MS_BIND)
        cpview.bind_all(str(root), fd_holder["fd"], [cpview.Bound(_vol("/ro", rw=False), str(tree / "ro"))])
        results = []
        for path in (root / "ro" / "new", root / "ro" / "inner" / "new"):
            try:
                path.write_text("x")
                results.append("written")
            except OSError as exc:
                results.append(errno.errorcode[exc.errno])
        (tree / "sub" / "ok").write_text("x")  # the source itself stays writable
        return results

    fd_holder = {}

    def run():
        fd_holder["fd"] = os.open(root, os.O_PATH | os.O_DIRECTORY)
        try:
            return check()
        finally:
            os.close(fd_holder["fd"])

    assert _in_private_thread(run) == ["EROFS", "EROFS"]
    assert _host_mounts(tree) == []


@root_only
def test_a_file_source_and_a_missing_destination(tree):
    root = tree / "root"
    bound = [cpview.Bound(_bind("/etc/conf/app.conf", str(tree / "file")), str(tree / "file"))]
    seen = _bind_and(root, bound, lambda: (root / "etc/conf/app.conf").read_text())
    assert seen == "a file\n"
    assert (root / "etc" / "conf" / "app.conf").read_text() == ""  # made empty, left there


@root_only
def test_a_destination_through_a_symlink_stays_inside_the_root(tree):
    root = tree / "root"
    bound = [cpview.Bound(_vol("/escape/x"), str(tree / "vol"))]
    inside = root / str(tree / "outside").lstrip("/") / "x"
    seen = _bind_and(root, bound, lambda: sorted(os.listdir(inside)))
    assert seen == ["v.txt"]
    assert os.listdir(tree / "outside") == []  # the host's directory was never touched


@root_only
def test_a_missing_bind_source_fails_as_moby(tree):
    bound = [cpview.Bound(_bind("/b", str(tree / "gone")), str(tree / "gone"))]
    with pytest.raises(errors.Internal) as info:
        _bind_and(tree / "root", bound, lambda: None)
    assert str(info.value) == f"stat {tree / 'gone'}: no such file or directory"


def test_network_files_come_after_and_yield_to_the_user_s_mount_points():
    points = [_bind("/etc/hosts", "/srv/my-hosts", rw=False)]
    files = {"/etc/resolv.conf": "/d/resolv.conf", "/etc/hostname": "/d/hostname", "/etc/hosts": "/d/hosts"}
    bound = cpview.network_bounds(points, files, readonly_rootfs=True)
    assert [(b.point.destination, b.source, b.point.rw) for b in bound] == [
        ("/etc/resolv.conf", "/d/resolv.conf", False), ("/etc/hostname", "/d/hostname", False)]
    assert all(b.point.rw for b in cpview.network_bounds([], files, readonly_rootfs=False))


@root_only
def test_a_volume_subpath_is_taken_inside_the_volume(tree):
    root, vol = tree / "root", tree / "vol"
    (vol / "d").mkdir()
    (vol / "d" / "in-d").write_text("d\n")
    os.symlink(str(tree / "outside"), vol / "host")  # a container's link to a host path
    (tree / "outside" / "host-file").write_text("host\n")
    cases = {"d": ["in-d"], "../../d": ["in-d"], "host": []}  # "host" means <volume>/<its target>
    (vol / str(tree / "outside").lstrip("/")).mkdir(parents=True)
    for sub, expected in cases.items():
        bound = [cpview.Bound(_vol("/sub"), str(vol), sub)]
        assert _bind_and(root, bound, lambda: sorted(os.listdir(root / "sub"))) == expected, sub
    bound = [cpview.Bound(_vol("/sub"), str(vol), "missing")]
    with pytest.raises(errors.InvalidArgument) as info:
        _bind_and(root, bound, lambda: None)
    assert str(info.value) == f"cannot access path {vol}/missing: no such file or directory"
