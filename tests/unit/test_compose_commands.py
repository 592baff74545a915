"""The pure parts of H5's compose commands: ps rows, events lines, config output,
run's -p/-v parsing, exec's -e resolution, ls/top tables."""

import io
import json
import os

import pytest

from ketch.compose import configdoc, eventlines
from ketch.compose.commands.interactive import resolve_env
from ketch.compose.errors import ComposeError
from ketch.compose.model import (BindOptions, Network, PortConfig, Project, Service,
                                 ServiceNetwork, ServiceVolume, Volume)
from ketch.compose.psrows import ComposeContainer
from ketch.compose.runflags import parse_ports, parse_volume

GOLDEN = os.path.join(os.path.dirname(__file__), "..", "golden", "compose", "commands")

LABELS = {"com.docker.compose.project": "p", "com.docker.compose.service": "web"}


def test_ps_row_fields():
    c = {"Id": "a" * 64, "Names": ["/p-web-1"], "Image": "docker.io/library/busybox:latest",
         "Command": "sleep 1000000000", "Labels": LABELS, "State": "running", "Status": "Up 1 second",
         "Ports": [{"PrivatePort": 80, "PublicPort": 8080, "IP": "0.0.0.0", "Type": "tcp"},
                   {"PrivatePort": 53, "Type": "udp"}]}
    row = ComposeContainer(c, {"State": {"Status": "running", "Health": {"Status": "healthy"}}})
    assert (row.Name, row.Service, row.Project) == ("p-web-1", "web", "p")
    assert row.Image == "docker.io/library/busybox:latest"  # as the container reports it
    assert row.Command == '"sleep 1000000000"'
    assert row.Health == "healthy" and row.ExitCode == 0
    assert row.Ports == "53/udp, 0.0.0.0:8080->80/tcp"
    assert row.Publishers[0] == {"URL": "", "TargetPort": 53, "PublishedPort": 0, "Protocol": "udp"}
    doc = json.loads(row._go_marshal_json())
    assert sorted(doc) == sorted(ComposeContainer.FIELDS)
    exited = ComposeContainer(dict(c, State="exited"), {"State": {"Status": "exited", "ExitCode": 3}})
    assert exited.ExitCode == 3 and exited.Health == ""


def _event(**attrs):
    return {"Type": "container", "Action": "start", "timeNano": 1_700_000_000_123_456_789,
            "Actor": {"ID": "c" * 64, "Attributes": {"com.docker.compose.service": "web",
                                                     "name": "p-web-1", "image": "busybox", **attrs}}}


def test_event_lines(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    import time
    time.tzset()
    line = eventlines.event_line(_event(), [], False)
    assert line == f"2023-11-14 22:13:20.123456 container start {'c' * 64} (image=busybox, name=p-web-1)\n\n"
    doc = json.loads(eventlines.event_line(_event(), ["web"], True))
    assert doc == {"action": "start", "attributes": {"image": "busybox", "name": "p-web-1"},
                   "id": "c" * 64, "service": "web", "time": "2023-11-14T22:13:20.123456789Z",
                   "type": "container"}
    assert eventlines.event_line(_event(), ["db"], True) is None
    assert eventlines.event_line(_event(**{"com.docker.compose.oneoff": "True"}), [], True) is None
    assert eventlines.event_line(dict(_event(), Type="network"), [], True) is None


def _project():
    web = Service(name="web", image="busybox", command=["sh", "-c", "echo $HOME"],
                  environment={"A": "1", "B": None},
                  ports=[PortConfig(target=80, published="8080", protocol="tcp", mode="ingress")],
                  volumes=[ServiceVolume(type="volume", source="data", target="/data")],
                  networks={"default": None, "back": ServiceNetwork(aliases=["w"])},
                  depends_on={}, cap_add=["NET_ADMIN"], labels={"x": "yes"})
    db = Service(name="db", image="postgres:16", networks={"back": None})
    return Project(name="p", working_dir="/srv/p", config_files=["/srv/p/compose.yaml"],
                   services={"web": web, "db": db},
                   networks={"default": Network(name="p_default"), "back": Network(name="p_back")},
                   volumes={"data": Volume(name="p_data")})


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_config_document_golden(fmt):
    doc = configdoc.document(_project())
    text = configdoc.to_yaml(doc) if fmt == "yaml" else configdoc.to_json(doc) + "\n"
    path = os.path.join(GOLDEN, f"config.{fmt}")
    if os.environ.get("UPDATE_GOLDEN"):
        with open(path, "w") as f:
            f.write(text)
    with open(path) as f:
        assert text == f.read()


def test_config_yaml_loads_back():
    import yaml
    doc = configdoc.document(_project())
    assert yaml.safe_load(configdoc.to_yaml(doc)) == doc
    assert list(doc["services"]["web"])[:3] == ["cap_add", "command", "environment"]


def test_run_ports_and_volumes(tmp_path):
    assert parse_ports("127.0.0.1:8080:80/udp") == [
        PortConfig(target=80, published="8080", host_ip="127.0.0.1", protocol="udp")]
    assert [p.target for p in parse_ports("9000-9001:80-81")] == [80, 81]
    assert parse_ports("80") == [PortConfig(target=80)]
    with pytest.raises(ComposeError):
        parse_ports("80/sctpx")
    anonymous, named = parse_volume("/data"), parse_volume("cache:/c:ro")
    assert (anonymous.type, anonymous.source, anonymous.target) == ("volume", None, "/data")
    assert (named.type, named.source, named.target, named.read_only) == ("volume", "cache", "/c", True)
    assert parse_volume("./x:/x", str(tmp_path)) == ServiceVolume(
        type="bind", source=str(tmp_path / "x"), target="/x", bind=BindOptions(create_host_path=True))


def test_exec_env_resolution():
    env = {"HOME": "/root"}
    assert resolve_env(["A=1", "HOME", "MISSING", "B="], env.get) == ["A=1", "HOME=/root", "B="]


def test_ls_table_and_json():
    from ketch.compose.commands.query import _print_section

    class Ctx:
        out = io.StringIO()
    view = [{"Name": "p", "Status": "running(2)", "ConfigFiles": "/p/compose.yaml"}]
    _print_section(Ctx, "table", view, ("NAME", "STATUS", "CONFIG FILES"))
    assert Ctx.out.getvalue() == ("NAME                STATUS              CONFIG FILES\n"
                                  "p                   running(2)          /p/compose.yaml\n")
    Ctx.out = io.StringIO()
    _print_section(Ctx, "json", view, ())
    assert Ctx.out.getvalue() == '[{"Name":"p","Status":"running(2)","ConfigFiles":"/p/compose.yaml"}]\n'
    with pytest.raises(ComposeError, match='format value "xml" could not be parsed: parsing failed'):
        _print_section(Ctx, "xml", view, ())
