"""ketch.cli.runconfig.build: `run`/`create` flags -> the create body, as docker/cli does it.

docker/cli's opts.parse sets AttachStdin for -i (even with -a), attaches
stdout+stderr when no -a is given, and sets StdinOnce when stdin is open and
attached; `run -d` then clears the Attach* fields and StdinOnce. Each row's
expected values are what dockerd 20.10.24 showed in `docker inspect` after the
docker 28.2.2 client ran the same command line; error texts are that client's.
"""

import pytest

from ketch.cli import runconfig
from ketch.cli.flags import parse


def run(argv):
    opts, args = parse(runconfig.RUN, argv)
    return runconfig.build(opts, args, opts["detach"])


def create(argv):
    opts, args = parse(runconfig.CREATE, argv)
    return runconfig.build(opts, args, False)


ATTACH_KEYS = ("AttachStdin", "AttachStdout", "AttachStderr", "OpenStdin", "StdinOnce", "Tty")
# argv -> (AttachStdin, AttachStdout, AttachStderr, OpenStdin, StdinOnce, Tty)
ATTACH = [
    (["busybox"], (False, True, True, False, False, False)),
    (["-i", "busybox"], (True, True, True, True, True, False)),
    (["-t", "busybox"], (False, True, True, False, False, True)),
    (["-it", "busybox"], (True, True, True, True, True, True)),
    (["-a", "stdout", "busybox"], (False, True, False, False, False, False)),
    (["-a", "STDERR", "busybox"], (False, False, True, False, False, False)),
    (["-a", "stdin", "busybox"], (True, False, False, False, False, False)),
    (["-a", "stdin", "-a", "stdout", "-a", "stderr", "busybox"], (True, True, True, False, False, False)),
    (["-d", "busybox"], (False, False, False, False, False, False)),
    (["-d", "-i", "busybox"], (False, False, False, True, False, False)),
    (["-d", "-t", "busybox"], (False, False, False, False, False, True)),
    (["-d", "-it", "busybox"], (False, False, False, True, False, True)),
    # -i always attaches stdin (opts.parse: if copts.stdin { attachStdin = true })
    (["-i", "-a", "stdout", "busybox"], (True, True, False, True, True, False)),
    (["-i", "-a", "stderr", "-t", "busybox"], (True, False, True, True, True, True)),
]


@pytest.mark.parametrize("argv,expected", ATTACH)
def test_run_attach(argv, expected):
    config = run(argv)
    assert tuple(config[k] for k in ATTACH_KEYS) == expected


@pytest.mark.parametrize("argv,expected", [
    (["busybox"], (False, True, True, False, False, False)),
    (["-i", "busybox"], (True, True, True, True, True, False)),
    (["-t", "busybox"], (False, True, True, False, False, True)),
    (["-a", "stdout", "busybox"], (False, True, False, False, False, False)),
    (["-i", "-a", "stdout", "busybox"], (True, True, False, True, True, False)),
])
def test_create_attach(argv, expected):
    """`docker create` goes through opts.parse without run's -d handling."""
    config = create(argv)
    assert tuple(config[k] for k in ATTACH_KEYS) == expected


@pytest.mark.parametrize("argv,message", [
    (["-a", "foo", "busybox"],
     'invalid argument "foo" for "-a, --attach" flag: valid streams are STDIN, STDOUT and STDERR'),
    (["-d", "-a", "stdout", "busybox"],
     "conflicting options: cannot specify both --attach and --detach"),  # docker 28's run.go
])
def test_attach_errors(argv, message):
    with pytest.raises(runconfig.ConfigError) as exc:
        run(argv)
    assert str(exc.value) == message


@pytest.mark.parametrize("argv,entrypoint,cmd", [
    (["busybox"], None, None),
    (["busybox", "echo", "hi"], None, ["echo", "hi"]),
    (["busybox", "-i"], None, ["-i"]),  # flags end at the image
    (["--entrypoint", "/bin/sh", "busybox"], ["/bin/sh"], None),
    (["--entrypoint", "", "busybox"], [""], None),
    (["--entrypoint=", "busybox", "echo"], [""], ["echo"]),
    (["--entrypoint", "/bin/sh -c", "busybox"], ["/bin/sh -c"], None),  # one word, not split
])
def test_entrypoint_and_cmd(argv, entrypoint, cmd):
    config = run(argv)
    assert (config["Entrypoint"], config["Cmd"], config["Image"]) == (entrypoint, cmd, "busybox")


@pytest.fixture
def client_env(monkeypatch):
    monkeypatch.setenv("FOO", "bar")
    monkeypatch.delenv("NOSUCH", raising=False)
    monkeypatch.delenv("NOSUCH2", raising=False)


@pytest.mark.parametrize("argv,env", [
    (["busybox"], []),
    (["-e", "A=1", "-e", "B=", "-e", "C=x=y", "busybox"], ["A=1", "B=", "C=x=y"]),
    (["-e", "FOO", "busybox"], ["FOO=bar"]),  # a bare name takes the client's value
    # ValidateEnv passes an unset bare name through, and dockerd then unsets it in the
    # container (even an image's variable of that name)
    (["-e", "FOO", "-e", "NOSUCH", "-e", "A=1", "busybox"], ["FOO=bar", "NOSUCH", "A=1"]),
])
def test_env(client_env, argv, env):
    assert run(argv)["Env"] == env


def test_env_file(client_env, tmp_path):
    """--env-file first, then -e; a bare name unset in the client is skipped in a file."""
    path = tmp_path / "env.list"
    path.write_text('X=1\n  # comment\n\nNOSUCH2\nFOO\n  Y=2 \nZ="q"\n')
    assert run(["--env-file", str(path), "-e", "X=2", "busybox"])["Env"] == [
        "X=1", "FOO=bar", "Y=2 ", 'Z="q"', "X=2"]


def test_env_file_bytes(client_env, tmp_path):
    """Lines end at \\n only (a \\r before it is dropped), a BOM is dropped from the first
    line only, leading Unicode space is trimmed (docker 28.2.2 gave X=1, Y=2, \\ufeffZ=3)."""
    path = tmp_path / "env.list"
    path.write_bytes(b"\xef\xbb\xbfX=1\r\n\t\t Y=2\r\n\xef\xbb\xbfZ=3\nW=a\rb\n\xc2\xa0V=4")
    assert run(["--env-file", str(path), "busybox"])["Env"] == [
        "X=1", "Y=2", "\ufeffZ=3", "W=a\rb", "V=4"]


# docker 28.2.2's texts, run against the same files
@pytest.mark.parametrize("content,message", [
    (b"A B=1\n", "invalid env file ({path}): variable 'A B' contains whitespaces"),
    (b"=x\n", "invalid env file ({path}): no variable name on line '=x'"),
    (b"\tbare\t\n", "invalid env file ({path}): variable 'bare\t' contains whitespaces"),
    (b"FOO \n", "invalid env file ({path}): variable 'FOO ' contains whitespaces"),
    (b"A=1\n\xff\xfe=2\n", "invalid env file ({path}): invalid utf8 bytes at line 2: [255 254 61 50]"),
])
def test_env_file_errors(client_env, tmp_path, content, message):
    path = tmp_path / "env.list"
    path.write_bytes(content)
    with pytest.raises(runconfig.ConfigError) as exc:
        run(["--env-file", str(path), "busybox"])
    assert str(exc.value) == message.format(path=path)


@pytest.mark.parametrize("argv,message", [
    (["-e", "=x", "busybox"], "invalid environment variable: =x"),
    (["--env-file", "/nonexistent/env.list", "busybox"],
     "open /nonexistent/env.list: no such file or directory"),
])
def test_env_errors(argv, message):
    with pytest.raises(runconfig.ConfigError) as exc:
        run(argv)
    assert str(exc.value) == message


@pytest.mark.parametrize("argv,labels", [
    (["busybox"], {}),
    (["-l", "a=b", "-l", "c", "-l", "d=", "-l", "e=x=y", "busybox"],
     {"a": "b", "c": "", "d": "", "e": "x=y"}),
    (["-l", "a=1", "--label", "a=2", "busybox"], {"a": "2"}),
])
def test_labels(argv, labels):
    assert run(argv)["Labels"] == labels


def test_label_file(tmp_path):
    """--label-file first, -l overrides; comments and blank lines skipped."""
    path = tmp_path / "labels"
    path.write_text("a=b\n# c\n\nk=v w\n")
    assert run(["--label-file", str(path), "-l", "a=override", "busybox"])["Labels"] == {
        "a": "override", "k": "v w"}


def test_label_file_bare_name(client_env, tmp_path):
    """A label file line without '=' is dropped (parseKeyValueFile with no lookup), even
    when the client has a variable of that name; -l keeps a bare name and leading blanks."""
    path = tmp_path / "labels"
    path.write_text("a=b\nbare\nFOO\n  c=d \n")
    assert run(["--label-file", str(path), "-l", " sp=1", "-l", "e", "busybox"])["Labels"] == {
        "a": "b", "c": "d ", " sp": "1", "e": ""}


# docker 28.2.2 refuses these as flag values (opts.ValidateLabel)
@pytest.mark.parametrize("argv,message", [
    (["-l", "=x", "busybox"], 'invalid argument "=x" for "-l, --label" flag: '
                              "invalid label '=x': empty name"),
    (["-l", "a b=c", "busybox"], 'invalid argument "a b=c" for "-l, --label" flag: '
                                 "label 'a b' contains whitespaces"),
    (["-l", " \t=c", "busybox"], 'invalid argument " \t=c" for "-l, --label" flag: '
                                  "invalid label ' \t=c': empty name"),
])
def test_label_errors(tmp_path, argv, message):
    with pytest.raises(runconfig.ConfigError) as exc:
        run(["--env-file", str(tmp_path / "missing")] + argv)  # before any file is read
    assert str(exc.value) == message


def test_label_file_errors(tmp_path):
    path = tmp_path / "labels"
    path.write_text("a b=c\n")
    with pytest.raises(runconfig.ConfigError) as exc:
        run(["--label-file", str(path), "busybox"])
    assert str(exc.value) == f"invalid env file ({path}): variable 'a b' contains whitespaces"


def test_plain_fields():
    config = run(["-h", "h1", "--domainname", "d.example", "-u", "1000:50", "-w", "/w",
                  "--stop-signal", "SIGUSR1", "--stop-timeout", "3", "--rm", "--read-only",
                  "--shm-size", "128m", "--runtime", "runc", "--group-add", "wheel",
                  "--group-add", "7777", "busybox"])
    assert {k: config[k] for k in ("Hostname", "Domainname", "User", "WorkingDir",
                                    "StopSignal", "StopTimeout")} == {
        "Hostname": "h1", "Domainname": "d.example", "User": "1000:50", "WorkingDir": "/w",
        "StopSignal": "SIGUSR1", "StopTimeout": 3}
    hc = config["HostConfig"]
    assert {k: hc[k] for k in ("AutoRemove", "ReadonlyRootfs", "ShmSize", "Runtime", "GroupAdd")} == {
        "AutoRemove": True, "ReadonlyRootfs": True, "ShmSize": 128 * 1024 * 1024,
        "Runtime": "runc", "GroupAdd": ["wheel", "7777"]}


def test_defaults_are_unset():
    config = run(["busybox"])
    assert "StopTimeout" not in config and "StopSignal" not in config
    assert (config["Hostname"], config["User"], config["WorkingDir"]) == ("", "", "")
    assert config["HostConfig"]["AutoRemove"] is False
    assert "GroupAdd" not in config["HostConfig"] and "ShmSize" not in config["HostConfig"]


def test_stop_timeout_zero_is_sent_when_given():
    assert run(["--stop-timeout", "0", "busybox"])["StopTimeout"] == 0


class _Client:
    def __init__(self):
        self.created = []

    def create_container(self, config, name, platform=None):
        self.created.append((config, name))
        return {"Id": "c0ffee"}


@pytest.mark.parametrize("argv,expected", [
    (["busybox"], (False, True, True, False, False, False)),
    (["-it", "busybox"], (True, True, True, True, True, True)),
    (["-a", "stderr", "busybox"], (False, False, True, False, False, False)),
])
def test_create_command_sends_attach(capsys, argv, expected):
    """`ketch create` sends what `docker create` does: stdout and stderr attached as
    for a run without -d (dockerd 20.10.24's inspect after docker 28.2.2's create)."""
    from types import SimpleNamespace

    from ketch.cli.commands import container
    client = _Client()
    assert container.create(SimpleNamespace(client=client), ["--name", "c1"] + argv,
                            "ketch create") == 0
    (config, name), = client.created
    assert (tuple(config[k] for k in ATTACH_KEYS), name) == (expected, "c1")
    assert capsys.readouterr().out == "c0ffee\n"


# -- flags of features ketchd does not implement yet: the same field as docker's body ------

def _captured():
    import json
    import pathlib
    golden = pathlib.Path(__file__).resolve().parents[1] / "golden" / "create_bodies.jsonl"
    cases = [json.loads(line) for line in golden.read_text().splitlines()]
    return [c for c in cases if c["command"].startswith("docker run")]


@pytest.mark.parametrize("case", _captured(), ids=lambda c: c["command"])
def test_ketch_run_asks_for_what_docker_run_asks_for(case):
    """Each command line the docker CLI was captured sending: ketch's body for it is
    accepted or refused by the daemon exactly as docker's is, naming the same field."""
    from ketch.cli.flags import UsageError
    from ketch.engine import unsupported
    from ketch.errors import InvalidArgument
    argv = case["command"].split()[2:]
    try:
        body = run(argv)
    except UsageError as exc:
        assert "unknown flag" in exc.text(), exc.text()
        pytest.skip(f"ketch run has no such flag yet: {exc.text()}")
    try:
        unsupported.check_create(body)
        refused = None
    except InvalidArgument as exc:
        refused = str(exc).split(" (")[0]
    assert refused == case["refused"]


def test_publish_volume_and_restart_land_in_dockers_fields():
    body = run(["-p", "127.0.0.1:8080:80/udp", "-p", "90", "-v", "/tmp:/mnt:ro", "-v", "/data",
                "--restart", "on-failure:3", "--network", "none", "busybox"])
    hc = body["HostConfig"]
    assert hc["PortBindings"] == {"80/udp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}],
                                  "90/tcp": [{"HostIp": "", "HostPort": ""}]}
    assert body["ExposedPorts"] == {"80/udp": {}, "90/tcp": {}}
    assert (hc["Binds"], body["Volumes"]) == (["/tmp:/mnt:ro"], {"/data": {}})
    assert hc["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    assert (hc["NetworkMode"], body["NetworkingConfig"]) == ("none", {"EndpointsConfig": {}})


@pytest.mark.parametrize("argv,log_config", [
    (["busybox"], {"Type": "", "Config": {}}),
    (["--log-driver", "none", "busybox"], {"Type": "none", "Config": {}}),
    (["--log-opt", "max-size=10m", "--log-opt", "max-file=3", "busybox"],
     {"Type": "", "Config": {"max-size": "10m", "max-file": "3"}}),
])
def test_log_flags(argv, log_config):
    assert run(argv)["HostConfig"]["LogConfig"] == log_config


def test_log_opts_for_the_none_driver_are_refused():
    with pytest.raises(runconfig.ConfigError) as exc:  # docker/cli's parseLoggingOpts
        run(["--log-driver", "none", "--log-opt", "max-size=1m", "busybox"])
    assert str(exc.value) == "invalid logging opts for driver none"


@pytest.mark.parametrize("value, policy", [
    ("no", {"Name": "no", "MaximumRetryCount": 0}), ("always", {"Name": "always", "MaximumRetryCount": 0}),
    ("on-failure", {"Name": "on-failure", "MaximumRetryCount": 0}),
    ("on-failure:-1", {"Name": "on-failure", "MaximumRetryCount": -1}),  # the daemon refuses it
    ("bogus:+2", {"Name": "bogus", "MaximumRetryCount": 2}), ("", {}),
])
def test_restart_is_parsed_as_docker_cli_does(value, policy):
    assert run(["--restart", value, "busybox"])["HostConfig"]["RestartPolicy"] == policy


@pytest.mark.parametrize("argv, message", [
    (["--restart", ":3"], "invalid restart policy format: no policy provided before colon"),
    (["--restart", "on-failure:x"], "invalid restart policy format: maximum retry count must be an integer"),
    (["--restart", "on-failure: 1"], "invalid restart policy format: maximum retry count must be an integer"),
    (["--rm", "--restart", "always"], "conflicting options: cannot specify both --restart and --rm"),
    (["--rm", "--restart", "on-failure:2"], "conflicting options: cannot specify both --restart and --rm"),
])
def test_restart_errors_are_docker_clis(argv, message):
    with pytest.raises(runconfig.ConfigError) as exc:
        run([*argv, "busybox"])
    assert str(exc.value) == message


def test_rm_with_restart_no_is_fine():
    assert run(["--rm", "--restart", "no", "busybox"])["HostConfig"]["AutoRemove"] is True
