"""`ketch run` and friends, driven as a user types them."""

import os
import pty
import select
import subprocess
import time

import pytest

from tests.integration.conftest import PYTHON, REPO


def test_run_rm_prints_output_and_removes(daemon):
    res = daemon.ketch("run", "--rm", "busybox", "echo", "hello from ketch")
    assert res.returncode == 0, res.stderr
    assert res.stdout == "hello from ketch\n"
    status, items = daemon.api("GET", "/containers/json?all=1")
    assert status == 200
    assert all("hello from ketch" not in c["Command"] for c in items)


@pytest.mark.parametrize("command, code", [
    (["sh", "-c", "exit 3"], 3),
    (["true"], 0),
    (["false"], 1),
    (["sh", "-c", 'sh -c "kill -9 \\$\\$"; exit $?'], 137),
    (["sh", "-c", "kill -9 $$; exit 5"], 5),  # pid 1 ignores signals it has no handler for
])
def test_run_exits_with_the_container_code(daemon, command, code):
    res = daemon.ketch("run", "--rm", "busybox", *command)
    assert res.returncode == code, res.stderr


@pytest.mark.parametrize("command, code, words", [
    (["nosuch"], 127, 'exec: "nosuch": executable file not found in $PATH'),
    (["/nosuch"], 127, "no such file or directory"),
    (["/etc/passwd"], 126, "permission denied"),
    (["/etc"], 126, "permission denied"),
])
def test_run_exec_errors_use_docker_codes(daemon, command, code, words):
    res = daemon.ketch("run", "--rm", "busybox", *command)
    assert res.returncode == code
    assert res.stderr.startswith("ketch: Error response from daemon: ")
    assert words in res.stderr
    assert "Run 'ketch run --help' for more information" in res.stderr


def test_failed_rm_container_is_removed_and_kept_otherwise(daemon, names):
    before = daemon.api("GET", "/containers/json?all=1")[1]
    daemon.ketch("run", "--rm", "busybox", "nosuch")
    assert len(daemon.api("GET", "/containers/json?all=1")[1]) == len(before)
    name = names()
    res = daemon.ketch("run", "--name", name, "busybox", "nosuch")
    assert res.returncode == 127
    out = daemon.ketch("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", name).stdout
    assert out == "created 127\n"
    assert "executable file not found" in daemon.ketch("inspect", "-f", "{{.State.Error}}", name).stdout


def test_unknown_image_is_exit_125_with_dockers_words(daemon):
    res = daemon.ketch("run", "--rm", "nosuchimage")
    assert res.returncode == 125
    assert "Unable to find image 'nosuchimage:latest' locally" in res.stderr


def test_stdout_and_stderr_are_kept_apart(daemon):
    res = daemon.ketch("run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2")
    assert res.stdout == "out\n"
    assert res.stderr == "err\n"


def test_detached_run_wait_and_logs(daemon, names):
    name = names()
    res = daemon.ketch("run", "-d", "--name", name, "busybox", "sh", "-c",
                       "echo one; echo two >&2; sleep 0.2; exit 5")
    assert res.returncode == 0
    cid = res.stdout.strip()
    assert len(cid) == 64 and all(c in "0123456789abcdef" for c in cid)
    assert daemon.ketch("wait", name).stdout == "5\n"
    logs = daemon.ketch("logs", name)
    assert (logs.stdout, logs.stderr) == ("one\n", "two\n")
    stamped = daemon.ketch("logs", "-t", "--tail", "1", name)
    assert stamped.stderr.endswith(" two\n") and stamped.stderr[:4].isdigit()
    assert stamped.stdout == ""
    assert daemon.ketch("rm", name).stdout == f"{name}\n"


def test_logs_follow_streams_until_exit(daemon, names):
    name = names()
    daemon.ketch("run", "-d", "--name", name, "busybox", "sh", "-c",
                 "for i in 1 2 3; do echo $i; sleep 0.2; done", check=True)
    res = daemon.ketch("logs", "-f", name, timeout=20)
    assert res.stdout == "1\n2\n3\n"


def test_env_workdir_user_hostname_entrypoint(daemon, tmp_path):
    env_file = tmp_path / "env"
    env_file.write_text("# comment\nFROM_FILE=yes\n\nB=file\n")
    res = daemon.ketch("run", "--rm", "-e", "A=1", "--env", "B=2", "--env-file", str(env_file),
                       "-w", "/made/here", "-u", "nobody", "--hostname", "box",
                       "busybox", "sh", "-c", 'echo $A $B $FROM_FILE $HOME; pwd; id -u; hostname')
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == ["1 2 yes /home", "/made/here", "65534", "box"]
    res = daemon.ketch("run", "--rm", "--entrypoint", "echo", "busybox", "via", "entrypoint")
    assert res.stdout == "via entrypoint\n"


def test_default_environment_and_identity_match_docker(daemon):
    res = daemon.ketch("run", "--rm", "busybox", "sh", "-c", "env | sort; id")
    lines = res.stdout.splitlines()
    assert "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" in lines
    assert "HOME=/root" in lines
    assert any(line.startswith("HOSTNAME=") and len(line) == len("HOSTNAME=") + 12 for line in lines)
    assert lines[-1] == "uid=0(root) gid=0(root) groups=0(root),10(wheel)"


def test_user_by_uid_and_gid(daemon):
    res = daemon.ketch("run", "--rm", "-u", "1234:5", "busybox", "id")
    assert res.stdout == "uid=1234 gid=5(tty) groups=5(tty)\n"
    res = daemon.ketch("run", "--rm", "-u", "nosuchuser", "busybox", "id")
    assert res.returncode != 0
    assert "unable to find user nosuchuser" in res.stderr


def test_isolation_basics(daemon):
    script = ("echo pid=$$; hostname; ls /proc | grep -c '^[0-9]' ; "
              "cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' '; ls /dev | tr '\\n' ' '")
    res = daemon.ketch("run", "--rm", "--network", "none", "busybox", "sh", "-c", script)
    lines = res.stdout.splitlines()
    assert lines[0] == "pid=1"
    assert int(lines[2]) <= 3  # only the container's own processes
    assert lines[3] == "lo"  # --network none: loopback only
    for dev in ("null", "zero", "full", "random", "urandom", "tty", "pts", "shm", "mqueue", "ptmx"):
        assert dev in lines[4].split()
    res = daemon.ketch("run", "--rm", "busybox", "sh", "-c", script)
    assert sorted(res.stdout.splitlines()[3:5]) == ["eth0", "lo"]  # the default bridge


def test_masked_and_readonly_paths(daemon):
    res = daemon.ketch("run", "--rm", "busybox", "sh", "-c",
                       "cat /proc/keys | wc -c; echo 1 > /proc/sys/kernel/ostype 2>/dev/null || echo ro; "
                       "touch /sys/x 2>/dev/null || echo sysro")
    assert res.stdout.split() == ["0", "ro", "sysro"]


def test_stdin_is_forwarded_with_i(daemon):
    res = daemon.ketch("run", "--rm", "-i", "busybox", "sh", "-c", "tr a-z A-Z; echo done",
                       input="hello stdin\n")
    assert res.stdout == "HELLO STDIN\ndone\n"
    res = daemon.ketch("run", "--rm", "busybox", "cat", input="ignored\n")
    assert res.stdout == ""


def test_tty_with_it(daemon):
    pid, fd = pty.fork()
    if pid == 0:
        import fcntl
        import struct
        import termios
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 100, 0, 0))
        os.environ["KETCH_HOST"] = daemon.host
        os.execv(PYTHON, [PYTHON, "-I", "-S", "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
                          "from ketch.cli.main import main; sys.exit(main(sys.argv[2:]))", REPO,
                          "run", "--rm", "-it", "busybox", "sh", "-c", "tty; stty size; exit 7"])
    out = b""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 1)
        if ready:
            try:
                data = os.read(fd, 4096)
            except OSError:
                break
            if not data:
                break
            out += data
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 7, out
    text = out.decode()
    assert "/dev/pts/0" in text
    assert "40 100" in text  # the pty was created at the client's terminal size
    assert "\r\n" in text  # a terminal's line discipline, not a pipe


def test_name_conflict_and_validation(daemon, names):
    name = names()
    daemon.ketch("create", "--name", name, "busybox", check=True)
    res = daemon.ketch("create", "--name", name, "busybox")
    assert res.returncode == 1
    assert f'Conflict. The container name "/{name}" is already in use' in res.stderr
    res = daemon.ketch("create", "--name", "bad name!", "busybox")
    assert "Invalid container name (bad name!)" in res.stderr


def test_create_start_stop_kill_rm(daemon, names):
    name = names()
    cid = daemon.ketch("create", "--name", name, "busybox", "sleep", "30", check=True).stdout.strip()
    assert daemon.ketch("ps", "-a", "--filter", f"name={name}", "--format", "{{.Status}}").stdout == "Created\n"
    assert daemon.ketch("start", name).stdout == f"{name}\n"
    assert daemon.ketch("inspect", "-f", "{{.State.Running}}", cid[:10]).stdout == "true\n"
    res = daemon.ketch("rm", name)
    assert res.returncode == 1 and "container is running" in res.stderr
    t0 = time.monotonic()
    assert daemon.ketch("stop", "-t", "1", name).stdout == f"{name}\n"
    assert time.monotonic() - t0 < 8
    assert daemon.ketch("inspect", "-f", "{{.State.ExitCode}}", name).stdout == "137\n"
    daemon.ketch("start", name, check=True)
    assert daemon.ketch("kill", "-s", "TERM", name).returncode == 0  # sleep as pid 1 ignores TERM
    assert daemon.ketch("kill", name).returncode == 0
    assert daemon.ketch("wait", name).stdout == "137\n"
    res = daemon.ketch("kill", name)
    assert res.returncode == 1 and "is not running" in res.stderr
    assert daemon.ketch("rm", name).returncode == 0
    res = daemon.ketch("rm", name)
    assert res.stderr == f"Error response from daemon: No such container: {name}\n"


def test_rm_force_removes_running(daemon, names):
    name = names()
    daemon.ketch("run", "-d", "--name", name, "busybox", "sleep", "60", check=True)
    assert daemon.ketch("rm", "-f", name).returncode == 0
    assert daemon.api("GET", f"/containers/{name}/json")[0] == 404


def test_ps_formats_and_filters(daemon, names):
    a, b = names(), names()
    daemon.ketch("run", "--name", a, "-l", "team=blue", "busybox", "true", check=True)
    daemon.ketch("run", "-d", "--name", b, "-l", "team=red", "busybox", "sleep", "30", check=True)
    running = daemon.ketch("ps", "--format", "{{.Names}}").stdout.split()
    assert b in running and a not in running
    all_ = daemon.ketch("ps", "-a", "--format", "{{.Names}} {{.Label \"team\"}}").stdout.splitlines()
    assert f"{a} blue" in all_ and f"{b} red" in all_
    blue = daemon.ketch("ps", "-a", "--filter", "label=team=blue", "-q").stdout.split()
    assert len(blue) == 1 and len(blue[0]) == 12
    table = daemon.ketch("ps", "-a", "--filter", f"name={a}").stdout.splitlines()
    assert table[0].split() == ["CONTAINER", "ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"]
    assert "Exited (0)" in table[1] and table[1].endswith(a)
    assert daemon.ketch("ps", "-a", "--no-trunc", "-q", "--filter", f"name={a}").stdout.strip().__len__() == 64
    latest = daemon.ketch("ps", "-l", "--format", "{{.Names}}").stdout.split()
    assert latest == [b]
    daemon.ketch("rm", "-f", a, b, check=True)


def test_inspect_templates_and_errors(daemon, names):
    name = names()
    daemon.ketch("run", "--name", name, "busybox", "sh", "-c", "exit 2")
    assert daemon.ketch("inspect", "-f", "{{.State.ExitCode}}", name).stdout == "2\n"
    assert daemon.ketch("inspect", "-f", "{{json .Config.Cmd}}", name).stdout == '["sh","-c","exit 2"]\n'
    assert daemon.ketch("inspect", "-f", "{{.Name}} {{.Config.Image}}", name).stdout == f"/{name} busybox\n"
    res = daemon.ketch("inspect", "nosuch-object")
    assert res.returncode == 1
    assert res.stdout == "[]\n" and res.stderr == "Error: No such object: nosuch-object\n"
    res = daemon.docker("inspect", "nosuch-object")  # docker asks every object type
    assert res.returncode == 1 and "No such object: nosuch-object" in res.stderr
    import json
    doc = json.loads(daemon.ketch("inspect", name).stdout)
    assert doc[0]["Name"] == f"/{name}" and doc[0]["State"]["Status"] == "exited"
    image = json.loads(daemon.ketch("inspect", "busybox").stdout)[0]
    assert image["Config"]["Cmd"] == ["sh"]


def test_usage_errors(daemon):
    res = daemon.ketch("run", "--bogus", "busybox")
    assert res.returncode == 125 and res.stderr.startswith("unknown flag: --bogus")
    res = daemon.ketch("run")
    assert res.returncode == 1 and "'ketch run' requires at least 1 argument" in res.stderr
    res = daemon.ketch("nosuchcommand")
    assert res.returncode == 1 and "unknown command" in res.stderr


def test_daemon_not_reachable_names_the_socket(tmp_path):
    sock = tmp_path / "none.sock"
    res = subprocess.run([PYTHON, "-I", "-S", "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
                          "from ketch.cli.main import main; sys.exit(main(sys.argv[2:]))", REPO,
                          "-H", f"unix://{sock}", "ps"], capture_output=True, text=True)
    assert res.returncode == 1
    assert f"Cannot connect to the ketch daemon at unix://{sock}" in res.stderr


def test_version_and_info(daemon):
    res = daemon.ketch("version")
    assert "Server: ketch" in res.stdout and "API version:      1.45" in res.stdout
    assert daemon.ketch("version", "-f", "{{.Server.APIVersion}}").stdout == "1.45\n"  # the Go field
    info = daemon.ketch("info")
    assert " Storage Driver: overlay2" in info.stdout
    assert daemon.ketch("info", "-f", "{{.DockerRootDir}}").stdout.strip() == daemon.data_root


def test_list_formats_from_the_config_file(daemon, names, tmp_path):
    (tmp_path / "config.json").write_text(
        '{"psFormat": "ps:{{.Names}}", "imagesFormat": "img:{{.Repository}}:{{.Tag}}"}')
    name = names()
    daemon.ketch("create", "--name", name, "busybox", "true", check=True)
    res = daemon.ketch("--config", str(tmp_path), "ps", "-a", "--filter", f"name={name}")
    assert res.stdout == f"ps:{name}\n"
    res = daemon.ketch("--config", str(tmp_path), "ps", "-a", "--filter", f"name={name}", "--format", "{{.Image}}")
    assert res.stdout == "busybox\n"  # --format wins
    res = daemon.ketch("--config", str(tmp_path), "ps", "-aq", "--filter", f"name={name}")
    assert len(res.stdout.strip()) == 12  # so does -q
    res = daemon.ketch("--config", str(tmp_path), "images", "busybox")
    assert res.stdout == "img:busybox:latest\n"
    (tmp_path / "config.json").write_text("{broken")
    res = daemon.ketch("--config", str(tmp_path), "ps", "-a", "--filter", f"name={name}", "--format", "{{.Names}}")
    assert res.returncode == 0 and res.stdout == f"{name}\n"
    assert res.stderr.startswith(f"WARNING: Error loading config file: {tmp_path}/config.json: ")
    daemon.ketch("rm", name, check=True)
