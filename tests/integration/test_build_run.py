"""RUN steps in the engine (engine/builds/runstep.py, runmounts.py, cachemounts.py): a
step's container has ``run``'s isolation, streams its output in order, leaves no
container and no image when it fails, and its ``RUN --mount``s never reach the image nor
the host (CVE-2024-23651/23652: a bind's source is resolved inside its stage or context).

The steps run in one engine of their own (``runstep_driver.py``, ketchd's ``Daemon`` in a
child process), whose leftovers (mounts, cgroups, monitors, bridge, nftables table) are
checked as every test daemon's. Network probes only ever reach a server on 127.0.0.1.
The last tests build through ketchd (``ketch build``): a failed step's container as
``--rm``/``--force-rm`` leave it, mounts that stay out of the image.
"""

import json
import os
import re
import socket
import subprocess
import tempfile
import threading
import time

import pytest

from tests.integration.conftest import PYTHON, REPO, Daemon, destroy_daemon
from tests.integration.buildclean import remove_build_leftovers

DRIVER = os.path.join(REPO, "tests", "integration", "runstep_driver.py")
RED, RESET = "\x1b[91m", "\x1b[0m"
NETWORK_FILES = {"etc/hosts", "etc/hostname", "etc/resolv.conf"}


def _serve_pong() -> tuple[socket.socket, int]:
    """A loopback-only server answering every connection with "pong"."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)

    def loop() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.sendall(b"pong\n")
    threading.Thread(target=loop, daemon=True).start()
    return server, server.getsockname()[1]


def _plan(port: int) -> list[tuple[str, dict]]:
    sh = lambda script: ["/bin/sh", "-c", script]  # noqa: E731
    nc = f"nc 127.0.0.1 {port} </dev/null 2>/dev/null || echo unreachable"
    ctx = {"type": "bind", "target": "/ctx"}
    return [
        ("sweep", {"sweep": True}),
        ("probe", {"run": {"argv": sh(
            "grep -E '^(CapEff|Seccomp|NoNewPrivs):' /proc/self/status; hostname; "
            "wc -c < /proc/timer_list; ls /sys/firmware | wc -l; "
            "find / \\( -path /proc -o -path /sys \\) -prune -o -name h4-context-marker -print")}}),
        ("order", {"run": {"argv": sh("echo one; sleep 0.2; echo two >&2; sleep 0.2; echo three")}}),
        ("big", {"run": {"argv": sh("seq 1 50000")}}),
        ("layer", {"run": {"argv": sh("mkdir /made && echo x > /made/f && rm /bin/true")}}),
        ("exec_form", {"run": {"argv": ["/bin/echo", "exec", "form"], "workdir": "/tmp"}}),
        ("fail", {"run": {"argv": sh("echo out; exit 3")}}),
        ("not_found", {"run": {"argv": ["/nosuch"]}}),
        ("net_none", {"run": {"argv": sh(f"ls /sys/class/net; {nc}"), "network": "none"}}),
        ("net_host", {"run": {"argv": sh(nc), "network": "host"}}),
        ("net_default", {"run": {"argv": sh(f"ls /sys/class/net; ip route | grep -c '^default via'; {nc}")}}),
        ("cache1", {"run": {"argv": sh("ls /cache | wc -l; echo first > /cache/f"),
                            "mounts": [{"type": "cache", "target": "/cache", "readonly": False}]}}),
        ("cache2", {"run": {"argv": sh("cat /cache/f"),
                            "mounts": [{"type": "cache", "target": "/cache", "readonly": False}]}}),
        ("cache_other_id", {"run": {"argv": sh("ls /cache | wc -l"),
                                    "mounts": [{"type": "cache", "target": "/cache", "id": "other",
                                                "readonly": False}]}}),
        ("secret", {"run": {"argv": sh("stat -c '%a %u' /run/secrets/tok; cat /run/secrets/tok; echo \" $TOK\""),
                            "mounts": [{"type": "secret", "id": "tok", "env": "TOK",
                                        "target": "/run/secrets/tok"}],
                            "secrets": {"tok": "s3cr3t"}}}),
        ("secret_missing", {"run": {"argv": sh("true"),
                                    "mounts": [{"type": "secret", "id": "nope", "required": True}]}}),
        ("secret_optional", {"run": {"argv": sh("test -e /run/secrets/nope || echo absent"),
                                     "mounts": [{"type": "secret", "id": "nope"}]}}),
        ("tmpfs", {"run": {"argv": sh("printf '#!/bin/sh\\necho ran\\n' > /t/s && chmod +x /t/s && /t/s"),
                           "mounts": [{"type": "tmpfs", "target": "/t", "readonly": False}]}}),
        ("bind_ro", {"run": {"argv": sh("cat /ctx/hello.txt; touch /ctx/new 2>/dev/null || echo refused"),
                             "mounts": [ctx]}}),
        ("bind_rw", {"run": {"argv": sh("echo changed > /ctx/hello.txt && cat /ctx/hello.txt"),
                             "mounts": [{**ctx, "readonly": False}]}}),
        ("bind_ctx_symlink", {"run": {"argv": sh("ls /m"),
                                      "mounts": [{"type": "bind", "target": "/m", "source": "esc/etc"}]}}),
        ("bind_missing", {"run": {"argv": sh("true"),
                                  "mounts": [{"type": "bind", "target": "/m", "source": "nope"}]}}),
        ("bind_no_context", {"run": {"argv": sh("true"), "mounts": [ctx], "context": False}}),
        ("stage", {"commit": {"name": "stage", "argv": sh(
            "echo stage > /etc/stage-marker && ln -s /etc /link && ln -s ../../../.. /up")}}),
        ("bind_stage_link", {"run": {"argv": sh("cat /m/stage-marker; test -e /m/debian_version || echo not-host"),
                                     "mounts": [{"type": "bind", "target": "/m", "source": "link",
                                                 "from_": "$stage"}]}}),
        ("bind_stage_up", {"run": {"argv": sh("cat /m/stage-marker; test -e /m/debian_version || echo not-host"),
                                   "mounts": [{"type": "bind", "target": "/m", "source": "up/up/etc",
                                               "from_": "$stage"}]}}),
        ("cancelled", {"run": {"argv": sh("echo started; sleep 30"), "remove": "never", "cancel_after": 0.5,
                               "mounts": [{"type": "cache", "target": "/cache", "readonly": False,
                                           "sharing": "locked"}, ctx]}}),
        ("after_cancel", {"run": {"argv": sh("echo lock free"),
                                  "mounts": [{"type": "cache", "target": "/cache", "readonly": False,
                                              "sharing": "locked"}]}}),
        ("cache_from_stage", {"run": {"argv": sh("cat /c/stage-marker; echo mine > /c/stage-marker"),
                                      "mounts": [{"type": "cache", "target": "/c", "id": "seeded", "from_": "$stage",
                                                  "source": "/link", "readonly": False}]}}),
        ("cache_from_stage_again", {"run": {"argv": sh("cat /c/stage-marker"),
                                            "mounts": [{"type": "cache", "target": "/c", "id": "seeded",
                                                        "from_": "$stage", "source": "/link",
                                                        "readonly": False}]}}),
        ("with_volume", {"commit": {"name": "withvol", "argv": sh("mkdir /data && echo image > /data/i"),
                                    "changes": ["VOLUME /data"]}}),
        ("run_on_volume", {"run": {"argv": sh("cat /data/i; echo x > /data/f; echo y > /kept"),
                                   "parent": "$withvol"}}),
        ("fail_kept", {"run": {"argv": sh("exit 5"), "remove": "success"}}),
    ]


@pytest.fixture(scope="module")
def steps():
    """Every step of the plan run once in one engine: name -> its report."""
    d = Daemon(tempfile.mkdtemp(prefix="kt-", dir="/tmp"))
    d.write_config()
    context = os.path.join(d.root, "context")
    os.makedirs(os.path.join(context, "etc"))
    with open(os.path.join(context, "hello.txt"), "w") as f:
        f.write("hello\n")
    open(os.path.join(context, "h4-context-marker"), "w").close()
    open(os.path.join(context, "etc", "inside"), "w").close()
    os.symlink("/", os.path.join(context, "esc"))
    server, port = _serve_pong()
    plan = _plan(port)
    with open(os.path.join(d.root, "plan.json"), "w") as f:
        json.dump([item for _, item in plan], f)
    try:
        res = subprocess.run([PYTHON, DRIVER, d.root, os.path.join(d.root, "plan.json")],
                             capture_output=True, text=True, timeout=240)
        reports = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
        assert res.returncode == 0 and len(reports) == len(plan), res.stdout + res.stderr[-3000:]
        with open(os.path.join(context, "hello.txt")) as f:
            after = f.read()
        yield {name: report for (name, _), report in zip(plan, reports)} | {"context after": after}
    finally:
        server.close()
        destroy_daemon(d)


def _ok(report: dict) -> dict:
    assert report["error"] is None, report
    assert report["containers"] == [] and report["run_dirs"] == [], report
    return report


def test_startup_sweep_removes_what_a_crashed_run_left(steps):
    assert steps["sweep"]["left"] == ["not-a-run"]  # the build service's own: not a run's


def test_step_has_runs_isolation(steps):
    report = _ok(steps["probe"])
    lines = report["output"].splitlines()
    assert lines[:3] == ["CapEff:\t00000000a80425fb", "NoNewPrivs:\t0", "Seccomp:\t2"]
    assert lines[3] == report["started"][:12]  # the hostname is the container's, as run's
    assert lines[4:6] == ["0", "0"]  # masked /proc/timer_list and /sys/firmware
    assert lines[6:] == []  # the build context is nowhere in the container


def test_output_streams_in_order_with_stderr_in_red(steps):
    assert _ok(steps["order"])["output"] == f"one\n{RED}two\n{RESET}three\n"


def test_output_is_complete_up_to_the_exit(steps):
    assert _ok(steps["big"])["output"] == "".join(f"{i}\n" for i in range(1, 50001))


def test_layer_holds_the_changes_and_no_mount_points(steps):
    files = set(_ok(steps["layer"])["files"])
    assert {"made", "made/f", "bin/.wh.true"} <= files
    assert not files & (NETWORK_FILES | {"proc", "sys", "dev", ".dockerenv"})


def test_writes_under_a_volume_of_the_image_are_discarded(steps):
    # Docker's classic builder: a VOLUME's path is an anonymous volume in each step's
    # container (seeded from the image), gone with it
    report = _ok(steps["run_on_volume"])
    assert report["output"] == "image\n"
    assert "kept" in report["files"] and not [f for f in report["files"] if f.startswith("data")]
    assert report["volumes"] == 0


def test_exec_form_and_workdir(steps):
    report = _ok(steps["exec_form"])
    assert report["output"] == "exec form\n"


def test_failing_command_records_nothing_and_leaves_no_container(steps):
    report = steps["fail"]
    assert report["error_type"] == "BuildStepFailed"
    assert report["error"] == "The command '/bin/sh -c echo out; exit 3' returned a non-zero code: 3"
    assert report["exit_code"] == 3 and report["output"] == "out\n"
    assert report["files"] is None and report["containers"] == [] and report["run_dirs"] == []


def test_with_rm_a_failed_steps_container_stays(steps):
    report = steps["fail_kept"]
    assert report["exit_code"] == 5 and report["containers"] == [report["started"]]


def test_cancelled_step_leaves_nothing(steps):
    # the build's client went away mid-RUN: container, mounts and the cache's lock all go
    report = steps["cancelled"]
    assert report["error_type"] == "CancelledError" and report["output"] == "started\n"
    assert report["containers"] == [] and report["run_dirs"] == [] and report["files"] is None
    assert _ok(steps["after_cancel"])["output"] == "lock free\n"


def test_command_that_cannot_start(steps):
    report = steps["not_found"]
    assert report["error"].startswith("failed to create shim task: OCI runtime create failed: ")
    assert 'exec: "/nosuch": stat /nosuch: no such file or directory' in report["error"]
    assert report["exit_code"] is None and report["containers"] == []


def test_network_none_has_loopback_only(steps):
    assert _ok(steps["net_none"])["output"].splitlines() == ["lo", "unreachable"]


def test_network_host_reaches_the_hosts_loopback(steps):
    assert _ok(steps["net_host"])["output"] == "pong\n"


def test_network_default_is_the_bridge(steps):
    lines = _ok(steps["net_default"])["output"].splitlines()
    assert lines[:3] == ["eth0", "lo", "1"]  # an interface on the bridge, a default route
    assert lines[3] == "unreachable"  # 127.0.0.1 is its own


def test_cache_mount_persists_by_id_and_stays_out_of_the_layer(steps):
    assert _ok(steps["cache1"])["output"] == "0\n"
    assert steps["cache1"]["files"] == []
    assert _ok(steps["cache2"])["output"] == "first\n"
    assert _ok(steps["cache_other_id"])["output"] == "0\n"


def test_cache_mount_from_a_stage_starts_as_its_copy(steps):
    # /link -> /etc in the stage: its /etc, seeded once; later runs find the cache as left
    assert _ok(steps["cache_from_stage"])["output"] == "stage\n"
    assert _ok(steps["cache_from_stage_again"])["output"] == "mine\n"


def test_secret_is_a_0400_file_and_env_not_in_the_layer(steps):
    report = _ok(steps["secret"])
    assert report["output"] == "400 0\ns3cr3t s3cr3t\n"
    assert report["files"] == []  # not /run/secrets/tok, not even /run


def test_secret_required_and_optional(steps):
    assert steps["secret_missing"]["error"] == "secret nope: not found"
    assert steps["secret_missing"]["containers"] == []
    assert _ok(steps["secret_optional"])["output"] == "absent\n"


def test_tmpfs_mount_allows_exec(steps):
    report = _ok(steps["tmpfs"])
    assert report["output"] == "ran\n" and report["files"] == []


def test_bind_of_the_context(steps):
    assert _ok(steps["bind_ro"])["output"] == "hello\nrefused\n"
    assert _ok(steps["bind_rw"])["output"] == "changed\n"
    assert steps["bind_rw"]["files"] == []
    assert steps["context after"] == "hello\n"  # rw: the writes were thrown away


def test_bind_source_symlink_stays_inside_the_context(steps):
    # esc -> "/": esc/etc is the context's etc/, never the host's
    assert _ok(steps["bind_ctx_symlink"])["output"] == "inside\n"


def test_bind_errors(steps):
    assert steps["bind_missing"]["error"] == 'failed to compute cache key: "/nope": not found'
    assert steps["bind_no_context"]["error_type"] == "InvalidArgument"
    for name in ("bind_missing", "bind_no_context"):
        assert steps[name]["containers"] == [] and steps[name]["run_dirs"] == []


@pytest.mark.parametrize("name", ["bind_stage_link", "bind_stage_up"])
def test_bind_of_a_stage_resolves_its_symlinks_inside_it(steps, name):
    # /link -> /etc and /up -> ../../../.. in the stage: both land in the stage's /etc
    assert _ok(steps[name])["output"] == "stage\nnot-host\n"


# -- through ketchd: `ketch build` ----------------------------------------------------------

def _context(tmp_path, dockerfile: str, files: dict[str, str] | None = None) -> str:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(dockerfile)
    for name, data in (files or {}).items():
        (ctx / name).parent.mkdir(parents=True, exist_ok=True)
        (ctx / name).write_text(data)
    return str(ctx)


def _running_in(stdout: str) -> list[str]:
    return re.findall(r"^ ---> Running in ([0-9a-f]{12})$", stdout, re.M)


def test_build_keeps_a_failed_steps_container_unless_force_rm(daemon, tmp_path):
    ctx = _context(tmp_path, "FROM busybox\nRUN echo out; exit 3\n")
    res = daemon.ketch("build", "--network", "none", ctx)
    assert res.returncode == 3, res.stdout + res.stderr
    assert "The command '/bin/sh -c echo out; exit 3' returned a non-zero code: 3" in res.stderr
    [kept] = _running_in(res.stdout)
    try:  # moby's --rm (the default): the failed step's container stays, Exited (3)
        state = daemon.ketch("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", kept)
        assert state.stdout.strip() == "exited 3"
    finally:
        daemon.ketch("rm", "-f", kept)
    res = daemon.ketch("build", "--network", "none", "--force-rm", ctx)
    assert res.returncode == 3
    [removed] = _running_in(res.stdout)
    assert "No such object" in daemon.ketch("inspect", removed).stderr
    assert res.stdout.endswith(f"out\nRemoving intermediate container {removed}\n")  # moby's RemoveAll
    remove_build_leftovers(daemon)


def test_build_never_keeps_a_failed_step_holding_a_secret(daemon, tmp_path):
    # REVIEW12 #2: under --rm the failed step stayed, TOK=<secret> in its Config.Env
    ctx = _context(tmp_path, "FROM busybox\nRUN --mount=type=secret,id=tok,env=TOK false\n")
    secret = tmp_path / "tok"
    secret.write_text("s3cr3t-value")
    res = daemon.ketch("build", "--network", "none", "--secret", f"id=tok,src={secret}", ctx)
    assert res.returncode == 1, res.stdout + res.stderr
    [step] = _running_in(res.stdout)
    try:
        assert "No such object" in daemon.ketch("inspect", step).stderr
    finally:
        remove_build_leftovers(daemon)


def test_build_run_mounts_stay_out_of_the_image(daemon, tmp_path):
    cache_id = f"h4-{os.getpid()}-{time.monotonic_ns()}"
    ctx = _context(tmp_path, "FROM busybox\n"
                   f"RUN --mount=type=secret,id=tok,env=TOK,target=/run/secrets/tok "
                   f"--mount=type=cache,target=/cache,id={cache_id} "
                   "--mount=type=bind,source=sub,target=/ctx "
                   "cat /run/secrets/tok; echo \" $TOK\"; ls /cache | wc -l; touch /cache/x; cat /ctx/f\n",
                   {"sub/f": "from the context\n"})
    secret = tmp_path / "tok"
    secret.write_text("s3cr3t")
    tag = f"h4-mounts-{os.getpid()}:latest"
    try:
        for n, extra in (("0", ()), ("1", ("--no-cache",))):  # the cache mount is kept across builds
            res = daemon.ketch("build", "--network", "none", "--secret", f"id=tok,src={secret}", "-t", tag,
                               *extra, ctx)
            assert res.returncode == 0, res.stdout + res.stderr
            assert f"s3cr3t s3cr3t\n{n}\nfrom the context\n" in res.stdout, res.stdout
        probe = daemon.ketch("run", "--rm", "--network", "none", tag, "sh", "-c",
                             "ls -d /run /cache /ctx 2>&1; env | grep -c TOK")
        assert probe.stdout.splitlines() == ["ls: /run: No such file or directory",
                                             "ls: /cache: No such file or directory",
                                             "ls: /ctx: No such file or directory", "0"]
        history = daemon.ketch("history", "--no-trunc", "--format", "{{.CreatedBy}}", tag).stdout
        assert "s3cr3t" not in history
    finally:
        daemon.ketch("rmi", tag)
        remove_build_leftovers(daemon)  # its steps' images and cache mount
