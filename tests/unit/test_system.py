"""engine/system.py: docker info's counts and the injected facts, without a daemon."""

from types import SimpleNamespace

from ketch.engine.system import SystemService


class _Runtimes:
    default = "runc"

    def info(self):
        return {"runc": {"path": "runc"}}


def _rec(running: bool, paused: bool = False):
    return SimpleNamespace(running=running, state=SimpleNamespace(paused=paused))


def test_info_counts_as_moby_does_and_carries_what_was_injected():
    recs = [_rec(True), _rec(True, paused=True), _rec(False), _rec(False)]
    svc = SystemService(SimpleNamespace(all=lambda: recs), SimpleNamespace(list_all=lambda: [1, 2, 3]),
                        _Runtimes(), data_root="/tmp/root", cgroup_version="1", debug=True)
    doc = svc.info()
    assert (doc["Containers"], doc["ContainersRunning"], doc["ContainersPaused"],
            doc["ContainersStopped"]) == (4, 1, 1, 2)
    assert doc["Images"] == 3
    assert doc["CgroupVersion"] == "1"
    assert doc["DockerRootDir"] == "/tmp/root"
    assert doc["Debug"] is True
    assert doc["DefaultRuntime"] == "runc" and doc["Runtimes"] == {"runc": {"path": "runc"}}
