"""Restart policies: moby's restartmanager rules (restartmanager_test.go and more), its
policy validation (ValidateRestartPolicy's table) and its daemon-start rule, as pure
functions of exit codes and run times."""

import asyncio
import signal

import pytest

from ketch import errors
from ketch.engine.containers import state as S
from ketch.engine.containers.records import ContainerRecord
from ketch.engine.containers.state import ContainerState, StateMachine
from ketch.engine.events import EventBus
from ketch.engine.restart import (Backoff, RestartPolicy, Restarts, cancels, should_start_on_boot,
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


# -- the timers, over a state machine and a stand-in lifecycle -------------------------

class _Lifecycle:
    def __init__(self):
        self.machine = StateMachine(EventBus(), lambda rec: None)
        self.records = {}
        self.registry = self
        self.started = []

    def find(self, ref):
        return self.records.get(ref)

    def lock(self, cid):
        return asyncio.Lock()

    async def start(self, rec, policy=False):
        if policy != (rec.state.status == S.RESTARTING):
            return False
        self.started.append((rec.name, policy))
        self.machine.apply(rec, "start")
        self.machine.apply(rec, "started", started_at="2026-01-01T00:00:00Z")
        return True


def _rec(lc, name, status, policy, exit_code=0, stopped=False):
    rec = ContainerRecord(id=name * 8, name=name, created="x", image="busybox", image_id="x",
                          config={}, host_config={"RestartPolicy": {"Name": policy}}, path="sh",
                          args=[], snapshot="s", parents=[], manually_stopped=stopped)
    rec.state = ContainerState(status, exit_code=exit_code, started_at="2026-01-01T00:00:00Z",
                               finished_at="2026-01-01T00:00:01Z")
    lc.records[rec.id] = rec
    return rec


def test_a_die_into_restarting_starts_it_after_its_back_off():
    async def scenario():
        lc = _Lifecycle()
        restarts = Restarts(lc, lc.machine.bus)
        rec = _rec(lc, "a", S.CLEANING, "always")
        rec.backoff.delay = 0.05
        lc.machine.apply(rec, "restarting")
        assert restarts.pending(rec.id) and lc.started == []
        await asyncio.sleep(0.2)
        assert lc.started == [("a", True)] and rec.state.status == S.RUNNING
        assert not restarts.pending(rec.id)

    asyncio.run(scenario())


def test_a_canceled_back_off_ends_its_timer():
    async def scenario():
        lc = _Lifecycle()
        restarts = Restarts(lc, lc.machine.bus)
        rec = _rec(lc, "b", S.CLEANING, "always")
        rec.backoff.delay = 0.05
        lc.machine.apply(rec, "restarting")
        lc.machine.apply(rec, "restart_canceled")
        assert not restarts.pending(rec.id)
        await asyncio.sleep(0.1)
        assert lc.started == [] and rec.state.status == S.EXITED

    asyncio.run(scenario())


def test_boot_applies_the_daemon_start_rule():
    async def scenario():
        lc = _Lifecycle()
        restarts = Restarts(lc, lc.machine.bus)
        recs = [_rec(lc, "always", S.EXITED, "always", stopped=True),
                _rec(lc, "unless", S.EXITED, "unless-stopped", stopped=True),
                _rec(lc, "onfail", S.EXITED, "on-failure", exit_code=1),
                _rec(lc, "onfail0", S.EXITED, "on-failure", exit_code=0),
                _rec(lc, "crashed", S.RESTARTING, "unless-stopped", exit_code=2),
                _rec(lc, "none", S.EXITED, "no", exit_code=1)]
        await restarts.boot(recs)
        assert sorted(lc.started) == [("always", False), ("crashed", False), ("onfail", False)]
        assert lc.records["unless" * 8].state.status == S.EXITED

    asyncio.run(scenario())
