"""The daemon pair of the differential tests: a ketchd and a dockerd of their own.

One pair for the whole module (starting dockerd costs seconds, and each of its
containers half a second), with the same fixture containers made on both. Where
dockerd cannot start (not installed, refuses to run here), every differential test
is skipped with the reason, and a warning repeats it in pytest's summary: the rest of
the suite runs.
"""

import os
import shutil
import tempfile
import warnings
from concurrent.futures import ThreadPoolExecutor

import pytest

from ketch.image import embedded
from tests.integration.conftest import destroy_daemon, make_daemon
from tests.integration.differential.dockerd import Dockerd, DockerdUnavailable
from tests.integration.differential.harness import Target, docker_client
from tests.integration.leftovers import assert_nothing_left


class DifferentialSkipped(UserWarning):
    """The differential tests did not run: dockerd or the docker client is missing."""


def _unavailable(reason: str):
    message = f"DIFFERENTIAL TESTS SKIPPED: {reason}"
    warnings.warn(DifferentialSkipped(message))
    pytest.skip(message)


def _import_busybox(dockerd: Target, workdir: str) -> None:
    """The embedded image's rootfs and changes, imported as busybox:latest."""
    tar = os.path.join(workdir, "busybox.tar")
    with open(tar, "wb") as f:
        embedded.build_rootfs_tar(f)
    argv = ["import"]
    for change in embedded.CHANGES:
        argv += ["-c", change]
    res = dockerd.run((*argv, tar, embedded.REFERENCE))
    os.unlink(tar)
    if res.exit != 0:
        raise RuntimeError(f"docker import into dockerd failed: {res.stderr}")


class Pair:
    def __init__(self, dockerd: Target, ketchd: Target, versions: str) -> None:
        self.dockerd = dockerd
        self.ketchd = ketchd
        self.versions = versions   # the docker client's and dockerd's, as compared
        self.cache: dict = {}      # (row name, "client -> daemon") -> Result


@pytest.fixture(scope="module")
def pair():
    if docker_client() is None:
        _unavailable("no docker client on PATH (scripts/install.sh --with-tests installs docker.io)")
    dockerd = Dockerd()
    try:
        dockerd.start()
    except DockerdUnavailable as exc:
        leftovers = dockerd.stop()
        assert not leftovers, leftovers
        _unavailable(f"dockerd could not start: {exc}")
    ketchd = None
    configs = tempfile.mkdtemp(prefix="dt-config-", dir="/tmp")
    try:
        ketchd = make_daemon()
        reference = Target("dockerd", dockerd.socket, dockerd.root, os.path.join(configs, "dockerd"))
        target = Target("ketchd", ketchd.socket, ketchd.root, os.path.join(configs, "ketchd"))
        version = reference.run(("version", "--format", "{{.Client.Version}} (API {{.Client.APIVersion}}) "
                                 "against dockerd {{.Server.Version}} (API {{.Server.APIVersion}})"))
        _import_busybox(reference, dockerd.root)
        with ThreadPoolExecutor(2) as pool:  # dockerd takes ~0.5 s a container
            for future in [pool.submit(t.make_fixtures) for t in (reference, target)]:
                future.result()
        yield Pair(reference, target, f"docker client {version.stdout.strip()}")
    finally:
        problems = []
        if ketchd is not None:
            try:  # what issue 6's tests check: no container, process, mount, cgroup, state
                ketchd.remove_all_containers()
                assert_nothing_left(ketchd)
            except AssertionError as exc:
                problems.append(f"ketchd: {exc}")
            try:
                destroy_daemon(ketchd)
            except AssertionError as exc:
                problems.append(f"ketchd: {exc}")
        leftovers = dockerd.stop()
        if leftovers:
            problems.append(f"dockerd left: {leftovers}")
        shutil.rmtree(configs, ignore_errors=True)
        assert not problems, problems
