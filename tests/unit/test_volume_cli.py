"""ketch volume: the bodies docker 28 sends, its rows and its typed inspect struct."""

import json

import pytest

from ketch.cli import flags
from ketch.cli.commands import volume
from ketch.cli.format import gotemplate
from ketch.cli.format.volumes import typed_volume


def body(*args):
    opts, rest = flags.parse(volume.CREATE, list(args))
    return volume.create_body(opts, rest[0] if rest else opts["name"])


@pytest.mark.parametrize("args, expected", [
    ((), {"Driver": "local"}),  # docker/cli's omitempty: no Name, no maps
    (("v1",), {"Driver": "local", "Name": "v1"}),
    (("--name", "v1"), {"Driver": "local", "Name": "v1"}),
    (("--label", "a=b", "--label", "c", "-o", "type=tmpfs", "-o", "device", "-d", "x", "v"),
     {"Driver": "x", "DriverOpts": {"type": "tmpfs", "device": ""}, "Labels": {"a": "b", "c": ""},
      "Name": "v"}),
    (("--secret", "k=v", "v"), {"Driver": "local", "Name": "v"}),  # alone: not a cluster volume
])
def test_create_bodies(args, expected):
    assert body(*args) == expected


def test_a_swarm_flag_makes_a_cluster_volume_spec():
    spec = body("--group", "g", "--type", "mount", "--secret", "b=2", "--secret", "a=1",
                "--topology-required", "zone=a,rack=1", "v")["ClusterVolumeSpec"]
    assert spec == {"Group": "g", "AccessMode": {"Scope": "single", "Sharing": "none", "MountVolume": {}},
                    "AccessibilityRequirements": {"Requisite": [{"Segments": {"zone": "a", "rack": "1"}}]},
                    "CapacityRange": {"RequiredBytes": 0, "LimitBytes": 0},
                    "Secrets": [{"Key": "a", "Secret": "1"}, {"Key": "b", "Secret": "2"}],
                    "Availability": "active"}


def test_bad_label_is_a_flag_error():
    with pytest.raises(flags.UsageError) as exc:
        flags.parse(volume.CREATE, ["--label", "=b", "v"])
    assert "invalid argument \"=b\" for \"--label\" flag: invalid label '=b': empty name" in exc.value.text()


DOCS = [{"Name": "v10", "Driver": "local", "Labels": {"z": "1", "a": "b"}, "Scope": "local",
         "Mountpoint": "/m/v10"},
        {"Name": "v9", "Driver": "local", "Labels": None, "Scope": "local", "Mountpoint": "/m/v9",
         "UsageData": {"RefCount": 2, "Size": 102400}}]


@pytest.mark.parametrize("fmt, quiet, expected", [
    ("", False, "DRIVER    VOLUME NAME\nlocal     v9\nlocal     v10\n"),  # natural order
    ("", True, "v9\nv10\n"),
    ("raw", True, "name: v9\nname: v10\n"),
    ("{{.Name}}|{{.Labels}}|{{.Label \"a\"}}|{{.Links}}|{{.Size}}|{{.Group}}", False,
     "v9|||2|102.4kB|N/A\nv10|a=b,z=1|b|N/A|N/A|N/A\n"),
    ("table {{.Name}}\t{{.Mountpoint}}", False, "VOLUME NAME   MOUNTPOINT\nv9            /m/v9\nv10           /m/v10\n"),
])
def test_ls_rendering(fmt, quiet, expected):
    assert volume.render_list(DOCS, fmt, quiet) == expected


def test_ls_json_is_dockers_volume_context():
    line = volume.render_list(DOCS[1:], "json", False)
    assert json.loads(line) == {"Availability": "N/A", "Driver": "local", "Group": "N/A", "Labels": "",
                                "Links": "2", "Mountpoint": "/m/v9", "Name": "v9", "Scope": "local",
                                "Size": "102.4kB", "Status": "N/A"}
    assert list(json.loads(line)) == sorted(json.loads(line))


@pytest.mark.parametrize("template, expected", [
    ("{{json .Labels}} {{json .Options}} {{.Options}} {{.Status}}", "null null map[] map[]"),
    ("{{.UsageData}} {{.ClusterVolume}}", "<nil> <nil>"),
    ("{{.Name}} {{.Scope}} {{.CreatedAt}}", "v9 local 2026-01-01T00:00:00Z"),
])
def test_inspect_template_over_the_typed_volume(template, expected):
    doc = {"CreatedAt": "2026-01-01T00:00:00Z", "Driver": "local", "Labels": None,
           "Mountpoint": "/m/v9", "Name": "v9", "Options": None, "Scope": "local"}
    assert gotemplate.parse(template).execute(typed_volume(doc)) == expected


@pytest.mark.parametrize("argv, code, stream, text", [
    (["volume", "nope"], 1, "err", "ketch: unknown command: ketch volume nope\n\nUsage:  ketch volume COMMAND\n\n"
                                   "Run 'ketch volume --help' for more information\n"),
    (["volume", "-x"], 125, "err", "unknown shorthand flag: 'x' in -x\n\nUsage:  ketch volume COMMAND\n\n"
                                   "Run 'ketch volume --help' for more information\n"),
    (["volume", "--help"], 0, "out", volume.usage() + "\n"),
    (["volume"], 0, "err", volume.usage() + "\n"),
    (["volume", "create", "x1", "x2"], 1, "err",
     "ketch: 'ketch volume create' requires at most 1 argument\n\nUsage:  ketch volume create [OPTIONS] "
     "[VOLUME]\n\nSRun 'ketch volume create --help' for more information\n"),  # docker 28's "S", sic
])
def test_the_noun(capsys, argv, code, stream, text):
    from ketch.cli.main import main
    assert main(argv) == code
    out, err = capsys.readouterr()
    assert (out if stream == "out" else err) == text


def test_rm_help_has_dockers_long_text():
    assert flags.render_help(volume.RM, "ketch volume rm").splitlines()[2] == (
        "Remove one or more volumes. You cannot remove a volume that is in use by a container.")
