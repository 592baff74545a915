"""ketch.api.views.status_text and command_text against moby.

status_text is moby's State.String(); command_text is the `Command` of
GET /containers/json (args with a space in single quotes, the path never).
The clock is fixed: views reads time.time() through its own `time` name.
"""

import types

import pytest

from ketch import timefmt
from ketch.api import views
from ketch.engine.containers.records import ContainerRecord
from ketch.engine.containers.state import ContainerState

NOW = 1795387800.0


def ago(seconds):
    return timefmt.format_ns(int((NOW - seconds) * 10**9))


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch):
    monkeypatch.setattr(views, "time", types.SimpleNamespace(time=lambda: NOW))


def record(path="sh", args=(), **state):
    st = ContainerState().to_docker()
    st.update(state)
    return ContainerRecord(id="c" * 64, name="web", created=ago(600), image="busybox",
                           image_id="sha256:" + "a" * 64, config={}, host_config={},
                           path=path, args=list(args), snapshot="s", parents=[],
                           state=ContainerState.from_docker(st))


STATUS = [
    ({}, "Created"),
    ({"Status": "running", "Running": True, "StartedAt": ago(0)}, "Up Less than a second"),
    ({"Status": "running", "Running": True, "StartedAt": ago(0.5)}, "Up Less than a second"),
    ({"Status": "running", "Running": True, "StartedAt": ago(1)}, "Up 1 second"),
    ({"Status": "running", "Running": True, "StartedAt": ago(150)}, "Up 2 minutes"),
    ({"Status": "running", "Running": True, "StartedAt": ago(3 * 3600)}, "Up 3 hours"),
    ({"Status": "paused", "Running": True, "Paused": True, "StartedAt": ago(150)},
     "Up 2 minutes (Paused)"),
    ({"Status": "exited", "StartedAt": ago(300), "FinishedAt": ago(150), "ExitCode": 3},
     "Exited (3) 2 minutes ago"),
    ({"Status": "exited", "StartedAt": ago(9000), "FinishedAt": ago(3600), "ExitCode": 0},
     "Exited (0) About an hour ago"),
    ({"Status": "exited", "StartedAt": ago(9), "FinishedAt": ago(0), "ExitCode": 137},
     "Exited (137) Less than a second ago"),
    # a start that failed leaves the container "created", with the error recorded
    ({"ExitCode": 127, "Error": "exec: \"nope\": executable file not found in $PATH"}, "Created"),
    ({"Status": "removing", "StartedAt": ago(300), "FinishedAt": ago(150)}, "Removal In Progress"),
    ({"Status": "dead", "Dead": True, "StartedAt": ago(300), "FinishedAt": ago(150)}, "Dead"),
    ({"Status": "exited", "StartedAt": ago(300)}, ""),  # started, never finished, not running
    ({"Status": "restarting", "Running": True, "Restarting": True, "ExitCode": 1,
                  "StartedAt": ago(60), "FinishedAt": ago(5)}, "Restarting (1) 5 seconds ago"),
]


@pytest.mark.parametrize("state,text", STATUS)
def test_status_text(state, text):
    st = ContainerState().to_docker()
    st.update(state)
    assert views.status_text(st) == text


COMMANDS = [
    ("sh", [], "sh"),
    ("echo", ["hi"], "echo hi"),
    # docker ps --no-trunc showed "sh -c 'echo \"hello world\" && sleep 1'"
    ("sh", ["-c", 'echo "hello world" && sleep 1'], "sh -c 'echo \"hello world\" && sleep 1'"),
    ("/bin/my prog", ["a"], "/bin/my prog a"),  # the path is never quoted
    ("echo", ["it's here"], "echo 'it's here'"),  # no escaping inside the quotes
    ("echo", ["a\tb"], "echo a\tb"),  # only a space triggers quoting
    ("echo", [""], "echo "),
    ("echo", ["", "x"], "echo  x"),
]


@pytest.mark.parametrize("path,args,text", COMMANDS)
def test_command_text(path, args, text):
    assert views.command_text(record(path, args)) == text
