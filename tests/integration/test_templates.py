"""--format and -f through the ketch CLI, against the docker 28 client on the same ketchd.

Both clients see the same daemon and the same objects, so for a format that prints no
clock-dependent field (RunningFor, CreatedSince) or client identity (the client's
version), ketch must print what docker prints, on both streams, with its exit code.
"""

import json
import shutil
import subprocess

import pytest

from tests.integration.conftest import PYTHON, REPO

needs_docker = pytest.mark.skipif(shutil.which("docker") is None, reason="docker CLI not installed")


def same(daemon, *args):
    """ketch's answer, asserted equal to docker's (status, stdout, stderr)."""
    mine, theirs = daemon.ketch(*args), daemon.docker(*args)
    got = (mine.returncode, mine.stdout, mine.stderr)
    assert got == (theirs.returncode, theirs.stdout, theirs.stderr), args
    return got


@pytest.fixture(scope="module")
def created(daemon):
    """A created container with a label: inspect, ps and stats need no running process."""
    name = "tpl-probe-created"
    daemon.api("DELETE", f"/containers/{name}?force=1")
    daemon.ketch("create", "--name", name, "--label", "a=b", "busybox", "true", check=True)
    yield name
    daemon.api("DELETE", f"/containers/{name}?force=1")


@needs_docker
@pytest.mark.parametrize("fmt", ["{{json .}}", "json"])
def test_list_json_rows(daemon, created, fmt):
    """One JSON object per row, the row type's fields (docker's MarshalJSON of its context)."""
    rows = daemon.ketch("ps", "-a", "--filter", f"name={created}", "--format", fmt).stdout
    theirs = daemon.docker("ps", "-a", "--filter", f"name={created}", "--format", fmt).stdout
    mine_doc, their_doc = json.loads(rows), json.loads(theirs)
    for doc in (mine_doc, their_doc):
        doc.pop("RunningFor")
    assert mine_doc == their_doc
    assert mine_doc["Names"] == created and mine_doc["Labels"] == "a=b"
    image_rows = [json.loads(line) for line in
                  daemon.ketch("images", "--format", fmt, "busybox").stdout.splitlines()]
    their_images = [json.loads(line) for line in
                    daemon.docker("images", "--format", fmt, "busybox").stdout.splitlines()]
    for doc in image_rows + their_images:
        doc.pop("CreatedSince")
    assert image_rows == their_images and image_rows
    same(daemon, "stats", "--no-stream", "--format", fmt, created)


@needs_docker
@pytest.mark.parametrize("args", [
    ("ps", "-a", "--format", "{{.Nope}}"),
    ("ps", "-a", "--format", "table {{.Nope}}"),
    ("ps", "-a", "--format", "{{.Names"),
    ("images", "--format", "{{.Nope}}"),
    ("images", "--format", "{{.Repository"),
    ("images", "--format", "{{.Nope}}", "nosuchrepo"),  # no row: the template never runs
    ("images", "--format", "table {{.Nope}}", "nosuchrepo"),
    ("version", "--format", "{{.Nope}}"),
    ("version", "--format", "{{.Client.ApiVersion}}"),
    ("version", "--format", "{{.Client.APIVersion}} {{.Server.APIVersion}} {{.Server.MinAPIVersion}}"),
    ("version", "--format", "{{.Server.Nope}}"),
    ("version", "--format", "{{json .Server}}"),
    ("version", "--format", "{{.Client.Version"),
    ("version", "--format", "x\\ty"),
    ("info", "--format", "{{.Nope}}"),
    ("info", "--format", "{{.Swarm.Nope}}"),
    ("info", "--format", "{{.Driver"),
    ("info", "--format", "{{.Driver}} {{.Swarm.LocalNodeState}} {{.ClientInfo.Debug}} {{.ServerErrors}}"),
    ("inspect", "-f", "{{.Nope}}", "busybox"),
    ("inspect", "-f", "{{.Name", "busybox"),
])
def test_template_answers(daemon, args):
    same(daemon, *args)


@needs_docker
@pytest.mark.parametrize("fmt", [
    "{{.Nope}}", "{{.State.Nope}}", "{{.Config.Labels.nope}}", "{{.Config.Labels.a}}",
    "{{.Name}}{{.Nope}}", "{{.State.Health.Status}}", "{{.Config.Labels.nope}} {{.Nope}}",
    "{{if .State.Health}}h{{else}}none{{end}} {{.State.Health}}",
    "{{.Config.Cmd}} {{.HostConfig.Links}} {{.Config.Volumes}} {{json .HostConfig.Links}}", "json",
    "{{.ID}} {{.HostConfig.CPUShares}} {{.HostConfig.DNS}}", "{{.Id}} {{.HostConfig.CpuShares}}",
    "{{.ID}} {{.Id}}", "{{json .HostConfig.DNS}} {{json .Config.Labels}} {{.Config.Labels}}",
    "{{.State}}", "{{json .State}}", "{{.HostConfig.LogConfig}} {{.NetworkSettings.Ports}}",
    "{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}", "{{printf \"%T\" .State.Pid}}",
])
def test_inspect_templates(daemon, created, fmt):
    """docker inspect: the typed struct first, then the raw map with missingkey=error;
    a failure prints an empty line and the error, exit 1."""
    same(daemon, "inspect", "-f", fmt, created)
    same(daemon, "inspect", "-f", fmt, created, created)


@needs_docker
@pytest.mark.parametrize("fmt", [
    "{{.Metadata}} {{.RootFS}} {{json .Metadata}}", "{{.Config.Cmd}} {{json .Config}}",
    "{{.Config.Shell}} {{.Config.Hostname}}", "{{.RepoTags}} {{.Os}}/{{.Architecture}} {{.Size}}",
])
def test_image_inspect_templates(daemon, fmt):
    same(daemon, "inspect", "-f", fmt, "busybox")


@needs_docker
@pytest.mark.parametrize("fmt", [
    "{{.Server}}", "{{.Server.Platform}}|{{.Server.Experimental}}|{{.Server.KernelVersion}}",
    '{{range $c := .Server.Components}}{{$c.Name}} {{index $c.Details "ApiVersion"}}{{end}}',
])
def test_version_server_templates(daemon, fmt):
    same(daemon, "version", "--format", fmt)


@needs_docker
@pytest.mark.parametrize("fmt", [
    "{{json .Swarm}} {{.Swarm}}", "{{.Plugins}} {{json .Plugins}}", "{{.DriverStatus}}",
    "{{range .Warnings}}{{.}}{{end}}|{{.Isolation}}|{{.ContainerdCommit.ID}}|{{json .ContainerdCommit}}",
    # IndexConfigs holds pointers, which Go prints as addresses: compare what they point at
    "{{range $k, $v := .RegistryConfig.IndexConfigs}}{{$k}}={{$v.Name}},{{$v.Secure}},{{$v.Official}}"
    "{{end}} {{.ServerErrors}} {{.ClientErrors}} {{.UserName}}",
    "{{.Containers}} {{.Images}} {{.OSType}} {{.NCPU}} {{.LoggingDriver}} {{.CgroupDriver}}",
    "{{.Runtimes}} {{json .Runtimes}} {{.Runtimes.runc.Path}} {{.Info.Driver}}",
    "{{.ClientInfo.Debug}} {{.ClientInfo.Context}} {{.ClientInfo.Plugins}}",
])
def test_info_templates(daemon, fmt):
    same(daemon, "info", "--format", fmt)


def test_version_template_exit_codes_through_ketch(daemon):
    """The same without the docker CLI: an unknown field exits 1 after what was written,
    a template that does not parse exits 64."""
    res = daemon.ketch("version", "--format", "a{{.Server.Version}}b{{.Nope}}c")
    assert (res.returncode, res.stdout) == (1, "a0.1.0b\n")
    assert res.stderr == ('template: version:1:23: executing "version" at <.Nope>: '
                          "can't evaluate field Nope in type system.versionInfo\n")
    res = daemon.ketch("inspect", "-f", "{{.Name", "busybox")
    assert (res.returncode, res.stderr) == (64, "template parsing error: template: :1: unclosed action\n")
    assert daemon.ketch("version", "--format", "{{.Server.APIVersion}}").stdout == "1.45\n"


def test_version_template_without_a_daemon(tmp_path):
    """docker 28 prints the client's part and reports the connection, not the template."""
    sock = tmp_path / "none.sock"
    res = subprocess.run([PYTHON, "-I", "-S", "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
                          "from ketch.cli.main import main; sys.exit(main(sys.argv[2:]))", REPO,
                          "-H", f"unix://{sock}", "version", "--format",
                          "{{.Client.APIVersion}}|{{.Server}}|{{.Server.Version}}"],
                         capture_output=True, text=True)
    assert res.returncode == 1
    assert res.stdout == "1.45|<nil>|\n"
    assert res.stderr.startswith("Cannot connect to the ketch daemon")


def test_info_template_without_a_daemon(tmp_path):
    """docker 28: the zero-valued info is printed; the connection error comes first in
    docker's joined error, a template error after it, and a parse error exits 64."""
    def info(fmt):
        return subprocess.run([PYTHON, "-I", "-S", "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
                               "from ketch.cli.main import main; sys.exit(main(sys.argv[2:]))", REPO,
                               "-H", f"unix://{tmp_path}/none.sock", "info", "--format", fmt],
                              capture_output=True, text=True)
    res = info("a{{.ServerVersion}}{{.Containers}}b{{.Nope}}")
    assert (res.returncode, res.stdout) == (1, "a0b\n")
    lines = res.stderr.splitlines()
    assert lines[0].startswith("Cannot connect to the ketch daemon") and lines[1] == (
        'template: :1:37: executing "" at <.Nope>: can\'t evaluate field Nope in type system.dockerInfo')
    res = info("{{.Driver")
    assert (res.returncode, res.stdout) == (64, "")
    assert res.stderr.splitlines()[1] == "template parsing error: template: :1: unclosed action"
