"""ketch.engine.specgen: Docker config -> OCI config.json, against a golden file.

tests/golden/specgen_default.json is the spec for GOLDEN_INPUT, the container
`docker run -t -h h1 -e FOO=bar -e HOSTNAME=over busybox sleep 60`. It was
checked field by field against the config.json dockerd 20.10.24 wrote for that
command (process terminal/user/args/env/cwd/capabilities, hostname, every mount
but the bind sources, namespaces, readonlyPaths: all identical) and against
moby's oci/defaults.go; maskedPaths is moby 28's list, which adds
/proc/interrupts and /sys/devices/virtual/powercap to 20.10's; the default network
sysctls and oomScoreAdj are dockerd's. Fields that depend on inputs this golden
input leaves empty (seccomp, resources, cgroupsPath, hooks) are not in the file. `root.readonly: false` and `noNewPrivileges: false` are
explicit here where Docker omits them: the same value.

The namespace list is compared without its order: runtimes create all of them
in one clone/unshare, so the order has no meaning.
"""

import copy
import json
import pathlib

import pytest

from ketch.engine.specgen import (
    DEFAULT_PATH_ENV, SpecInput, build, process_env, replace_or_append_env,
)

GOLDEN = pathlib.Path(__file__).parent.parent / "golden" / "specgen_default.json"
CID = "c8df2130e720ff3813bcbcd50acead97c0aadf890a6a1316353d02766fd57020"
GOLDEN_INPUT = SpecInput(
    rootfs=f"/run/ketch/bundles/{CID}/rootfs",
    args=["sleep", "60"],
    env=["FOO=bar", "HOSTNAME=over", DEFAULT_PATH_ENV],  # Config.Env merged with busybox's
    hostname="h1", domainname="", working_dir="",
    uid=0, gid=0, additional_gids=(0,), tty=True,
    hostname_path=f"/var/lib/ketch/containers/{CID}/hostname",
    hosts_path=f"/var/lib/ketch/containers/{CID}/hosts",
    resolv_conf_path=f"/var/lib/ketch/containers/{CID}/resolv.conf",
)

def _normalized(spec):
    spec = copy.deepcopy(spec)
    spec["linux"]["namespaces"] = sorted(spec["linux"]["namespaces"], key=lambda ns: ns["type"])
    return spec


def _golden():
    return json.loads(GOLDEN.read_text())


def test_golden():
    assert _normalized(build(GOLDEN_INPUT)) == _normalized(_golden())


def test_golden_file_is_canonical():
    """The golden file is what json.dumps(indent=2) writes, so diffs stay readable."""
    assert GOLDEN.read_text() == json.dumps(_golden(), indent=2) + "\n"


def test_build_is_json_and_pure():
    one, two = build(GOLDEN_INPUT), build(GOLDEN_INPUT)
    assert one == two
    json.dumps(one)
    one["mounts"][0]["options"].append("x")
    assert build(GOLDEN_INPUT)["mounts"][0]["options"] == ["nosuid", "noexec", "nodev"]


def _input(**changes):
    base = dict(GOLDEN_INPUT.__dict__, env=[], tty=False, additional_gids=())
    return SpecInput(**{**base, **changes})


H = "HOSTNAME=h1"
# (Config.Env, tty, domainname) -> process.env; the rows with a dockerd reference were
# printed by `docker run [-t] [-e ...] busybox env` (the raw environ of PID 1)
ENV = [
    ([], False, "", [DEFAULT_PATH_ENV, H]),
    ([], True, "", [DEFAULT_PATH_ENV, H, "TERM=xterm"]),
    (["FOO=bar", "HOSTNAME=over"], True, "", [DEFAULT_PATH_ENV, "HOSTNAME=over", "TERM=xterm", "FOO=bar"]),
    (["PATH=/x", "A=1"], False, "", ["PATH=/x", H, "A=1"]),
    (["TERM=vt100"], True, "", [DEFAULT_PATH_ENV, H, "TERM=vt100"]),
    (["TERM=vt100"], False, "", [DEFAULT_PATH_ENV, H, "TERM=vt100"]),
    (["A="], False, "", [DEFAULT_PATH_ENV, H, "A="]),
    (["A=1=2"], False, "", [DEFAULT_PATH_ENV, H, "A=1=2"]),
    # `-e A=1 -e A=2`: runc's setenv loop leaves one A, at the first place, with the last value
    (["A=1", "B=x", "A=2"], False, "", [DEFAULT_PATH_ENV, H, "A=2", "B=x"]),
    ([], False, "d.example", [DEFAULT_PATH_ENV, H]),
    # a bare name unsets (ReplaceOrAppendEnvValues); `docker run -e PATH` with PATH unset
    # in the client's environment gave a container with no PATH at all
    (["PATH"], False, "", [H]),
    (["NOSUCH", "A=1"], False, "", [DEFAULT_PATH_ENV, H, "A=1"]),
]


@pytest.mark.parametrize("env,tty,domainname,expected", ENV)
def test_process_env(env, tty, domainname, expected):
    assert process_env(_input(env=env, tty=tty, domainname=domainname)) == expected


@pytest.mark.parametrize("base,overrides,expected", [
    (["A=1", "B=2"], [], ["A=1", "B=2"]),
    (["A=1", "B=2"], ["B=3", "C=4"], ["A=1", "B=3", "C=4"]),
    (["A=1"], ["C=1", "C=2"], ["A=1", "C=2"]),
])
def test_replace_or_append_env(base, overrides, expected):
    before = list(base)
    assert replace_or_append_env(base, overrides) == expected
    assert base == before


def _mount(spec, destination):
    return next(m for m in spec["mounts"] if m["destination"] == destination)


def test_readonly_rootfs():
    """--read-only: dockerd wrote root.readonly true and ["rbind", "ro", "rprivate"] for the
    three /etc files (the order of options carries no meaning to runc)."""
    spec = build(_input(readonly_rootfs=True))
    assert spec["root"]["readonly"] is True
    for dest in ("/etc/resolv.conf", "/etc/hostname", "/etc/hosts"):
        assert sorted(_mount(spec, dest)["options"]) == ["rbind", "ro", "rprivate"]
    assert "ro" not in _mount(spec, "/dev/shm")["options"]


@pytest.mark.parametrize("shm_size,option", [(0, "size=67108864"), (128 * 1024 * 1024, "size=134217728")])
def test_shm_size(shm_size, option):
    """moby: a private IPC namespace gets a tmpfs /dev/shm with size= in bytes."""
    assert _mount(build(_input(shm_size=shm_size)), "/dev/shm")["options"] == [
        "nosuid", "noexec", "nodev", "mode=1777", option]


@pytest.mark.parametrize("changes,process", [
    ({}, {"user": {"uid": 0, "gid": 0}, "cwd": "/", "terminal": False}),
    ({"uid": 1001, "gid": 100, "additional_gids": (100, 50, 2000, 10, 7777), "working_dir": "/imgdir"},
     {"user": {"uid": 1001, "gid": 100, "additionalGids": [100, 50, 2000, 10, 7777]},
      "cwd": "/imgdir", "terminal": False}),
])
def test_process_user_and_cwd(changes, process):
    spec = build(_input(**changes))
    assert {k: spec["process"][k] for k in process} == process


def test_domainname_is_set_only_when_given():
    assert "domainname" not in build(_input())
    assert build(_input(domainname="d.example"))["domainname"] == "d.example"


def test_a_relative_mount_destination_is_under_the_root():
    """An image's ``VOLUME rel`` (dockerd keeps it as written) is mounted at /rel, as runc
    resolves it for moby; the runtime refuses relative destinations."""
    import dataclasses
    vol = {"destination": "rel", "type": "bind", "source": "/v", "options": ["rbind"]}
    odd = {"destination": "[/logs]", "type": "bind", "source": "/w", "options": ["rbind"]}
    spec = build(dataclasses.replace(GOLDEN_INPUT, mounts=[vol, odd]))
    dests = [m["destination"] for m in spec["mounts"]]
    assert "/rel" in dests and "/[/logs]" in dests and "rel" not in dests
