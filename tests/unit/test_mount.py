"""ketch.linux.mount.parse_options against runc's parseMountOptions.

runc's rule: an option in its flag table with a non-zero flag sets or clears
that flag, a propagation option is applied after the mount in the order given,
and everything else (including "defaults", whose flag is 0) is filesystem data,
joined with commas in the order given.
"""

import pytest

from ketch.linux import syscalls as sc
from ketch.linux.mount import Mount, MountAttrs, ParsedOptions, mount_attrs, parse_options

MS_POSIXACL = 1 << 16
MS_I_VERSION = 1 << 23


def runc_table(reason):
    return pytest.mark.xfail(strict=True, reason=f"bug: runc's flag table has {reason}; "
                                                 "ketch passes it to the kernel as data")


PARSED = [
    ([], 0, (), ""),
    (["ro"], sc.MS_RDONLY, (), ""),
    (["ro", "rw"], 0, (), ""),
    (["rw", "ro"], sc.MS_RDONLY, (), ""),
    (["nosuid", "noexec", "nodev"], sc.MS_NOSUID | sc.MS_NOEXEC | sc.MS_NODEV, (), ""),
    (["nosuid", "suid", "dev", "exec"], 0, (), ""),
    (["bind"], sc.MS_BIND, (), ""),
    (["rbind", "rprivate"], sc.MS_BIND | sc.MS_REC, (sc.MS_PRIVATE | sc.MS_REC,), ""),
    (["rbind", "ro", "rprivate"], sc.MS_BIND | sc.MS_REC | sc.MS_RDONLY,
     (sc.MS_PRIVATE | sc.MS_REC,), ""),
    (["shared", "rslave", "unbindable", "runbindable"], 0,
     (sc.MS_SHARED, sc.MS_SLAVE | sc.MS_REC, sc.MS_UNBINDABLE, sc.MS_UNBINDABLE | sc.MS_REC), ""),
    # Docker's default /dev and /dev/pts mounts
    (["nosuid", "strictatime", "mode=755", "size=65536k"], sc.MS_NOSUID | sc.MS_STRICTATIME,
     (), "mode=755,size=65536k"),
    (["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
     sc.MS_NOSUID | sc.MS_NOEXEC, (), "newinstance,ptmxmode=0666,mode=0620,gid=5"),
    (["lowerdir=/a:/b", "upperdir=/u", "workdir=/w"], 0, (), "lowerdir=/a:/b,upperdir=/u,workdir=/w"),
    (["remount", "bind", "ro"], sc.MS_REMOUNT | sc.MS_BIND | sc.MS_RDONLY, (), ""),
    (["noatime", "atime"], 0, (), ""),
    (["relatime", "nodiratime", "lazytime", "sync", "dirsync", "mand"],
     sc.MS_RELATIME | sc.MS_NODIRATIME | sc.MS_LAZYTIME | sc.MS_SYNCHRONOUS | sc.MS_DIRSYNC
     | sc.MS_MANDLOCK, (), ""),
    (["sync", "async", "mand", "nomand"], 0, (), ""),
    (["nosymfollow"], sc.MS_NOSYMFOLLOW, (), ""),
    (["defaults"], 0, (), "defaults"),
    (["silent"], sc.MS_SILENT, (), ""),
    (["acl"], MS_POSIXACL, (), ""),
    (["iversion"], MS_I_VERSION, (), ""),
    # OCI 1.1's recursive attributes are mount_setattr's, never filesystem data
    (["rbind", "rro", "rnosuid", "size=1m"], sc.MS_BIND | sc.MS_REC, (), "size=1m"),
]


@pytest.mark.parametrize("options,flags,propagation,data", PARSED)
def test_parse_options(options, flags, propagation, data):
    assert parse_options(options) == ParsedOptions(flags, propagation, data)


def test_parse_options_takes_a_tuple():
    assert parse_options(("ro", "size=1m")) == ParsedOptions(sc.MS_RDONLY, (), "size=1m")


def test_mount_to_oci():
    m = Mount("overlay", "overlay", "/merged", ("lowerdir=/l", "upperdir=/u", "workdir=/w"))
    assert m.to_oci("/") == {"destination": "/", "type": "overlay", "source": "overlay",
                             "options": ["lowerdir=/l", "upperdir=/u", "workdir=/w"]}


RO, NOSUID, NODEV, NOEXEC = sc.MOUNT_ATTR_RDONLY, sc.MOUNT_ATTR_NOSUID, sc.MOUNT_ATTR_NODEV, sc.MOUNT_ATTR_NOEXEC
ATIME = sc.MOUNT_ATTR__ATIME

ATTRS = [
    (["rbind", "rprivate"], MountAttrs()),
    (["rbind", "ro"], MountAttrs(set=RO)),
    (["rbind", "ro", "rw"], MountAttrs(clear=RO)),
    (["bind", "ro", "nosuid", "nodev", "noexec"], MountAttrs(set=RO | NOSUID | NODEV | NOEXEC)),
    (["suid", "exec"], MountAttrs(clear=NOSUID | NOEXEC)),
    (["rbind", "rro"], MountAttrs(rec_set=RO)),
    (["rro", "rrw"], MountAttrs(rec_clear=RO)),
    (["rnosuid", "rnodev", "rnoexec", "rsuid"], MountAttrs(rec_set=NODEV | NOEXEC, rec_clear=NOSUID)),
    (["ro", "rro"], MountAttrs(set=RO, rec_set=RO)),
    # an atime mode replaces the whole field, which the kernel wants cleared in full
    (["noatime"], MountAttrs(set=sc.MOUNT_ATTR_NOATIME, clear=ATIME)),
    (["noatime", "strictatime"], MountAttrs(set=sc.MOUNT_ATTR_STRICTATIME, clear=ATIME)),
    (["noatime", "atime"], MountAttrs(clear=ATIME)),
    (["rnoatime"], MountAttrs(rec_set=sc.MOUNT_ATTR_NOATIME, rec_clear=ATIME)),
    (["rstrictatime", "ratime"], MountAttrs(rec_clear=ATIME)),
    (["rnodiratime", "rnosymfollow"], MountAttrs(rec_set=sc.MOUNT_ATTR_NODIRATIME | sc.MOUNT_ATTR_NOSYMFOLLOW)),
]


@pytest.mark.parametrize("options,attrs", ATTRS)
def test_mount_attrs(options, attrs):
    assert mount_attrs(options) == attrs


def test_mountinfo_fields_optional_fields_and_octal_escapes(tmp_path):
    from ketch.linux.mount import MountInfo, mountinfo
    table = tmp_path / "mountinfo"
    table.write_text(
        "36 35 98:0 /mnt1 /mnt/a\\040b\\134c rw,noatime master:1 shared:2 - ext3 /dev/ro\\043t rw,errors=continue\n"
        "40 1 0:5 / /x\\011y rw - tmpfs tmpfs rw\n")
    assert list(mountinfo(str(table))) == [
        MountInfo(36, 35, "98:0", "/mnt1", "/mnt/a b\\c", "rw,noatime", ("master:1", "shared:2"),
                  "ext3", "/dev/ro#t", "rw,errors=continue"),
        MountInfo(40, 1, "0:5", "/", "/x\ty", "rw", (), "tmpfs", "tmpfs", "rw"),
    ]
    assert any(m.mount_point == "/" for m in mountinfo())
