"""CVE-2021-30465 through the whole engine: a container keeps swapping a directory of a
named volume for a symlink to a host directory while other containers start with the
same volume and a bind mounted through that directory. No mount may land outside the
starting container's root (the host's mount table, and the container's own view).

The runtime-level race, with a faster swapper (renameat2 RENAME_EXCHANGE), is
tests/integration/test_runtime_mounts.py; this one goes through ketchd, its bundles, the
fork server and the volume service."""

import os
import secrets

import pytest

from tests.integration.conftest import _mounts_under

# busybox's applets: the link exists between "ln" and "rm", the directory the rest of the time
SWAP = "mkdir -p /vol/x/bound; while :; do mv /vol/x /vol/d; ln -s {host} /vol/x; rm /vol/x; mv /vol/d /vol/x; done"


def test_a_swapped_volume_directory_never_sends_a_mount_out(daemon, tmp_path):
    volume = f"race{os.getpid()}x{secrets.token_hex(4)}"
    swapper = f"swap-{secrets.token_hex(4)}"
    host = tmp_path / "host"  # what the symlink names, a real directory on the host
    (host / "bound").mkdir(parents=True)
    marker = tmp_path / "race-bind-marker"
    marker.mkdir()
    res = daemon.ketch("run", "-d", "--name", swapper, "-v", f"{volume}:/vol", "busybox",
                       "sh", "-c", SWAP.format(host=host))
    if res.returncode != 0 and "is not supported by this version of ketch" in res.stderr:
        pytest.skip("named volumes are not in this build (issue 11)")
    assert res.returncode == 0, res.stderr
    inside = refused = 0
    try:
        for _ in range(12):
            res = daemon.ketch("run", "--rm", "-v", f"{volume}:/vol", "-v", f"{marker}:/vol/x/bound:ro",
                               "busybox", "sh", "-c", "echo $(grep -c race-bind-marker /proc/self/mountinfo)")
            assert not _mounts_under(str(host)), "a container's mount landed on the host"
            if res.returncode == 0:
                assert res.stdout.split() == ["1"], "the bind is not inside the container"
                inside += 1
            else:  # refusing to start is safe
                assert "error mounting" in res.stderr or "changed while mounting" in res.stderr, res.stderr
                refused += 1
    finally:
        daemon.ketch("rm", "-f", swapper)
        daemon.api("DELETE", f"/volumes/{volume}?force=1")
    print(f"race: {inside} started, {refused} refused")
    assert inside >= 3, f"only {inside} of 12 containers started ({refused} refused)"
    assert os.listdir(host / "bound") == []
    assert not _mounts_under(str(tmp_path))
