"""``/events``, ``ketch events``, ``docker events`` and the SDK's ``client.events`` on a real
ketchd: the events of a container's life and of images, their shape, since/until, filters,
the live stream, and the replay ring across a daemon restart."""

import json
import os
import shutil
import stat
import subprocess
import time
import urllib.parse

import pytest

from tests.integration.conftest import PYTHON, REPO

needs_docker = pytest.mark.skipif(shutil.which("docker") is None, reason="docker CLI not installed")


def _query(**params) -> str:
    return urllib.parse.urlencode({k: (json.dumps(v) if isinstance(v, dict) else v)
                                   for k, v in params.items()})


def _past(daemon, since: float, **filters) -> list[dict]:
    """The events from ``since`` to now (until in the past: the replay alone)."""
    q = _query(since=f"{since:.9f}", until=f"{time.time():.9f}", filters=filters)
    status, body, _ = daemon.api("GET", f"/events?{q}", raw=True)
    assert status == 200, body
    return [json.loads(line) for line in body.splitlines() if line.strip()]


def test_a_containers_life_in_events(daemon, names):
    name, renamed = names(), names()
    t0 = time.time()
    cid = daemon.ketch("create", "--name", name, "-l", "tier=web", "busybox", "sh", "-c",
                       "trap 'exit 3' TERM; while true; do sleep 0.1; done", check=True).stdout.strip()
    daemon.ketch("start", name, check=True)
    daemon.ketch("pause", name, check=True)
    daemon.ketch("unpause", name, check=True)
    daemon.ketch("kill", "-s", "USR1", name, check=True)
    daemon.ketch("rename", name, renamed, check=True)
    daemon.ketch("restart", "-t", "5", renamed, check=True)
    daemon.ketch("stop", "-t", "5", renamed, check=True)
    daemon.ketch("rm", renamed, check=True)
    events = _past(daemon, t0, container=[cid])
    assert [e["Action"] for e in events] == [
        "create", "start", "pause", "unpause", "kill", "rename",
        "kill", "die", "stop", "start", "restart", "kill", "die", "stop", "destroy"]
    create, kill, rename, die = events[0], events[4], events[5], events[7]
    assert create == {
        "status": "create", "id": cid, "from": "busybox", "Type": "container", "Action": "create",
        "Actor": {"ID": cid, "Attributes": {"image": "busybox", "name": name, "tier": "web"}},
        "scope": "local", "time": create["timeNano"] // 10**9, "timeNano": create["timeNano"]}
    assert kill["Actor"]["Attributes"]["signal"] == "10"
    assert rename["Actor"]["Attributes"] == {"image": "busybox", "name": renamed,
                                             "oldName": "/" + name, "tier": "web"}
    assert die["Actor"]["Attributes"]["exitCode"] == "3"
    assert die["Actor"]["Attributes"]["execDuration"].isdigit()
    assert [e["timeNano"] for e in events] == sorted(e["timeNano"] for e in events)
    # filters: the type, the event, the label; a container by name prefix
    assert [e["Action"] for e in _past(daemon, t0, container=[cid], event=["die"])] == ["die"] * 2
    assert _past(daemon, t0, container=[cid], type=["image"]) == []
    assert len(_past(daemon, t0, label=["tier=web"], container=[cid])) == len(events)
    assert _past(daemon, t0, label=["tier=db"], container=[cid]) == []
    assert {e["Action"] for e in _past(daemon, t0, container=[renamed[:-4]])} >= {"rename", "destroy"}


def test_image_events(daemon, tmp_path):
    t0 = time.time()
    daemon.ketch("tag", "busybox", "evt/box:one", check=True)
    image_id = daemon.api("GET", "/images/evt/box:one/json")[1]["Id"]
    daemon.ketch("rmi", "evt/box:one", check=True)
    events = _past(daemon, t0, type=["image"])
    assert [(e["Action"], e["Actor"]["Attributes"]["name"]) for e in events] == [
        ("tag", "evt/box:one"), ("untag", image_id)]
    assert events[0]["status"] == "tag" and events[0]["id"] == image_id and "from" not in events[0]
    assert _past(daemon, t0, image=["evt/box"]) == events[:1]  # matched without the tag
    # import: tagged first, then imported (as dockerd does), with the image's labels
    (tmp_path / "f").write_text("x")
    subprocess.run(["tar", "-C", str(tmp_path), "-cf", str(tmp_path / "l.tar"), "f"], check=True)
    t1 = time.time()
    new_id = daemon.ketch("import", "-c", "LABEL il=1", str(tmp_path / "l.tar"), "evt/imp",
                          check=True).stdout.strip()
    daemon.ketch("rmi", "evt/imp", check=True)
    events = _past(daemon, t1, type=["image"])
    assert [(e["Action"], e["Actor"]["Attributes"]) for e in events] == [
        ("tag", {"il": "1", "name": "evt/imp:latest"}), ("import", {"il": "1", "name": new_id}),
        ("untag", {"il": "1", "name": new_id}), ("delete", {"name": new_id})]


def test_the_live_stream_until_and_disconnect(daemon, names):
    name = names()
    proc = subprocess.Popen(
        [PYTHON, "-I", "-S", "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
         "from ketch.cli.main import main; sys.exit(main(sys.argv[2:]))", REPO, "events", "--filter", f"container={name}", "--format",
         "{{.Type}} {{.Action}} {{.Actor.Attributes.name}} {{.Status}}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=daemon.env(), text=True)
    try:
        time.sleep(0.5)  # subscribed
        daemon.ketch("run", "--rm", "--name", name, "busybox", "true", check=True)
        lines = [proc.stdout.readline() for _ in range(5)]
    finally:
        proc.terminate()
        proc.wait(10)
    assert lines == [f"container {a} {name} {a}\n" for a in ("create", "attach", "start", "die", "destroy")]
    # `until` in the future ends the stream then, with what happened meanwhile
    now = time.time()
    started = time.monotonic()
    proc = subprocess.Popen(
        [PYTHON, "-I", "-S", "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
         "from ketch.cli.main import main; sys.exit(main(sys.argv[2:]))", REPO, "events",
         "--since", f"{now:.6f}", "--until", f"{now + 2:.6f}", "--filter", "event=tag",
         "--format", "{{.Actor.Attributes.name}}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=daemon.env(), text=True)
    try:
        time.sleep(0.5)
        daemon.ketch("tag", "busybox", "evt/live:1", check=True)
        out, err = proc.communicate(timeout=20)
    finally:
        daemon.ketch("rmi", "evt/live:1")
    assert (proc.returncode, out) == (0, "evt/live:1\n"), err
    assert 1.5 < time.monotonic() - started < 8


def test_ketch_events_prints_as_docker(daemon, names):
    name = names()
    t0 = time.time()
    cid = daemon.ketch("run", "-d", "--name", name, "busybox", "true", check=True).stdout.strip()
    assert daemon.ketch("wait", name).stdout == "0\n"
    daemon.ketch("rm", name, check=True)
    t1 = time.time()
    res = daemon.ketch("events", "--since", f"{t0:.6f}", "--until", f"{t1:.6f}",
                       "--filter", f"container={cid}")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert [line.split(" ", 3)[1:3] for line in lines] == [
        ["container", "create"], ["container", "start"], ["container", "die"], ["container", "destroy"]]
    stamp, _, _, rest = lines[2].split(" ", 3)
    assert rest == f"{cid} (execDuration=0, exitCode=0, image=busybox, name={name})"
    assert len(stamp) == len("2026-12-06T16:00:00.000000000Z")
    js = daemon.ketch("events", "--since", f"{t0:.6f}", "--until", f"{t1:.6f}",
                      "--filter", f"container={cid}", "--format", "json").stdout.splitlines()
    assert [json.loads(line)["Action"] for line in js] == ["create", "start", "die", "destroy"]
    # relative times, as docker's client converts them (to whole seconds)
    assert "create" in daemon.ketch("events", "--since", "1m", "--until", f"{t1:.6f}",
                                    "--filter", f"container={cid}").stdout
    bad = daemon.ketch("events", "--format", "{{.Nope}}")
    assert bad.returncode == 64 and bad.stderr.startswith("Error parsing format: template: ")


def test_bad_requests(daemon):
    status, body = daemon.api("GET", "/events?since=abc")
    assert (status, body["message"]) == (500, 'strconv.ParseInt: parsing "abc": invalid syntax')
    status, body = daemon.api("GET", "/events?since=20&until=10")
    assert (status, body["message"]) == (400, "`since` time (20) cannot be after `until` time (10)")
    status, body = daemon.api("GET", "/events?until=10&filters=%7Bnope")
    assert (status, body["message"]) == (400, "invalid filter")
    res = daemon.ketch("events", "--since", "yesterday")
    assert (res.returncode, res.stderr.strip()) == (
        1, 'invalid value for "since": failed to parse value as time or duration: "yesterday"')


@needs_docker
def test_docker_cli_prints_the_same(daemon, names):
    name = names()
    t0 = time.time()
    daemon.docker("run", "--name", name, "-l", "a=b", "busybox", "sh", "-c", "exit 2")
    daemon.docker("rm", name, check=True)
    t1 = time.time()
    for fmt in ([], ["--format", "{{json .}}"], ["--format", "{{.ID}} {{.From}} {{.Actor.Attributes}}"],
                ["--format", "table {{.Action}}\t{{.TimeNano}}"]):
        args = ["events", "--since", f"{t0:.6f}", "--until", f"{t1:.6f}", "--filter", f"container={name}", *fmt]
        ours, theirs = daemon.ketch(*args), daemon.docker(*args)
        assert (ours.returncode, ours.stdout) == (theirs.returncode, theirs.stdout), (ours.stderr, theirs.stderr)
        assert len(theirs.stdout.splitlines()) == 5  # create attach start die destroy
    assert daemon.docker("events", "--since", "bogus").returncode == daemon.ketch("events", "--since", "bogus").returncode


def test_sdk_events(daemon, names):
    client = daemon.sdk()
    name = names()
    t0 = time.time()
    c = client.containers.create("busybox", "true", name=name)
    c.start()
    c.wait()
    c.remove()
    stream = client.events(decode=True, since=t0, until=time.time(), filters={"container": c.id})
    actions = [e["Action"] for e in stream]
    assert actions == ["create", "start", "die", "destroy"]


def test_events_survive_a_restart(fresh_daemon):
    d = fresh_daemon
    t0 = time.time()
    cid = d.ketch("create", "busybox", "true", check=True).stdout.strip()
    d.restart()
    d.ketch("rm", cid, check=True)
    events = _past(d, t0, container=[cid])
    assert [e["Action"] for e in events] == ["create", "destroy"]
    path = os.path.join(d.data_root, "events.jsonl")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_resize_event(daemon, names):
    name = names()
    t0 = time.time()
    cid = daemon.ketch("run", "-d", "-t", "--name", name, "busybox", "sleep", "30", check=True).stdout.strip()
    status, _ = daemon.api("POST", f"/containers/{cid}/resize?h=30&w=100")
    assert status == 200
    daemon.ketch("rm", "-f", name, check=True)
    resize = _past(daemon, t0, container=[cid], event=["resize"])
    assert [e["Actor"]["Attributes"] for e in resize] == [
        {"height": "30", "image": "busybox", "name": name, "width": "100"}]


def test_attach_and_detach_events(daemon, names):
    """"detach" is for the detach keys alone; an attach that ends with its container is not."""
    import socket
    name = names()
    t0 = time.time()
    cid = daemon.ketch("run", "-dit", "--name", name, "busybox", "sh", check=True).stdout.strip()
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(daemon.socket)
        s.sendall(f"POST /v1.45/containers/{cid}/attach?stream=1&stdin=1&stdout=1&detachKeys=ctrl-x "
                  "HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n".encode())
        s.settimeout(20)
        head = b""
        while b"\r\n\r\n" not in head:
            head += s.recv(4096)
        s.sendall(b"\x18")
        while s.recv(4096):
            pass
    daemon.ketch("rm", "-f", name, check=True)
    actions = [e["Action"] for e in _past(daemon, t0, container=[cid])]
    assert actions == ["create", "start", "attach", "detach", "kill", "die", "destroy"]
