"""engine/volumes/mountsetup.py: mount points and HostConfig.Tmpfs -> OCI mounts at start,
their release at stop, and specgen placing them as moby's withMounts does.

The expected options are moby's (daemon/oci_linux.go withMounts, moby/sys/mount
MergeTmpfsOptions, linux_parser ConvertTmpfsOptions), worked by hand from its code;
the tmpfs ones agree with what dockerd 20.10 mounted (ORACLE11.md: ``--tmpfs /t`` is
``rw,nosuid,nodev,noexec``, ``--tmpfs /t:ro,exec,mode=700`` is ``ro,nosuid,nodev,mode=700``).
"""

import os

import pytest

from ketch import errors
from ketch.engine import specgen
from ketch.engine.volumes import mountsetup as ms
from ketch.engine.volumes import mountspec
from ketch.engine.volumes.mountpoint import MountPoint

CID = "c" * 64
VOLS = "/var/lib/ketch/volumes"


class FakeVolumes:
    """VolumeAccess with a log of calls; ``fail`` names a volume whose mount fails."""

    def __init__(self, fail: str = "") -> None:
        self.calls: list[tuple] = []
        self.fail = fail

    def mount(self, name, container_id, attributes):
        if name == self.fail:
            raise errors.Internal(f"failed to mount local volume {name}")
        self.calls.append(("mount", name, container_id, attributes))
        return f"{VOLS}/{name}/_data"

    def restore(self, name, container_id):
        self.calls.append(("restore", name, container_id))

    def unmount(self, name, container_id):
        self.calls.append(("unmount", name, container_id))


def vol(dest, name="v1", **kw):
    return MountPoint("volume", dest, source=f"{VOLS}/{name}/_data", name=name, driver="local",
                      mode="z", **kw)


def bind(dest, source, **kw):
    kw.setdefault("propagation", "rprivate")
    return MountPoint("bind", dest, source=source, **kw)


def rec(*points, tmpfs=None):
    """setup's and restore's leading arguments for a container with these mount points."""
    return CID, [p.to_doc() for p in points], tmpfs


# -- tmpfs -------------------------------------------------------------------------------
@pytest.mark.parametrize("data,options", [
    ("", ["noexec", "nosuid", "nodev", "rprivate"]),
    ("size=1m", ["noexec", "nosuid", "nodev", "rprivate", "size=1m"]),
    # the last option for one flag wins, in its place
    ("ro,exec,mode=700", ["nosuid", "nodev", "rprivate", "ro", "exec", "mode=700"]),
    ("rw,size=1m,size=2m", ["noexec", "nosuid", "nodev", "rprivate", "rw", "size=2m"]),
    ("rshared,defaults", ["noexec", "nosuid", "nodev", "rshared"]),
    ("uid=1000,gid=1000,nr_inodes=10", ["noexec", "nosuid", "nodev", "rprivate", "uid=1000",
                                        "gid=1000", "nr_inodes=10"]),
])
def test_tmpfs_options(data, options):
    assert mountspec.tmpfs_mount("/t", data) == {"destination": "/t", "type": "tmpfs", "source": "tmpfs",
                                          "options": options}


@pytest.mark.parametrize("data,message", [
    ("foo", 'invalid tmpfs option "foo"'), ("size=1m,bar=2", 'invalid tmpfs option "bar"'),
])
def test_tmpfs_bad_option(data, message):
    with pytest.raises(errors.InvalidArgument, match=message):
        mountspec.tmpfs_mount("/t", data)


@pytest.mark.parametrize("spec,rw,data", [
    ({"Type": "tmpfs", "Target": "/t"}, True, ""),
    ({"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"SizeBytes": 1 << 20}}, True, "size=1m"),
    ({"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"SizeBytes": 3 << 30, "Mode": 0o1700}},
     True, "mode=1700,size=3g"),
    ({"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"SizeBytes": 1000}}, True, "size=1000"),
    ({"Type": "tmpfs", "Target": "/t", "ReadOnly": True, "TmpfsOptions": {"SizeBytes": 4096}},
     False, "ro,size=4k"),
    ({"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"Options": [["exec"], ["nr_inodes", "5"]]}},
     True, "exec,nr_inodes=5"),
])
def test_mount_tmpfs_data(spec, rw, data):
    """--mount type=tmpfs: moby's ConvertTmpfsOptions."""
    assert mountspec.tmpfs_data(MountPoint("tmpfs", "/t", rw=rw, spec=spec)) == data


def test_mount_tmpfs_data_from_options():
    mp = MountPoint("tmpfs", "/t", options={"tmpfs_size": 2 << 20, "tmpfs_mode": 0o755})
    assert mountspec.tmpfs_data(mp) == "mode=755,size=2m"


# -- binds and volumes -------------------------------------------------------------------
@pytest.mark.parametrize("point,rro_error,options", [
    (bind("/d", "/h"), "", ["rbind", "rprivate"]),
    (bind("/d", "/h", rw=False), "", ["rbind", "rro", "rprivate"]),
    (bind("/d", "/h", rw=False), "rro is not supported by runtime \"x\"", ["rbind", "ro", "rprivate"]),
    (bind("/d", "/h", rw=False, options={"readonly_non_recursive": True}), "", ["rbind", "ro", "rprivate"]),
    (bind("/d", "/h", options={"non_recursive": True}), "", ["bind", "rprivate"]),
    (bind("/d", "/h", propagation="rslave"), "", ["rbind", "rslave"]),
    (bind("/d", "/h", rw=False, spec={"Type": "bind", "ReadOnly": True,
                                      "BindOptions": {"ReadOnlyNonRecursive": True}}), "",
     ["rbind", "ro", "rprivate"]),
    (vol("/d"), "", ["rbind"]),  # a volume has no propagation of its own
    (vol("/d", rw=False), "", ["rbind", "rro"]),
    # on Docker's own files: the default propagation, recursion flags ignored
    (bind("/etc/hosts", "/h", propagation="rshared", options={"non_recursive": True}), "",
     ["rbind", "rprivate"]),
])
def test_bind_mount(point, rro_error, options):
    m = mountspec.bind_mount(point, point.source, rro_error)
    assert m == {"destination": point.destination, "type": "bind", "source": point.source,
                 "options": options}


@pytest.mark.parametrize("point,message", [
    (bind("/d", "/h", options={"readonly_non_recursive": True}),
     "mount options conflict: !ReadOnly && BindOptions.ReadOnlyNonRecursive"),
    (bind("/d", "/h", options={"readonly_force_recursive": True}),
     "mount options conflict: !ReadOnly && BindOptions.ReadOnlyForceRecursive"),
    (bind("/d", "/h", rw=False, options={"readonly_force_recursive": True,
                                         "readonly_non_recursive": True}),
     "mount options conflict: ReadOnlyNonRecursive && BindOptions.ReadOnlyForceRecursive"),
    (bind("/d", "/h", rw=False, options={"readonly_force_recursive": True}),
     'rro is not supported by runtime "runc"'),
])
def test_bind_mount_refused(point, message):
    with pytest.raises(errors.InvalidArgument, match=message):
        mountspec.bind_mount(point, point.source, 'rro is not supported by runtime "runc"')


# -- a run: mount, copy-up, release -----------------------------------------------------------
def _setup(points, fake=None, tmpfs=None):
    fake = fake or FakeVolumes()
    setup = ms.MountSetup(fake, "/var/lib/ketch")
    return setup, fake, None, setup.setup(*rec(*points, tmpfs=tmpfs))


def test_volumes_mounted_with_moby_event_attributes_and_released_once():
    setup, fake, _, mounts = _setup([vol("/data", "v1"), vol("/ro", "v2", rw=False)])
    assert [m["source"] for m in mounts] == [f"{VOLS}/v1/_data", f"{VOLS}/v2/_data"]
    assert fake.calls == [
        ("mount", "v1", CID, {"driver": "local", "container": CID, "destination": "/data",
                              "read/write": "true", "propagation": ""}),
        ("mount", "v2", CID, {"driver": "local", "container": CID, "destination": "/ro",
                              "read/write": "false", "propagation": ""}),
    ]
    setup.release(CID)
    setup.release(CID)  # a second teardown of the same run unmounts nothing more
    assert fake.calls[2:] == [("unmount", "v1", CID), ("unmount", "v2", CID)]


def test_no_copy_at_start():
    """moby seeds a new volume at create (engine/volumes/seed.py), never at start."""
    assert not hasattr(ms.MountSetup(FakeVolumes()), "_copy")


def test_failure_part_way_leaves_the_earlier_volumes_to_release():
    fake = FakeVolumes(fail="v2")
    setup = ms.MountSetup(fake, "")
    with pytest.raises(errors.Internal, match=f"^error while mounting volume '{VOLS}/v2/_data': "
                       "failed to mount local volume v2$"):
        setup.setup(*rec(vol("/a", "v1"), vol("/b", "v2")))
    assert setup.active(CID) == ("v1",)
    setup.release(CID)
    assert fake.calls[-1] == ("unmount", "v1", CID)


def test_volume_service_calls_for_one_volume_go_one_at_a_time():
    """Two starts in worker threads: the service (which counts without a lock) is never
    entered twice at once for one volume."""
    import threading
    import time

    class Slow(FakeVolumes):
        inside = 0
        overlap = False

        def mount(self, name, container_id, attributes):
            Slow.inside += 1
            Slow.overlap |= Slow.inside > 1
            time.sleep(0.02)
            Slow.inside -= 1
            return super().mount(name, container_id, attributes)
    setup = ms.MountSetup(Slow(), "")
    threads = [threading.Thread(target=setup.setup, args=(f"c{i}", [vol("/d", "shared").to_doc()],
                                                          None)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not Slow.overlap and len(setup.volumes.calls) == 4
    assert len(setup.locks) == 0  # no lock kept for a volume nobody uses


def test_a_mount_blocked_on_one_volume_holds_up_no_other_volume():
    """Volume A's mount hangs (a dead NFS server): B mounts and unmounts for other
    containers, and a running container (of B and C) stops, while A's mount waits.
    (A's own unmount waits, as moby's per-volume mutex makes it.)"""
    import threading
    entered, go = threading.Event(), threading.Event()

    class Blocking(FakeVolumes):
        def mount(self, name, container_id, attributes):
            if name == "a":
                entered.set()
                go.wait(10)
            return super().mount(name, container_id, attributes)
    fake = Blocking()
    setup = ms.MountSetup(fake, "")
    setup.restore("running", [vol("/c", "c").to_doc(), vol("/b", "b").to_doc()], None)
    stuck = threading.Thread(target=setup.setup, args=("c-a", [vol("/d", "a").to_doc()], None))
    stuck.start()
    try:
        assert entered.wait(5)
        done = threading.Event()

        def others():
            setup.setup("c-b", [vol("/d", "b").to_doc()], None)
            setup.release("c-b")
            setup.release("running")
            done.set()
        threading.Thread(target=others, daemon=True).start()
        assert done.wait(2), "volume B's mount or a stop waited for volume A's mount"
    finally:
        go.set()
        stuck.join(5)
    assert ("mount", "a", "c-a") == fake.calls[-1][:3]
    assert ("unmount", "b", "c-b") in fake.calls and ("unmount", "c", "running") in fake.calls


def test_name_locks_taken_in_sorted_order_each_name_once():
    from ketch.engine.volumes.namelocks import NameLocks
    locks = NameLocks()
    taken = []

    class Spy:
        def __init__(self, name):
            self.name = name

        def acquire(self):
            taken.append(self.name)

        def release(self):
            pass
    locks._enter = lambda name: Spy(name)
    locks._leave = lambda name: None
    with locks.hold(["b", "c", "a", "b"]):
        pass
    assert taken == ["a", "b", "c"]


def test_tmpfs_first_and_a_mount_point_under_a_tmpfs_is_skipped():
    _, fake, _, mounts = _setup([vol("/data"), MountPoint("tmpfs", "/m", spec={"Type": "tmpfs"})],
                                tmpfs={"/data": "size=1m", "/run": ""})
    assert [(m["destination"], m["type"]) for m in mounts] == [
        ("/data", "tmpfs"), ("/run", "tmpfs"), ("/m", "tmpfs")]
    assert fake.calls == []


def test_restore_counts_without_mounting_and_releases_at_stop():
    setup = ms.MountSetup(FakeVolumes(), "")
    r = rec(vol("/a", "v1"), bind("/b", "/h"), vol("/c", "v3"))
    setup.restore(*r)
    setup.restore(*r)  # once per run
    setup.release(CID)
    assert setup.volumes.calls == [("restore", "v1", CID), ("restore", "v3", CID),
                                   ("unmount", "v1", CID), ("unmount", "v3", CID)]


def test_v_bind_source_is_made_and_mount_bind_is_not(tmp_path):
    made = tmp_path / "a" / "b"
    refused = tmp_path / "c"
    setup = ms.MountSetup(FakeVolumes(), "")
    mounts = setup.setup(*rec(bind("/x", str(made), options={"create_source": True}),
                              bind("/y", str(refused), spec={"Type": "bind", "Source": str(refused)})),
                         )
    assert made.is_dir() and oct(made.stat().st_mode & 0o7777) == "0o755"
    assert not refused.exists()
    assert [m["source"] for m in mounts] == [str(made), str(refused)]
    afile = tmp_path / "f"
    afile.write_text("x")
    setup.setup(*rec(bind("/z", str(afile), options={"create_source": True})), )
    assert afile.read_text() == "x"


def test_shared_propagation_needs_a_shared_source(tmp_path, monkeypatch):
    monkeypatch.setattr(ms, "source_mount", lambda source: ("/tmp", "master:3"))
    setup = ms.MountSetup(FakeVolumes(), "/var/lib/ketch")
    with pytest.raises(errors.InvalidArgument,
                       match=f"^path {tmp_path} is mounted on /tmp but it is not a shared mount$"):
        setup.setup(*rec(bind("/x", str(tmp_path), propagation="rshared")))
    assert setup.setup(*rec(bind("/x", str(tmp_path), propagation="rslave")))[0][
        "options"] == ["rbind", "rslave"]
    monkeypatch.setattr(ms, "source_mount", lambda source: ("/", ""))
    with pytest.raises(errors.InvalidArgument, match="not a shared or slave mount$"):
        setup.setup(*rec(bind("/x", str(tmp_path), propagation="rslave")))
    # moby's fallback: a bind of the data root made rslave by default becomes private
    inside = bind("/x", "/var/lib/ketch/volumes", propagation="rslave")
    assert setup.setup(*rec(inside))[0]["options"] == ["rbind"]
    # ... not when the user asked for it (-v /var/lib/ketch/volumes:/x:rslave)
    with pytest.raises(errors.InvalidArgument, match="not a shared or slave mount$"):
        setup.setup(*rec(bind("/x", "/var/lib/ketch/volumes", propagation="rslave", mode="rslave")),
                    )


def test_source_mount_finds_the_longest_mount_point():
    point, optional = ms.source_mount("/proc/self")
    assert point == "/proc"


def test_subpath_resolved_inside_the_volume(tmp_path):
    """A missing subpath is refused before anything is pinned; a symlink in the volume
    resolves inside it (esc -> / is the volume's root, so esc/etc is <volume>/etc)."""
    root = tmp_path / "v"
    root.mkdir()
    os.symlink("/", root / "esc")

    class Access(FakeVolumes):
        def mount(self, name, container_id, attributes):
            return str(root)
    setup = ms.MountSetup(Access(), "")
    for point in (vol("/d", options={"subpath": "nosuch"}),
                  vol("/d", spec={"Type": "volume", "VolumeOptions": {"Subpath": "esc/etc"}})):
        with pytest.raises(errors.InvalidArgument, match=f"^cannot access path {root}/"):
            setup.setup(*rec(point), pin_dir=str(tmp_path / "pins"))
    assert not (tmp_path / "pins").exists()


# -- specgen: the user's mounts among Docker's own ----------------------------------------------
BASE = dict(rootfs="/b/rootfs", args=["sh"], env=[], hostname="h", domainname="", working_dir="/",
            uid=0, gid=0, additional_gids=(), tty=False, hostname_path="/c/hostname",
            hosts_path="/c/hosts", resolv_conf_path="/c/resolv.conf")


def spec_mounts(mounts=(), **kw):
    spec = specgen.build(specgen.SpecInput(**BASE, mounts=tuple(mounts), **kw))
    return spec, [(m["destination"], m["type"], m["source"], m["options"]) for m in spec["mounts"]]


OWN = [("/proc", "proc", "proc", ["nosuid", "noexec", "nodev"]),
       ("/dev", "tmpfs", "tmpfs", ["nosuid", "strictatime", "mode=755", "size=65536k"]),
       ("/dev/pts", "devpts", "devpts", ["nosuid", "noexec", "newinstance", "ptmxmode=0666",
                                         "mode=0620", "gid=5"]),
       ("/sys", "sysfs", "sysfs", ["nosuid", "noexec", "nodev", "ro"]),
       ("/sys/fs/cgroup", "cgroup", "cgroup", ["ro", "nosuid", "noexec", "nodev"]),
       ("/dev/mqueue", "mqueue", "mqueue", ["nosuid", "noexec", "nodev"])]
SHM = ("/dev/shm", "tmpfs", "shm", ["nosuid", "noexec", "nodev", "mode=1777", "size=67108864"])
NET = [("/etc/resolv.conf", "bind", "/c/resolv.conf", ["rbind", "rprivate"]),
       ("/etc/hostname", "bind", "/c/hostname", ["rbind", "rprivate"]),
       ("/etc/hosts", "bind", "/c/hosts", ["rbind", "rprivate"])]


def _user(points, tmpfs=None):
    _, _, _, mounts = _setup(points, tmpfs=tmpfs)
    return mounts


def test_golden_volume_bind_and_tmpfs():
    """`run -v v1:/data -v /h/conf:/etc/app/conf:ro -v /h/x:/x --tmpfs /run:size=1m`:
    user mounts after Docker's own, by depth, the /etc files among them."""
    user = _user([vol("/data", "v1"), bind("/etc/app/conf", "/h/conf", rw=False), bind("/x", "/h/x")],
                 tmpfs={"/run": "size=1m"})
    spec, mounts = spec_mounts(user, recursive_readonly=True)
    assert mounts == OWN + [SHM] + [
        ("/run", "tmpfs", "tmpfs", ["noexec", "nosuid", "nodev", "rprivate", "size=1m"]),
        ("/data", "bind", f"{VOLS}/v1/_data", ["rbind"]),
        ("/x", "bind", "/h/x", ["rbind", "rprivate"]),
    ] + NET + [("/etc/app/conf", "bind", "/h/conf", ["rbind", "rro", "rprivate"])]
    assert "rootfsPropagation" not in spec["linux"]


def test_golden_user_mounts_replace_dockers_own():
    """A user mount on /dev/shm, /etc/hosts, /etc/resolv.conf or /etc/hostname replaces
    Docker's; a user /dev takes everything below /dev with it."""
    user = _user([bind("/etc/hosts", "/h/hosts", rw=False), vol("/etc/resolv.conf", "r"),
                  bind("/etc/hostname", "/h/hn")], tmpfs={"/dev/shm": "size=2m"})
    _, mounts = spec_mounts(user)
    assert mounts == OWN + [
        ("/dev/shm", "tmpfs", "tmpfs", ["noexec", "nosuid", "nodev", "rprivate", "size=2m"]),
        ("/etc/hosts", "bind", "/h/hosts", ["rbind", "rro", "rprivate"]),
        ("/etc/resolv.conf", "bind", f"{VOLS}/r/_data", ["rbind", "rprivate"]),
        ("/etc/hostname", "bind", "/h/hn", ["rbind", "rprivate"]),
    ]
    _, mounts = spec_mounts(_user([bind("/dev", "/h/dev")]))
    assert [m[0] for m in mounts] == ["/proc", "/sys", "/sys/fs/cgroup", "/dev",
                                      "/etc/resolv.conf", "/etc/hostname", "/etc/hosts"]


def test_golden_readonly_rootfs_leaves_user_mounts_alone():
    user = _user([vol("/data", "v1")], tmpfs={"/tmp": ""})
    spec, mounts = spec_mounts(user, readonly_rootfs=True, recursive_readonly=True,
                               init_path="/usr/bin/docker-init")
    assert spec["root"]["readonly"] is True
    assert mounts == OWN + [SHM, ("/sbin/docker-init", "bind", "/usr/bin/docker-init", ["bind", "ro"]),
                            ("/tmp", "tmpfs", "tmpfs", ["noexec", "nosuid", "nodev", "rprivate"]),
                            ("/data", "bind", f"{VOLS}/v1/_data", ["rbind"])] + [
        (d, t, s, ["rbind", "rro", "rprivate"]) for d, t, s, _ in NET]


@pytest.mark.parametrize("propagations,root", [
    (["rprivate"], None), (["rslave"], "rslave"), (["slave"], "rslave"), (["rshared"], "shared"),
    (["rslave", "shared"], "shared"), (["shared", "rslave"], "shared"),
])
def test_rootfs_propagation(propagations, root, monkeypatch):
    monkeypatch.setattr(ms, "source_mount", lambda source: ("/", "shared:1"))
    user = _user([bind(f"/m{i}", f"/h{i}", propagation=p) for i, p in enumerate(propagations)])
    spec, _ = spec_mounts(user)
    assert spec["linux"].get("rootfsPropagation") == root


def test_privileged_readonly_rootfs_keeps_sys_writable():
    _, mounts = spec_mounts(readonly_rootfs=True, privileged=True)
    options = {d: o for d, _, _, o in mounts}
    assert "ro" not in options["/sys"] and "rw" in options["/sys"]
    assert "ro" not in options["/sys/fs/cgroup"]
