"""Bad limits, capabilities, profiles and devices: a clear error, exit 125, nothing left."""

import os

import pytest


@pytest.mark.parametrize("args, words", [
    (["--cap-add", "FOO"], 'invalid CapAdd: unknown capability: "CAP_FOO"'),
    (["--cpuset-cpus", "99"], "Requested CPUs are not available - requested 99"),
    (["--memory", "1k"], "Minimum memory limit allowed is 6MB"),
    (["--cpus", "99"], "Range of CPUs is from 0.01 to"),
    (["--device", "/dev/nosuch"], 'adding custom device "/dev/nosuch": no such file or directory'),
    (["--blkio-weight", "5"], "Range of blkio weight is from 10 to 1000"),
    (["--ulimit", "nofile=10:5"], "ulimit soft limit must be less than or equal to hard limit: 10 > 5"),
    (["--sysctl", "kernel.hostname=x"], "sysctl 'kernel.hostname=x' is not allowed"),
    (["--security-opt", "seccomp=/nonexistent.json"], "opening seccomp profile (/nonexistent.json) failed"),
])
def test_bad_settings_are_refused_cleanly(daemon, args, words):
    before = daemon.api("GET", "/containers/json?all=1")[1]
    res = daemon.ketch("run", "--rm", *args, "busybox", "true")
    assert res.returncode == 125, res.stderr
    assert words in res.stderr
    assert daemon.api("GET", "/containers/json?all=1")[1] == before


def test_unknown_seccomp_syscall_is_refused_and_leaves_nothing(daemon, tmp_path):
    profile = tmp_path / "bad.json"
    profile.write_text('{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdirr"],'
                       '"action":"SCMP_ACT_ERRNO"}]}')
    res = daemon.ketch("run", "--rm", "--security-opt", f"seccomp={profile}", "busybox", "true")
    assert res.returncode == 125
    assert 'unknown seccomp syscall "mkdirr" in linux.seccomp.syscalls[0]' in res.stderr
    for sub in ("containers", "runtime"):
        path = os.path.join(daemon.exec_root, sub)
        running = {c["Id"] for c in daemon.api("GET", "/containers/json")[1]}
        entries = {e for e in (os.listdir(path) if os.path.isdir(path) else []) if not e.startswith(".")}
        assert entries - {"runc", "crun"} <= running


# -- wrong JSON types: Go's decoding error, a 400, nothing created ---------------------

@pytest.mark.parametrize("body, words", [
    (b'{"Image": 5}', "json: cannot unmarshal number into Go struct field "
                      "ContainerConfigWrapper.Image of type string"),
    (b'{"Image": "busybox", "Env": [1, 2]}', "ContainerConfigWrapper.Env of type string"),
    (b'{"Image": "busybox", "Labels": ["x"]}', "ContainerConfigWrapper.Labels of type map[string]string"),
    (b'{"Image": "busybox", "HostConfig": "x"}',
     "cannot unmarshal string into Go struct field ContainerConfigWrapper.HostConfig of type container.HostConfig"),
    (b'{"Image": "busybox", "Entrypoint": 7}', "ContainerConfigWrapper.Entrypoint of type string"),
    (b'{"Image": "busybox", "ExposedPorts": [1]}', "ContainerConfigWrapper.ExposedPorts of type nat.PortSet"),
    (b'{"Image": "busybox", "HostConfig": {"Ulimits": {"nofile": 1}}}',
     "HostConfig.HostConfig.Ulimits of type []*units.Ulimit"),
    (b'{"Image": "busybox", "HostConfig": {"Devices": ["/dev/null"]}}',
     "HostConfig.HostConfig.Devices of type container.DeviceMapping"),
    (b'{"Image": "busybox", "HostConfig": {"PidsLimit": "10"}}', "HostConfig.HostConfig.PidsLimit of type int64"),
    (b'{"Image": "busybox", "HostConfig": {"Memory": 1.5e9}}',
     "cannot unmarshal number 1.5e9 into Go struct field HostConfig.HostConfig.Memory of type int64"),
    (b'[{"Image": "busybox"}]', "cannot unmarshal array into Go value of type runconfig.ContainerConfigWrapper"),
    (b'', "invalid JSON: got EOF while reading request body"),
])
def test_create_with_a_wrong_json_type_is_a_400_naming_the_field(daemon, body, words):
    before = daemon.api("GET", "/containers/json?all=1")[1]
    status, reply = daemon.api("POST", "/containers/create", body)
    assert status == 400, reply
    assert reply["message"].startswith("invalid JSON: ")
    assert words in reply["message"]
    assert daemon.api("GET", "/containers/json?all=1")[1] == before


def test_create_takes_entrypoint_and_cmd_as_one_string(daemon, names):
    name = names()
    status, reply = daemon.api("POST", f"/containers/create?name={name}",
                               {"Image": "busybox", "Entrypoint": "echo", "Cmd": "hi there"})
    assert status == 201, reply
    config = daemon.api("GET", f"/containers/{name}/json")[1]
    assert (config["Path"], config["Args"]) == ("echo", ["hi there"])


@pytest.mark.parametrize("body, words", [
    (b'[1]', "json: cannot unmarshal array into Go value of type container.UpdateConfig"),
    (b'{"Memory": "1g"}', "Go struct field UpdateConfig.Memory of type int64"),
    (b'{"PidsLimit": "x"}', "Go struct field UpdateConfig.PidsLimit of type int64"),
    (b'{"RestartPolicy": "always"}', "UpdateConfig.RestartPolicy of type container.RestartPolicy"),
])
def test_update_with_a_wrong_json_type_is_a_400(daemon, names, body, words):
    name = names()
    assert daemon.api("POST", f"/containers/create?name={name}", {"Image": "busybox", "Cmd": ["true"]})[0] == 201
    status, reply = daemon.api("POST", f"/containers/{name}/update", body)
    assert status == 400, reply
    assert words in reply["message"]


# -- limits: as Docker and Go's net/http have them ----------------------------------------

def _raw(daemon, data: bytes) -> bytes:
    import socket
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(30)
        s.connect(daemon.socket)
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before reading it all
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    return out


def test_a_request_head_over_1mb_is_431(daemon):
    # Go reads 1 MB (DefaultMaxHeaderBytes) and 4 KiB of slack before it gives up
    reply = _raw(daemon, b"GET /_ping HTTP/1.1\r\nHost: d\r\nX-Big: " + b"a" * ((1 << 20) + 8192) + b"\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 431 ")
    assert reply.endswith(b"\r\n\r\n431 Request Header Fields Too Large")
    assert daemon.api("GET", "/_ping", raw=True)[0] == 200  # and the daemon serves on


@pytest.mark.parametrize("name", ["a", "_x", "-x", ".x", "x y", "x/y", "caf\u00e9"])
def test_an_invalid_name_is_dockers_400(daemon, name):
    from urllib.parse import quote
    status, reply = daemon.api("POST", f"/containers/create?name={quote(name)}", {"Image": "busybox"})
    assert status == 400
    assert reply["message"] == f"Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"


def test_a_long_name_is_fine_as_in_docker(daemon, names):
    """moby puts no length limit on names; only the 1 MB request head does."""
    name = names() + "x" * 100_000
    status, reply = daemon.api("POST", f"/containers/create?name={name}", {"Image": "busybox", "Cmd": ["true"]})
    assert status == 201, reply
    assert daemon.api("GET", f"/containers/{name}/json")[1]["Name"] == "/" + name
    assert daemon.api("DELETE", f"/containers/{name}")[0] == 204


@pytest.mark.parametrize("path, message", [
    ("stop?t=2147483648", 'strconv.Atoi: parsing "2147483648": value out of range'),
    ("stop?t=99999999999999999999", 'strconv.Atoi: parsing "99999999999999999999": value out of range'),
    ("stop?t=1.5", 'strconv.Atoi: parsing "1.5": invalid syntax'),
    ("restart?t=-2147483649", 'strconv.Atoi: parsing "-2147483649": value out of range'),
    ("restart?t=ten", 'strconv.Atoi: parsing "ten": invalid syntax'),
    ("kill?signal=99999999999999999999", "Invalid signal: 99999999999999999999"),
    ("wait?condition=bogus", 'invalid condition: "bogus"'),
])
def test_bad_query_numbers_are_400s(daemon, names, path, message):
    name = names()
    assert daemon.api("POST", f"/containers/create?name={name}", {"Image": "busybox", "Cmd": ["sleep", "30"]})[0] == 201
    assert daemon.api("POST", f"/containers/{name}/start")[0] == 204
    status, reply = daemon.api("POST", f"/containers/{name}/{path}")
    if path.startswith("kill"):  # moby's router wraps every kill error
        message = f"cannot kill container: {name}: {message}"
    assert (status, reply["message"]) == (400, message)
    assert daemon.api("GET", f"/containers/{name}/json")[1]["State"]["Running"]


def test_a_memory_limit_beyond_the_kernels_is_refused_at_create(daemon):
    before = daemon.api("GET", "/containers/json?all=1")[1]
    status, reply = daemon.api("POST", "/containers/create",
                               {"Image": "busybox", "HostConfig": {"Memory": 2**63 - 1}})
    assert status == 400
    assert reply["message"].startswith("Maximum memory limit allowed is ")
    assert daemon.api("GET", "/containers/json?all=1")[1] == before


def test_a_huge_memory_limit_the_kernel_takes_starts(daemon, names):
    """2^62 bytes: its default swap (twice as much) used to overflow int64 and fail at start."""
    name = names()
    status, reply = daemon.api("POST", f"/containers/create?name={name}",
                               {"Image": "busybox", "Cmd": ["true"], "HostConfig": {"Memory": 1 << 62}})
    assert status == 201, reply
    assert daemon.api("POST", f"/containers/{name}/start")[0] == 204
    assert daemon.api("POST", f"/containers/{name}/wait")[1]["StatusCode"] == 0


def test_rename_to_nothing_is_dockers_400(daemon, names):
    name = names()
    assert daemon.api("POST", f"/containers/create?name={name}", {"Image": "busybox", "Cmd": ["true"]})[0] == 201
    for query in ("", "?name="):
        status, reply = daemon.api("POST", f"/containers/{name}/rename{query}")
        assert (status, reply["message"]) == (400, "Neither old nor new names may be empty")
    status, reply = daemon.api("POST", f"/containers/{name}/rename?name=a")
    assert (status, reply["message"]) == (400, "Error when allocating new name: Invalid container name (/a), "
                                               "only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")


@pytest.mark.parametrize("host, words", [
    ({"Devices": [None]}, "invalid device mapping"),
    ({"Ulimits": [None]}, "invalid ulimit type: "),
    ({"Ulimits": [{"Name": "nofile", "Soft": 10, "Hard": 5}]}, "ulimit soft limit must be less than"),
])
def test_null_or_odd_elements_are_400s_not_500s(daemon, host, words):
    status, reply = daemon.api("POST", "/containers/create", {"Image": "busybox", "HostConfig": host})
    assert status == 400, reply
    assert words in reply["message"]


# -- fields ketch does not implement yet: refused naming the field, never ignored ------

UNSUPPORTED = "is not supported by this version of ketch"


@pytest.mark.parametrize("args, field", [
    (["--pid", "host"], 'HostConfig.PidMode "host" (--pid)'),
    (["--log-driver", "syslog"], 'HostConfig.LogConfig.Type "syslog" (--log-driver)'),
    (["--uts", "host"], 'HostConfig.UTSMode "host" (--uts)'),
])
def test_ketch_run_refuses_what_it_would_ignore(daemon, args, field):
    before = daemon.api("GET", "/containers/json?all=1")[1]
    res = daemon.ketch("run", "--rm", *args, "busybox", "true")
    assert res.returncode == 125, res.stderr
    assert f"ketch: Error response from daemon: {field} {UNSUPPORTED}\n" in res.stderr
    assert daemon.api("GET", "/containers/json?all=1")[1] == before


def test_what_ketch_does_may_be_asked_for(daemon):
    res = daemon.ketch("run", "--rm", "--network", "none", "--restart", "no", "--log-driver", "json-file",
                       "busybox", "cat", "/proc/net/dev")
    assert res.returncode == 0, res.stderr
    assert [line.split(":")[0].strip() for line in res.stdout.splitlines()[2:]] == ["lo"]


def test_create_over_the_api_refuses_storage_opt_with_a_400(daemon):
    status, reply = daemon.api("POST", "/containers/create",
                               {"Image": "busybox", "HostConfig": {"StorageOpt": {"size": "1G"}}})
    assert (status, reply) == (400, {"message": f"HostConfig.StorageOpt (--storage-opt) {UNSUPPORTED}"})


def test_a_platform_the_image_is_not_is_dockers_404(daemon, names):
    res = daemon.ketch("run", "--rm", "--platform", "linux/s390x", "busybox", "true")
    assert res.returncode == 125
    assert ("ketch: Error response from daemon: image with reference busybox was found but does not "
            "match the specified platform: wanted linux/s390x, actual: linux/") in res.stderr
    status, reply = daemon.api("POST", "/containers/create?platform=bogus/x/y/z", {"Image": "busybox"})
    assert (status, reply["message"]) == (400, '"bogus/x/y/z": cannot parse platform specifier: invalid argument')
    name = names()
    res = daemon.ketch("create", "--name", name, "--platform", "linux", "busybox", "true")
    assert res.returncode == 0, res.stderr  # the host's own platform
    daemon.ketch("rm", name, check=True)


@pytest.mark.parametrize("args, words", [
    (["-w", "relative"], "the working directory 'relative' is invalid, it needs to be an absolute path"),
    (["--cpuset-cpus", "abc"], "Invalid value abc for cpuset cpus: invalid format: abc"),
    (["--cpuset-mems", "9"], "Requested memory nodes are not available - requested 9, available: 0"),
    (["--cpuset-mems", "1-0"], "Invalid value 1-0 for cpuset mems: invalid format: 1-0"),
    (["--memory-swappiness", "101"], "Invalid value: 101, valid memory swappiness range is 0-100"),
    (["--runtime", "nosuch"], "unknown or invalid runtime name: nosuch"),  # moby 26 (20.10: "Unknown runtime specified")
])
def test_dockers_create_time_messages(daemon, args, words):
    res = daemon.ketch("run", "--rm", *args, "busybox", "true")
    assert res.returncode == 125, res.stderr
    assert f"ketch: Error response from daemon: {words}\n" in res.stderr


# -- messages scripts grep for: moby 26's words (API 1.45) ------------------------------

def test_refusals_of_a_running_and_a_paused_container_are_mobys(daemon, names):
    name, other = names(), names()
    cid = daemon.ketch("run", "-d", "--name", name, "busybox", "sleep", "60", check=True).stdout.strip()
    daemon.ketch("create", "--name", other, "busybox", "true", check=True)
    res = daemon.ketch("rm", name)
    assert (res.returncode, res.stderr) == (1, f'Error response from daemon: cannot remove container "/{name}": '
                                               "container is running: stop the container before removing or force remove\n")
    res = daemon.ketch("rename", name, other)
    assert res.returncode == 1
    assert res.stderr.startswith(f'Error response from daemon: Error when allocating new name: Conflict. '
                                 f'The container name "/{other}" is already in use by container ')
    assert res.stderr.endswith(f"\nError: failed to rename container named {name}\n")
    res = daemon.ketch("rename", name, " ")
    assert (res.returncode, res.stderr) == (1, "Error: Neither old nor new names may be empty\n")
    daemon.ketch("pause", name, check=True)
    res = daemon.ketch("rm", name)
    assert res.stderr == (f'Error response from daemon: cannot remove container "/{name}": '
                          "container is paused and must be unpaused first\n")
    status, reply = daemon.api("POST", f"/containers/{name}/attach?stream=1&stdout=1")
    assert (status, reply) == (409, {"message": f"container {name} is paused, unpause the container before attach"})
    daemon.ketch("rm", "-f", name, check=True)
    res = daemon.ketch("kill", other, "nosuch-x")
    assert res.returncode == 1
    other_id = daemon.ketch("inspect", "-f", "{{.Id}}", other).stdout.strip()
    assert res.stderr == (f"Error response from daemon: cannot kill container: {other}: container {other_id} is not running\n"
                          "Error response from daemon: cannot kill container: nosuch-x: No such container: nosuch-x\n")
    status, reply = daemon.api("POST", "/containers/nosuch-x/kill?signal=FOO")
    assert (status, reply) == (400, {"message": "cannot kill container: nosuch-x: Invalid signal: FOO"})
    assert cid


@pytest.mark.parametrize("argv, code, words", [
    (["run", "UPPER"], 125, "ketch: invalid reference format: repository name (library/UPPER) must be lowercase\n\n"
                            "Run 'ketch run --help' for more information\n"),
    (["create", "UPPER"], 1, "invalid reference format: repository name (library/UPPER) must be lowercase\n"),
    (["run", "busybox:UP@x"], 125, "ketch: invalid reference format\n\nRun 'ketch run --help' for more information\n"),
])
def test_a_bad_reference_is_refused_by_the_client(daemon, argv, code, words):
    res = daemon.ketch(*argv)
    assert (res.returncode, res.stderr) == (code, words)


def test_a_start_failure_is_prefixed_as_moby_prefixes_it(daemon):
    res = daemon.ketch("run", "--rm", "busybox", "nosuch")
    assert res.returncode == 127
    assert res.stderr.startswith(
        "ketch: Error response from daemon: failed to create task for container: failed to create shim task: "
        'OCI runtime create failed: ketch create failed: unable to start container process: exec: "nosuch": '
        "executable file not found in $PATH: unknown\n"), res.stderr
