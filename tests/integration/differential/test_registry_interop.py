"""ketch's registry server between ketchd and a real dockerd: what one daemon pushes there,
the other pulls and runs (dockerd 20.10's pushes and pulls are the oracle's)."""

import pytest

from tests.integration.test_registry_server import Registry

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("differential")]


def _run(target, *argv):
    res = target.run(tuple(argv))
    assert res.exit == 0, (target.name, argv, res.stdout, res.stderr)
    return res.stdout


@pytest.fixture
def registry(tmp_path):
    reg = Registry(str(tmp_path / "storage"))
    yield reg
    reg.stop()


def test_dockerd_and_ketchd_exchange_images_through_ketchs_registry(pair, registry):
    from_docker = f"{registry.host}/interop/from-docker:1"
    from_ketch = f"{registry.host}/interop/from-ketch:1"
    _run(pair.dockerd, "tag", "busybox", from_docker)
    _run(pair.ketchd, "tag", "busybox", from_ketch)
    try:
        pushed = {}
        for target, ref in ((pair.dockerd, from_docker), (pair.ketchd, from_ketch)):
            out = _run(target, "push", ref)
            pushed[ref] = out.splitlines()[-1].split()[2]
            _run(target, "rmi", ref)
        for target in (pair.dockerd, pair.ketchd):
            for ref in (from_docker, from_ketch):
                out = _run(target, "pull", ref)
                assert f"Digest: {pushed[ref]}" in out, (target.name, out)
                assert _run(target, "run", "--rm", ref, "echo", "ran") == "ran\n"
                _run(target, "rmi", ref)
    finally:
        for target in (pair.dockerd, pair.ketchd):
            for ref in (from_docker, from_ketch):
                target.run(("rmi", ref))
