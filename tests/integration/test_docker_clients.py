"""The real docker CLI and the docker Python SDK, pointed at ketchd."""

import shutil

import pytest

needs_docker = pytest.mark.skipif(shutil.which("docker") is None, reason="docker CLI not installed")


@needs_docker
def test_docker_run_rm(daemon):
    res = daemon.docker("run", "--rm", "busybox", "echo", "hi")
    assert (res.returncode, res.stdout) == (0, "hi\n"), res.stderr


@needs_docker
def test_docker_run_exit_codes(daemon):
    assert daemon.docker("run", "--rm", "busybox", "sh", "-c", "exit 9").returncode == 9
    res = daemon.docker("run", "--rm", "busybox", "nosuch")
    assert res.returncode == 127
    assert "executable file not found in $PATH" in res.stderr


@needs_docker
def test_docker_detach_wait_logs_ps_rm(daemon, names):
    name = names()
    res = daemon.docker("run", "-d", "--name", name, "busybox", "sh", "-c", "echo out; echo err >&2; exit 4")
    assert res.returncode == 0, res.stderr
    assert daemon.docker("wait", name).stdout == "4\n"
    logs = daemon.docker("logs", name)
    assert (logs.stdout, logs.stderr) == ("out\n", "err\n")
    ps = daemon.docker("ps", "-a", "--filter", f"name={name}", "--format", "{{.Names}} {{.Status}}").stdout
    assert ps.startswith(f"{name} Exited (4)")
    assert name in daemon.docker("ps", "-a").stdout
    assert daemon.docker("rm", name).stdout == f"{name}\n"


@needs_docker
def test_docker_images_version_info_inspect(daemon):
    assert "busybox" in daemon.docker("images").stdout
    version = daemon.docker("version", "--format", "{{.Server.APIVersion}}")
    assert version.stdout.strip() == "1.45", version.stderr
    info = daemon.docker("info", "--format", "{{.Driver}} {{.Swarm.LocalNodeState}}")
    assert info.stdout.strip() == "overlay2 inactive", info.stderr
    assert daemon.docker("image", "inspect", "-f", "{{json .Config.Cmd}}", "busybox").stdout == '["sh"]\n'


@needs_docker
def test_docker_stdin_and_stop(daemon, names):
    res = daemon.docker("run", "--rm", "-i", "busybox", "wc", "-l", input="a\nb\nc\n")
    assert res.stdout.strip() == "3"
    name = names()
    daemon.docker("run", "-d", "--name", name, "busybox", "sleep", "60", check=True)
    assert daemon.docker("stop", "-t", "1", name).returncode == 0
    assert daemon.docker("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", name).stdout == "exited 137\n"


def test_sdk_run_remove(daemon):
    client = daemon.sdk()
    assert client.containers.run("busybox", "echo hi", remove=True) == b"hi\n"


def test_sdk_detach_wait_logs_remove(daemon):
    import docker
    client = daemon.sdk()
    c = client.containers.run("busybox", ["sh", "-c", "echo a; echo b >&2; exit 3"], detach=True)
    assert c.wait() == {"Error": None, "StatusCode": 3}
    assert c.logs(stdout=True, stderr=False) == b"a\n"
    assert c.logs(stdout=False, stderr=True) == b"b\n"
    c.reload()
    assert c.status == "exited" and c.attrs["State"]["ExitCode"] == 3
    c.remove()
    with pytest.raises(docker.errors.NotFound):
        client.containers.get(c.id)


def test_sdk_errors(daemon):
    import docker
    client = daemon.sdk()
    with pytest.raises(docker.errors.ContainerError) as err:
        client.containers.run("busybox", ["sh", "-c", "exit 2"], remove=True)
    assert err.value.exit_status == 2
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get("nosuch:latest")
    with pytest.raises(docker.errors.APIError):
        client.containers.run("busybox", "nosuch", remove=True)


def test_sdk_lists_and_labels(daemon):
    client = daemon.sdk()
    c = client.containers.create("busybox", "true", labels={"k": "v"}, name=None)
    try:
        found = client.containers.list(all=True, filters={"label": "k=v"})
        assert [x.id for x in found] == [c.id]
        assert client.images.get("busybox").tags == ["busybox:latest"]
        assert client.ping() is True
        assert client.version()["ApiVersion"] == "1.45"
    finally:
        c.remove(force=True)


# -- fields ketch does not implement yet: the docker CLI and SDK hear so ------------------
# (published ports work since issue 10: test_network_clients.py)

UNSUPPORTED = "is not supported by this version of ketch"


@needs_docker
@pytest.mark.parametrize("args, field", [
    (["--log-driver", "syslog"], 'HostConfig.LogConfig.Type "syslog" (--log-driver)'),
    (["--pid", "host"], 'HostConfig.PidMode "host" (--pid)'),
    (["--storage-opt", "size=1G"], "HostConfig.StorageOpt (--storage-opt)"),
])
def test_docker_run_hears_what_is_not_supported(daemon, args, field):
    res = daemon.docker("run", *args, "busybox", "true")
    assert res.returncode == 125, res.stderr
    assert f"docker: Error response from daemon: {field} {UNSUPPORTED}" in res.stderr


@needs_docker
def test_docker_run_defaults_and_network_none_run(daemon, names):
    res = daemon.docker("run", "--rm", "--network", "none", "busybox", "echo", "ok")
    assert (res.returncode, res.stdout) == (0, "ok\n"), res.stderr
    name = names()
    daemon.docker("create", "--name", name, "busybox", "true", check=True)
    res = daemon.docker("update", "--restart", "always:2", name)
    assert (res.returncode, res.stderr) == (1, "Error response from daemon: invalid restart policy: "
                                               "maximum retry count can only be used with 'on-failure'\n")
    assert daemon.docker("update", "--restart", "unless-stopped", name).stdout == f"{name}\n"
    assert daemon.docker("inspect", "-f", "{{.HostConfig.RestartPolicy.Name}}", name).stdout == "unless-stopped\n"
    daemon.docker("rm", name, check=True)


@pytest.mark.parametrize("kwargs, field", [
    ({"storage_opt": {"size": "1G"}}, "HostConfig.StorageOpt (--storage-opt)"),
    ({"pid_mode": "host"}, 'HostConfig.PidMode "host" (--pid)'),
])
def test_sdk_hears_what_is_not_supported(daemon, kwargs, field):
    import docker
    client = daemon.sdk()
    with pytest.raises(docker.errors.APIError) as err:
        client.containers.create("busybox", "true", **kwargs)
    assert err.value.status_code == 400
    assert err.value.explanation == f"{field} {UNSUPPORTED}"


@needs_docker
def test_docker_cli_gets_mobys_messages(daemon, names):
    name = names()
    daemon.docker("run", "-d", "--name", name, "busybox", "sleep", "60", check=True)
    res = daemon.docker("rm", name)
    assert (res.returncode, res.stderr) == (1, f'Error response from daemon: cannot remove container "/{name}": '
                                               "container is running: stop the container before removing or force remove\n")
    daemon.docker("pause", name, check=True)
    res = daemon.docker("attach", name)
    assert (res.returncode, res.stderr) == (1, "You cannot attach to a paused container, unpause it first\n")
    daemon.docker("rm", "-f", name, check=True)
    res = daemon.docker("kill", "nosuch-x")
    assert (res.returncode, res.stderr) == (1, "Error response from daemon: cannot kill container: nosuch-x: "
                                               "No such container: nosuch-x\n")
    res = daemon.docker("run", "--rm", "-w", "relative", "busybox", "true")
    assert res.returncode == 125
    assert ("docker: Error response from daemon: the working directory 'relative' is invalid, "
            "it needs to be an absolute path") in res.stderr
    res = daemon.docker("run", "--rm", "busybox", "nosuch")
    assert res.returncode == 127
    assert "docker: Error response from daemon: failed to create task for container: failed to create shim task: " \
           "OCI runtime create failed: " in res.stderr


@needs_docker
def test_logs_details_prefix_each_line_with_the_attributes(daemon, names):
    # dockerd 20.10: no log attributes -> a lone space before each line; timestamps first
    name = names()
    daemon.docker("run", "--name", name, "busybox", "sh", "-c", 'echo hi; echo err >&2; printf "no newline"',
                  check=True)
    for tool in (daemon.docker, daemon.ketch):
        res = tool("logs", "--details", name)
        assert (res.stdout, res.stderr) == (" hi\n no newline", " err\n"), tool
        res = tool("logs", "--details", "--timestamps", name)
        assert all(line[:2] == "20" and "Z  " in line for line in (res.stdout + res.stderr).splitlines()), res
    daemon.docker("rm", name, check=True)


@needs_docker
def test_docker_import_refused_while_uploading_says_why(daemon, tmp_path):
    """ketchd refuses a bad change before it reads the upload; the docker CLI, still
    writing, must get the answer, not "broken pipe" (it did, now and then)."""
    import io
    import os
    import tarfile
    for size in (100 << 10, 4 << 20):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tf:
            info = tarfile.TarInfo("blob")
            info.size = size
            tf.addfile(info, io.BytesIO(os.urandom(size)))
        path = tmp_path / f"layer-{size}.tar"
        path.write_bytes(buf.getvalue())
        for tool in (daemon.docker,) * 8 + (daemon.ketch,) * 3:
            res = tool("import", "-c", "BOGUS", str(path))
            assert (res.returncode, res.stderr) == (
                1, "Error response from daemon: bogus is not a valid change command\n"), (size, tool)
