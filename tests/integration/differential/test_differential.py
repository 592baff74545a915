"""Every row of the table (table.py), through the docker client and through ketch's CLI.

    test_docker_client[row]   docker ARGV -> ketchd   vs   docker ARGV -> dockerd   (the daemon)
    test_ketch_cli[row]       ketch ARGV  -> ketchd   vs   docker ARGV -> ketchd    (the client)

Each difference is found once, where it is made: a daemon that answers differently
fails test_docker_client; a CLI that prints differently from the docker client given
the same answers fails test_ketch_cli.

Run alone: flock /tmp/ketch-test.lock .venv/bin/python3 -m pytest -p no:cacheprovider
-q tests/integration/differential
"""

import pytest

from tests.integration.differential.harness import Play, compare, play_both
from tests.integration.differential.table import ROWS, Expect, Row

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("differential")]


def _params(which: str) -> list:
    out = []
    for row in ROWS:
        expect = row.expect if which == "api" else row.cli_expect()
        if expect is None:
            continue
        marks = [pytest.mark.xfail(strict=True, reason=expect.reason)] if expect.kind == "pending" else []
        out.append(pytest.param(row, expect, id=row.name, marks=marks))
    return out


def _check(pair, row: Row, expect: Expect, ref: Play, got: Play) -> None:
    a, b = play_both(ref, got, row, pair.cache)
    try:
        compare(row, expect, ref, a, got, b)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n({pair.versions})") from None


@pytest.mark.parametrize("row, expect", _params("api"))
def test_docker_client(pair, row, expect):
    _check(pair, row, expect, Play(pair.dockerd, "docker"), Play(pair.ketchd, "docker"))


@pytest.mark.parametrize("row, expect", _params("cli"))
def test_ketch_cli(pair, row, expect):
    _check(pair, row, expect, Play(pair.ketchd, "docker"), Play(pair.ketchd, "ketch"))
