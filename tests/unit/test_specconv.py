"""ketch.runtime.specconv: config.json -> ContainerConfig, once, with errors that name the field.

A bad document must fail with InvalidArgument naming the offending field (runc
says e.g. "json: cannot unmarshal string into Go struct field Spec.mounts"),
never with a Python AttributeError or a silently mangled value.
"""

import copy
import os

import pytest

from ketch.errors import InvalidArgument
from ketch.runtime.specconv import (
    ContainerConfig, Device, MountSpec, Namespace, Process, from_oci, validate,
)

GOOD = {
    "ociVersion": "1.2.0",
    "process": {
        "terminal": True,
        "user": {"uid": 1000, "gid": 100, "additionalGids": [100, 50], "umask": 18},
        "args": ["sh", "-c", "echo hi"],
        "env": ["PATH=/bin", "HOSTNAME=h"],
        "cwd": "/work",
        "noNewPrivileges": True,
    },
    "root": {"path": "rootfs", "readonly": True},
    "hostname": "h",
    "domainname": "d.example",
    "mounts": [
        {"destination": "/proc", "type": "proc", "source": "proc",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/etc/hosts", "type": "bind", "source": "/var/lib/x/hosts",
         "options": ["rbind", "rprivate"]},
        {"destination": "/data"},
    ],
    "linux": {
        "namespaces": [{"type": "pid"}, {"type": "network", "path": "/run/netns/n1"},
                       {"type": "mount"}, {"type": "uts"}],
        "devices": [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229,
                     "fileMode": 0o600, "uid": 0, "gid": 0}],
        "maskedPaths": ["/proc/kcore"],
        "readonlyPaths": ["/proc/sys"],
        "rootfsPropagation": "rslave",
    },
    "annotations": {"org.example": "1"},
}


@pytest.fixture
def bundle(tmp_path):
    (tmp_path / "rootfs").mkdir()
    return str(tmp_path)


def test_good_document(bundle):
    cfg = from_oci(copy.deepcopy(GOOD), bundle)
    assert cfg == ContainerConfig(
        bundle=bundle,
        root=os.path.join(bundle, "rootfs"),
        readonly_root=True,
        process=Process(args=("sh", "-c", "echo hi"), env=("PATH=/bin", "HOSTNAME=h"),
                        cwd="/work", uid=1000, gid=100, additional_gids=(100, 50),
                        terminal=True, umask=18, no_new_privileges=True),
        hostname="h",
        domainname="d.example",
        mounts=(MountSpec("/proc", "proc", "proc", ("nosuid", "noexec", "nodev")),
                MountSpec("/etc/hosts", "bind", "/var/lib/x/hosts", ("rbind", "rprivate")),
                MountSpec("/data", "", "", ())),
        namespaces=(Namespace("pid"), Namespace("network", "/run/netns/n1"),
                    Namespace("mount"), Namespace("uts")),
        devices=(Device("/dev/fuse", "c", 10, 229, 0o600, 0, 0),),
        masked_paths=("/proc/kcore",),
        readonly_paths=("/proc/sys",),
        rootfs_propagation="rslave",
        annotations={"org.example": "1"},
    )
    assert cfg.namespace("network") == Namespace("network", "/run/netns/n1")
    assert cfg.namespace("ipc") is None
    assert [m.is_bind for m in cfg.mounts] == [False, True, False]
    validate(cfg)


MINIMAL = {"root": {"path": "rootfs"}, "process": {"args": ["true"]}}


def test_minimal_document_defaults(bundle):
    cfg = from_oci(copy.deepcopy(MINIMAL), bundle)
    assert cfg.process == Process(args=("true",))
    assert (cfg.readonly_root, cfg.hostname, cfg.mounts, cfg.namespaces) == (False, "", (), ())


def test_absolute_root_path_is_kept(bundle, tmp_path):
    other = tmp_path / "elsewhere"
    other.mkdir()
    doc = {**MINIMAL, "root": {"path": str(other)}}
    assert from_oci(doc, bundle).root == str(other)


def test_root_path_is_resolved(bundle, tmp_path):
    os.symlink("rootfs", tmp_path / "link")
    doc = {**MINIMAL, "root": {"path": "link"}}
    assert from_oci(doc, bundle).root == os.path.join(bundle, "rootfs")


def _with(path, value):
    """MINIMAL with the dotted ``path`` set to ``value`` (or removed when value is ...)."""
    doc = copy.deepcopy(MINIMAL)
    *parents, last = path.split(".")
    node = doc
    for key in parents:
        node = node.setdefault(key, {})
    if value is ...:
        del node[last]
    else:
        node[last] = value
    return doc


# document -> the field the error must name (a regex fragment of the message)
BAD = [
    ([], "config.json: not a JSON object"),
    ({}, "config.json: root is required"),
    (_with("root", "rootfs"), "config.json: root must be a dict"),
    (_with("root.path", ...), "config.json: root.path is required"),
    (_with("root.path", 1), "config.json: root.path must be a str"),
    (_with("process", ...), "config.json: process is required"),
    (_with("process", ["true"]), "config.json: process must be a dict"),
    (_with("process.args", ...), "config.json: process.args is required"),
    (_with("process.args", "true"), "config.json: process.args must be a list"),
    (_with("process.args", []), "config.json: process.args must be a non-empty list of strings"),
    (_with("process.args", ["sh", 1]), "config.json: process.args must be a non-empty list of strings"),
    (_with("process.cwd", "work"), "config.json: process.cwd must be an absolute path, not 'work'"),
    (_with("process.cwd", 5), "config.json: process.cwd must be an absolute path, not 5"),
    (_with("process.user", {"uid": "root"}), "config.json: process.user ids must be integers"),
    (_with("process.user", {"additionalGids": ["x"]}), "config.json: process.user ids must be integers"),
    (_with("mounts", [{"destination": "/a"}, {"destination": "rel"}]),
     r"config.json: mounts\[1\].destination must be an absolute path"),
    (_with("mounts", [{"type": "tmpfs"}]), r"config.json: mounts\[0\].destination must be an absolute path"),
    (_with("linux", {"namespaces": [{"type": "pid"}, {"type": "bogus"}]}),
     r"config.json: linux.namespaces\[1\].type 'bogus' is unknown"),
    (_with("linux", {"namespaces": [{}]}), r"config.json: linux.namespaces\[0\].type None is unknown"),
    (_with("linux", {"devices": [{"path": "/dev/x"}]}), r"config.json: linux.devices\[0\] is invalid"),
    (_with("linux", {"devices": [{"path": "/dev/x", "type": "c", "major": "a"}]}),
     r"config.json: linux.devices\[0\] is invalid"),
    (_with("mounts", ["/data"]), r"mounts\[0\]"),
    (_with("mounts", {"destination": "/a"}), "mounts"),
    (_with("linux", "x"), "linux"),
    (_with("linux", {"namespaces": ["pid"]}), r"linux.namespaces\[0\]"),
    (_with("process.user", "root"), "process.user"),
    (_with("process.env", "A=1"), "process.env"),
    (_with("process.env", ["A=1", 2]), "process.env"),
    (_with("linux", {"maskedPaths": "/proc/kcore"}), "linux.maskedPaths"),
]


@pytest.mark.parametrize("doc,message", BAD)
def test_bad_document(bundle, doc, message):
    with pytest.raises(InvalidArgument, match=message):
        from_oci(doc, bundle)


@pytest.mark.parametrize("change,message", [
    ({"root": {"path": "missing"}}, r"rootfs \(.*/missing\) does not exist"),
    ({"hostname": "h"}, "unable to set hostname without a private UTS namespace"),
    ({"mounts": [{"destination": "/proc", "type": "proc"}]},
     "mounts need a private mount namespace"),
])
def test_validate(bundle, change, message):
    cfg = from_oci({**MINIMAL, **change}, bundle)
    with pytest.raises(InvalidArgument, match=message):
        validate(cfg)
