"""The drift guard's normalisers and table (tests/integration/differential), without daemons."""

import re

import pytest

from tests.integration.differential.normalise import Norm, Side, normalise, normalise_text
from tests.integration.differential.table import FIXTURE_NAMES, FIXTURES, ROWS, differs

DOCKERD = Side("unix:///tmp/kd-abc/docker.sock", "/tmp/kd-abc")
KETCH = Side("unix:///tmp/kt-xyz/ketch.sock", "/tmp/kt-xyz", program="ketch")
ID64 = "d1d2f8a5ae1eb7fb607cce6a1f9191db464a56e09e73b4b2a15dc78a0764a27c"


@pytest.mark.parametrize("text, expected", [
    (ID64, "<id>"),
    (f"sha256:{ID64}", "sha256:<id>"),
    ("container 181b871f21f7 is using", "container <id> is using"),
    ("123456789012", "<id>"),                       # 12 hex digits, all of them digits
    ("1234567890123", "1234567890123"),             # not an id: 13 digits
    ("2026-12-06T16:08:33.923304449Z", "<time>"),
    ("2026-12-06T16:08:33+01:00", "<time>"),
    ("2026-12-06 16:08:24 +0000 UTC", "<time>"),
    ("Up Less than a second", "Up <duration>"),
    ("Up About a minute (Paused)", "Up <duration> (Paused)"),
    ("Exited (3) 5 seconds ago", "Exited (3) <duration> ago"),
    ("7 months ago", "<duration> ago"),
    ("1.98MB", "<size>"),
    ("0B (virtual 2.14MB)", "<size> (virtual <size>)"),
    ("Cannot connect to the Docker daemon at unix:///tmp/kd-abc/docker.sock.",
     "Cannot connect to the Docker daemon at <host>."),
    ("/tmp/kd-abc/data/overlay2/x", "<root>/data/overlay2/x"),
    ("OCI runtime create failed: runc create failed: x", "OCI runtime create failed: <runtime> create failed: x"),
    ("1.41", "1.41"),                               # API versions only where a row asks
])
def test_normalise_text(text, expected):
    assert normalise_text(text, DOCKERD, Norm()) == expected


def test_api_versions_and_names_where_asked():
    assert normalise_text("1.41 / 1.45", DOCKERD, Norm(api_version=True)) == "<api> / <api>"
    assert normalise_text("focused_turing", DOCKERD, Norm(names=True)) == "<name>"
    assert normalise_text("focused_turing", DOCKERD, Norm()) == "focused_turing"


def test_the_same_command_on_two_daemons_compares_equal():
    dockerd = ("CONTAINER ID   IMAGE     COMMAND       CREATED                  STATUS"
               "                  PORTS     NAMES\n"
               "3319e47876d5   busybox   \"sleep 600\"   Less than a second ago   Up Less than a second"
               " (Paused)             dt-paused\n")
    ketchd = ("CONTAINER ID   IMAGE     COMMAND       CREATED         STATUS                  PORTS     NAMES\n"
              "43a412cd679f   busybox   \"sleep 600\"   6 seconds ago   Up 6 seconds (Paused)             dt-paused\n")
    a, b = normalise(dockerd, DOCKERD, Norm(table=True)), normalise(ketchd, KETCH, Norm(table=True))
    assert a == b
    assert a[1] == ["<id>", "busybox", '"sleep 600"', "<duration> ago", "Up <duration> (Paused)", "dt-paused"]
    # padding only: without the table view the two lines differ
    assert normalise(dockerd, DOCKERD, Norm()) != normalise(ketchd, KETCH, Norm())


def test_ketchs_name_where_it_prints_its_own():
    text = "ketch: Error response from daemon: x\nRun 'ketch run --help' for more information\nUsage:  ketch run"
    assert normalise(text, KETCH, Norm()) == [
        "docker: Error response from daemon: x", "Run 'docker run --help' for more information",
        "Usage:  docker run"]
    # ...and nowhere else: "ketch create failed", "this ketch", "ketch import" stay
    assert normalise_text("use `ketch import` with this ketch", KETCH, Norm()) == "use `ketch import` with this ketch"


def test_masks_and_sorting():
    masks = (r'"Networks":"[^"]*"',)
    assert normalise('{"Networks":"bridge","State":"x"}', DOCKERD, Norm(), masks) == ['{,"State":"x"}']
    assert normalise("b\na\n", DOCKERD, Norm(sort_lines=True)) == ["a", "b"]


def test_table_rows_are_well_formed():
    names = [row.name for row in ROWS]
    assert len(names) == len(set(names)), "row names must be unique (they are the test ids)"
    for row in ROWS:
        for expect in (row.expect, row.cli_expect()):
            if expect is None or expect.kind == "same":
                continue
            assert expect.reason, row.name
            if expect.kind == "pending":  # the lead checks these against the fixes as they land
                assert expect.reason.startswith(("issue ", "drift guard: ")), (row.name, expect.reason)
        # containers a row makes are named dt-*, never a fixture's name (invalid names aside)
        made = [step[step.index("--name") + 1] for step in row.setup + (row.argv,) if "--name" in step]
        made = [n for n in made if re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+", n)]
        assert all(n.startswith("dt-") for n in made), (row.name, made)
        assert not set(made) & set(FIXTURE_NAMES) or row.name == "run-name-conflict", row.name


def test_fixtures_name_every_fixture_container():
    made = [argv[argv.index("--name") + 1] for argv, _ in FIXTURES if "--name" in argv]
    assert made == list(FIXTURE_NAMES)


def test_differs_needs_something_set_aside():
    with pytest.raises(AssertionError):
        differs("why")
    with pytest.raises(AssertionError):
        differs("why", "stdin")
