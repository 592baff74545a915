"""Healthchecks' pure logic against moby's daemon/health.go and docker/cli's opts: the
status a result leads to (streak, retries, start period), the log of five, the probe's
schedule and command, the output limit, the timeout's message, the config's validation
and merge with the image's, the --health-* flags, and the ps status and inspect views."""

import types

import pytest

from ketch import timefmt
from ketch.api import views
from ketch.cli import runconfig
from ketch.cli.flags import parse
from ketch.engine.containers import health as H
from ketch.engine.containers.exec import Capture
from ketch.engine.containers.records import ContainerRecord
from ketch.engine.containers.state import ContainerState
from ketch.errors import InvalidArgument

MS = 1_000_000
S = 1000 * MS


def result(code: int, output: str = "") -> H.Result:
    return H.Result("2026-12-06T19:00:00.1Z", "2026-12-06T19:00:00.2Z", code, output)


def feed(codes, cfg=H.HealthConfig(("CMD", "x")), health=H.Health(), in_start_period=False):
    for code in codes:
        health = health.recorded(result(code), cfg, in_start_period)
    return health


# -- status from results ----------------------------------------------------------------------

def test_a_pass_is_healthy_and_resets_the_streak():
    h = feed([1, 1, 0])
    assert (h.status, h.failing_streak) == (H.HEALTHY, 0)


def test_default_retries_three_make_it_unhealthy():
    assert feed([1, 1]).status == H.STARTING
    h = feed([1, 1, 1])
    assert (h.status, h.failing_streak) == (H.UNHEALTHY, 3)


def test_a_healthy_container_stays_healthy_until_retries():
    cfg = H.HealthConfig(("CMD", "x"), retries=2)
    assert feed([0, 1], cfg).status == H.HEALTHY
    assert feed([0, 1, 1], cfg).status == H.UNHEALTHY


@pytest.mark.parametrize("code", [2, 126, 127, -1, 255])
def test_every_code_but_zero_fails(code):
    assert feed([code], H.HealthConfig(("CMD", "x"), retries=1)).status == H.UNHEALTHY


def test_failures_in_the_start_period_do_not_count_while_starting():
    h = feed([1, 1, 1, 1], in_start_period=True)
    assert (h.status, h.failing_streak, len(h.log)) == (H.STARTING, 0, 4)


def test_once_healthy_the_start_period_no_longer_shields():
    h = feed([0], in_start_period=True)
    h = feed([1], health=h, in_start_period=True, cfg=H.HealthConfig(("CMD", "x"), retries=1))
    assert (h.status, h.failing_streak) == (H.UNHEALTHY, 1)


def test_the_log_keeps_the_last_five():
    h = feed([0, 1, 2, 3, 4, 5, 6], H.HealthConfig(("CMD", "x"), retries=100))
    assert [r.exit_code for r in h.log] == [2, 3, 4, 5, 6]


def test_restart_and_stop():
    h = feed([1, 1, 1])
    assert h.restarted() == H.Health(H.STARTING, 0, h.log)
    assert feed([0]).stopped().status == H.UNHEALTHY


def test_health_round_trips_docker_json():
    h = feed([0, 1])
    doc = h.to_docker()
    assert doc == {"Status": "healthy", "FailingStreak": 1, "Log": [
        {"Start": "2026-12-06T19:00:00.1Z", "End": "2026-12-06T19:00:00.2Z", "ExitCode": 0, "Output": ""},
        {"Start": "2026-12-06T19:00:00.1Z", "End": "2026-12-06T19:00:00.2Z", "ExitCode": 1, "Output": ""}]}
    assert H.Health.from_docker(doc) == h
    assert H.Health.from_docker(None) is None


def test_the_record_persists_its_health():
    rec = ContainerRecord(id="c" * 64, name="web", created=timefmt.ZERO, image="busybox",
                          image_id="sha256:" + "a" * 64, config={}, host_config={}, path="sh",
                          args=[], snapshot="s", parents=[], health=feed([0]))
    assert ContainerRecord.from_doc(rec.to_doc()).health == rec.health
    rec.health = None
    assert ContainerRecord.from_doc(rec.to_doc()).health is None


# -- config ------------------------------------------------------------------------------------

@pytest.mark.parametrize("doc", [None, {}, {"Test": []}, {"Test": None, "Interval": S},
                                 {"Test": ["NONE"]}, {"Test": ["BOGUS", "x"]}])
def test_nothing_runs(doc):
    assert H.HealthConfig.from_docker(doc) is None


def test_defaults():
    cfg = H.HealthConfig.from_docker({"Test": ["CMD", "true"]})
    assert (cfg.probe_interval, cfg.probe_timeout, cfg.probe_retries) == (30 * S, 30 * S, 3)


@pytest.mark.parametrize("test, shell, argv", [
    (("CMD", "curl", "-f", "x"), None, ["curl", "-f", "x"]),
    (("CMD-SHELL", "exit 1"), None, ["/bin/sh", "-c", "exit 1"]),
    (("CMD-SHELL", "exit 1"), ["/bin/bash", "-ec"], ["/bin/bash", "-ec", "exit 1"]),
    (("CMD",), None, []),
])
def test_the_probes_command(test, shell, argv):
    assert H.HealthConfig(test).command(shell) == argv


@pytest.mark.parametrize("kw, status, elapsed, delay", [
    ({}, H.STARTING, 0, 30 * S),
    ({"interval": 100 * MS}, H.HEALTHY, 5 * S, 100 * MS),
    # in the start period: the start interval (5s by default) while starting
    ({"interval": 60 * S, "start_period": 120 * S}, H.STARTING, 0, 5 * S),
    ({"interval": 60 * S, "start_period": 120 * S, "start_interval": S}, H.STARTING, 0, S),
    ({"interval": 60 * S, "start_period": 120 * S}, H.HEALTHY, 0, 60 * S),
    # the start period ends before the next interval would: probe at its end
    ({"interval": 60 * S, "start_period": 120 * S}, H.STARTING, 100 * S, 20 * S),
])
def test_the_schedule(kw, status, elapsed, delay):
    assert H.HealthConfig(("CMD", "x"), **kw).next_delay(status, elapsed) == delay


@pytest.mark.parametrize("doc, message", [
    ({"Interval": -10 * MS}, "Interval in Healthcheck cannot be less than 1ms"),
    ({"Interval": MS // 2}, "Interval in Healthcheck cannot be less than 1ms"),
    ({"Timeout": -1}, "Timeout in Healthcheck cannot be less than 1ms"),
    ({"Retries": -10}, "Retries in Healthcheck cannot be negative"),
    ({"StartPeriod": 1}, "StartPeriod in Healthcheck cannot be less than 1ms"),
    ({"StartInterval": 999_999}, "StartInterval in Healthcheck cannot be less than 1ms"),
])
def test_validation(doc, message):
    with pytest.raises(InvalidArgument) as err:
        H.validate({"Test": ["CMD", "true"], **doc})
    assert str(err.value) == message


def test_valid_values():
    H.validate(None)
    H.validate({"Test": ["CMD", "true"], "Interval": MS, "Timeout": MS, "StartPeriod": 0,
                "StartInterval": MS, "Retries": 0})


def test_merge_with_the_images():
    image = {"Test": ["CMD", "probe"], "Interval": S, "Retries": 5}
    assert H.merge(None, image) == image
    assert H.merge({"Interval": 2 * S}, image) == {"Test": ["CMD", "probe"], "Interval": 2 * S,
                                                   "Retries": 5}
    assert H.merge({"Test": ["NONE"]}, image) == {"Test": ["NONE"], "Interval": S, "Retries": 5}
    assert H.merge({"Test": ["CMD", "mine"]}, None) == {"Test": ["CMD", "mine"]}


# -- output --------------------------------------------------------------------------------------

def test_capture_keeps_4096_bytes_then_dots():
    cap = Capture(H.MAX_OUTPUT)
    cap.put(b"", 1, b"a" * 4000)
    cap.put(b"", 2, b"b" * 200)
    assert (len(cap.data), cap.truncated) == (4096, True)
    assert H.output_text(bytes(cap.data), cap.truncated) == "a" * 4000 + "b" * 96 + "..."
    exact = Capture(4)
    exact.put(b"", 1, b"abcd")
    assert (bytes(exact.data), exact.truncated) == (b"abcd", False)


def test_invalid_utf8_is_replaced():
    assert H.output_text(b"ok\xff\n", False) == "ok\ufffd\n"


@pytest.mark.parametrize("timeout, output, message", [
    (300 * MS, "", "Health check exceeded timeout (300ms)"),
    (30 * S, "partial\n", "Health check exceeded timeout (30s): partial\n"),
    (90 * S, "", "Health check exceeded timeout (1m30s)"),
])
def test_the_timeouts_message(timeout, output, message):
    assert H.timeout_output(timeout, output) == message


# -- the CLI's flags -----------------------------------------------------------------------------

def run(argv):
    opts, args = parse(runconfig.RUN, argv)
    return runconfig.build(opts, args, opts["detach"])


@pytest.mark.parametrize("argv, healthcheck", [
    ([], None),
    (["--no-healthcheck"], {"Test": ["NONE"]}),
    (["--health-cmd", "curl -f x"], {"Test": ["CMD-SHELL", "curl -f x"]}),
    (["--health-interval", "1m30s", "--health-timeout", "100ms", "--health-retries", "4",
      "--health-start-period", "2s", "--health-start-interval", "1s"],
     {"Interval": 90 * S, "Timeout": 100 * MS, "Retries": 4, "StartPeriod": 2 * S,
      "StartInterval": S}),
])
def test_health_flags(argv, healthcheck):
    assert run([*argv, "busybox"]).get("Healthcheck") == healthcheck


@pytest.mark.parametrize("argv, message", [
    (["--no-healthcheck", "--health-interval", "1s"], "--no-healthcheck conflicts with --health-* options"),
    (["--health-interval", "-1s"], "--health-interval cannot be negative"),
    (["--health-timeout", "-1s"], "--health-timeout cannot be negative"),
    (["--health-retries", "-1"], "--health-retries cannot be negative"),
    (["--health-start-period", "-1s"], "--health-start-period cannot be negative"),
    (["--health-start-interval", "-1ms"], "--health-start-interval cannot be negative"),
])
def test_health_flag_errors(argv, message):
    with pytest.raises(runconfig.ConfigError) as err:
        run([*argv, "busybox"])
    assert str(err.value) == message


# -- views ----------------------------------------------------------------------------------------

NOW = 1795387800.0


@pytest.mark.parametrize("status, text", [
    ("starting", "Up 2 minutes (health: starting)"),
    ("healthy", "Up 2 minutes (healthy)"),
    ("unhealthy", "Up 2 minutes (unhealthy)"),
])
def test_ps_status(monkeypatch, status, text):
    monkeypatch.setattr(views, "time", types.SimpleNamespace(time=lambda: NOW))
    st = ContainerState("running", started_at=timefmt.format_ns(int((NOW - 150) * 1e9))).to_docker()
    st["Health"] = {"Status": status, "FailingStreak": 0, "Log": []}
    assert views.status_text(st) == text
    st["Paused"] = True  # paused shows as paused, whatever its health
    assert views.status_text(st) == "Up 2 minutes (Paused)"


def test_inspect_shows_health_last_in_state_and_config_without_zeros():
    rec = ContainerRecord(id="c" * 64, name="web", created=timefmt.ZERO, image="busybox",
                          image_id="sha256:" + "a" * 64, path="sh", args=[], snapshot="s",
                          parents=[], host_config={},
                          config={"Healthcheck": {"Test": ["CMD", "x"], "Interval": S, "Timeout": 0,
                                                  "Retries": 0, "StartPeriod": None}})
    assert "Health" not in views.state_json(rec)
    rec.health = H.Health()
    assert list(views.state_json(rec))[-1] == "Health"
    assert views.container_config(rec)["Healthcheck"] == {"Test": ["CMD", "x"], "Interval": S}
