"""--log-driver local on real containers, through ketch's CLI, the docker CLI and the
docker SDK: the files (local-logs/container.log, rotated and gzipped), `logs` across
them (--tail, --since, -f), long lines split into partial records, inspect, and moby's
local.newConfig refusals."""

import gzip
import json
import os

import pytest

from ketch.monitor import localfmt

# 40 lines of 1000 bytes: a record is 1029 bytes, so with max-size=3k each file holds 3
BIG = "for i in $(seq 1 40); do printf '%01000d\\n' $i; done"
LOCAL = ("--log-driver", "local")


def _dir(daemon, cid: str) -> str:
    return os.path.join(daemon.data_root, "containers", cid, "local-logs")


def _numbers(out: str) -> list[int]:
    return [int(line.split()[-1]) for line in out.splitlines()]


def _cid(daemon, name: str) -> str:
    return daemon.ketch("inspect", "-f", "{{.Id}}", name, check=True).stdout.strip()


def test_rotation_compression_and_logs_across_the_files(daemon, names):
    name = names()
    res = daemon.ketch("run", "--name", name, *LOCAL, "--log-opt", "max-size=3k", "--log-opt", "max-file=3",
                       "busybox", "sh", "-c", BIG)
    assert res.returncode == 0, res.stderr
    cid = _cid(daemon, name)
    directory = _dir(daemon, cid)
    # compress is local's default: the rotated files are gzipped
    assert sorted(os.listdir(directory)) == ["container.log", "container.log.1.gz", "container.log.2.gz"]
    with gzip.open(os.path.join(directory, "container.log.1.gz")) as f:
        records, used = localfmt.split(f.read())
    assert [int(r.line) for r in records] == [37, 38, 39] and {r.source for r in records} == {"stdout"}
    assert os.path.getsize(os.path.join(directory, "container.log")) == used // 3
    assert _numbers(daemon.ketch("logs", name, check=True).stdout) == list(range(34, 41))
    assert _numbers(daemon.ketch("logs", "--tail", "5", name, check=True).stdout) == list(range(36, 41))
    assert _numbers(daemon.docker("logs", "--tail", "2", name, check=True).stdout) == [39, 40]
    assert daemon.ketch("inspect", "-f", "[{{.LogPath}}]", name, check=True).stdout == "[]\n"
    assert json.loads(daemon.ketch("inspect", "-f", "{{json .HostConfig.LogConfig}}", name, check=True).stdout) == {
        "Type": "local", "Config": {"max-file": "3", "max-size": "3k"}}


def test_timestamps_since_and_a_long_line(daemon, names):
    name = names()
    script = "echo one; sleep 0.3; echo two; head -c 40000 /dev/zero | tr '\\0' a; echo; printf end"
    daemon.ketch("run", "--name", name, *LOCAL, "busybox", "sh", "-c", script, check=True)
    out = daemon.ketch("logs", name, check=True).stdout
    assert out == "one\ntwo\n" + "a" * 40000 + "\nend"
    stamped = daemon.ketch("logs", "-t", name, check=True).stdout.splitlines()
    second = stamped[1].split()[0]
    assert stamped[1] == f"{second} two"
    assert daemon.ketch("logs", "--since", second, name, check=True).stdout.startswith("two\n")
    # the 40000 bytes are 16 KiB pieces: partial records of one id, the last one marked
    with open(os.path.join(_dir(daemon, _cid(daemon, name)), "container.log"), "rb") as f:
        records = localfmt.split(f.read())[0]
    long = [r for r in records if r.partial]
    assert [(len(r.line), r.ordinal, r.last) for r in long[:3]] == [(16384, 1, False), (16384, 2, False),
                                                                    (7232, 3, True)]
    assert len({r.partial_id for r in long[:3]}) == 1
    assert long[3].line == b"end" and not long[3].last


def test_follow_goes_on_across_rotations(daemon, names):
    name = names()
    script = ("i=0; while [ $i -lt 60 ]; do i=$((i+1)); printf '%0100d\\n' $i; "
              "[ $((i % 10)) = 0 ] && sleep 0.3; done")
    daemon.ketch("run", "-d", "--name", name, *LOCAL, "--log-opt", "max-size=1500", "--log-opt", "max-file=2",
                 "busybox", "sh", "-c", "sleep 0.5; " + script, check=True)
    out = daemon.ketch("logs", "-f", name, timeout=30)
    assert out.returncode == 0, out.stderr
    assert _numbers(out.stdout) == list(range(1, 61))


def test_the_sdk_sets_and_reads_the_local_driver(daemon, names):
    from docker.types import LogConfig
    client = daemon.sdk()
    name = names()
    config = LogConfig(type="local", config={"max-size": "3k", "max-file": "2", "compress": "false"})
    try:
        out = client.containers.run("busybox", ["sh", "-c", BIG], name=name, log_config=config)
        assert out is None  # docker-py reads the log after run for json-file and journald only
        container = client.containers.get(name)
        assert container.attrs["HostConfig"]["LogConfig"]["Type"] == "local"
        assert container.attrs["LogPath"] == ""
        assert _numbers(container.logs().decode()) == list(range(37, 41))
        assert sorted(os.listdir(_dir(daemon, container.id))) == ["container.log", "container.log.1"]
    finally:
        client.close()


@pytest.mark.parametrize("flags,message", [
    (("--log-opt", "nope=1"), "unknown log opt 'nope' for log driver local"),
    (("--log-opt", "max-file=1"), "failed to create task for container: failed to initialize logging driver: "
                                  "compression cannot be enabled when max file count is 1"),
    (("--log-opt", "max-file=x"), "failed to initialize logging driver: invalid value for max-file: x: "
                                  'strconv.Atoi: parsing "x": invalid syntax'),
])
def test_bad_options_are_refused_with_dockers_words(daemon, names, flags, message):
    res = daemon.ketch("run", "--name", names(), *LOCAL, *flags, "busybox", "true")
    assert res.returncode == 125
    assert message in res.stderr, res.stderr
