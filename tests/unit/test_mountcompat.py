"""HostConfig.Mounts at older API versions (api/mountcompat.py, moby's postContainersCreate)."""

import pytest

from ketch.api import mountcompat
from ketch.errors import InvalidArgument


def adapted(mounts, version):
    hc = {"Mounts": mounts}
    mountcompat.adapt(hc, version)
    return hc["Mounts"]


@pytest.mark.parametrize("mount, message", [
    ({"Type": "bind", "Source": "/", "Target": "/x", "VolumeOptions": {}},
     'VolumeOptions must not be specified on mount type "bind"'),
    ({"Type": "volume", "Target": "/x", "BindOptions": {"Propagation": "shared"}},
     'BindOptions must not be specified on mount type "volume"'),
    ({"Type": "volume", "Target": "/x", "TmpfsOptions": {"SizeBytes": 1}},
     'TmpfsOptions must not be specified on mount type "volume"'),
])
def test_options_of_another_type_are_refused_from_1_42(mount, message):
    with pytest.raises(InvalidArgument, match=f"^{message}$"):
        adapted([mount], "1.45")


def test_before_1_42_such_options_are_dropped_and_create_mountpoint_ignored():
    out = adapted([{"Type": "bind", "Source": "/s", "Target": "/x", "VolumeOptions": {"NoCopy": True},
                    "BindOptions": {"CreateMountpoint": True}},
                   {"Type": "volume", "Target": "/y", "TmpfsOptions": {"SizeBytes": 1}}], "1.41")
    assert out[0]["VolumeOptions"] is None and out[0]["BindOptions"]["CreateMountpoint"] is False
    assert out[1]["TmpfsOptions"] is None


def test_fields_of_newer_apis():
    with pytest.raises(InvalidArgument, match="^BindOptions.ReadOnlyForceRecursive needs API v1.44 or newer$"):
        adapted([{"Type": "bind", "Source": "/", "Target": "/x", "ReadOnly": True,
                  "BindOptions": {"ReadOnlyForceRecursive": True}}], "1.43")
    with pytest.raises(InvalidArgument, match="^VolumeOptions.Subpath needs API v1.45 or newer$"):
        adapted([{"Type": "volume", "Source": "v", "Target": "/x", "VolumeOptions": {"Subpath": "a"}}], "1.44")
    out = adapted([{"Type": "bind", "Source": "/", "Target": "/x", "BindOptions": {"NonRecursive": True}}], "1.39")
    assert out[0]["BindOptions"]["NonRecursive"] is False
    mounts = [{"Type": "volume", "Source": "v", "Target": "/x", "VolumeOptions": {"Subpath": "a"}}]
    assert adapted(mounts, None) == mounts  # the daemon's own version: as sent
