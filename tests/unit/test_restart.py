"""Restart policies: moby's restartmanager rules (restartmanager_test.go and more), its
policy validation (ValidateRestartPolicy's table) and its daemon-start rule, as pure
functions of exit codes and run times."""

import signal

import pytest

from ketch import errors
from ketch.engine.restart import (Backoff, RestartPolicy, cancels, should_start_on_boot,
                                  validate_create)

ALWAYS = RestartPolicy("always")


def test_the_first_delay_is_100ms():
    assert Backoff().should_restart(ALWAYS, 0, 0, False, 1.0) == 0.1


def test_a_run_of_10s_starts_the_back_off_over():
    b = Backoff()
    b.delay = 5.0
    assert b.should_restart(ALWAYS, 0, 0, False, 10.0) == 0.1


def test_quick_exits_double_the_delay_up_to_a_minute():
    b = Backoff()
    delays = [b.should_restart(ALWAYS, n, 1, False, 0.01) for n in range(13)]
    assert delays[:4] == [0.1, 0.2, 0.4, 0.8]
    assert delays[9] == pytest.approx(51.2)
    assert delays[10:] == [60.0, 60.0, 60.0]


def test_the_delay_moves_even_when_no_restart_follows():
    """moby computes the timeout before it decides: an on-failure exit 0 still doubles it."""
    b = Backoff()
    policy = RestartPolicy("on-failure")
    assert b.should_restart(policy, 0, 1, False, 0.0) == 0.1
    assert b.should_restart(policy, 1, 0, False, 0.0) is None
    assert b.should_restart(policy, 1, 1, False, 0.0) == 0.4


@pytest.mark.parametrize("policy, count, code, stopped, restart", [
    (RestartPolicy("no"), 0, 1, False, False),
    (RestartPolicy(""), 0, 1, False, False),
    (ALWAYS, 0, 0, False, True),
    (ALWAYS, 50, 0, True, True),  # always ignores a manual stop (its cancel is what stops it)
    (RestartPolicy("unless-stopped"), 0, 0, False, True),
    (RestartPolicy("unless-stopped"), 0, 1, True, False),
    (RestartPolicy("on-failure"), 0, 0, False, False),
    (RestartPolicy("on-failure"), 1000, 3, False, True),  # 0: no maximum
    (RestartPolicy("on-failure", 2), 0, 3, False, True),
    (RestartPolicy("on-failure", 2), 1, 3, False, True),
    (RestartPolicy("on-failure", 2), 2, 3, False, False),
    (RestartPolicy("on-failure", 2), 0, 137, True, True),  # not stopped-aware
])
def test_which_exits_restart(policy, count, code, stopped, restart):
    assert (Backoff().should_restart(policy, count, code, stopped, 0.5) is not None) == restart


def test_a_canceled_back_off_never_restarts():
    b = Backoff()
    b.cancel()
    assert b.should_restart(ALWAYS, 0, 1, False, 0.5) is None


@pytest.mark.parametrize("stop_signal, sig, canceled", [
    (None, signal.SIGTERM, True), (None, signal.SIGUSR1, True),  # no StopSignal: any signal
    (signal.SIGINT, signal.SIGINT, True), (signal.SIGINT, signal.SIGKILL, True),
    (signal.SIGINT, signal.SIGTERM, False), (signal.SIGINT, signal.SIGUSR1, False),
])
def test_which_signals_cancel_the_restarts(stop_signal, sig, canceled):
    assert cancels(stop_signal, sig) is canceled


@pytest.mark.parametrize("name, count, message", [
    ("always", 0, None), ("unless-stopped", 0, None), ("no", 0, None), ("", 7, None),
    ("on-failure", 0, None), ("on-failure", 123, None),
    ("always", 2, "invalid restart policy: maximum retry count can only be used with 'on-failure'"),
    ("no", 123, "invalid restart policy: maximum retry count can only be used with 'on-failure'"),
    ("no", -123, "invalid restart policy: maximum retry count can only be used with 'on-failure' "
                 "and cannot be negative"),
    ("on-failure", -1, "invalid restart policy: maximum retry count cannot be negative"),
    ("unknown", 0, "invalid restart policy: unknown policy 'unknown'; use one of 'no', 'always', "
                   "'on-failure', or 'unless-stopped'"),
])
def test_validation_is_mobys(name, count, message):
    policy = RestartPolicy(name, count)
    if message is None:
        policy.validate()
        return
    with pytest.raises(errors.InvalidArgument) as exc:
        policy.validate()
    assert str(exc.value) == message


def test_auto_remove_excludes_a_policy():
    validate_create({"AutoRemove": True, "RestartPolicy": {"Name": "no"}})
    with pytest.raises(errors.InvalidArgument) as exc:
        validate_create({"AutoRemove": True, "RestartPolicy": {"Name": "always"}})
    assert str(exc.value) == "can't create 'AutoRemove' container with restart policy"


@pytest.mark.parametrize("policy, code, stopped, started, start", [
    (ALWAYS, 0, True, True, True),  # docker stop, then the daemon restarts: back it comes
    (ALWAYS, 0, False, False, False),  # never started: stays created
    (RestartPolicy("unless-stopped"), 0, True, True, False),
    (RestartPolicy("unless-stopped"), 0, False, True, True),
    (RestartPolicy("on-failure"), 0, False, True, False),
    (RestartPolicy("on-failure"), 143, True, True, True),
    (RestartPolicy("no"), 1, False, True, False),
])
def test_daemon_start_rule(policy, code, stopped, started, start):
    assert should_start_on_boot(policy, 0, code, stopped, started, 1.0) is start


def test_daemon_start_honours_the_retries_left():
    policy = RestartPolicy("on-failure", 2)
    assert should_start_on_boot(policy, 1, 1, False, True, 1.0)
    assert not should_start_on_boot(policy, 2, 1, False, True, 1.0)


def test_policy_of_a_host_config():
    assert RestartPolicy.of({}) == RestartPolicy("", 0)
    assert RestartPolicy.of({"RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3}}) \
        == RestartPolicy("on-failure", 3)
    assert RestartPolicy("no").none and RestartPolicy("").none and not ALWAYS.none
