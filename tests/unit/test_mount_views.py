"""A container's mount points in Docker's shapes (api/views.py): inspect's and the list's
Mounts, HostConfig's Tmpfs and Mounts (and Sysctls and Init) in their places, the list's
volume filter."""

from ketch.api import summaries, views
from ketch.api.http import encode_json
from ketch.engine.containers.bundle import Paths
from ketch.engine.containers.records import ContainerRecord
from ketch.engine.volumes.mountpoint import MountPoint

POINTS = [
    MountPoint("volume", "/data", "/var/lib/ketch/volumes/v/_data", "v", "local", mode="z", named=True),
    MountPoint("bind", "/srv", "/host/srv", rw=False, mode="ro", propagation="rprivate"),
    MountPoint("tmpfs", "/t", options={"tmpfs_size": 1024}),
]


def record(**host_config):
    return ContainerRecord(id="c" * 64, name="c", created="2026-12-07T00:00:00Z", image="busybox",
                           image_id="sha256:" + "a" * 64, config={}, host_config=host_config,
                           path="true", args=[], snapshot="s", parents=[],
                           mounts=[mp.to_doc() for mp in POINTS])


def test_mounts_in_docker_s_shape_and_order_of_fields():
    shown = views.mounts_json(record())
    assert shown == [
        {"Type": "volume", "Name": "v", "Source": "/var/lib/ketch/volumes/v/_data", "Destination": "/data",
         "Driver": "local", "Mode": "z", "RW": True, "Propagation": ""},
        {"Type": "bind", "Source": "/host/srv", "Destination": "/srv", "Mode": "ro", "RW": False,
         "Propagation": "rprivate"},
        {"Type": "tmpfs", "Source": "", "Destination": "/t", "Mode": "", "RW": True, "Propagation": ""},
    ]
    assert [list(m) for m in shown][0] == ["Type", "Name", "Source", "Destination", "Driver", "Mode",
                                           "RW", "Propagation"]
    rec = record()
    assert views.container_json(rec, Paths("/d", "/e"))["Mounts"] == shown
    assert views.container_summary(rec)["Mounts"] == shown
    assert summaries.SummaryEncoder().listing([rec]) == encode_json([views.container_summary(rec)])


def test_a_record_from_before_volumes_has_none():
    doc = record().to_doc()
    del doc["mounts"]
    assert views.mounts_json(ContainerRecord.from_doc(doc)) == []


def test_host_config_shows_tmpfs_and_mounts_where_docker_s_struct_has_them():
    mounts = [{"Type": "tmpfs", "Target": "/t"}]
    keys = list(views.host_config(record(Tmpfs={"/x": "size=1m"}, Mounts=mounts)))
    assert keys[keys.index("Tmpfs") + 1] == "UTSMode" and keys[keys.index("Mounts") + 1] == "MaskedPaths"
    shown = views.host_config(record(Tmpfs={"/x": "size=1m"}, Mounts=mounts))
    assert (shown["Tmpfs"], shown["Mounts"]) == ({"/x": "size=1m"}, mounts)
    assert "Tmpfs" not in views.host_config(record()) and "Mounts" not in views.host_config(record())


def test_host_config_shows_sysctls_and_init_where_docker_s_struct_has_them():
    # omitempty in moby's HostConfig: docker-compose 1.29's `init:` and `sysctls:` were
    # applied but missing from inspect
    shown = views.host_config(record(Sysctls={"net.ipv4.ip_forward": "1"}, Init=True))
    keys = list(shown)
    assert keys[keys.index("Sysctls") - 1:keys.index("Sysctls") + 2] == ["ShmSize", "Sysctls", "Runtime"]
    assert (shown["Sysctls"], keys[-1], shown["Init"]) == ({"net.ipv4.ip_forward": "1"}, "Init", True)
    assert views.host_config(record(Init=False))["Init"] is False  # a *bool: false is not omitted
    assert {"Sysctls", "Init"}.isdisjoint(views.host_config(record(Sysctls={}, Init=None)))


def test_the_volume_filter():
    rec = record()
    for value in ("v", "/data", "/host/srv", "/srv", "/t"):
        assert views.mounts_match(rec, [value]), value
    assert not views.mounts_match(rec, ["nope", "/host"])


def test_port_bindings_are_null_unless_the_client_sent_them():
    assert views.host_config(record())["PortBindings"] is None  # docker-py, compose: omitted
    assert views.host_config(record(PortBindings={}))["PortBindings"] == {}  # the docker CLI's
    bound = {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}
    assert views.host_config(record(PortBindings=bound))["PortBindings"] == bound


def test_links_show_on_the_default_bridge_only():
    assert views.host_config(record(Links=["db:db"]))["Links"] == ["db:db"]
    assert views.host_config(record(Links=["db:db"], NetworkMode="bridge"))["Links"] == ["db:db"]
    assert views.host_config(record(Links=["db:db"], NetworkMode="p_default"))["Links"] is None
    assert views.host_config(record(Links=[]))["Links"] is None  # docker-compose 1.29 sends []
