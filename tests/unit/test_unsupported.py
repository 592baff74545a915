"""The table of fields ketch refuses until it implements them (engine/unsupported.py).

The bodies in tests/golden/create_bodies.jsonl are what the docker 28 CLI and the
docker SDK really send (captured by pointing them at a listener): what they send
unasked must pass, every flag ketch does not honour must be refused, naming its field.
"""

import json
import pathlib

import pytest

from ketch.engine import unsupported
from ketch.errors import InvalidArgument

GOLDEN = pathlib.Path(__file__).resolve().parents[1] / "golden" / "create_bodies.jsonl"
CAPTURED = [json.loads(line) for line in GOLDEN.read_text().splitlines()]


@pytest.mark.parametrize("case", CAPTURED, ids=[c["command"] for c in CAPTURED])
def test_what_clients_send(case):
    if case["refused"] is None:
        unsupported.check_create(case["body"])
    else:
        with pytest.raises(InvalidArgument) as err:
            unsupported.check_create(case["body"])
        assert str(err.value).startswith(case["refused"] + " (")
        assert str(err.value).endswith(" is not supported by this version of ketch")


def test_the_captured_bodies_cover_both_answers():
    assert sum(c["refused"] is None for c in CAPTURED) >= 10
    assert sum(c["refused"] is not None for c in CAPTURED) >= 10  # fewer as features land


@pytest.mark.parametrize("body", [
    {}, {"HostConfig": None}, {"HostConfig": {}},
    {"NetworkDisabled": True},  # no network is what ketch gives
    {"HostConfig": {"NetworkMode": "none"}, "NetworkingConfig": {"EndpointsConfig": {"none": None}}},
    {"HostConfig": {"NetworkMode": "container:web"}},  # networks are implemented
    {"NetworkingConfig": {"EndpointsConfig": {"net": {"Aliases": ["db"], "IPAMConfig": {"IPv4Address": "10.0.0.2"}}}}},
    {"HostConfig": {"RestartPolicy": {"Name": "", "MaximumRetryCount": 0}}},
    {"HostConfig": {"RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3}}},  # implemented
    {"HostConfig": {"MaskedPaths": None, "ReadonlyPaths": None}},
    {"HostConfig": {"MaskedPaths": list(unsupported.MASKED_PATHS)}},  # the defaults, spelled out
    {"Healthcheck": {"Test": None, "Interval": 0}},
    {"Healthcheck": {"Test": ["CMD-SHELL", "true"], "Interval": 5}},  # healthchecks run
    {"HostConfig": {"LogConfig": {"Type": "json-file", "Config": None}}},
])
def test_zero_values_and_what_ketch_does_pass(body):
    unsupported.check_create(body)


@pytest.mark.parametrize("body, words", [
    ({"HostConfig": {"MaskedPaths": []}}, "HostConfig.MaskedPaths (MaskedPaths)"),
    ({"NetworkingConfig": {"EndpointsConfig": {"default": {"DriverOpts": {"a": "b"}}}}},
     "NetworkingConfig.EndpointsConfig.default.DriverOpts (--network driver-opt)"),
    ({"NetworkingConfig": {"EndpointsConfig": {"default": {"GwPriority": 1}}}},
     "NetworkingConfig.EndpointsConfig.default.GwPriority (--network gw-priority)"),
    ({"MacAddress": "02:42:ac:11:00:02"}, "MacAddress (--mac-address)"),
    ({"Binds": ["/:/host"]}, "HostConfig.Binds (-v, --volume)"),  # the deprecated top-level HostConfig
    ({"HostConfig": {"KernelMemory": 1 << 24}}, "HostConfig.KernelMemory (--kernel-memory)"),
])
def test_refusals_name_the_field(body, words):
    with pytest.raises(InvalidArgument) as err:
        unsupported.check_create(body)
    assert str(err.value) == f"{words} is not supported by this version of ketch"


@pytest.mark.parametrize("body, refused", [
    ({"Memory": 1 << 30, "CpuShares": 512}, None),
    ({"RestartPolicy": {"Name": "no", "MaximumRetryCount": 0}}, None),
    ({"RestartPolicy": {"Name": "unless-stopped"}}, None),  # implemented (engine/restart.py)
    ({"CpuRealtimeRuntime": 950000}, "HostConfig.CpuRealtimeRuntime (--cpu-rt-runtime)"),
    ({"BlkioDeviceWriteIOps": [{"Path": "/dev/sda", "Rate": 5}]}, "HostConfig.BlkioDeviceWriteIOps (--device-write-iops)"),
])
def test_update_refuses_the_same_fields(body, refused):
    if refused is None:
        unsupported.check_update(body)
        return
    with pytest.raises(InvalidArgument) as err:
        unsupported.check_update(body)
    assert str(err.value) == f"{refused} is not supported by this version of ketch"


def test_every_row_names_a_field_of_the_api_types():
    from ketch.apitypes import container as api
    host = {name for name, _ in api.HOST_FIELDS}
    config = {name for name, _ in api.CONFIG_FIELDS}
    for row in unsupported.CONFIG_ROWS + unsupported.HOST_ROWS:
        first, _, rest = row.path.partition(".")
        if first == "HostConfig":
            assert rest.split(".")[0] in host, row.path
        else:
            assert first in config, row.path
