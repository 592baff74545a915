"""Restart policies on a real ketchd, through the ketch CLI and the docker SDK: moby's
back-off, RestartCount, the restarting state in ps and inspect, die/start events, what
cancels a back-off, the daemon-start rule, update --restart, and Docker's refusals."""

import json
import os
import time
import urllib.parse

import pytest

from tests.integration.conftest import wait_until


def _state(d, ref) -> dict:
    status, doc = d.api("GET", f"/containers/{ref}/json")
    assert status == 200, doc
    return {**doc["State"], "RestartCount": doc["RestartCount"]}


def _actions(d, cid, since: float) -> list[str]:
    q = urllib.parse.urlencode({"since": f"{since:.9f}", "until": f"{time.time():.9f}",
                                "filters": json.dumps({"container": [cid]})})
    status, body, _ = d.api("GET", f"/events?{q}", raw=True)
    assert status == 200, body
    return [json.loads(line)["Action"] for line in body.splitlines() if line.strip()]


def _restarting(d, ref, timeout=20.0) -> bool:
    return wait_until(lambda: _state(d, ref)["Restarting"], timeout, interval=0.02)


def test_on_failure_n_restarts_n_times_then_stays_exited(daemon, names):
    name = names()
    t0 = time.time()
    cid = daemon.ketch("run", "-d", "--name", name, "--restart", "on-failure:2", "busybox",
                       "sh", "-c", "exit 3", check=True).stdout.strip()
    assert wait_until(lambda: _state(daemon, cid)["Status"] == "exited", 20)
    st = _state(daemon, cid)
    assert (st["RestartCount"], st["ExitCode"], st["Restarting"], st["Running"]) == (2, 3, False, False)
    acts = [a for a in _actions(daemon, cid, t0) if a in ("start", "die", "restart")]
    assert acts == ["start", "die", "start", "die", "start", "die"]  # no "restart": moby's
    assert daemon.ketch("inspect", "-f", "{{.HostConfig.RestartPolicy.Name}}:"
                        "{{.HostConfig.RestartPolicy.MaximumRetryCount}}", cid).stdout == "on-failure:2\n"
    # a user's start resets the count
    daemon.ketch("start", cid, check=True)
    assert wait_until(lambda: _state(daemon, cid)["Status"] == "exited"
                      and _state(daemon, cid)["RestartCount"] == 2, 20)


def test_on_failure_leaves_a_clean_exit_alone(daemon, names):
    name = names()
    daemon.ketch("run", "--name", name, "--restart", "on-failure", "busybox", "true", check=True)
    st = _state(daemon, name)
    assert (st["Status"], st["RestartCount"]) == ("exited", 0)


def test_always_restarts_after_exit_0_and_shows_restarting(daemon, names):
    name = names()
    cid = daemon.ketch("run", "-d", "--name", name, "--restart", "always", "busybox",
                       "true", check=True).stdout.strip()
    # the back-off doubles: 100, 200, 400, 800 ms... one of them is long enough to see
    assert _restarting(daemon, cid)
    st = _state(daemon, cid)
    assert (st["Status"], st["Running"], st["Pid"], st["ExitCode"]) == ("restarting", True, 0, 0)
    assert st["RestartCount"] >= 1
    assert wait_until(lambda: _state(daemon, cid)["RestartCount"] >= 4, 20)
    # ps shows it (without -a: it counts as running), as Docker words it
    assert _restarting(daemon, cid)
    ps = daemon.ketch("ps", "--filter", "status=restarting", "--filter", f"name={name}",
                      "--format", "{{.ID}} {{.Status}}").stdout
    assert ps.startswith(f"{cid[:12]} Restarting (0) ") and ps.endswith(" ago\n"), ps
    daemon.ketch("rm", "-f", cid, check=True)


def test_what_a_restarting_container_refuses(daemon, names):
    name = names()
    cid = daemon.ketch("run", "-d", "--name", name, "--restart", "always", "busybox",
                       "sh", "-c", "exit 1", check=True).stdout.strip()
    assert wait_until(lambda: _state(daemon, cid)["RestartCount"] >= 4, 20)
    assert _restarting(daemon, cid)
    res = daemon.ketch("rm", name)
    assert res.returncode == 1
    assert res.stderr == (f'Error response from daemon: cannot remove container "/{name}": container '
                          "is restarting: stop the container before removing or force remove\n")
    res = daemon.ketch("pause", name)
    if _state(daemon, cid)["Restarting"]:  # it did not start meanwhile
        assert res.stderr == (f"Error response from daemon: Container {cid} is restarting, "
                              "wait until the container is running\n")
    daemon.ketch("rm", "-f", cid, check=True)


def test_stop_cancels_a_pending_restart(daemon, names):
    name = names()
    cid = daemon.ketch("run", "-d", "--name", name, "--restart", "always", "busybox",
                       "sh", "-c", "exit 1", check=True).stdout.strip()
    assert wait_until(lambda: _state(daemon, cid)["RestartCount"] >= 4, 20)
    assert _restarting(daemon, cid)
    t0 = time.time()
    res = daemon.ketch("stop", name)
    assert (res.returncode, res.stdout) == (0, f"{name}\n"), res.stderr
    st = _state(daemon, cid)
    assert (st["Status"], st["Running"], st["Restarting"], st["ExitCode"]) == ("exited", False, False, 1)
    count = st["RestartCount"]
    # the back-off was at least 800 ms: had it not ended, a start would come within 2 s
    assert not wait_until(lambda: "start" in _actions(daemon, cid, t0), 2.0, interval=0.1)
    assert _state(daemon, cid)["RestartCount"] == count
    assert _actions(daemon, cid, t0) == ["stop"]  # no kill, no die: nothing ran
    daemon.ketch("rm", cid, check=True)


def test_rm_f_during_the_back_off(daemon, names):
    name = names()
    cid = daemon.ketch("run", "-d", "--name", name, "--restart", "unless-stopped", "busybox",
                       "sh", "-c", "exit 2", check=True).stdout.strip()
    assert wait_until(lambda: _state(daemon, cid)["RestartCount"] >= 3, 20)
    assert _restarting(daemon, cid)
    t0 = time.time()
    res = daemon.ketch("rm", "-f", name)
    assert (res.returncode, res.stdout) == (0, f"{name}\n"), res.stderr
    assert daemon.api("GET", f"/containers/{cid}/json")[0] == 404
    assert _actions(daemon, cid, t0) == ["destroy"]


def test_kill_of_a_running_always_container_stops_it(daemon, names):
    name = names()
    cid = daemon.ketch("run", "-d", "--name", name, "--restart", "always", "busybox",
                       "sleep", "1000", check=True).stdout.strip()
    daemon.ketch("kill", name, check=True)
    assert wait_until(lambda: _state(daemon, cid)["Status"] == "exited", 10)
    assert (_state(daemon, cid)["RestartCount"], _state(daemon, cid)["ExitCode"]) == (0, 137)
    daemon.ketch("rm", cid, check=True)


def test_daemon_start_restarts_always_but_not_a_stopped_unless_stopped(fresh_daemon):
    d = fresh_daemon
    always = d.ketch("run", "-d", "--restart", "always", "busybox", "sleep", "1000",
                     check=True).stdout.strip()
    unless = d.ketch("run", "-d", "--restart", "unless-stopped", "busybox", "sleep", "1000",
                     check=True).stdout.strip()
    never_stopped = d.ketch("run", "-d", "--restart", "unless-stopped", "busybox", "sh", "-c",
                            "sleep 1000", check=True).stdout.strip()
    failing = d.ketch("run", "-d", "--restart", "always", "busybox", "sh", "-c", "exit 5",
                      check=True).stdout.strip()
    for cid in (always, unless):
        d.ketch("stop", "-t", "0", cid, check=True)
    assert wait_until(lambda: _state(d, failing)["RestartCount"] >= 4, 20)
    d.stop()  # while `failing` waits in its back-off (or runs): the policy must survive
    d.start()
    assert _state(d, always)["Status"] == "running"  # started by the daemon: count 0
    assert _state(d, always)["RestartCount"] == 0
    assert _state(d, unless)["Status"] == "exited"
    assert _state(d, never_stopped)["Status"] == "running"  # adopted, never stopped
    t0 = time.time()
    assert wait_until(lambda: "start" in _actions(d, failing, t0 - 5), 20)
    assert _state(d, failing)["Status"] in ("running", "restarting", "exited")
    assert wait_until(lambda: _state(d, failing)["RestartCount"] >= 1, 20)
    for cid in (always, unless, never_stopped, failing):
        d.ketch("rm", "-f", cid, check=True)


def test_an_exit_while_ketchd_is_down_is_judged_at_its_start(fresh_daemon):
    d = fresh_daemon
    cid = d.ketch("run", "-d", "--restart", "on-failure:5", "busybox", "sh", "-c", "sleep 1; exit 7",
                  check=True).stdout.strip()
    pid = _state(d, cid)["Pid"]
    d.stop()
    assert wait_until(lambda: not os.path.exists(f"/proc/{pid}"), 10)
    t0 = time.time()
    d.start()  # reconcile records the exit; the daemon-start rule starts it (count 0)
    assert "start" in _actions(d, cid, t0)
    assert _state(d, cid)["RestartCount"] == 0
    assert wait_until(lambda: _state(d, cid)["RestartCount"] == 1, 20)  # its own policy again
    d.ketch("rm", "-f", cid, check=True)


def test_update_restart(daemon, names):
    name = names()
    cid = daemon.ketch("create", "--name", name, "busybox", "sh", "-c", "exit 4",
                       check=True).stdout.strip()
    t0 = time.time()
    res = daemon.ketch("update", "--restart", "on-failure:1", name)
    assert (res.returncode, res.stdout) == (0, f"{name}\n"), res.stderr
    assert _actions(daemon, cid, t0) == ["update"]
    res = daemon.ketch("update", "--memory", "64m", name)  # no --restart: the policy stays
    assert res.returncode == 0, res.stderr
    daemon.ketch("start", name, check=True)
    assert wait_until(lambda: _state(daemon, cid)["Status"] == "exited"
                      and _state(daemon, cid)["RestartCount"] == 1, 20)
    res = daemon.ketch("update", "--restart", "bogus", name)
    assert (res.returncode, res.stderr) == (1, "Error response from daemon: invalid restart policy: "
                                               "unknown policy 'bogus'; use one of 'no', 'always', "
                                               "'on-failure', or 'unless-stopped'\n")
    res = daemon.ketch("update", "--restart", ":1", name)
    assert (res.returncode, res.stderr) == (
        1, "invalid restart policy format: no policy provided before colon\n")
    rm = names()
    rm_id = daemon.ketch("create", "--rm", "--name", rm, "busybox", "true", check=True).stdout.strip()
    res = daemon.ketch("update", "--restart", "always", rm)
    assert (res.returncode, res.stderr) == (1, f"Error response from daemon: Cannot update container "
                                               f"{rm_id}: Restart policy cannot be updated because "
                                               "AutoRemove is enabled for the container\n")
    assert daemon.ketch("update", "--restart", "no", rm).returncode == 0


@pytest.mark.parametrize("args, message", [
    (["--rm", "--restart", "always"], "conflicting options: cannot specify both --restart and --rm"),
    (["--restart", "always:3"], "Error response from daemon: invalid restart policy: maximum retry "
                                "count can only be used with 'on-failure'"),
    (["--restart", "on-failure:-1"], "Error response from daemon: invalid restart policy: maximum "
                                     "retry count cannot be negative"),
    (["--restart", "sometimes"], "Error response from daemon: invalid restart policy: unknown policy "
                                 "'sometimes'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'"),
])
def test_run_refuses_bad_policies(daemon, args, message):
    res = daemon.ketch("run", *args, "busybox", "true")
    assert res.returncode == 125
    assert res.stderr.startswith(f"ketch: {message}"), res.stderr


def test_sdk_restart_policy_and_update(daemon, names):
    import docker
    client = daemon.sdk()
    c = client.containers.run("busybox", ["sh", "-c", "exit 3"], name=names(), detach=True,
                              restart_policy={"Name": "on-failure", "MaximumRetryCount": 1})
    try:
        assert wait_until(lambda: _state(daemon, c.id)["Status"] == "exited"
                          and _state(daemon, c.id)["RestartCount"] == 1, 20)
        c.reload()
        assert c.attrs["RestartCount"] == 1
        assert c.attrs["HostConfig"]["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 1}
        c.update(restart_policy={"Name": "always"})
        c.reload()
        assert c.attrs["HostConfig"]["RestartPolicy"]["Name"] == "always"
        with pytest.raises(docker.errors.APIError) as err:
            client.containers.create("busybox", "true", restart_policy={"Name": "always", "MaximumRetryCount": 2})
        assert err.value.status_code == 400
        assert err.value.explanation == ("invalid restart policy: maximum retry count can only be "
                                         "used with 'on-failure'")
        with pytest.raises(docker.errors.APIError) as err:
            client.containers.create("busybox", "true", auto_remove=True, restart_policy={"Name": "always"})
        assert err.value.explanation == "can't create 'AutoRemove' container with restart policy"
    finally:
        c.remove(force=True)
