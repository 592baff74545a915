"""ketch.cli.format.formatter.render against the docker 28.2.2 client's --format output.

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

from ketch.cli.format import rows
from ketch.cli.format.rows import (
    CONTAINER_HEADERS, CONTAINER_TABLE, IMAGE_HEADERS, IMAGE_TABLE, ContainerContext, image_rows,
)
from ketch.cli.format.formatter import FormatError, check, render
from ketch.cli.format.networks import NetworkRow
from ketch.cli.format.volumes import VolumeRow

NOW = 1795387800


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    fake = types.SimpleNamespace(time=lambda: NOW, localtime=time.localtime,
                                 strftime=time.strftime, gmtime=time.gmtime)
    monkeypatch.setattr(rows, "time", fake)


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
    (images, "table", IMAGES_DEFAULT),  # "table" alone is the default table
    # header functions hand the title back untouched
    (containers, "table {{lower .Names}}|{{title .Names}}|{{truncate .Names 2}}",
     "NAMES|NAMES|NAMES\nketch-probe-ps2|Ketch-Probe-Ps2|ke\n"
     "ketch-probe-ps|Ketch-Probe-Ps|ke\n"),
    (containers, "table {{json .Labels}}", 'LABELS\n""\n"a=1,b=2"\n'),
    (containers, 'table {{join (split .Names "-") "+"}}|{{upper .Names}}',
     "NAMES|NAMES\nketch+probe+ps2|KETCH-PROBE-PS2\nketch+probe+ps|KETCH-PROBE-PS\n"),
    # a .Label column: the key's last dot-separated part, - and _ as spaces
    (containers, 'table {{.Label "com.example.my-label"}}\t{{.Label "a_b"}}|{{.Label "a"}}',
     "my label   a b|a\n           |\n           |1\n"),
    # spaces around the format are trimmed (strings.Trim(format, " "))
    (containers, "table  {{.Names}}  ", "NAMES\nketch-probe-ps2\nketch-probe-ps\n"),
    (containers, "  {{.Names}}  ", "ketch-probe-ps2\nketch-probe-ps\n"),
    # a header that fails is not fatal: docker 28 printed an empty header line here
    (containers, 'table {{range split .Names "-"}}{{.}},{{end}}',
     "\nketch,probe,ps2,\nketch,probe,ps,\n"),
]


@pytest.mark.parametrize("render_,fmt,text", RENDERED)
def test_render(render_, fmt, text):
    assert render_(fmt) == text


def test_table_alone_is_the_default():
    assert containers("table") == containers("") == containers(CONTAINER_TABLE)


def test_json_lines():
    out = containers("json", CONTAINERS[1:])
    assert out == (
        '{"Command":"\\"true\\"","CreatedAt":"%s","ID":"b227007ae514","Image":"busybox:latest",'
        '"Labels":"a=1,b=2","LocalVolumes":"0","Mounts":"","Names":"ketch-probe-ps","Networks":"",'
        '"Platform":null,"Ports":"","RunningFor":"1 second ago","Size":"0B","State":"created",'
        '"Status":"Created"}\n' % CONTAINERS[1].CreatedAt)


def test_json_has_platform():
    """docker 28 adds "Platform", null without an image manifest descriptor."""
    assert '"Platform":null' in containers("json", CONTAINERS[1:])
    row = ContainerContext({"Id": "x" * 64, "Created": NOW, "ImageManifestDescriptor": {
        "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}}})
    assert '"Platform":{"architecture":"arm64","os":"linux","variant":"v8"}' in containers("json", [row])
    assert containers("{{.Platform}}", [row]) == "linux/arm64/v8\n"
    assert containers("{{.Platform}}", CONTAINERS[1:]) == "<nil>\n"


def test_json_escapes_html_keeps_non_ascii():
    """The contexts' MarshalJSON goes through json.Marshal: <, > and & are escaped
    (docker 28.2.2 printed "\"sh -c 'a \u0026\u0026 b \u003c café'\""), UTF-8 is kept."""
    row = ContainerContext({"Id": "x" * 64, "Command": "a && b < caf\u00e9", "Created": NOW,
                            "Labels": {"k": "<x>\u2028"}})
    out = render("json", [row], CONTAINER_HEADERS, CONTAINER_TABLE)
    assert '"Command":"\\"a \\u0026\\u0026 b \\u003c caf\u00e9\\""' in out
    assert '"Labels":"k=\\u003cx\\u003e\\u2028"' in out
    # the json template function is docker/cli's own, which does not escape HTML
    assert containers("{{json .Command}}", [row]) == '"\\"a && b < caf\u00e9\\""\n'


@pytest.mark.parametrize("fmt,text", [
    ("table {{.Names}}\t{{.Image}}", "NAMES     IMAGE\n"),
    ("{{.Names}}", ""),
    ("json", ""),
])
def test_no_rows(fmt, text):
    assert containers(fmt, []) == text


@pytest.mark.parametrize("fmt,items,text", [
    # docker's formatter.Context wraps both parse and execution errors so (images, stats)
    ("{{lower .Names}", CONTAINERS, "template parsing error: template: :1: unexpected \"}\" in operand"),
    ("{{.Foo}}", CONTAINERS, "template parsing error: template: :1:2: executing \"\" at <.Foo>: "
                             "can't evaluate field Foo in type *formatter.ContainerContext"),
    ("table {{.Names.Foo}}", CONTAINERS, "template parsing error: template: :1:8: executing \"\" at "
                                         "<.Names.Foo>: can't evaluate field Foo in type string"),
])
def test_errors(fmt, items, text):
    with pytest.raises(FormatError) as exc:
        containers(fmt, items)
    assert str(exc.value) == text


def test_image_errors_name_the_go_type():
    """docker 28.2.2: images --format '{{.Nope}}'"""
    with pytest.raises(FormatError) as exc:
        images("{{.Nope}}")
    assert str(exc.value) == ('template parsing error: template: :1:2: executing "" at <.Nope>: '
                              "can't evaluate field Nope in type *formatter.imageContext")


@pytest.mark.parametrize("fmt,text", [("{{.Foo}}", ""), ("{{.Names.Foo}}", ""),
                                      ("table {{.Foo}}", "<no value>\n"),
                                      ("table {{.Names.Foo}}", "\n")])
def test_no_rows_run_no_template(fmt, text):
    """docker images/stats execute the template per row only: nothing to run, no error.
    A table still prints its header: the template over a map of titles, where a field
    it lacks is "<no value>" (docker 28.2.2 images --format 'table {{.Nope}}' nosuchrepo)
    and an error leaves the line empty."""
    assert containers(fmt, []) == text


@pytest.mark.parametrize("fmt,text", [
    # what docker 28.2.2 `ps --format` answered, before asking the daemon
    ("{{.Names", "failed to parse template: template: :1: unclosed action"),
    ("{{.Nope}}", "failed to execute template: template: :1:2: executing \"\" at <.Nope>: "
                  "can't evaluate field Nope in type *formatter.ContainerContext"),
    ("table {{.Nope}}", "failed to execute template: template: :1:8: executing \"\" at <.Nope>: "
                        "can't evaluate field Nope in type *formatter.ContainerContext"),
])
def test_ps_checks_the_format(fmt, text):
    with pytest.raises(FormatError) as exc:
        check(fmt, ContainerContext({}))
    assert str(exc.value) == text


@pytest.mark.parametrize("fmt", ["{{.Names}}", "table {{.ID}}\\t{{.Label \"x\"}}", "json",
                                 "{{json .}}", "{{.Size}} {{.Platform}}"])
def test_ps_check_passes(fmt):
    check(fmt, ContainerContext({}))


def test_json_template_is_the_json_format():
    """`{{json .}}` marshals the row as `--format json` does (docker's MarshalJSON of the
    context), not the row's Python repr."""
    for fmt in ("{{json .}}", " {{json .}}"):
        assert containers(fmt) == containers("json")
        assert images(fmt) == images("json")
    assert containers("{{json .}}").startswith('{"Command":"\\"echo hi\\"","CreatedAt":')
    assert images("json").splitlines()[0] == (
        '{"Containers":"N/A","CreatedAt":"%s","CreatedSince":"2 minutes ago",'
        '"Digest":"\\u003cnone\\u003e","ID":"184343a00fd4","Repository":"ketch-probe",'
        '"SharedSize":"N/A","Size":"1.98MB","Tag":"users","UniqueSize":"N/A",'
        '"VirtualSize":"1.98MB"}' % IMAGES[0].CreatedAt)


def test_json_of_stats_rows():
    from ketch.cli.commands.resources import HEADERS, TABLE, StatsRow
    row = StatsRow({"id": "a3ba5463d459" + "0" * 52, "name": "/tp1"}, "tp1", True)
    out = render("{{json .}}", [row], HEADERS, TABLE)
    # docker 28.2.2 stats --no-stream --format '{{json .}}' of a created container
    assert out == ('{"BlockIO":"0B / 0B","CPUPerc":"0.00%","Container":"tp1","ID":"a3ba5463d459",'
                   '"MemPerc":"0.00%","MemUsage":"0B / 0B","Name":"tp1","NetIO":"0B / 0B",'
                   '"PIDs":"0"}\n')
    assert render("json", [row], HEADERS, TABLE) == out
    with pytest.raises(FormatError) as exc:
        render("{{.Nope}}", [row], HEADERS, TABLE)
    assert str(exc.value).endswith("can't evaluate field Nope in type *container.statsContext")


@pytest.mark.parametrize("fmt,text", [
    # docker 28.2.2 `ps --format` without a daemon: its rows' fields are Go methods
    ("{{.Label}}", 'failed to execute template: template: :1:2: executing "" at <.Label>: '
                   "wrong number of args for Label: want 1 got 0"),
    ('{{.Label "a" "b"}}', 'failed to execute template: template: :1:2: executing "" at <.Label>: '
                           "wrong number of args for Label: want 1 got 2"),
    ('{{.ID "x"}}', 'failed to execute template: template: :1:2: executing "" at <.ID>: '
                    "wrong number of args for ID: want 0 got 1"),
    ("{{.Label 1}}", 'failed to execute template: template: :1:9: executing "" at <1>: '
                     "expected string; found 1"),
    ("{{.Size 1}}", 'failed to execute template: template: :1:2: executing "" at <.Size>: '
                    "wrong number of args for Size: want 0 got 1"),
    ("{{json .Label}}", 'failed to execute template: template: :1:7: executing "" at <.Label>: '
                        "wrong number of args for Label: want 1 got 0"),
    ("{{.Platform.Nope}}", 'failed to execute template: template: :1:11: executing "" at '
                           "<.Platform.Nope>: can't evaluate field Nope in type *formatter.Platform"),
    ("{{.Platform.OS}}", 'failed to execute template: template: :1:11: executing "" at '
                         "<.Platform.OS>: nil pointer evaluating *formatter.Platform.OS"),
    ("{{index .Names 0}}", 'failed to execute template: template: :1:2: executing "" at '
                           "<index .Names 0>: error calling index: reflect: string index out of range"),
    ('{{index (split .Names ",") 1}}', 'failed to execute template: template: :1:2: executing "" at '
                                       '<index (split .Names ",") 1>: error calling index: reflect: '
                                       "slice index out of range"),
])
def test_ps_check_errors_as_docker(fmt, text):
    with pytest.raises(FormatError) as exc:
        check(fmt, ContainerContext({}))
    assert str(exc.value) == text


def test_nil_platform_prints_nil_and_null():
    assert containers("{{.Platform}} {{json .Platform}} {{if .Platform}}y{{else}}n{{end}}",
                      CONTAINERS[:1]) == "<nil> null n\n"


@pytest.mark.parametrize("row", [ContainerContext, NetworkRow, VolumeRow])
def test_labels_of_every_row_kind(row):
    fmt = '{{.Labels}}|{{.Label "a"}}|{{.Label "nope"}}'
    docs = [{"Labels": {"b": "2", "a": "1", "c": ""}}, {"Labels": None}, {}]
    assert render(fmt, [row(doc) for doc in docs], {}, "") == "a=1,b=2,c=|1|\n||\n||\n"
