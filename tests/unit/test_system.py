"""engine/system.py: docker info's counts and the injected facts, without a daemon."""

from types import SimpleNamespace

from ketch.engine.system import SystemService


class _Runtimes:
    default = "runc"

    def info(self):
        return {"runc": {"path": "runc"}}

    def spec(self, name):
        return {"name": "runc", "path": "/nonexistent/runc", "args": []}


def _rec(running: bool, paused: bool = False, restarting: bool = False):
    return SimpleNamespace(running=running, state=SimpleNamespace(paused=paused, restarting=restarting))


def test_info_counts_as_moby_does_and_carries_what_was_injected():
    # a restarting container is running to the API, "stopped" to moby's counters
    recs = [_rec(True), _rec(True, paused=True), _rec(False), _rec(True, restarting=True)]
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


def _script(tmp_path, name: str, output: str) -> str:
    path = tmp_path / name
    path.write_text(f"#!/bin/sh\nprintf '%s' '{output}'\n")
    path.chmod(0o755)
    return str(path)


def test_components_parse_the_binaries_own_versions_as_moby(tmp_path):
    from ketch.engine import system
    runc = _script(tmp_path, "runc", "runc version 1.1.5+ds1\ncommit: 1.1.5+ds1-1+deb12u1\nspec: 1.0.2-dev\n")
    assert system._runtime_component("runc", runc) == {
        "Name": "runc", "Version": "1.1.5+ds1", "Details": {"GitCommit": "1.1.5+ds1-1+deb12u1"}}
    tini = _script(tmp_path, "docker-init", "tini version 0.19.0 - git.de40ad0\n")
    assert system._init_component(tini) == {
        "Name": "docker-init", "Version": "0.19.0", "Details": {"GitCommit": "de40ad0"}}
    debian = _script(tmp_path, "tini-static", "tini version 0.19.0\n")
    assert system._init_component(debian)["Details"] == {"GitCommit": ""}
    assert system._runtime_component("x", _script(tmp_path, "x", "nothing useful")) is None


def test_info_reports_the_runtime_and_init_commits(tmp_path):
    tini = _script(tmp_path, "docker-init", "tini version 0.19.0 - git.de40ad0\n")
    svc = SystemService(SimpleNamespace(all=lambda: []), SimpleNamespace(list_all=lambda: []),
                        _Runtimes(), data_root="/r", cgroup_version="2", debug=False, init_path=tini)
    doc = svc.info()
    assert doc["InitCommit"] == {"ID": "de40ad0", "Expected": "de40ad0"}
    assert doc["RuncCommit"] == {"ID": "", "Expected": ""}  # the runtime's binary is missing
    assert doc["InitBinary"] == tini
    assert doc["SecurityOptions"] == ["name=seccomp,profile=builtin", "name=cgroupns"]
