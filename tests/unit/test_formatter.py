"""ketch.cli.formatter.render against the docker 28.2.2 client's --format output.

Each expected text is what `docker images --format ...` / `docker ps -a
--format ...` printed for the same data (two images; containers named
ketch-probe-ps and ketch-probe-ps2). docker/cli renders a table header by
running the template over the column titles with "header functions" (json,
lower, upper, title, split, join, truncate return the title untouched; pad
still pads), `.Label "com.example.my-label"` titles as "my label", and aligns
everything with tabwriter(minwidth 10, tabwidth 1, padding 3).
"""

import time
import types

import pytest

from ketch.cli import contexts
from ketch.cli.contexts import (
    CONTAINER_HEADERS, CONTAINER_TABLE, IMAGE_HEADERS, IMAGE_TABLE, ContainerContext, image_rows,
)
from ketch.cli.formatter import FormatError, render

NOW = 1795387800


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    fake = types.SimpleNamespace(time=lambda: NOW, localtime=time.localtime,
                                 strftime=time.strftime, gmtime=time.gmtime)
    monkeypatch.setattr(contexts, "time", fake)


def bug(reason):
    return pytest.mark.xfail(strict=True, reason=f"bug: {reason}")


IMAGES = image_rows([
    {"Id": "sha256:184343a00fd4" + "0" * 52, "RepoTags": ["ketch-probe:users"],
     "Created": NOW - 2 * 60 - 5, "Size": 1980000},
    {"Id": "sha256:2e984e984576" + "0" * 52, "RepoTags": ["busybox:latest"],
     "Created": NOW - 32 * 60 - 5, "Size": 1980000},
])
IMAGES_DEFAULT = (
    "REPOSITORY    TAG       IMAGE ID       CREATED          SIZE\n"
    "ketch-probe   users     184343a00fd4   2 minutes ago    1.98MB\n"
    "busybox       latest    2e984e984576   32 minutes ago   1.98MB\n"
)
CONTAINERS = [
    ContainerContext({"Id": "12cc00120e3a" + "0" * 52, "Names": ["/ketch-probe-ps2"], "Image": "busybox",
                      "Command": "echo hi", "Labels": {}, "Created": NOW - 1, "State": "created",
                      "Status": "Created"}),
    ContainerContext({"Id": "b227007ae514" + "0" * 52, "Names": ["/ketch-probe-ps"],
                      "Image": "busybox:latest", "Command": "true", "Labels": {"a": "1", "b": "2"},
                      "Created": NOW - 1, "State": "created", "Status": "Created"}),
]


def images(fmt):
    return render(fmt, IMAGES, IMAGE_HEADERS, IMAGE_TABLE)


def containers(fmt, items=CONTAINERS):
    return render(fmt, items, CONTAINER_HEADERS, CONTAINER_TABLE)


RENDERED = [
    (images, "", IMAGES_DEFAULT),
    (images, "table {{.Repository}}\t{{.Tag}}",
     "REPOSITORY    TAG\nketch-probe   users\nbusybox       latest\n"),
    (images, "table {{.Repository}}\\t{{.Tag}}",  # a typed backslash-t is a tab
     "REPOSITORY    TAG\nketch-probe   users\nbusybox       latest\n"),
    (images, "{{.Repository}}:{{.Tag}}", "ketch-probe:users\nbusybox:latest\n"),
    (images, "{{.Repository}}\t{{.Tag}}", "ketch-probe\tusers\nbusybox\tlatest\n"),  # no alignment
    (containers, "table {{.Names}}\t{{.Image}}",
     "NAMES             IMAGE\nketch-probe-ps2   busybox\nketch-probe-ps    busybox:latest\n"),
    (containers, "table {{.ID}}\t{{upper .Image}}|{{pad .Names 1 1}}|",
     "CONTAINER ID   IMAGE| NAMES |\n"
     "12cc00120e3a   BUSYBOX| ketch-probe-ps2 |\n"
     "b227007ae514   BUSYBOX:LATEST| ketch-probe-ps |\n"),
    (containers, "{{.ID}}|{{json .Labels}}|{{.Label \"a\"}}",
     '12cc00120e3a|""|\nb227007ae514|"a=1,b=2"|1\n'),
    pytest.param(images, "table", IMAGES_DEFAULT,
                 marks=bug("--format table alone is the default table format "
                           "(NewImageFormat/NewContainerFormat); ketch prints empty lines")),
    pytest.param(containers, "table {{lower .Names}}|{{title .Names}}|{{truncate .Names 2}}",
                 "NAMES|NAMES|NAMES\nketch-probe-ps2|Ketch-Probe-Ps2|ke\n"
                 "ketch-probe-ps|Ketch-Probe-Ps|ke\n",
                 marks=bug("header functions leave the title as it is; ketch runs lower/title/"
                           "truncate on it (names|Names|NA)")),
    pytest.param(containers, "table {{json .Labels}}",
                 'LABELS\n""\n"a=1,b=2"\n',
                 marks=bug("the json header function returns the title unquoted; ketch "
                           "prints \"LABELS\"")),
    pytest.param(containers, 'table {{.Label "com.example.my-label"}}\t{{.Label "a_b"}}|{{.Label "a"}}',
                 "my label   a b|a\n           |\n           |1\n",
                 marks=bug("a .Label column is titled by the key's last dot-separated part with "
                           "- and _ as spaces; ketch titles it LABEL")),
]


@pytest.mark.parametrize("render_,fmt,text", RENDERED)
def test_render(render_, fmt, text):
    assert render_(fmt) == text


def test_json_lines():
    out = containers("json", CONTAINERS[1:])
    assert out == (
        '{"Command":"\\"true\\"","CreatedAt":"%s","ID":"b227007ae514","Image":"busybox:latest",'
        '"Labels":"a=1,b=2","LocalVolumes":"0","Mounts":"","Names":"ketch-probe-ps","Networks":"",'
        '"Ports":"","RunningFor":"1 second ago","Size":"0B","State":"created","Status":"Created"}\n'
        % CONTAINERS[1].CreatedAt)


@bug('docker 28 adds "Platform" (null without an image manifest) to `ps --format json`')
def test_json_has_platform():
    assert '"Platform":null' in containers("json", CONTAINERS[1:])


def test_json_keeps_non_ascii_and_html():
    row = ContainerContext({"Id": "x" * 64, "Command": "a && b < caf\u00e9", "Created": NOW})
    assert '"\\"a && b < caf\u00e9\\""' in render("json", [row], CONTAINER_HEADERS, CONTAINER_TABLE)


@pytest.mark.parametrize("fmt,text", [
    ("table {{.Names}}\t{{.Image}}", "NAMES     IMAGE\n"),
    ("{{.Names}}", ""),
    ("json", ""),
])
def test_no_rows(fmt, text):
    assert containers(fmt, []) == text


@pytest.mark.parametrize("fmt,items,prefix", [
    ("{{lower .Names}", CONTAINERS, "template parsing error: "),
    pytest.param("{{.Foo}}", CONTAINERS, "failed to execute template: ",
                 marks=bug("an execution error is 'failed to execute template: ...'; ketch "
                           "calls every template error a parsing error")),
    pytest.param("table {{.Foo}}", [], "failed to execute template: ",
                 marks=bug("an unknown field fails even with no rows (the header runs against "
                           "the context type); ketch prints a FOO header")),
])
def test_errors(fmt, items, prefix):
    with pytest.raises(FormatError) as exc:
        containers(fmt, items)
    assert str(exc.value).startswith(prefix)
