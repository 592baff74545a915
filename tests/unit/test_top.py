"""ketch.engine.containers.top: moby's parsePSOutput, validatePSArgs and the ps call."""

import os

import pytest

from ketch import errors
from ketch.engine.containers import top

PS_EF = """UID          PID    PPID  C STIME TTY          TIME CMD
root           1       0  0 Nov22 ?        00:00:04 /sbin/init
root         200     100  0 01:28 ?        00:00:00 sleep 999
root         201     200  0 01:28 pts/0    00:00:00 sh -c  echo  a   b
"""


def test_rows_of_the_container_only_and_the_last_column_keeps_its_spaces():
    doc = top.parse_ps_output(PS_EF, {200, 201}).to_docker()
    assert doc["Titles"] == ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
    assert doc["Processes"] == [
        ["root", "200", "100", "0", "01:28", "?", "00:00:00", "sleep 999"],
        ["root", "201", "200", "0", "01:28", "pts/0", "00:00:00", "sh -c echo a b"],
    ]


def test_thread_rows_follow_their_process():
    out = "PID LWP CMD\n200 - sleep\n- 200 -\n- 202 -\n300 - other\n- 300 -\n"
    doc = top.parse_ps_output(out, {200})
    assert doc.processes == [["200", "-", "sleep"], ["-", "200", "-"], ["-", "202", "-"]]


def test_only_go_ascii_white_space_splits():
    # fieldsASCII splits on \t \n \f \r and space only: not \v, not U+00A0
    doc = top.parse_ps_output("PID CMD\n200 caf\u00e9\u00a0x\vz y\n", {200})
    assert doc.processes == [["200", "caf\u00e9\u00a0x\vz y"]]


def test_errors_in_mobys_words():
    with pytest.raises(errors.Internal, match="^Couldn't find PID field in ps output$"):
        top.parse_ps_output("COMMAND\nsleep\n", {1})
    with pytest.raises(errors.Internal, match="^Unexpected pid 'x': strconv.Atoi: parsing \"x\": invalid syntax$"):
        top.parse_ps_output("PID CMD\nx sleep\n", {1})
    assert top.parse_ps_output("PID CMD\n", {1}).to_docker() == {"Titles": ["PID", "CMD"], "Processes": []}


@pytest.mark.parametrize("args, message", [
    ("-ef", None), ("-o pid,comm", None), ("-o pid=PID", None),
    ("-o x=PID", 'specifying "x=PID" is not allowed'),
    ("-o user, comm=PIDX", 'specifying "comm=PIDX" is not allowed'),
    ("-ef --no-headers", "option --no-headers is not allowed"),
    ("aux --noheading", "option --noheading is not allowed"),
])
def test_validate_args(args, message):
    if message is None:
        top.validate_args(args)
    else:
        with pytest.raises(errors.Internal, match=f"^{message}$"):
            top.validate_args(args)


@pytest.mark.skipif(not os.path.exists("/bin/ps") and not os.path.exists("/usr/bin/ps"), reason="no ps")
def test_real_ps_keeps_only_the_given_pids():
    me = os.getpid()
    doc = top.top("-o pid,comm", [me])
    assert doc.titles == ["PID", "COMMAND"]
    assert [row[0] for row in doc.processes] == [str(me)]
    # options that refuse -q are retried without it (moby's fallback)
    doc = top.top("-ef", [me])
    assert [row[1] for row in doc.processes] == [str(me)]
    with pytest.raises(errors.Internal, match="^ps: "):
        top.top("--nosuchoption", [me])
