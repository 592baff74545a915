"""--log-driver json-file|none and --log-opt max-size/max-file/compress on real containers,
through ketch's CLI, the docker CLI and the docker SDK: the files the monitor leaves,
`logs` across them, inspect's LogConfig, and moby's refusals."""

import gzip
import os
import re
import subprocess
import time

import pytest

from tests.integration.conftest import wait_until

# 40 lines of 1000 bytes: with max-size=3k each file holds 3 entries (the check comes
# before each entry: the file rotates once it has reached 3000 bytes)
BIG = "for i in $(seq 1 40); do printf '%01000d\\n' $i; done"


def _files(daemon, cid: str) -> dict[str, int]:
    directory = os.path.join(daemon.data_root, "containers", cid)
    return {n: os.path.getsize(os.path.join(directory, n)) for n in sorted(os.listdir(directory))
            if n.startswith(f"{cid}-json.log")}


def _numbers(out: str) -> list[int]:
    return [int(line) for line in out.split()]


def test_max_size_and_max_file_bound_the_files_and_logs_reads_across_them(daemon, names):
    name = names()
    res = daemon.ketch("run", "--name", name, "--log-opt", "max-size=3k", "--log-opt", "max-file=3",
                       "busybox", "sh", "-c", BIG)
    assert res.returncode == 0, res.stderr
    assert _numbers(res.stdout) == list(range(1, 41))  # attached: everything
    cid = daemon.ketch("inspect", "-f", "{{.Id}}", name, check=True).stdout.strip()
    files = _files(daemon, cid)
    log = f"{cid}-json.log"
    assert sorted(files) == [log, f"{log}.1", f"{log}.2"]
    entry = max(files.values()) // 3
    assert all(size <= 3000 + entry for size in files.values()), files
    # 40 entries, 3 to a file: the live file has the 40th alone, .1 37-39, .2 34-36
    out = daemon.ketch("logs", name, check=True).stdout
    assert _numbers(out) == list(range(34, 41))
    assert _numbers(daemon.ketch("logs", "--tail", "5", name, check=True).stdout) == list(range(36, 41))
    assert _numbers(daemon.docker("logs", "--tail", "2", name, check=True).stdout) == [39, 40]


def test_compressed_rotated_files_are_gzip_and_read_back(daemon, names):
    name = names()
    res = daemon.ketch("run", "--name", name, "--log-opt", "max-size=3k", "--log-opt", "max-file=4",
                       "--log-opt", "compress=true", "busybox", "sh", "-c", BIG)
    assert res.returncode == 0, res.stderr
    cid = daemon.ketch("inspect", "-f", "{{.Id}}", name, check=True).stdout.strip()
    log = f"{cid}-json.log"
    directory = os.path.join(daemon.data_root, "containers", cid)
    # the gzip runs in the monitor's child, which the monitor waits for before it ends
    assert sorted(_files(daemon, cid)) == [log, f"{log}.1.gz", f"{log}.2.gz", f"{log}.3.gz"]
    with gzip.open(os.path.join(directory, f"{log}.1.gz")) as f:
        assert [int(line.split(b'"')[3].split(b"\\")[0]) for line in f.read().splitlines()] == [37, 38, 39]
    assert _numbers(daemon.ketch("logs", name, check=True).stdout) == list(range(31, 41))
    assert _numbers(daemon.ketch("logs", "--tail", "8", name, check=True).stdout) == list(range(33, 41))


def test_max_file_1_empties_the_file(daemon, names):
    name = names()
    res = daemon.ketch("run", "--name", name, "--log-opt", "max-size=3k", "busybox", "sh", "-c", BIG)
    assert res.returncode == 0, res.stderr
    cid = daemon.ketch("inspect", "-f", "{{.Id}}", name, check=True).stdout.strip()
    assert list(_files(daemon, cid)) == [f"{cid}-json.log"]
    assert _numbers(daemon.ketch("logs", name, check=True).stdout) == [40]


def test_follow_goes_on_across_rotations(daemon, names):
    name = names()
    # bursts smaller than max-size, far enough apart for the follower's polling
    script = ("i=0; while [ $i -lt 60 ]; do i=$((i+1)); printf '%0100d\\n' $i; "
              "[ $((i % 10)) = 0 ] && sleep 0.3; done")
    daemon.ketch("run", "-d", "--name", name, "--log-opt", "max-size=1500", "--log-opt", "max-file=2",
                 "busybox", "sh", "-c", "sleep 0.5; " + script, check=True)
    out = daemon.ketch("logs", "-f", name, timeout=30)
    assert out.returncode == 0, out.stderr
    assert _numbers(out.stdout) == list(range(1, 61))


def test_none_writes_nothing_and_logs_says_so(daemon, names):
    name = names()
    res = daemon.ketch("run", "--name", name, "--log-driver", "none", "busybox", "echo", "hi")
    assert (res.returncode, res.stdout) == (0, "hi\n")  # attached output does not need a log
    cid = daemon.ketch("inspect", "-f", "{{.Id}}", name, check=True).stdout.strip()
    assert _files(daemon, cid) == {}
    assert daemon.ketch("inspect", "-f", "[{{.LogPath}}]", name, check=True).stdout == "[]\n"
    for client in (daemon.ketch, daemon.docker):
        out = client("logs", name)
        assert (out.returncode, out.stdout) == (1, "")
        assert out.stderr == "Error response from daemon: configured logging driver does not support reading\n"
    status, body = daemon.api("GET", f"/containers/{name}/logs?stdout=1")
    assert (status, body) == (501, {"message": "configured logging driver does not support reading"})


def test_inspect_shows_the_log_config(daemon, names):
    default, rotated = names(), names()
    daemon.ketch("create", "--name", default, "busybox", check=True)
    daemon.docker("create", "--name", rotated, "--log-opt", "max-size=10m", "--log-opt", "max-file=3",
                  "busybox", check=True)
    fmt = "{{json .HostConfig.LogConfig}}"
    assert daemon.ketch("inspect", "-f", fmt, default, check=True).stdout == \
        '{"Type":"json-file","Config":{}}\n'
    assert daemon.docker("inspect", "-f", fmt, rotated, check=True).stdout == \
        '{"Type":"json-file","Config":{"max-file":"3","max-size":"10m"}}\n'


def test_the_sdk_sets_and_reads_log_config(daemon, names):
    from docker.types import LogConfig
    client = daemon.sdk()
    name = names()
    config = LogConfig(type="json-file", config={"max-size": "3k", "max-file": "2"})
    try:
        out = client.containers.run("busybox", ["sh", "-c", BIG], name=name, log_config=config)
        assert out.split()[-1] == b"%01000d" % 40
        container = client.containers.get(name)
        assert container.attrs["HostConfig"]["LogConfig"] == {
            "Type": "json-file", "Config": {"max-size": "3k", "max-file": "2"}}
        assert _numbers(container.logs().decode()) == list(range(37, 41))
        with pytest.raises(Exception) as exc:
            client.containers.create("busybox", log_config=LogConfig(type="syslog"))
        assert "HostConfig.LogConfig.Type \"syslog\" (--log-driver) is not supported" in str(exc.value)
    finally:
        client.close()


@pytest.mark.parametrize("flags,message", [
    (("--log-opt", "nope=1"), "unknown log opt 'nope' for json-file log driver"),
    (("--log-driver", "bogus"), 'error looking up logging plugin bogus: plugin "bogus" not found'),
    (("--log-driver", "none", "--log-opt", "max-size=1m"), "invalid logging opts for driver none"),
    (("--log-opt", "max-size=bogus"),
     "failed to create task for container: failed to initialize logging driver: invalid size: 'bogus'"),
    (("--log-opt", "max-size=1m", "--log-opt", "compress=true"),
     "failed to create task for container: failed to initialize logging driver: compress cannot be true "
     "when max-file is less than 2 or max-size is not set"),
])
def test_bad_options_are_refused_with_dockers_words(daemon, names, flags, message):
    name = names()
    res = daemon.ketch("run", "--name", name, *flags, "busybox", "true")
    assert res.returncode == 125
    assert message in res.stderr, res.stderr


def test_rotation_goes_on_while_ketchd_is_down(fresh_daemon):
    """The monitor writes and rotates the log: a ketchd restart changes nothing."""
    d = fresh_daemon
    script = "i=0; while [ $i -lt 40 ]; do i=$((i+1)); printf '%01000d\\n' $i; sleep 0.05; done; sleep 600"
    cid = d.ketch("run", "-d", "--log-opt", "max-size=3k", "--log-opt", "max-file=2",
                  "busybox", "sh", "-c", script, check=True).stdout.strip()
    d.stop()
    time.sleep(2.5)  # the 40 lines are written while no ketchd runs
    d.start()
    assert wait_until(lambda: _numbers(d.ketch("logs", "--tail", "1", cid).stdout) == [40], 10)
    assert sorted(_files(d, cid)) == [f"{cid}-json.log", f"{cid}-json.log.1"]
    assert _numbers(d.ketch("logs", cid, check=True).stdout) == list(range(37, 41))
    d.ketch("rm", "-f", cid, check=True)


def test_no_compressor_outlives_its_monitor(daemon, names):
    name = names()
    daemon.ketch("run", "--name", name, "--log-opt", "max-size=3k", "--log-opt", "max-file=2",
                 "--log-opt", "compress=true", "busybox", "sh", "-c", BIG, check=True)
    cid = daemon.ketch("inspect", "-f", "{{.Id}}", name, check=True).stdout.strip()
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert not re.search(rf"ketch-monitor.*{cid}", ps)


def test_the_daemons_default_log_options_apply_to_new_containers(fresh_daemon):
    d = fresh_daemon
    d.stop()
    d.write_config(**{"log-driver": "json-file", "log-opts": {"max-size": "3k", "max-file": "2"}})
    d.start()
    cid = d.ketch("run", "-d", "--log-opt", "max-file=3", "busybox", "sh", "-c", BIG, check=True).stdout.strip()
    assert d.docker("inspect", "-f", "{{json .HostConfig.LogConfig}}", cid, check=True).stdout == \
        '{"Type":"json-file","Config":{"max-file":"3","max-size":"3k"}}\n'
    assert wait_until(lambda: _numbers(d.ketch("logs", "--tail", "1", cid).stdout) == [40], 10)
    assert sorted(_files(d, cid)) == [f"{cid}-json.log", f"{cid}-json.log.1", f"{cid}-json.log.2"]
    assert d.docker("info", "-f", "{{.LoggingDriver}}", check=True).stdout == "json-file\n"
    d.ketch("rm", "-f", cid, check=True)
