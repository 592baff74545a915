"""``run``/``create`` mount flags: the body docker 28 sends, and its errors.

tests/golden/mountflags_docker28.jsonl holds what the docker 28.2.2 CLI did for each
command line of tests/golden/mountflags_cases.txt (``docker create <argv> busybox``
against tests/fakedaemon.py, recorded by scripts/record_mountflags.py): the mount fields
of the create body, or its exit status and stderr ("docker" read as "ketch"). Relative
sources were resolved in a directory written ``$PWD`` (its parent ``$PARENT``); docker's
Binds come out of a Go map in random order, so they are compared sorted.
"""

import json
import re

import pytest

from ketch.cli import mountopts, runconfig
from ketch.cli.flags import parse, render_help
from tests.createflag_helpers import create_outcome, golden_cases

CASES = golden_cases("mountflags_docker28.jsonl")
HOST_FIELDS = ("Binds", "Mounts", "Tmpfs", "VolumesFrom", "VolumeDriver")
_LOGRUS_TIME = re.compile(r'^time="[^"]+"', re.M)


def _fields(body: dict) -> dict:
    out = {"Volumes": body.get("Volumes"), **{k: body["HostConfig"].get(k) for k in HOST_FIELDS}}
    if out["Binds"]:
        out["Binds"] = sorted(out["Binds"])
    return out


@pytest.mark.parametrize("case", CASES, ids=lambda c: " ".join(c["argv"]))
def test_create_body_and_errors_are_docker_28s(case, tmp_path, monkeypatch, capsys):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    expected = json.loads(json.dumps({k: v for k, v in case.items() if k != "argv"})
                          .replace("$PWD", str(cwd)).replace("$PARENT", str(tmp_path)))
    got = create_outcome(case["argv"], _fields)
    warnings = capsys.readouterr().err
    if warnings:
        got["stderr"] = warnings + got.get("stderr", "")
    if "fields" in expected and "stderr" in expected:  # a warning: its time is the run's
        expected["stderr"] = _LOGRUS_TIME.sub('time="T"', expected["stderr"])
        got["stderr"] = _LOGRUS_TIME.sub('time="T"', got["stderr"])
    assert got == expected


def test_the_golden_covers_the_flags():
    seen = {a for c in CASES for a in c["argv"] if a.startswith("-")}
    assert {"-v", "--volume", "--mount", "--tmpfs", "--volumes-from", "--volume-driver"} <= seen
    assert sum("exit" in c for c in CASES) >= 30


def test_binds_keep_the_command_lines_order_once_each():
    opts, args = parse(runconfig.RUN, ["-v", "/z:/z", "-v", "/a:/a", "-v", "/z:/z", "busybox"])
    assert runconfig.build(opts, args, False)["HostConfig"]["Binds"] == ["/z:/z", "/a:/a"]


def test_the_first_bad_volume_on_the_command_line_is_the_one_named():
    opts, args = parse(runconfig.RUN, ["-v", "/b::/x", "-v", "", "busybox"])
    with pytest.raises(runconfig.ConfigError, match="^invalid spec: /b::/x: empty section"):
        runconfig.build(opts, args, False)


def test_the_warning_has_logrus_shape(capsys):
    mountopts.parse_mount("type=bind,src=/a,dst=/b,bind-nonrecursive=1")
    err = capsys.readouterr().err
    assert re.fullmatch(r'time="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)" level=warning '
                        r'msg="bind-nonrecursive is deprecated, use bind-recursive=disabled instead"\n',
                        err), err


def test_help_lists_the_flags_as_docker_does():
    text = render_help(runconfig.RUN, width=200)
    for line in ("      --mount mount ", "      --tmpfs list ", "  -v, --volume list ",
                 "      --volume-driver string ", "      --volumes-from list "):
        assert line in text
