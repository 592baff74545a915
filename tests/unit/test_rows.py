"""ketch.cli.format.rows: the fields of `docker ps` / `docker images` rows, as docker/cli computes them.

Expected cells were printed by the docker 28.2.2 client against dockerd
20.10.24 (`docker ps -a --format ...`, `docker images`), whose API answers are
the input dicts here. The clock is fixed and the zone is UTC.
"""

import time
import types

import pytest

from ketch.cli.format import rows
from ketch.cli.format.gotemplate import NilPointer
from ketch.cli.format.rows import ContainerContext, image_rows

NOW = 1795387800
CREATED = 1795387748  # 2026-11-22 22:49:08 UTC
IMAGE_ID = "sha256:2e984e984576" + "0" * 52
ID = "b227007ae514" + "f" * 52


@pytest.fixture(autouse=True)
def clock_and_zone(monkeypatch):
    fake = types.SimpleNamespace(time=lambda: NOW, localtime=time.localtime,
                                 strftime=time.strftime, gmtime=time.gmtime)
    monkeypatch.setattr(rows, "time", fake)
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def container(**fields):
    base = {"Id": ID, "Names": ["/ketch-probe-ps"], "Image": "busybox", "ImageID": IMAGE_ID,
            "Command": "true", "Created": CREATED, "Labels": {}, "State": "created",
            "Status": "Created", "NetworkSettings": {"Networks": {"bridge": {}}}}
    return {**base, **fields}


# (API fields, trunc, context field, cell)
CELLS = [
    ({}, True, "ID", "b227007ae514"),
    ({}, False, "ID", ID),
    ({"Image": "busybox"}, True, "Image", "busybox"),
    ({"Image": ""}, True, "Image", "<no image>"),
    ({"Image": IMAGE_ID}, True, "Image", "2e984e984576"),
    ({"Image": IMAGE_ID}, False, "Image", IMAGE_ID),
    ({"Image": "busybox@sha256:" + "1" * 64}, True, "Image", "busybox"),
    ({"Image": "busybox:1@sha256:" + "1" * 64}, True, "Image", "busybox:1"),
    ({"Image": "busybox@sha256:" + "1" * 64}, False, "Image", "busybox@sha256:" + "1" * 64),
    # the familiar reference (docker created with docker.io/library/busybox:latest shows
    # busybox:latest)
    ({"Image": "docker.io/library/busybox:latest"}, True, "Image", "busybox:latest"),
    ({"Image": "index.docker.io/library/busybox"}, True, "Image", "busybox"),
    ({"Image": "library/busybox:1@sha256:" + "1" * 64}, True, "Image", "busybox:1"),
    ({"Image": "docker.io/team/app"}, True, "Image", "team/app"),
    ({"Image": "localhost:5000/app@sha256:" + "1" * 64}, True, "Image", "localhost:5000/app"),
    ({"Image": "docker.io/library/busybox:latest"}, False, "Image", "docker.io/library/busybox:latest"),
    ({"Image": "Docker.io/X@y"}, True, "Image", "Docker.io/X@y"),  # not a reference: as it is
    ({"Image": "2e984e984576"}, True, "Image", "2e984e984576"),  # created from a short ID
    ({"Command": "true"}, True, "Command", '"true"'),
    ({"Command": "sh -c 'echo \"hello world\" && sleep 1'"}, True, "Command",
     "\"sh -c 'echo \\\"hello \u2026\""),
    ({"Command": "sh -c 'echo \"hello world\" && sleep 1'"}, False, "Command",
     "\"sh -c 'echo \\\"hello world\\\" && sleep 1'\""),
    ({"Command": "a" * 20}, True, "Command", '"' + "a" * 20 + '"'),
    ({"Command": "a" * 21}, True, "Command", '"' + "a" * 19 + '\u2026"'),
    ({"Command": "echo\ttab"}, True, "Command", '"echo\\ttab"'),
    # Ellipsis counts display width: East Asian wide and fullwidth runes take 2 columns,
    # others 1 (combining marks and ambiguous-width runes included); docker 28.2.2 printed these
    ({"Command": "echo " + "\u672c" * 11}, True, "Command", '"echo ' + "\u672c" * 7 + '\u2026"'),
    ({"Command": "echo " + "\uff21" * 13}, True, "Command", '"echo ' + "\uff21" * 7 + '\u2026"'),
    ({"Command": "echo " + "\U0001f600" * 10}, True, "Command",
     '"echo ' + "\U0001f600" * 7 + '\u2026"'),
    ({"Command": "echo " + "e\u0301" * 12}, True, "Command", '"echo ' + "e\u0301" * 7 + '\u2026"'),
    ({"Command": "echo " + "\u2460" * 20}, True, "Command", '"echo ' + "\u2460" * 14 + '\u2026"'),
    ({"Command": "caf\u00e9 " + "\u672c" * 6}, True, "Command", '"caf\u00e9 ' + "\u672c" * 6 + '"'),
    ({"Names": ["/web"]}, True, "Names", "web"),
    ({"Names": ["/web", "/other/alias"]}, True, "Names", "web"),
    ({"Names": ["/other/alias", "/web"]}, True, "Names", "web"),
    ({"Names": ["/web", "/other/alias"]}, False, "Names", "web,other/alias"),  # --no-trunc: all
    ({"Labels": {"b": "2", "a": "1"}}, True, "Labels", "a=1,b=2"),
    ({"Labels": {"a": "1", "a.b": "2"}}, True, "Labels", "a.b=2,a=1"),  # "k=v" strings sorted
    ({"Labels": {}}, True, "Labels", ""),
    ({"Labels": None}, True, "Labels", ""),
    ({}, True, "CreatedAt", "2026-11-22 22:49:08 +0000 UTC"),
    ({}, True, "RunningFor", "52 seconds ago"),
    ({"Created": NOW - 3600}, True, "RunningFor", "About an hour ago"),
    ({}, True, "State", "created"),
    ({"Status": "Up 2 minutes"}, True, "Status", "Up 2 minutes"),
    ({}, True, "Size", "0B"),
    ({"SizeRw": 0, "SizeRootFs": 1980000}, True, "Size", "0B (virtual 1.98MB)"),
    ({"SizeRw": 12345, "SizeRootFs": 2000000}, True, "Size", "12.3kB (virtual 2MB)"),
    ({"SizeRw": 5, "SizeRootFs": 0}, True, "Size", "5B"),  # "(virtual ...)" only when > 0
    ({"SizeRw": 5}, True, "Size", "5B"),
    ({}, True, "Networks", "bridge"),
    ({"NetworkSettings": {"Networks": {"n2": {}, "bridge": {}}}}, True, "Networks", "bridge,n2"),
    ({}, True, "LocalVolumes", "0"),
    ({"Mounts": [{"Name": "a" * 64, "Driver": "local"}, {"Source": "/srv/data", "Driver": ""}]},
     True, "Mounts", "a" * 14 + "\u2026,/srv/data"),
    ({"Mounts": [{"Name": "a" * 64, "Driver": "local"}, {"Source": "/srv/data", "Driver": ""}]},
     False, "Mounts", "a" * 64 + ",/srv/data"),
    ({"Mounts": [{"Name": "v", "Driver": "local"}, {"Source": "/srv", "Driver": ""}]},
     True, "LocalVolumes", "1"),
]


@pytest.mark.parametrize("fields,trunc,name,cell", CELLS)
def test_container_cell(fields, trunc, name, cell):
    assert getattr(ContainerContext(container(**fields), trunc), name) == cell


@pytest.mark.parametrize("labels,key,value", [
    ({"a": "1"}, "a", "1"),
    ({"a": "1"}, "b", ""),
    (None, "a", ""),
])
def test_container_label(labels, key, value):
    assert ContainerContext(container(Labels=labels)).Label(key) == value


def image(**fields):
    base = {"Id": IMAGE_ID, "RepoTags": ["busybox:latest"], "RepoDigests": [],
            "Created": NOW - 32 * 60, "Size": 1980000, "Containers": -1, "SharedSize": -1}
    return {**base, **fields}


# RepoTags/RepoDigests -> (Repository, Tag) per row
ROWS = [
    ({"RepoTags": ["busybox:latest"]}, [("busybox", "latest")]),
    ({"RepoTags": ["busybox:latest", "busybox:1.36"]}, [("busybox", "latest"), ("busybox", "1.36")]),
    ({"RepoTags": []}, [("<none>", "<none>")]),
    ({"RepoTags": None}, [("<none>", "<none>")]),
    ({"RepoTags": ["localhost:5000/team/app:v1"]}, [("localhost:5000/team/app", "v1")]),
    ({"RepoTags": ["registry.example.com:443/app:latest"]}, [("registry.example.com:443/app", "latest")]),
    # an image known only by digest (pulled by digest from a real dockerd) gets a row
    ({"RepoTags": [], "RepoDigests": ["busybox@sha256:" + "1" * 64]}, [("busybox", "<none>")]),
    ({"RepoTags": ["app:v1"], "RepoDigests": ["app@sha256:" + "1" * 64, "busybox@sha256:" + "2" * 64]},
     [("app", "v1"), ("busybox", "<none>")]),
    ({"RepoTags": ["<none>:<none>"], "RepoDigests": ["<none>@<none>"]}, [("<none>", "<none>")]),
]


@pytest.mark.parametrize("fields,rows", ROWS)
def test_image_rows(fields, rows):
    assert [(r.Repository, r.Tag) for r in image_rows([image(**fields)])] == rows


IMAGE_CELLS = [
    ({}, True, "ID", "2e984e984576"),
    ({}, False, "ID", IMAGE_ID),
    ({}, True, "CreatedSince", "32 minutes ago"),
    ({}, True, "Size", "1.98MB"),
    ({}, True, "Digest", "<none>"),
    ({"RepoDigests": ["busybox@sha256:" + "1" * 64]}, True, "Digest", "sha256:" + "1" * 64),
    ({}, True, "Containers", "N/A"),
    ({"Containers": 2}, True, "Containers", "2"),
    ({}, True, "SharedSize", "N/A"),
    # VirtualSize, SharedSize and UniqueSize use go-units' HumanSize (4 digits), Size uses 3:
    # docker 28.2.2 printed "1.984MB" for {{.VirtualSize}} of a 1984000-byte image
    ({"SharedSize": 1000}, True, "UniqueSize", "1.979MB"),
    ({"SharedSize": 1000, "Size": -1}, True, "UniqueSize", "N/A"),
    ({"SharedSize": 1234500}, True, "SharedSize", "1.234MB"),
    ({"Size": 1984000}, True, "VirtualSize", "1.984MB"),
    ({"Size": 1984000}, True, "Size", "1.98MB"),
]


@pytest.mark.parametrize("fields,trunc,name,cell", IMAGE_CELLS)
def test_image_cell(fields, trunc, name, cell):
    row = image_rows([image(**fields)], trunc)[0]
    assert getattr(row, name) == cell


@pytest.mark.parametrize("digests,rows", [
    (False, [("app", "v1", "sha256:" + "1" * 64), ("busybox", "<none>", "sha256:" + "3" * 64)]),
    (True, [("app", "v1", "sha256:" + "1" * 64), ("app", "v1", "sha256:" + "2" * 64),
            ("busybox", "<none>", "sha256:" + "3" * 64)]),
])
def test_image_rows_digests(digests, rows):
    """With --digests each of a repository's digests is a row of its own."""
    img = image(RepoTags=["app:v1"], RepoDigests=[
        "app@sha256:" + "1" * 64, "app@sha256:" + "2" * 64, "busybox@sha256:" + "3" * 64])
    assert [(r.Repository, r.Tag, r.Digest) for r in image_rows([img], digests=digests)] == rows


@pytest.mark.parametrize("text,width,out", [
    ("abc", 0, ""),
    ("abc", 1, "a"),
    ("\u672cx", 1, "\u672c"),
    ("abc", 3, "abc"),
    ("abcd", 3, "ab\u2026"),
    ("\u672c\u672c", 4, "\u672c\u672c"),
    ("\u672c\u672c\u672c", 4, "\u672c\u2026"),
    ("a\u672c\u672c", 4, "a\u672c\u2026"),
    ("a\u672c\u672c", 3, "a\u2026"),  # the wide rune does not fit before the "…"
    ("\u672c\u672c\u672c", 2, "\u672c\u672c\u672c"),  # nothing fits: docker leaves it
])
def test_ellipsis(text, width, out):
    assert rows.ellipsis(text, width) == out


def test_platform():
    row = ContainerContext(container(ImageManifestDescriptor={"platform": {
        "architecture": "amd64", "os": "linux"}}))
    assert (str(row.Platform), row.Platform.as_json()) == (
        "linux/amd64", {"architecture": "amd64", "os": "linux"})
    # a typed nil *formatter.Platform: <nil>, null, and Go's errors for its fields
    nil = ContainerContext(container()).Platform
    assert isinstance(nil, NilPointer) and nil.go_type == "*formatter.Platform"
    assert row.Platform.OS == "linux" and row.Platform.Architecture == "amd64"
