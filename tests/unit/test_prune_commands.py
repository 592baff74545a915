"""The prune commands after their flags (docker/cli's runPrune of each noun, and system
prune's pruneFuncs): the prompt, the reports, the space reclaimed, a daemon's error, all
against a stub client that answers as ketchd does."""

import io
import sys

import pytest

from ketch.cli.commands import network, prune, volume
from ketch.cli.main import StatusError
from ketch.client.http import HTTPError

ANSWERS = {
    "containers": {"ContainersDeleted": ["c1", "c2"], "SpaceReclaimed": 2048},
    "images": {"ImagesDeleted": [{"Untagged": "busybox:latest"}, {"Deleted": "sha256:aa"}],
               "SpaceReclaimed": 1000},
    "networks": {"NetworksDeleted": ["n1"]},
    "volumes": {"VolumesDeleted": ["v1"], "SpaceReclaimed": 1500},
    "build": {"CachesDeleted": None, "SpaceReclaimed": 0},
}
NOTHING = {"containers": {"ContainersDeleted": None, "SpaceReclaimed": 0},
           "images": {"ImagesDeleted": None, "SpaceReclaimed": 0}, "networks": {"NetworksDeleted": None},
           "volumes": {"VolumesDeleted": None, "SpaceReclaimed": 0}, "build": {"CachesDeleted": None}}


class StubClient:
    def __init__(self, answers: dict, failing: str = ""):
        self.answers, self.failing, self.calls = answers, failing, []

    def prune(self, kind: str, filters: dict | None = None) -> dict:
        self.calls.append((kind, filters))
        if kind == self.failing:
            raise HTTPError(500, f"{kind} prune failed")
        return self.answers[kind]

    def prune_containers(self, filters=None):
        return self.prune("containers", filters)

    def prune_images(self, filters=None):
        return self.prune("images", filters)

    def prune_networks(self, filters=None):
        return self.prune("networks", filters)

    def prune_volumes(self, filters=None):
        return self.prune("volumes", filters)

    def prune_build_cache(self, all=False, filters=None):
        self.build_all = all
        return self.prune("build", filters)


class StubCli:
    def __init__(self, client: StubClient):
        self.client = client


def run(command, args, answers=ANSWERS, failing="", stdin="y\n"):
    cli = StubCli(StubClient(answers, failing))
    saved, sys.stdin = sys.stdin, io.StringIO(stdin)
    try:
        return command(cli, args, "ketch x prune"), cli.client.calls
    finally:
        sys.stdin = saved


REPORTS = [
    (prune.container_prune, "Deleted Containers:\nc1\nc2\n\nTotal reclaimed space: 2.048kB\n"),
    (prune.image_prune, "Deleted Images:\nuntagged: busybox:latest\ndeleted: sha256:aa\n\n"
                        "Total reclaimed space: 1kB\n"),
    (volume.prune, "Deleted Volumes:\nv1\n\nTotal reclaimed space: 1.5kB\n"),
    (network.prune, "Deleted Networks:\nn1\n\n"),  # docker's network prune prints no space
]


@pytest.mark.parametrize("command, expected", REPORTS, ids=["container", "image", "volume", "network"])
def test_forced_prune_prints_the_report_and_the_space(command, expected, capsys):
    assert run(command, ["-f"])[0] == 0
    assert capsys.readouterr().out == expected


@pytest.mark.parametrize("command, expected", [
    (prune.container_prune, "Total reclaimed space: 0B\n"),
    (volume.prune, "Total reclaimed space: 0B\n"),
    (network.prune, ""),
], ids=["container", "volume", "network"])
def test_nothing_pruned(command, expected, capsys):
    assert run(command, ["-f"], NOTHING)[0] == 0
    assert capsys.readouterr().out == expected


@pytest.mark.parametrize("command", [prune.container_prune, prune.image_prune, volume.prune, network.prune],
                         ids=["container", "image", "volume", "network"])
def test_a_no_at_the_prompt_prunes_nothing_and_succeeds(command, capsys):
    status, calls = run(command, [], stdin="n\n")
    assert (status, calls) == (0, [])
    assert capsys.readouterr().out.endswith("Are you sure you want to continue? [y/N] ")


def test_the_prompt_is_the_commands_own(capsys):
    run(volume.prune, ["-a"], stdin="y\n")
    assert capsys.readouterr().out.startswith(volume.ALL_WARNING + " [y/N] Deleted Volumes:\nv1\n")


@pytest.mark.parametrize("command, kind", [(prune.container_prune, "containers"), (prune.image_prune, "images"),
                                           (volume.prune, "volumes"), (network.prune, "networks")])
def test_a_daemon_error_is_status_1(command, kind):
    with pytest.raises(StatusError) as exc:
        run(command, ["-f"], failing=kind)
    assert (exc.value.code, exc.value.message) == (1, f"Error response from daemon: {kind} prune failed")


def test_system_prune_prints_each_report_in_docker_order_then_the_total(capsys):
    status, calls = run(prune.system_prune, ["-f", "--volumes", "--filter", "label=a"])
    assert status == 0
    assert [kind for kind, _ in calls] == ["containers", "networks", "volumes", "images", "build"]
    assert calls[0][1] == {"label": ["a"]} and calls[-1][1] is None  # the build cache has no labels
    assert capsys.readouterr().out == (
        "Deleted Containers:\nc1\nc2\n\n"
        "Deleted Networks:\nn1\n\n"
        "Deleted Volumes:\nv1\n\n"
        "Deleted Images:\nuntagged: busybox:latest\ndeleted: sha256:aa\n\n"
        "Total reclaimed space: 4.548kB\n")


def test_system_prune_all_prunes_all_the_build_cache_until_a_time():
    cli = StubCli(StubClient(ANSWERS))
    prune.system_prune(cli, ["-f", "-a", "--filter", "until=1h"], "ketch system prune")
    assert cli.client.calls[-1] == ("build", {"until": ["1h"]}) and cli.client.build_all is True
    cli = StubCli(StubClient(ANSWERS))
    prune.system_prune(cli, ["-f"], "ketch system prune")
    assert cli.client.build_all is False


def test_system_prune_without_volumes_and_with_build_cache(capsys):
    answers = {**ANSWERS, "build": {"CachesDeleted": ["b1"], "SpaceReclaimed": 10}}
    _, calls = run(prune.system_prune, ["-f"], answers)
    assert "volumes" not in [kind for kind, _ in calls]
    out = capsys.readouterr().out
    assert "Deleted Volumes" not in out
    assert out.endswith("Deleted build cache objects:\nb1\n\nTotal reclaimed space: 3.058kB\n")


def test_system_prune_stops_at_the_first_error(capsys):
    with pytest.raises(StatusError) as exc:
        run(prune.system_prune, ["-f"], failing="networks")
    assert (exc.value.code, exc.value.message) == (1, "Error response from daemon: networks prune failed")
    assert capsys.readouterr().out == "Deleted Containers:\nc1\nc2\n\n"
