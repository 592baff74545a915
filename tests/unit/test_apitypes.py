"""apitypes: create and update bodies checked as moby's Go types, with Go's messages.

The expected messages are what go1.19's encoding/json printed for the same bodies
decoded into structs shaped as moby v26.1's runconfig.ContainerConfigWrapper (embedded
*Config and *HostConfig, HostConfig under its key, Resources embedded in it); type names
are moby's own (container.HostConfig, nat.PortSet, units.Ulimit ...). None means Go
decoded the body without an error.
"""

import pytest

from ketch.apitypes import container as api
from ketch.apitypes import gojson
from ketch.errors import InvalidArgument

GO_ORACLE = [
    ('{"Image": 5}',
     'json: cannot unmarshal number into Go struct field ContainerConfigWrapper.Image of type string'),
    ('{"Env": [1, 2]}',
     'json: cannot unmarshal number into Go struct field ContainerConfigWrapper.Env of type string'),
    ('{"Labels": ["x"]}',
     'json: cannot unmarshal array into Go struct field ContainerConfigWrapper.Labels of type map[string]string'),
    ('{"Labels": {"a": 1}}',
     'json: cannot unmarshal number into Go struct field ContainerConfigWrapper.Labels of type string'),
    ('{"HostConfig": "x"}',
     'json: cannot unmarshal string into Go struct field ContainerConfigWrapper.HostConfig of type container.HostConfig'),
    ('{"Entrypoint": 7}',
     'json: cannot unmarshal number into Go struct field ContainerConfigWrapper.Entrypoint of type string'),
    ('{"Entrypoint": [7]}',
     'json: cannot unmarshal array into Go struct field ContainerConfigWrapper.Entrypoint of type string'),
    ('{"Entrypoint": "sh"}',
     None),
    ('{"ExposedPorts": [1]}',
     'json: cannot unmarshal array into Go struct field ContainerConfigWrapper.ExposedPorts of type nat.PortSet'),
    ('{"ExposedPorts": {"80/tcp": 1}}',
     'json: cannot unmarshal number into Go struct field ContainerConfigWrapper.ExposedPorts of type struct {}'),
    ('{"HostConfig": {"Ulimits": "x"}}',
     'json: cannot unmarshal string into Go struct field HostConfig.HostConfig.Ulimits of type []*units.Ulimit'),
    ('{"HostConfig": {"Ulimits": ["x"]}}',
     'json: cannot unmarshal string into Go struct field HostConfig.HostConfig.Ulimits of type units.Ulimit'),
    ('{"HostConfig": {"Ulimits": [{"Name": 5}]}}',
     'json: cannot unmarshal number into Go struct field Ulimit.HostConfig.Ulimits.Name of type string'),
    ('{"HostConfig": {"PidsLimit": "x"}}',
     'json: cannot unmarshal string into Go struct field HostConfig.HostConfig.PidsLimit of type int64'),
    ('{"HostConfig": {"Memory": 1.5}}',
     'json: cannot unmarshal number 1.5 into Go struct field HostConfig.HostConfig.Memory of type int64'),
    ('{"HostConfig": {"Memory": 1e3}}',
     'json: cannot unmarshal number 1e3 into Go struct field HostConfig.HostConfig.Memory of type int64'),
    ('{"HostConfig": {"Memory": 99999999999999999999}}',
     'json: cannot unmarshal number 99999999999999999999 into Go struct field HostConfig.HostConfig.Memory of type int64'),
    ('{"HostConfig": {"BlkioWeight": -1}}',
     'json: cannot unmarshal number -1 into Go struct field HostConfig.HostConfig.BlkioWeight of type uint16'),
    ('{"HostConfig": {"BlkioWeight": 70000}}',
     'json: cannot unmarshal number 70000 into Go struct field HostConfig.HostConfig.BlkioWeight of type uint16'),
    ('{"Memory": "x"}',
     'json: cannot unmarshal string into Go struct field ContainerConfigWrapper.Memory of type int64'),
    ('{"image": 5}',
     'json: cannot unmarshal number into Go struct field ContainerConfigWrapper.Image of type string'),
    ('{"Image": 5, "Env": "x"}',
     'json: cannot unmarshal number into Go struct field ContainerConfigWrapper.Image of type string'),
    ('{"Env": "x", "Entrypoint": 5}',
     'json: cannot unmarshal number into Go struct field ContainerConfigWrapper.Entrypoint of type string'),
    ('{"HostConfig": {"CapAdd": 5}}',
     'json: cannot unmarshal number into Go struct field HostConfig.HostConfig.CapAdd of type string'),
    ('[1]',
     'json: cannot unmarshal array into Go value of type runconfig.ContainerConfigWrapper'),
    ('"x"',
     'json: cannot unmarshal string into Go value of type runconfig.ContainerConfigWrapper'),
    ('{"StopTimeout": "x"}',
     'json: cannot unmarshal string into Go struct field ContainerConfigWrapper.StopTimeout of type int'),
    ('{"HostConfig": {"ConsoleSize": [1, -1]}}',
     'json: cannot unmarshal number -1 into Go struct field HostConfig.HostConfig.ConsoleSize of type uint'),
    ('{"HostConfig": {"ConsoleSize": "x"}}',
     'json: cannot unmarshal string into Go struct field HostConfig.HostConfig.ConsoleSize of type [2]uint'),
    ('{"Image": true}',
     'json: cannot unmarshal bool into Go struct field ContainerConfigWrapper.Image of type string'),
    ('{"Image": {}}',
     'json: cannot unmarshal object into Go struct field ContainerConfigWrapper.Image of type string'),
    ('{"Image": null}',
     None),
    ('{"Env": [null]}',
     None),
    ('{"Image": "x", "HostConfig": {"Memory": -0}}',
     None),
    ('{"HostConfig": {"Memory": 1E3}}',
     'json: cannot unmarshal number 1E3 into Go struct field HostConfig.HostConfig.Memory of type int64'),
    ('{"HostConfig": {"Memory": 10.0}}',
     'json: cannot unmarshal number 10.0 into Go struct field HostConfig.HostConfig.Memory of type int64'),
    ('{"Env": [[1]]}',
     'json: cannot unmarshal array into Go struct field ContainerConfigWrapper.Env of type string'),
    ('{"HostConfig": {"Binds": [{}]}}',
     'json: cannot unmarshal object into Go struct field HostConfig.HostConfig.Binds of type string'),
    ('{"HostConfig": {"Devices": "x"}}',
     'json: cannot unmarshal string into Go struct field HostConfig.HostConfig.Devices of type []container.DeviceMapping'),
    ('{"HostConfig": {"Devices": [{"PathOnHost": 1}]}}',
     'json: cannot unmarshal number into Go struct field DeviceMapping.HostConfig.Devices.PathOnHost of type string'),
    ('{"HostConfig": {"Devices": [1]}}',
     'json: cannot unmarshal number into Go struct field HostConfig.HostConfig.Devices of type container.DeviceMapping'),
    ('{"Healthcheck": {"Interval": "1s"}}',
     'json: cannot unmarshal string into Go struct field HealthcheckConfig.Healthcheck.Interval of type time.Duration'),
    ('{"HostConfig": {"RestartPolicy": {"Name": 1}}}',
     'json: cannot unmarshal number into Go struct field RestartPolicy.HostConfig.RestartPolicy.Name of type container.RestartPolicyMode'),
    ('{"HostConfig": {"RestartPolicy": "always"}}',
     'json: cannot unmarshal string into Go struct field HostConfig.HostConfig.RestartPolicy of type container.RestartPolicy'),
    ('{"HostConfig": {"Mounts": [{"TmpfsOptions": {"Mode": -1}}]}}',
     'json: cannot unmarshal number -1 into Go struct field TmpfsOptions.HostConfig.Mounts.TmpfsOptions.Mode of type fs.FileMode'),
    ('{"HostConfig": {"PortBindings": {"80/tcp": [{"HostPort": 80}]}}}',
     'json: cannot unmarshal number into Go struct field PortBinding.HostConfig.PortBindings.HostPort of type string'),
    ('{"HostConfig": {"Init": "yes"}}',
     'json: cannot unmarshal string into Go struct field HostConfig.HostConfig.Init of type bool'),
    ('{"HostConfig": {"OomKillDisable": 1}}',
     'json: cannot unmarshal number into Go struct field HostConfig.HostConfig.OomKillDisable of type bool'),
    ('{"HostConfig": {"MemorySwappiness": 1.5}}',
     'json: cannot unmarshal number 1.5 into Go struct field HostConfig.HostConfig.MemorySwappiness of type int64'),
    ('{"NetworkingConfig": {"EndpointsConfig": {"bridge": {"Aliases": "x"}}}}',
     'json: cannot unmarshal string into Go struct field EndpointSettings.NetworkingConfig.EndpointsConfig.Aliases of type []string'),
    ('{"Cmd": ["a", null]}',
     None),
    ('{"Volumes": {"/x": {"a": 1}}}',
     None),
    ('{"Image": "x", "HostConfig": {"Memory": 1, "Ulimits": [{"Name": "nofile", "Hard": "x"}]}}',
     'json: cannot unmarshal string into Go struct field Ulimit.HostConfig.Ulimits.Hard of type int64'),]


@pytest.mark.parametrize("body, message", GO_ORACLE)
def test_create_body_errors_are_gos(body, message):
    if message is None:
        api.decode_create(body.encode())
        return
    with pytest.raises(InvalidArgument) as exc:
        api.decode_create(body.encode())
    assert str(exc.value) == "invalid JSON: " + message


@pytest.mark.parametrize("body, message", [
    ("[1]", "json: cannot unmarshal array into Go value of type container.UpdateConfig"),
    ('{"Memory": "1g"}', "json: cannot unmarshal string into Go struct field UpdateConfig.Memory of type int64"),
    ('{"PidsLimit": true}', "json: cannot unmarshal bool into Go struct field UpdateConfig.PidsLimit of type int64"),
    ('{"RestartPolicy": {"MaximumRetryCount": "3"}}',
     "json: cannot unmarshal string into Go struct field RestartPolicy.RestartPolicy.MaximumRetryCount of type int"),
    ('{"Ulimits": {}}', "json: cannot unmarshal object into Go struct field UpdateConfig.Ulimits of type []*units.Ulimit"),
])
def test_update_body_errors_are_gos(body, message):
    with pytest.raises(InvalidArgument) as exc:
        api.decode_update(body.encode())
    assert str(exc.value) == "invalid JSON: " + message


def test_an_empty_update_changes_nothing():
    assert api.decode_update(b"") == {}
    # a body of white space is no body for ReadJSON's ContentLength test, and EOF for Go
    with pytest.raises(InvalidArgument, match="^invalid JSON: got EOF while reading request body$"):
        api.decode_update(b"  \n")


def test_an_empty_create_body_is_mobys_eof_error():
    for body in (b"", b" \r\n"):
        with pytest.raises(InvalidArgument, match="^invalid JSON: got EOF while reading request body$"):
            api.decode_create(body)


@pytest.mark.parametrize("body", [b"null", b"{}", b'{"HostConfig": {}}', b'{"hostconfig": null}'])
def test_a_create_body_without_config_fields_is_an_empty_config(body):
    # moby's wrapper embeds *container.Config, left nil when none of its keys is sent
    with pytest.raises(InvalidArgument, match="^config cannot be empty in order to create a container$"):
        api.decode_create(body)


@pytest.mark.parametrize("body", [b'{"image": null}', b'{"Cmd": ["true"]}'])
def test_any_config_key_makes_a_config(body):
    assert isinstance(api.decode_create(body), dict)


def test_a_syntax_error_is_invalid_json():
    with pytest.raises(InvalidArgument, match="^invalid JSON: "):
        api.decode_create(b'{"Image": ')
    with pytest.raises(InvalidArgument, match="^invalid JSON: "):
        api.decode_create(b'{"Memory": NaN}')


def test_content_after_the_body_is_mobys_error():
    with pytest.raises(InvalidArgument, match="^unexpected content after JSON$"):
        api.decode_create(b'{"Image": "busybox"} {}')
    # Go's Decoder.More() is false before a closing bracket; the type error comes first
    assert api.decode_create(b'{"Image": "busybox"} }') == {"Image": "busybox"}
    with pytest.raises(InvalidArgument, match="^invalid JSON: json: cannot unmarshal number"):
        api.decode_create(b'{"Image": 1} x')
    assert api.decode_create(b'{"Image": "busybox"}\n\n') == {"Image": "busybox"}


def test_the_checked_body_has_canonical_keys_and_lists():
    body = api.decode_create(b'{"image": "busybox", "cmd": "ls -l", "Entrypoint": ["sh", null], '
                             b'"hostconfig": {"memory": 8388608, "PidsLimit": null, "CapAdd": "NET_ADMIN"}, '
                             b'"Env": null, "Unknown": 1}')
    assert body == {"Image": "busybox", "Cmd": ["ls -l"], "Entrypoint": ["sh", ""],
                    "HostConfig": {"Memory": 8388608, "PidsLimit": None, "CapAdd": ["NET_ADMIN"]},
                    "Unknown": 1}


def test_null_elements_become_zero_values_the_engine_can_check():
    body = api.decode_create(b'{"Env": [null], "Labels": {"a": null}, "HostConfig": {"Devices": [null], '
                             b'"Ulimits": [null], "ConsoleSize": [null, 5]}, '
                             b'"NetworkingConfig": {"EndpointsConfig": {"bridge": null}}}')
    assert body == {"Env": [""], "Labels": {"a": ""},
                    "HostConfig": {"Devices": [{}], "Ulimits": [{}], "ConsoleSize": [0, 5]},
                    "NetworkingConfig": {"EndpointsConfig": {"bridge": {}}}}


def test_an_exact_key_wins_over_a_folded_one():
    t = gojson.struct("T", "T", ("Aa", gojson.String()), ("AA", gojson.Int()))
    assert gojson.decode({"AA": 5}, t) == {"AA": 5}
    assert gojson.decode({"aa": "x"}, t) == {"Aa": "x"}


@pytest.mark.parametrize("t, value, ok", [
    (gojson.Int("int64"), -(1 << 63), True),
    (gojson.Int("int64"), 1 << 63, False),
    (gojson.Int("uint16", 16, False), 65535, True),
    (gojson.Int("uint16", 16, False), 65536, False),
    (gojson.Int("uint64", 64, False), -1, False),
    (gojson.Int("int64"), True, False),
    (gojson.Bool(), 0, False),
    (gojson.String(), "", True),
    (gojson.Slice("[2]uint", gojson.Int("uint", 64, False), length=2), [1, 2, -3], True),
    (gojson.Any(), {"x": [1.5]}, True),
])
def test_scalar_ranges(t, value, ok):
    if ok:
        gojson.decode(value, t)
    else:
        with pytest.raises(InvalidArgument):
            gojson.decode(value, t)


# -- httputils.ReadJSON, shared by the update, network and volume bodies -------------------

UPDATE = api.UPDATE_CONFIG


@pytest.mark.parametrize("body, expected", [
    (None, None), (b"", None),  # no body: Go's zero value
    (b"null", None),
    (b'{"Memory": 5}', {"Memory": 5}),
    (b'{"Memory": 5} }', {"Memory": 5}),  # Decoder.More() is false before a closing bracket
    (b'{"Memory": 5}\n', {"Memory": 5}),
])
def test_read_json(body, expected):
    assert gojson.read_json(body, UPDATE) == expected


@pytest.mark.parametrize("body, message", [
    (b" \r\n\t", "invalid JSON: got EOF while reading request body"),
    (b'{"Memory": 5} {}', "unexpected content after JSON"),
    (b'{"Memory": "x"} {}', "invalid JSON: json: cannot unmarshal string into Go struct field "
                             "UpdateConfig.Memory of type int64"),  # the type error first
    (b'{"Memory": ', "invalid JSON: unexpected EOF"),
])
def test_read_json_errors(body, message):
    with pytest.raises(InvalidArgument) as exc:
        gojson.read_json(body, UPDATE)
    assert str(exc.value) == message


def test_volume_create_body_is_read_as_read_json_reads_it():
    from ketch.apitypes.volume import VolumeCreate, decode_create
    assert decode_create(b"") == decode_create(b"null") == VolumeCreate()
    assert decode_create(b'{"Name": "v", "Labels": {}, "ClusterVolumeSpec": {}} ') == VolumeCreate(
        name="v", labels={}, cluster=True)
    for body, message in ((b"  ", "invalid JSON: got EOF while reading request body"),
                          (b'{"Name": "v"} {}', "unexpected content after JSON")):
        with pytest.raises(InvalidArgument, match=f"^{message}$"):
            decode_create(body)
