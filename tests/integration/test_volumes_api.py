"""Volumes as objects: the /volumes API, ``ketch volume``, the docker CLI (DOCKER_HOST) and
the docker SDK's ``client.volumes`` against ketchd; outputs as docker 28 prints them
against a daemon of API 1.45 (recorded from dockerd 20.10 where the two agree).

Each test uses volume names of its own (a ``kv<hex>`` prefix) and removes them.
"""

import json
import os
import shutil
import stat
import time
import uuid
from urllib.parse import quote

import pytest

needs_docker = pytest.mark.skipif(shutil.which("docker") is None, reason="docker CLI not installed")
BAD_NAME = ('Error response from daemon: create {0}: "{0}" includes invalid characters for a local '
            'volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a '
            'host directory, use absolute path\n')


@pytest.fixture
def vname(daemon):
    """Volume names for one test; whatever is left of them is removed afterwards."""
    prefix = f"kv{uuid.uuid4().hex[:8]}"
    made: list[str] = []

    def make(suffix: str = "") -> str:
        name = f"{prefix}{suffix or len(made)}"
        made.append(name)
        return name

    make.prefix = prefix
    yield make
    for name in made:
        daemon.api("DELETE", f"/volumes/{name}?force=1")


def _q(filters: dict) -> str:
    return quote(json.dumps(filters))


def _names(daemon, *filters: str) -> list[str]:
    res = daemon.ketch("volume", "ls", "-q", *[a for f in filters for a in ("-f", f)])
    assert res.returncode == 0, res.stderr
    return res.stdout.split()


def test_create_inspect_ls_rm_with_the_ketch_cli(daemon, vname):
    v1, v2, vt = vname("a"), vname("b"), vname("t")
    assert daemon.ketch("volume", "create", "--name", v1).stdout == f"{v1}\n"
    res = daemon.ketch("volume", "create", "--label", "a=b", "--label", "c", v2)
    assert (res.returncode, res.stdout) == (0, f"{v2}\n")
    res = daemon.ketch("volume", "create", "--label", "x=y", v2)  # as it was: labels kept
    assert (res.returncode, res.stdout) == (0, f"{v2}\n")
    daemon.ketch("volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=1m", vt,
                 check=True)
    docs = json.loads(daemon.ketch("volume", "inspect", v2, vt, check=True).stdout)
    data_root = os.path.join(daemon.data_root, "volumes")
    assert docs == [
        {"CreatedAt": docs[0]["CreatedAt"], "Driver": "local", "Labels": {"a": "b", "c": ""},
         "Mountpoint": f"{data_root}/{v2}/_data", "Name": v2, "Options": None, "Scope": "local"},
        {"CreatedAt": docs[1]["CreatedAt"], "Driver": "local", "Labels": None,
         "Mountpoint": f"{data_root}/{vt}/_data", "Name": vt,
         "Options": {"device": "tmpfs", "o": "size=1m", "type": "tmpfs"}, "Scope": "local"}]
    assert time.strptime(docs[0]["CreatedAt"], "%Y-%m-%dT%H:%M:%SZ")
    res = daemon.ketch("volume", "inspect", "-f", "{{.Name}} {{json .Labels}} {{.Options}} {{.Status}}",
                       v1, "kv-nope")
    assert res.returncode == 1
    assert res.stdout == f"{v1} null map[] map[]\n"
    assert res.stderr == "Error response from daemon: get kv-nope: no such volume\n"
    res = daemon.ketch("volume", "ls", "-f", f"name={vname.prefix}")
    assert res.stdout == "DRIVER    VOLUME NAME\n" + "".join(f"local     {v}\n" for v in (v1, v2, vt))
    res = daemon.ketch("volume", "ls", "-f", f"name={vname.prefix}", "--format",
                       "{{.Name}}|{{.Labels}}|{{.Label \"a\"}}|{{.Links}}|{{.Size}}|{{.Scope}}")
    assert res.stdout == f"{v1}||||N/A|N/A|local\n{v2}|a=b,c=|b|N/A|N/A|local\n{vt}||||N/A|N/A|local\n".replace(
        "||||", "|||")
    assert _names(daemon, f"name={vname.prefix}", "label=a") == [v2]
    assert _names(daemon, f"name={vname.prefix}", "label=a=c") == []
    assert _names(daemon, f"name={vname.prefix}", "dangling=true") == [v1, v2, vt]
    assert _names(daemon, f"name={vname.prefix}", "dangling=false") == []
    assert _names(daemon, f"name={vname.prefix}", "driver=loc") == []
    res = daemon.ketch("volume", "rm", v1, "kv-nope", vt)
    assert (res.returncode, res.stdout) == (1, f"{v1}\n{vt}\n")
    assert res.stderr == "Error response from daemon: get kv-nope: no such volume\n"
    assert daemon.ketch("volume", "rm", "-f", "kv-nope").stdout == "kv-nope\n"
    assert not os.path.exists(os.path.join(data_root, v1))
    assert _names(daemon, f"name={vname.prefix}") == [v2]


@pytest.mark.parametrize("args, stderr", [
    (["a/b"], BAD_NAME.format("a/b")),
    (["--", ".."], BAD_NAME.format("..")),
    (["--", "-x"], BAD_NAME.format("-x")),
    (["a"], "Error response from daemon: create a: volume name is too short, names should be at "
            "least two alphanumeric characters\n"),
    (["-d", "nosuch", "kvd"], 'Error response from daemon: create kvd: error looking up volume '
                              'plugin nosuch: plugin "nosuch" not found\n'),
    (["-o", "foo", "kvbad"], 'Error response from daemon: create kvbad: invalid option: "foo"\n'),
    (["-o", "o=size=1m", "kvbad"], 'Error response from daemon: create kvbad: missing required '
                                   'option: "device"\n'),
    (["-o", "size=1g", "kvbad"], "Error response from daemon: create kvbad: quota size requested "
                                 "but no quota support\n"),
    (["--name", "a1", "b1"], "conflicting options: cannot specify a volume-name through both --name "
                             "and as a positional arg\n"),
])
def test_create_refusals_leave_nothing(daemon, args, stderr):
    before = sorted(os.listdir(os.path.join(daemon.data_root, "volumes")))
    res = daemon.ketch("volume", "create", *args)
    assert (res.returncode, res.stdout, res.stderr) == (1, "", stderr)
    assert sorted(os.listdir(os.path.join(daemon.data_root, "volumes"))) == before


def test_data_directories_are_not_readable_by_other_users(daemon, vname):
    name = vname()
    daemon.ketch("volume", "create", name, check=True)
    root = os.path.join(daemon.data_root, "volumes")
    mode = lambda p: stat.S_IMODE(os.stat(p).st_mode)  # noqa: E731
    assert (mode(root), mode(os.path.join(root, name)), mode(os.path.join(root, name, "_data"))) == \
        (0o701, 0o701, 0o755)


def test_prune_takes_anonymous_volumes_unless_all(fresh_daemon):
    daemon = fresh_daemon
    named, keep = "kvn", "kvk"
    anon = daemon.ketch("volume", "create", check=True).stdout.strip()
    daemon.ketch("volume", "create", named, check=True)
    daemon.ketch("volume", "create", "--label", "keep=1", keep, check=True)
    with open(os.path.join(daemon.data_root, "volumes", anon, "_data", "f"), "wb") as f:
        f.write(b"x" * 1500)
    res = daemon.ketch("volume", "prune", input="n\n")
    assert (res.returncode, res.stdout) == (0, "WARNING! This will remove anonymous local volumes not "
                                               "used by at least one container.\nAre you sure you want "
                                               "to continue? [y/N] ")
    res = daemon.ketch("volume", "prune", "-f")
    assert res.returncode == 0, res.stderr
    assert res.stdout == f"Deleted Volumes:\n{anon}\n\nTotal reclaimed space: 1.5kB\n"
    # label! leaves alone the volumes that have every label it names
    res = daemon.ketch("volume", "prune", "-f", "--all", "--filter", "label!=keep",
                       "--filter", "label!=other")
    assert f"\n{keep}\n" in res.stdout
    daemon.ketch("volume", "create", "--label", "keep=1", keep, check=True)
    daemon.ketch("volume", "create", named, check=True)
    res = daemon.ketch("volume", "prune", "-f", "--all", "--filter", "label!=keep=1")
    assert res.stdout == f"Deleted Volumes:\n{named}\n\nTotal reclaimed space: 0B\n"
    assert _names(daemon) == [keep]
    res = daemon.ketch("volume", "prune", "-f", "--all", "--filter", "all=1")
    assert (res.returncode, res.stderr) == (1, "conflicting options: cannot specify both --all and "
                                               "--filter all=1\n")
    res = daemon.ketch("volume", "prune", "-f", "--filter", "until=10m")
    assert (res.returncode, res.stderr) == (1, "Error response from daemon: invalid filter 'until'\n")


def test_the_api(daemon, vname):
    name = vname()
    status, doc = daemon.api("POST", "/v1.45/volumes/create", {"Name": name, "Labels": {"z": "1", "a": "2"}})
    assert status == 201 and list(doc) == ["CreatedAt", "Driver", "Labels", "Mountpoint", "Name",
                                           "Options", "Scope"]
    assert list(doc["Labels"]) == ["a", "z"]
    assert daemon.api("POST", "/v1.45/volumes/create", {"Name": 1}) == (400, {
        "message": "invalid JSON: json: cannot unmarshal number into Go struct field "
                   "CreateRequest.Name of type string"})
    status, doc = daemon.api("POST", "/v1.45/volumes/create", {"Name": "kvc", "ClusterVolumeSpec": {}})
    assert status == 503 and doc["message"].startswith("This node is not a swarm manager.")
    assert daemon.api("GET", f"/volumes/{name}x") == (404, {"message": f"get {name}x: no such volume"})
    status, doc = daemon.api("GET", f"/volumes?filters={_q({'name': [name]})}")
    assert (status, [v["Name"] for v in doc["Volumes"]], doc["Warnings"]) == (200, [name], None)
    assert daemon.api("GET", "/volumes?filters=nojson") == (400, {
        "message": "error reading volume filters: invalid filter"})
    assert daemon.api("POST", "/volumes/prune?filters=nojson") == (400, {"message": "invalid filter"})
    for query, message in (({"all": ["maybe"]}, 'invalid filter \'all\': strconv.ParseBool: parsing '
                                                '"maybe": invalid syntax'),
                           ({"all": ["1", "0"]}, "invalid filter 'all=[1 0]': only one value is expected"),
                           ({"dangling": ["true"]}, "invalid filter 'dangling'")):
        assert daemon.api("POST", f"/volumes/prune?filters={_q(query)}") == (400, {"message": message})
    # before API 1.42 a prune takes named volumes too
    status, doc = daemon.api("POST", f"/v1.41/volumes/prune?filters={_q({'label': ['z=1']})}")
    assert (status, doc) == (200, {"VolumesDeleted": [name], "SpaceReclaimed": 0})
    assert daemon.api("DELETE", f"/volumes/{name}") == (404, {"message": f"get {name}: no such volume"})
    assert daemon.api("DELETE", f"/volumes/{name}?force=1") == (204, None)


def test_volume_events(daemon, vname):
    name = vname()
    since = time.time()
    daemon.ketch("volume", "create", name, check=True)
    daemon.ketch("volume", "create", name, check=True)  # already there: no event
    daemon.ketch("volume", "rm", name, check=True)
    res = daemon.ketch("events", "--since", f"{since:.3f}", "--until", f"{time.time():.3f}",
                       "--filter", "type=volume", "--filter", f"volume={name}", "--format", "{{json .}}")
    events = [json.loads(line) for line in res.stdout.splitlines()]
    assert [(e["Action"], e["Actor"]) for e in events] == [
        ("create", {"ID": name, "Attributes": {"driver": "local"}}),
        ("destroy", {"ID": name, "Attributes": {"driver": "local"}})]


def test_volumes_outlive_a_restart_and_show_in_df(fresh_daemon):
    d = fresh_daemon
    d.ketch("volume", "create", "--label", "a=b", "keepme", check=True)
    with open(os.path.join(d.data_root, "volumes", "keepme", "_data", "f"), "wb") as f:
        f.write(b"y" * 2000)
    before = d.ketch("volume", "inspect", "keepme", check=True).stdout
    d.restart()
    assert d.ketch("volume", "inspect", "keepme", check=True).stdout == before
    res = d.ketch("system", "df")
    assert "Local Volumes   1         0         2kB       2kB (100%)\n" in res.stdout, res.stdout
    res = d.ketch("system", "df", "-v")
    assert "Local Volumes space usage:\n\nVOLUME NAME   LINKS     SIZE\nkeepme        0         2kB\n" \
        in res.stdout, res.stdout
    res = d.ketch("system", "df", "-v", "--format", "{{json .Volumes}}")
    doc = json.loads(res.stdout)
    assert [(v["Name"], v["Links"], v["Size"], v["Labels"]) for v in doc] == [("keepme", "0", "2kB", "a=b")]
    res = d.ketch("system", "prune", "-f", "--volumes")
    assert "Deleted Volumes" not in res.stdout  # named: only anonymous ones go
    anon = d.ketch("volume", "create", check=True).stdout.strip()
    res = d.ketch("system", "prune", "-f", "--volumes")
    assert f"Deleted Volumes:\n{anon}\n" in res.stdout
    assert d.ketch("volume", "ls", "-q").stdout == "keepme\n"


@needs_docker
def test_the_docker_cli(daemon, vname):
    v1 = vname()
    res = daemon.docker("volume", "create", "--label", "a=b", "-o", "type=tmpfs", "-o", "device=tmpfs", v1)
    assert (res.returncode, res.stdout) == (0, f"{v1}\n"), res.stderr
    res = daemon.docker("volume", "inspect", "-f", "{{.Name}} {{json .Labels}} {{json .Options}}", v1)
    assert res.stdout == f'{v1} {{"a":"b"}} {{"device":"tmpfs","type":"tmpfs"}}\n'
    res = daemon.docker("volume", "ls", "-f", f"name={vname.prefix}")
    assert res.stdout == f"DRIVER    VOLUME NAME\nlocal     {v1}\n"
    res = daemon.docker("volume", "create", "a/b")
    assert (res.returncode, res.stderr) == (1, BAD_NAME.format("a/b"))
    res = daemon.docker("volume", "ls", "-f", "dangling=bogus")
    assert (res.returncode, res.stderr) == (1, "Error response from daemon: invalid filter 'dangling=[bogus]'\n")
    res = daemon.docker("volume", "rm", v1, "kv-nope")
    assert (res.returncode, res.stdout, res.stderr) == (
        1, f"{v1}\n", "Error response from daemon: get kv-nope: no such volume\n")
    anon = daemon.docker("volume", "create", "--label", f"test={vname.prefix}").stdout.strip()
    res = daemon.docker("volume", "prune", "-f", "--filter", f"label=test={vname.prefix}")
    assert res.stdout == f"Deleted Volumes:\n{anon}\n\nTotal reclaimed space: 0B\n", res.stderr


@needs_docker
def test_the_docker_sdk(daemon, vname):
    import docker.errors
    client = daemon.sdk()
    try:
        name = vname()
        vol = client.volumes.create(name, driver="local", labels={"k": "v"})
        assert (vol.name, vol.attrs["Labels"], vol.attrs["Options"]) == (name, {"k": "v"}, None)
        assert client.volumes.get(name).attrs == vol.attrs
        assert [v.name for v in client.volumes.list(filters={"label": "k=v", "name": name})] == [name]
        with pytest.raises(docker.errors.NotFound, match="no such volume"):
            client.volumes.get(name + "x")
        with pytest.raises(docker.errors.APIError, match="includes invalid characters"):
            client.volumes.create("x/y")
        report = client.volumes.prune(filters={"label": "k=v", "all": "true"})
        assert report == {"VolumesDeleted": [name], "SpaceReclaimed": 0}
        anon = client.volumes.create()
        assert anon.attrs["Labels"] == {"com.docker.volume.anonymous": ""}
        anon.remove(force=True)
        with pytest.raises(docker.errors.NotFound):
            anon.reload()
    finally:
        client.close()
