"""version, info and inspect templates over what docker's commands run them over.

Each expected text is what the docker 28.2.2 client printed against a ketchd for the
same data (docker version/info --format over docker/cli's Go structs, docker inspect -f
over the typed response first and the raw map with missingkey=error second).
"""

import pytest

from ketch.cli.format import gotemplate, structs
from ketch.cli.format.inspector import Inspector

CLIENT = {"Platform": {"Name": "ketch"}, "Version": "0.1.0", "ApiVersion": "1.45",
          "DefaultAPIVersion": "1.45", "GitCommit": "", "GoVersion": "python3.11.2", "Os": "linux",
          "Arch": "amd64", "BuildTime": "", "Context": "default"}
SERVER = {"Platform": {"Name": "ketch"}, "Components": [
    {"Name": "Engine", "Version": "0.1.0", "Details": {"ApiVersion": "1.45", "MinAPIVersion": "1.24"}}],
    "Version": "0.1.0", "ApiVersion": "1.45", "MinAPIVersion": "1.24", "GitCommit": "",
    "GoVersion": "python3.11.2", "Os": "linux", "Arch": "amd64", "KernelVersion": "6.1",
    "BuildTime": "", "Extra": "not in docker's struct"}


def version(fmt, server=SERVER):
    return gotemplate.parse(fmt, name="version").execute(structs.version_info(CLIENT, server))


def version_error(fmt, server=SERVER):
    with pytest.raises(gotemplate.TemplateError) as exc:
        version(fmt, server)
    return str(exc.value)


def test_version_go_field_names():
    assert version("{{.Client.APIVersion}}|{{.Server.APIVersion}} {{.Server.MinAPIVersion}} "
                   "{{.Server.Os}}|{{.Client.GoVersion}}|{{.Client.Context}}") == \
        "1.45|1.45 1.24 linux|python3.11.2|default"
    assert version("{{range .Server.Components}}{{.Name}} {{index .Details \"ApiVersion\"}}{{end}}") \
        == "Engine 1.45"
    assert version("{{.Server.Components}}") == "[{Engine 0.1.0 map[ApiVersion:1.45 MinAPIVersion:1.24]}]"


@pytest.mark.parametrize("fmt,text", [
    ("{{.Nope}}", 'template: version:1:2: executing "version" at <.Nope>: '
                  "can't evaluate field Nope in type system.versionInfo"),
    ("{{.Client.ApiVersion}}", 'template: version:1:9: executing "version" at <.Client.ApiVersion>: '
                               "can't evaluate field ApiVersion in type system.clientVersion"),
    ("{{.Server.Nope}}", 'template: version:1:9: executing "version" at <.Server.Nope>: '
                         "can't evaluate field Nope in type *types.Version"),
    ("{{.Server.Extra}}", 'template: version:1:9: executing "version" at <.Server.Extra>: '
                          "can't evaluate field Extra in type *types.Version"),
])
def test_version_unknown_fields_fail(fmt, text):
    assert version_error(fmt) == text


def test_version_json_is_the_struct_marshalled_again():
    """JSON keys and omitempty of docker's types: no empty BuildTime, no unknown keys."""
    assert version("{{json .Server}}") == (
        '{"Platform":{"Name":"ketch"},"Components":[{"Name":"Engine","Version":"0.1.0",'
        '"Details":{"ApiVersion":"1.45","MinAPIVersion":"1.24"}}],"Version":"0.1.0",'
        '"ApiVersion":"1.45","MinAPIVersion":"1.24","GitCommit":"","GoVersion":"python3.11.2",'
        '"Os":"linux","Arch":"amd64","KernelVersion":"6.1"}')
    assert version("{{json .Client}}") == (
        '{"Platform":{"Name":"ketch"},"Version":"0.1.0","ApiVersion":"1.45","DefaultAPIVersion":"1.45",'
        '"GoVersion":"python3.11.2","Os":"linux","Arch":"amd64","Context":"default"}')


def test_version_without_a_server():
    assert version("{{.Server}}", None) == "<nil>"
    assert version('{{json .}}', None).endswith(',"Server":null}')


INFO = {"ID": "x", "Driver": "overlay2", "CpuCfsPeriod": True, "HttpProxy": "p",
        "Swarm": {"LocalNodeState": "inactive", "RemoteManagers": None},
        "RegistryConfig": {"IndexConfigs": {}, "Mirrors": []}}


def info(fmt, server=INFO):
    doc = structs.docker_info(server, dict(CLIENT, ApiVersion="", Debug=False), [], [])
    return gotemplate.parse(fmt).execute(doc)


def test_info_go_field_names_and_zero_values():
    assert info("{{.Driver}} {{.Swarm.LocalNodeState}} {{.CPUCfsPeriod}} {{.HTTPProxy}} "
                "{{.ClientInfo.Debug}} {{.ServerErrors}} {{.Swarm.RemoteManagers}} "
                "{{.RegistryConfig.Mirrors}} {{.Plugins.Volume}} {{.NCPU}}") == \
        "overlay2 inactive true p false [] [] [] [] 0"
    # docker 28.2.2: the client's section, no APIVersion (not asked), Plugins [] not null
    assert info("{{json .ClientInfo}}") == (
        '{"Debug":false,"Platform":{"Name":"ketch"},"Version":"0.1.0","DefaultAPIVersion":"1.45",'
        '"GoVersion":"python3.11.2","Os":"linux","Arch":"amd64","Context":"default","Plugins":[],'
        '"Warnings":null}')
    assert info("{{.ServerVersion}}|{{.Containers}}", None) == "|0"  # no daemon: zero values


@pytest.mark.parametrize("fmt,text", [
    ("{{.Nope}}", "template: :1:2: executing \"\" at <.Nope>: "
                  "can't evaluate field Nope in type system.dockerInfo"),
    ("{{.Swarm.Nope}}", "template: :1:8: executing \"\" at <.Swarm.Nope>: "
                        "can't evaluate field Nope in type swarm.Info"),
    ("{{.CpuCfsPeriod}}", "template: :1:2: executing \"\" at <.CpuCfsPeriod>: "
                          "can't evaluate field CpuCfsPeriod in type system.dockerInfo"),
])
def test_info_unknown_fields_fail(fmt, text):
    with pytest.raises(gotemplate.TemplateError) as exc:
        info(fmt)
    assert str(exc.value) == text


CONTAINER = {"Id": "abc", "Name": "/tp1", "State": {"Status": "created", "Running": False},
             "Config": {"Labels": {"a": "b"}, "Cmd": ["true"], "Volumes": None, "Entrypoint": None},
             "HostConfig": {"Links": None, "LogConfig": {"Type": "", "Config": {}}, "CpuShares": 0,
                            "Dns": []}}


@pytest.mark.parametrize("fmt,text", [
    ("{{.Config.Labels.a}}", "b"),
    ("{{.Config.Labels.nope}}", "<no value>"),  # a Go map in docker's typed struct
    ("{{.HostConfig.LogConfig.Config.nope}}", "<no value>"),
    ("{{.State.Health}}", "<nil>"),  # omitempty pointer the JSON leaves out
    ("{{if .State.Health}}h{{else}}none{{end}}", "none"),
    ("{{.Config.Cmd}} {{.HostConfig.Links}} {{.Config.Volumes}} {{.Config.Entrypoint}}",
     "[true] [] map[] []"),
    ("{{json .HostConfig.Links}} {{json .Config.Volumes}}", "null null"),
    # Go names in the typed run, JSON keys through the raw one (not both in one template:
    # the raw run knows no Go names)
    ("{{.ID}} {{.HostConfig.CPUShares}} {{.HostConfig.DNS}}", "abc 0 []"),
    ("{{.Id}} {{.HostConfig.CpuShares}} {{.HostConfig.Dns}}", "abc 0 []"),
    ("{{json .HostConfig.DNS}}", "[]"),
])
def test_inspect_typed_run(fmt, text):
    assert Inspector(fmt).execute(CONTAINER) == text


@pytest.mark.parametrize("fmt,text", [
    ("{{.Nope}}", 'template parsing error: template: :1:2: executing "" at <.Nope>: '
                  'map has no entry for key "Nope"'),
    ("{{.State.Nope}}", 'template parsing error: template: :1:8: executing "" at <.State.Nope>: '
                        'map has no entry for key "Nope"'),
    ("{{.State.Health.Status}}", 'template parsing error: template: :1:8: executing "" at '
                                 '<.State.Health.Status>: map has no entry for key "Health"'),
    # once the typed run failed, the raw run fails on any missing key, maps' too
    ("{{.Config.Labels.nope}} {{.Nope}}", 'template parsing error: template: :1:9: executing "" '
                                          'at <.Config.Labels.nope>: map has no entry for key "nope"'),
])
def test_inspect_raw_fallback_errors(fmt, text):
    with pytest.raises(gotemplate.TemplateError) as exc:
        Inspector(fmt).execute(CONTAINER)
    assert str(exc.value) == text


def test_inspect_typed_json_keeps_the_json_keys():
    out = Inspector("{{json .HostConfig}}").execute(CONTAINER)
    assert out == ('{"Links":null,"LogConfig":{"Type":"","Config":{}},"CpuShares":0,"Dns":[]}')


def test_inspect_typed_maps_print_their_keys_sorted():
    """Go's json.Marshal and fmt sort a map's keys (docker 28: {"a":"2","z":"1"} map[a:2 z:1])."""
    doc = dict(CONTAINER, Config=dict(CONTAINER["Config"], Labels={"z": "1", "a": "2"}))
    assert Inspector("{{json .Config.Labels}} {{.Config.Labels}}").execute(doc) == (
        '{"a":"2","z":"1"} map[a:2 z:1]')


def test_inspect_parse_error_is_the_callers():
    with pytest.raises(gotemplate.TemplateError) as exc:
        Inspector("{{.Name")
    assert str(exc.value) == "template: :1: unclosed action"
