"""Healthchecks on a real ketchd, through the ketch CLI and the docker SDK: probes run as
execs in the container, State.Health and its log, ps's status and health filter,
health_status events, timeouts, the image's HEALTHCHECK and --no-healthcheck, a stop
and a restart, and a daemon restart."""

import json
import time
import urllib.parse

import docker
import pytest

from tests.integration.conftest import wait_until
from tests.integration.test_images import _busybox_rootfs

FAST = ("--health-interval", "50ms")


def _health(daemon, name: str) -> dict | None:
    res = daemon.ketch("inspect", "--format", "{{json .State.Health}}", name)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def _status(daemon, name: str) -> str | None:
    health = _health(daemon, name)
    return health and health["Status"]


def _wait_status(daemon, name: str, status: str, timeout: float = 15) -> dict:
    assert wait_until(lambda: _status(daemon, name) == status, timeout), _health(daemon, name)
    return _health(daemon, name)


def _ps_names(daemon, *filters: str) -> list[str]:
    args = [a for f in filters for a in ("--filter", f)]
    return daemon.ketch("ps", "-a", *args, "--format", "{{.Names}}", check=True).stdout.split()


def _events(daemon, since: float, cid: str, **filters) -> list[dict]:
    q = urllib.parse.urlencode({"since": f"{since:.9f}", "until": f"{time.time():.9f}",
                                "filters": json.dumps({"container": [cid], **filters})})
    status, body, _ = daemon.api("GET", f"/events?{q}", raw=True)
    assert status == 200, body
    return [json.loads(line) for line in body.splitlines() if line.strip()]


def test_a_passing_check_becomes_healthy(daemon, names):
    name = names()
    t0 = time.time()
    cid = daemon.ketch("run", "-d", "--name", name, "--health-cmd", "echo ok from $HOSTNAME",
                       *FAST, "busybox", "sleep", "600", check=True).stdout.strip()
    health = _wait_status(daemon, name, "healthy")
    assert health["FailingStreak"] == 0
    first = health["Log"][0]
    assert (first["ExitCode"], first["Output"]) == (0, f"ok from {cid[:12]}\n")
    assert first["Start"] <= first["End"] and first["End"].endswith("Z")
    ps = daemon.ketch("ps", "--filter", f"name={name}", "--format", "{{.Status}}", check=True)
    assert ps.stdout.startswith("Up ") and ps.stdout.endswith(" (healthy)\n"), ps.stdout
    assert _ps_names(daemon, f"name={name}", "health=healthy") == [name]
    assert _ps_names(daemon, f"name={name}", "health=unhealthy", "health=starting") == []
    assert _ps_names(daemon, f"name={name}", "health=none") == []
    events = _events(daemon, t0, cid)
    actions = [e["Action"] for e in events]
    assert actions.count("health_status: healthy") == 1, actions
    probe = "exec_create: /bin/sh -c echo ok from $HOSTNAME"
    assert actions[actions.index("start") + 1] == probe, actions
    create = events[actions.index(probe)]
    exec_id = create["Actor"]["Attributes"]["execID"]
    mine = [e for e in events if e["Actor"]["Attributes"].get("execID") == exec_id]
    assert [e["Action"] for e in mine] == [probe, "exec_start: /bin/sh -c echo ok from $HOSTNAME",
                                           "exec_die"]
    assert mine[-1]["Actor"]["Attributes"]["exitCode"] == "0"
    healthy = events[actions.index("health_status: healthy")]
    assert healthy["Actor"]["Attributes"] == {"image": "busybox", "name": name}
    assert _events(daemon, t0, cid, event=["health_status"]) == [healthy]  # a prefix, as moby's


def test_a_container_starts_in_health_starting(daemon, names):
    name = names()
    daemon.ketch("run", "-d", "--name", name, "--health-cmd", "true", "--health-interval", "1h",
                 "busybox", "sleep", "600", check=True)
    assert _health(daemon, name) == {"Status": "starting", "FailingStreak": 0, "Log": []}
    ps = daemon.ketch("ps", "--filter", f"name={name}", "--format", "{{.Status}}", check=True)
    assert ps.stdout.endswith(" (health: starting)\n"), ps.stdout
    assert _ps_names(daemon, f"name={name}", "health=starting") == [name]


def test_failures_after_retries_make_it_unhealthy_and_the_log_keeps_five(daemon, names):
    name = names()
    t0 = time.time()
    cid = daemon.ketch("run", "-d", "--name", name, "--health-cmd", "echo oops >&2; exit 1",
                       "--health-retries", "2", *FAST, "busybox", "sleep", "600",
                       check=True).stdout.strip()
    _wait_status(daemon, name, "unhealthy")
    assert wait_until(lambda: _health(daemon, name)["FailingStreak"] >= 6, 15)
    health = _health(daemon, name)
    assert len(health["Log"]) == 5
    assert {(r["ExitCode"], r["Output"]) for r in health["Log"]} == {(1, "oops\n")}
    ps = daemon.ketch("ps", "--filter", f"name={name}", "--format", "{{.Status}}", check=True)
    assert ps.stdout.endswith(" (unhealthy)\n"), ps.stdout
    assert _ps_names(daemon, f"name={name}", "health=unhealthy") == [name]
    actions = [e["Action"] for e in _events(daemon, t0, cid)]
    assert actions.count("health_status: unhealthy") == 1, actions


def test_a_probe_over_its_timeout_is_killed_and_fails(daemon, names):
    name = names()
    t0 = time.time()
    cid = daemon.ketch("run", "-d", "--name", name, "--health-cmd", "echo partial; exec sleep 30",
                       "--health-timeout", "300ms", "--health-retries", "1", *FAST,
                       "busybox", "sleep", "600", check=True).stdout.strip()
    health = _wait_status(daemon, name, "unhealthy")
    result = health["Log"][0]
    assert (result["ExitCode"], result["Output"]) == (
        -1, "Health check exceeded timeout (300ms): partial\n")
    dies = [e for e in _events(daemon, t0, cid) if e["Action"] == "exec_die"]
    assert dies and dies[0]["Actor"]["Attributes"]["exitCode"] == "137"
    # killed, not left behind: of three probes that timed out, one at most still runs
    assert wait_until(lambda: _health(daemon, name)["FailingStreak"] >= 3, 15)
    top = daemon.ketch("top", name, check=True).stdout
    assert top.count("sleep 30") <= 1, top


def test_stop_leaves_it_unhealthy_and_a_start_begins_again(daemon, names):
    name = names()
    daemon.ketch("run", "-d", "--name", name, "--health-cmd", "true", *FAST,
                 "busybox", "sleep", "600", check=True)
    _wait_status(daemon, name, "healthy")
    daemon.ketch("stop", "-t", "0", name, check=True)
    health = _health(daemon, name)
    assert health["Status"] == "unhealthy" and health["Log"]  # moby's, once its monitor stops
    ps = daemon.ketch("ps", "-a", "--filter", f"name={name}", "--format", "{{.Status}}", check=True)
    assert ps.stdout.startswith("Exited (137)"), ps.stdout
    daemon.ketch("start", name, check=True)
    _wait_status(daemon, name, "healthy")


def test_the_images_healthcheck_and_no_healthcheck(daemon, names, tmp_path):
    tarball = tmp_path / "rootfs.tar.gz"
    tarball.write_bytes(_busybox_rootfs())
    image = "health/checked:v1"
    daemon.ketch("import", "-c", 'HEALTHCHECK --interval=50ms CMD ["/bin/busybox", "true"]',
                 "-c", 'CMD ["/bin/busybox", "sleep", "600"]', str(tarball), image, check=True)
    try:
        checked, unchecked, timed = names(), names(), names()
        daemon.ketch("run", "-d", "--name", checked, image, check=True)
        daemon.ketch("run", "-d", "--name", unchecked, "--no-healthcheck", image, check=True)
        daemon.ketch("run", "-d", "--name", timed, "--health-retries", "7", image, check=True)
        _wait_status(daemon, checked, "healthy")
        _wait_status(daemon, timed, "healthy")
        assert _health(daemon, unchecked) is None
        config = json.loads(daemon.ketch("inspect", "--format", "{{json .Config.Healthcheck}}",
                                         timed, check=True).stdout)
        assert config == {"Test": ["CMD", "/bin/busybox", "true"], "Interval": 50_000_000,
                          "Retries": 7}
        inspected = json.loads(daemon.ketch("image", "inspect", "--format",
                                            "{{json .Config.Healthcheck}}", image, check=True).stdout)
        assert inspected == {"Test": ["CMD", "/bin/busybox", "true"], "Interval": 50_000_000}
        ps = daemon.ketch("ps", "--filter", f"name={unchecked}", "--format", "{{.Status}}")
        assert ps.stdout.startswith("Up ") and "(" not in ps.stdout, ps.stdout
        assert _ps_names(daemon, f"name={unchecked}", "health=none") == [unchecked]
    finally:
        for name in (checked, unchecked, timed):
            daemon.ketch("rm", "-f", name)
        daemon.ketch("rmi", image)


@pytest.mark.parametrize("flags, message", [
    (("--health-retries", "-1"), "--health-retries cannot be negative"),
    (("--health-interval", "-1s"), "--health-interval cannot be negative"),
    (("--no-healthcheck", "--health-cmd", "true"), "--no-healthcheck conflicts with --health-* options"),
])
def test_the_clis_checks(daemon, flags, message):
    res = daemon.ketch("run", "--rm", *flags, "busybox", "true")
    assert res.returncode == 125
    assert res.stderr.startswith(f"ketch: {message}\n"), res.stderr


def test_the_daemons_checks(daemon):
    res = daemon.ketch("create", "--health-cmd", "true", "--health-timeout", "500us", "busybox")
    assert (res.returncode, res.stderr) == (
        1, "Error response from daemon: Timeout in Healthcheck cannot be less than 1ms\n")


def test_through_the_sdk(daemon, names):
    client = daemon.sdk()
    with pytest.raises(docker.errors.APIError) as err:
        client.containers.create("busybox", "true", healthcheck={"test": ["CMD", "true"],
                                                                 "interval": 500_000})
    assert err.value.status_code == 400
    assert "Interval in Healthcheck cannot be less than 1ms" in str(err.value)
    good = client.containers.run("busybox", "sleep 600", detach=True, name=names(),
                                 healthcheck={"test": ["CMD", "true"], "interval": 50_000_000})
    missing = client.containers.run("busybox", "sleep 600", detach=True, name=names(),
                                    healthcheck={"test": ["CMD", "nosuchprobe"],
                                                 "interval": 50_000_000, "retries": 1})
    try:
        def status(c):
            c.reload()
            return c.attrs["State"].get("Health", {}).get("Status")
        assert wait_until(lambda: status(good) == "healthy", 15)
        assert wait_until(lambda: status(missing) == "unhealthy", 15)
        result = missing.attrs["State"]["Health"]["Log"][0]
        assert result["ExitCode"] == -1
        assert result["Output"].startswith("OCI runtime exec failed: exec failed: ")
        assert "nosuchprobe" in result["Output"]
        assert [c.name for c in client.containers.list(filters={"health": "healthy",
                                                                "name": good.name})] == [good.name]
    finally:
        good.remove(force=True)
        missing.remove(force=True)


def test_health_survives_a_daemon_restart(fresh_daemon):
    d = fresh_daemon
    d.ketch("run", "-d", "--name", "checked", "--health-cmd", "true", *FAST,
            "busybox", "sleep", "600", check=True)
    try:
        _wait_status(d, "checked", "healthy")
        d.ketch("pause", "checked", check=True)  # no probe runs: what is kept stays as it is
        before = _health(d, "checked")
        assert before["Status"] == "unhealthy" and before["Log"]  # moby's, once its monitor stops
        d.restart()
        assert _health(d, "checked") == before
        d.ketch("unpause", "checked", check=True)
        _wait_status(d, "checked", "healthy")
    finally:
        d.ketch("rm", "-f", "checked")


def test_start_interval_is_an_api_144_field(daemon, names):
    body = {"Image": "busybox", "Cmd": ["true"],
            "Healthcheck": {"Test": ["CMD", "true"], "Interval": 2_000_000_000, "StartInterval": 1_000_000}}
    for version, expected in (("1.43", None), ("1.45", 1_000_000)):
        name = names()
        status, answer = daemon.api("POST", f"/v{version}/containers/create?name={name}", body)
        assert status == 201, answer
        _, doc = daemon.api("GET", f"/containers/{name}/json")
        assert doc["Config"]["Healthcheck"].get("StartInterval") == expected
