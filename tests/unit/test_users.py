"""ketch.engine.users.resolve against dockerd + runc's user lookup.

PASSWD and GROUP were copied into an image on dockerd 20.10.24 (GROUP keeps the
line the official busybox image has, `wheel:x:10:root`), and each expected row
is what `docker run -u SPEC [--group-add G] IMAGE sh -c 'id; echo $HOME'`
printed there. The error texts are dockerd's answers.

The table compares supplementary groups as sets without the primary gid (the
kernel sorts the list setgroups() gets); the exact additionalGids list dockerd
put in config.json is a separate test below.
"""

import os

import pytest

from ketch.engine.users import ExecUser, resolve
from ketch.errors import InvalidArgument

PASSWD = """\
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
alice:x:1000:1000:Alice:/home/alice:/bin/sh
bob:x:1001:100:Bob:/home/bob:/bin/sh
nobody:x:65534:65534:nobody:/home:/bin/false
"""
GROUP = """\
root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
wheel:x:10:root
staff:x:50:alice,bob
users:x:100:alice
alice:x:1000:
devs:x:2000:bob,alice
nobody:x:65534:
"""


@pytest.fixture
def rootfs(tmp_path):
    etc = tmp_path / "rootfs" / "etc"
    etc.mkdir(parents=True)
    (etc / "passwd").write_text(PASSWD)
    (etc / "group").write_text(GROUP)
    return str(tmp_path / "rootfs")


# (--user, --group-add) -> uid, gid, $HOME, supplementary gids besides the primary one
RESOLVED = [
    ("", [], 0, 0, "/root", {10}),
    ("root", [], 0, 0, "/root", {10}),
    ("0", [], 0, 0, "/root", {10}),
    ("alice", [], 1000, 1000, "/home/alice", {50, 100, 2000}),
    ("1000", [], 1000, 1000, "/home/alice", {50, 100, 2000}),
    ("bob", [], 1001, 100, "/home/bob", {50, 2000}),
    ("1001", [], 1001, 100, "/home/bob", {50, 2000}),
    ("bob:devs", [], 1001, 2000, "/home/bob", set()),  # an explicit group: no supplementary ones
    ("alice:2000", [], 1000, 2000, "/home/alice", set()),
    ("1000:50", [], 1000, 50, "/home/alice", set()),
    ("root:wheel", [], 0, 10, "/root", set()),
    ("4242", [], 4242, 0, "/", set()),  # a uid not in passwd
    ("4242:devs", [], 4242, 2000, "/", set()),
    ("4242:4343", [], 4242, 4343, "/", set()),
    ("nobody", [], 65534, 65534, "/home", set()),
    ("daemon", [], 1, 1, "/usr/sbin", set()),
    ("alice", ["devs", "10", "7777"], 1000, 1000, "/home/alice", {10, 50, 100, 2000, 7777}),
    ("4242", ["wheel"], 4242, 0, "/", {10}),
]


@pytest.mark.parametrize("spec,group_add,uid,gid,home,groups", RESOLVED)
def test_resolve(rootfs, spec, group_add, uid, gid, home, groups):
    user = resolve(rootfs, spec, group_add)
    assert (user.uid, user.gid, user.home) == (uid, gid, home)
    assert set(user.additional_gids) - {gid} == groups


# (--user, --group-add) -> process.user.additionalGids in the config.json dockerd wrote
@pytest.mark.parametrize("spec,group_add,gids", [
    ("root", [], (0, 10)),
    ("bob", ["wheel", "7777"], (100, 50, 2000, 10, 7777)),
    ("bob:devs", [], (2000,)),
    ("4242", [], (0,)),
])
def test_additional_gids_start_with_the_primary_gid(rootfs, spec, group_add, gids):
    """moby's getUser: [gid] + supplementary groups + --group-add (the CVE-2022-36109 fix)."""
    assert resolve(rootfs, spec, group_add).additional_gids == gids


@pytest.mark.parametrize("spec,group_add,message", [
    ("nosuch", [], "unable to find user nosuch: no matching entries in passwd file"),
    ("root:nosuch", [], "unable to find group nosuch: no matching entries in group file"),
    ("alice", ["nosuch"],
                 "Unable to find group nosuch: no matching entries in group file"),
    ("2147483648", [], "uids and gids must be in range 0-2147483647"),
    ("0:2147483648", [], "uids and gids must be in range 0-2147483647"),
])
def test_errors(rootfs, spec, group_add, message):
    with pytest.raises(InvalidArgument) as exc:
        resolve(rootfs, spec, group_add)
    assert str(exc.value) == message


def test_no_passwd_or_group_files(tmp_path):
    """A rootfs without /etc: numeric ids still work, names cannot be found."""
    assert resolve(str(tmp_path), "") == ExecUser(0, 0, (0,), "/")
    assert resolve(str(tmp_path), "1000:1000") == ExecUser(1000, 1000, (1000,), "/")
    with pytest.raises(InvalidArgument, match="unable to find user root: "):
        resolve(str(tmp_path), "root")


def test_lookups_stay_inside_the_rootfs(tmp_path):
    """/etc/passwd is read as the container sees it: an absolute symlink stays in the rootfs."""
    outside = tmp_path / "host-passwd"
    outside.write_text("evil:x:0:0::/:/bin/sh\n")
    etc = tmp_path / "rootfs" / "etc"
    etc.mkdir(parents=True)
    os.symlink(str(outside), etc / "passwd")
    with pytest.raises(InvalidArgument, match="unable to find user evil"):
        resolve(str(tmp_path / "rootfs"), "evil")


def test_comments_and_blank_lines_are_ignored(tmp_path):
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "passwd").write_text("# comment\n\nalice:x:1000:1000::/home/alice:/bin/sh\n")
    (etc / "group").write_text("# comment\n\nstaff:x:50:alice\n")
    assert resolve(str(tmp_path), "alice") == ExecUser(1000, 1000, (1000, 50), "/home/alice")


def _root_with_passwd(tmp_path, make):
    etc = tmp_path / "root" / "etc"
    etc.mkdir(parents=True)
    make(str(etc / "passwd"))
    (etc / "group").write_text(GROUP)
    return str(tmp_path / "root")


def test_a_fifo_for_passwd_neither_hangs_nor_is_read(tmp_path):
    """A container can mkfifo /etc/passwd: opening it would block ketchd's event loop."""
    root = _root_with_passwd(tmp_path, os.mkfifo)
    assert resolve(root, "1000").uid == 1000
    with pytest.raises(InvalidArgument, match="unable to find user alice"):
        resolve(root, "alice")


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod needs root")
def test_a_device_for_passwd_is_not_read(tmp_path):
    """/dev/zero as /etc/passwd (CAP_MKNOD is in the default set) would fill memory."""
    root = _root_with_passwd(tmp_path, lambda p: os.mknod(p, 0o600 | __import__("stat").S_IFCHR, os.makedev(1, 5)))
    assert resolve(root, "0").uid == 0


def test_passwd_is_read_inside_the_root_and_only_its_first_mib(tmp_path):
    outside = tmp_path / "host-passwd"
    outside.write_text("alice:x:4242:4242::/:/bin/sh\n")
    root = _root_with_passwd(tmp_path, lambda p: os.symlink("../../host-passwd", p))
    with pytest.raises(InvalidArgument, match="unable to find user alice"):
        resolve(root, "alice")  # the link's ../.. stops at the container's root
    big = _root_with_passwd(tmp_path / "big", lambda p: open(p, "w").write(
        "#" * (1 << 20) + "\nalice:x:1000:1000::/:/bin/sh\n"))
    with pytest.raises(InvalidArgument, match="unable to find user alice"):
        resolve(big, "alice")
    fd = os.open(big, os.O_PATH | os.O_DIRECTORY)
    try:
        assert resolve(fd, "0").uid == 0  # a directory descriptor serves as the root too
    finally:
        os.close(fd)
