"""convert's create bodies against ketchd: the networks, volume and containers it describes
are created, connected, given their secret files and started, and inspect shows what the
service asked for. Everything made here is removed in ``finally``.
"""

import os
import secrets

import pytest

from ketch.client.api import APIClient
from ketch.compose import labels as L
from ketch.compose import model
from ketch.compose.convert import (RunOverrides, container_create, files_archive, network_create,
                                   volume_create)
from tests.integration.conftest import wait_until


def _project(daemon, name: str, tmp) -> model.Project:
    secret = tmp / "token.txt"
    secret.write_text("s3cret\n")
    services = {
        "web": {
            "image": "busybox", "command": ["sleep", "300"],
            "environment": {"GREETING": "hello", "UNSET": None},
            "labels": {"com.example.role": "web"},
            "ports": [{"target": 80, "protocol": "tcp", "mode": "ingress", "host_ip": "127.0.0.1"}],
            "expose": ["3000"],
            "volumes": [
                {"type": "volume", "source": "data", "target": "/data"},
                {"type": "volume", "target": "/anon"},
                {"type": "bind", "source": str(tmp / "made"), "target": "/made",
                 "bind": {"create_host_path": True}},
                {"type": "tmpfs", "target": "/scratch", "tmpfs": {"size": 1048576}},
            ],
            "tmpfs": ["/run/t"],
            "networks": {"front": {"aliases": ["www"]}, "back": {"priority": 5}},
            "healthcheck": {"test": ["CMD", "true"], "interval": "1s", "retries": 2},
            "restart": "on-failure:2", "hostname": "webhost", "working_dir": "/data",
            "stop_signal": "SIGTERM", "stop_grace_period": "3s", "init": True,
            "cap_add": ["NET_ADMIN"], "cap_drop": ["MKNOD"], "shm_size": 8388608,
            "ulimits": {"nofile": {"soft": 1024, "hard": 2048}},
            "extra_hosts": ["legacy=10.1.2.3"], "mem_limit": 134217728,
            "secrets": [{"source": "token"}, {"source": "pw", "target": "pw.txt"}],
            "configs": [{"source": "conf", "target": "/etc/app.conf"}],
        },
        "side": {"image": "busybox", "command": ["sleep", "300"], "network_mode": "service:web"},
    }
    doc = {
        "name": name, "working_dir": str(tmp), "config_files": [str(tmp / "compose.yaml")],
        "services": {k: {"name": k, **v} for k, v in services.items()},
        "networks": {"front": {"name": f"{name}_front", "labels": {"tier": "front"},
                               "ipam": {"config": [{"subnet": daemon.subnet(27)}]}},
                     "back": {"name": f"{name}_back", "internal": True}},
        "volumes": {"data": {"name": f"{name}_data"}},
        "secrets": {"token": {"name": "token", "file": str(secret)},
                    "pw": {"name": "pw", "environment": "PW"}},
        "configs": {"conf": {"name": "conf", "content": "key=value\n"}},
        "environment": {"PW": "hunter2"},
    }
    return model.from_canonical(model.Project, doc)


def _create(client: APIClient, made) -> str:
    cid = client.create_container(made.body, made.name, made.platform)["Id"]
    for net, endpoint in made.extra_networks:
        client.connect_network(net, cid, endpoint)
    if made.files:
        client.put_archive(cid, "/", files_archive(made.files),
                           copy_uid_gid=any(f.copy_uid_gid for f in made.files))
    return cid


def _exec(daemon, cid: str, *cmd: str) -> str:
    res = daemon.ketch("exec", cid, *cmd)
    assert res.returncode == 0, res.stderr
    return res.stdout


def test_a_service_created_from_its_body_is_what_it_asked_for(daemon, tmp_path):
    name = "cv" + secrets.token_hex(4)
    project = _project(daemon, name, tmp_path)
    client = APIClient(daemon.host)
    made_ids: list[str] = []
    try:
        for key in project.networks:
            client.create_network(network_create(project, key))
        client.create_volume(volume_create(project, "data"))
        web = container_create(project, project.services["web"], 1, image="busybox")
        cid = _create(client, web)
        made_ids.append(cid)
        client.start(cid)
        side = container_create(project, project.services["side"], 1, image="busybox")
        made_ids.append(_create(client, side))
        client.start(made_ids[-1])

        info = client.inspect_container(cid)
        assert info["Name"] == f"/{name}-web-1"
        config, host = info["Config"], info["HostConfig"]
        assert config["Labels"][L.PROJECT] == name and config["Labels"]["com.example.role"] == "web"
        assert config["Labels"][L.CONFIG_HASH] == L.config_hash(project.services["web"])
        assert "GREETING=hello" in config["Env"] and not any(e.startswith("UNSET") for e in config["Env"])
        assert set(config["ExposedPorts"]) == {"80/tcp", "3000/tcp"}
        assert config["Hostname"] == "webhost" and config["WorkingDir"] == "/data"
        assert config["StopTimeout"] == 3 and config["Healthcheck"]["Interval"] == 1_000_000_000
        assert host["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 2}
        assert host["Init"] is True and host["ShmSize"] == 8388608 and host["Memory"] == 134217728
        assert host["ExtraHosts"] == ["legacy:10.1.2.3"]
        assert host["Binds"] == [f"{tmp_path}/made:/made:rw"] and os.path.isdir(tmp_path / "made")
        mounts = {m["Destination"]: m for m in info["Mounts"]}
        assert mounts["/data"]["Name"] == f"{name}_data"
        assert mounts["/anon"]["Type"] == "volume" and mounts["/made"]["Type"] == "bind"
        assert mounts["/run/secrets/token"]["RW"] is False
        networks = info["NetworkSettings"]["Networks"]
        assert set(networks) == {f"{name}_front", f"{name}_back"}
        assert host["NetworkMode"] == f"{name}_back"  # priority 5 comes first
        assert {f"{name}-web-1", "web", "www"} <= set(networks[f"{name}_front"]["Aliases"])

        assert _exec(daemon, cid, "cat", "/run/secrets/token") == "s3cret\n"
        assert _exec(daemon, cid, "cat", "/run/secrets/pw.txt") == "hunter2"
        assert _exec(daemon, cid, "cat", "/etc/app.conf") == "key=value\n"
        assert _exec(daemon, cid, "stat", "-c", "%a", "/etc/app.conf").strip() == "444"
        assert "/scratch" in _exec(daemon, cid, "cat", "/proc/mounts")
        assert "legacy" in _exec(daemon, cid, "cat", "/etc/hosts")

        side_info = client.inspect_container(made_ids[-1])
        # kept as the container's ID, as moby's adaptSharedNamespaceContainer does
        assert side_info["HostConfig"]["NetworkMode"] == f"container:{cid}"
    finally:
        for made in made_ids:
            client.remove(made, force=True, volumes=True)
        for key in project.networks:
            try:
                client.remove_network(f"{name}_{key}")
            except Exception:
                pass
        try:
            client.remove_volume(f"{name}_data")
        except Exception:
            pass
        client.close()


def test_a_run_container_body_with_an_empty_entrypoint(daemon, tmp_path):
    name = "cr" + secrets.token_hex(4)
    doc = {"name": name, "working_dir": str(tmp_path),
           "services": {"job": {"name": "job", "image": "busybox", "entrypoint": ["false"],
                                "restart": "always"}}}
    project = model.from_canonical(model.Project, doc)
    client = APIClient(daemon.host)
    cid = None
    try:
        made = container_create(project, project.services["job"], 1, image="busybox", oneoff=True,
                                overrides=RunOverrides(entrypoint=[], command=["echo", "ran"], rm=False))
        cid = _create(client, made)
        info = client.inspect_container(cid)
        assert info["Config"]["Labels"][L.ONEOFF] == "True"
        assert info["HostConfig"]["RestartPolicy"]["Name"] in ("", "no")
        assert info["HostConfig"]["NetworkMode"] == "none"
        client.start(cid)
        assert client.wait(cid) == 0
        assert wait_until(lambda: client.inspect_container(cid)["State"]["Status"] == "exited", 10)
    finally:
        if cid:
            client.remove(cid, force=True, volumes=True)
        client.close()


def test_recreation_keeps_the_anonymous_volume(daemon, tmp_path):
    name = "ci" + secrets.token_hex(4)
    doc = {"name": name, "working_dir": str(tmp_path),
           "services": {"db": {"name": "db", "image": "busybox", "command": ["sleep", "300"],
                               "volumes": [{"type": "volume", "target": "/keep"}]}}}
    project = model.from_canonical(model.Project, doc)
    service = project.services["db"]
    client = APIClient(daemon.host)
    made: list[str] = []
    try:
        old = _create(client, container_create(project, service, 1, image="busybox"))
        made.append(old)
        client.start(old)
        _exec(daemon, old, "sh", "-c", "echo kept > /keep/f")
        mounts = client.inspect_container(old)["Mounts"]
        spec = container_create(project, service, 1, image="busybox", replaces=old, inherit=mounts)
        assert spec.name == f"{old[:12]}_{name}-db-1"
        new = _create(client, spec)
        made.append(new)
        client.stop(old, timeout=0)
        client.remove(old)
        made.remove(old)
        client.rename(new, f"{name}-db-1")
        client.start(new)
        assert _exec(daemon, new, "cat", "/keep/f") == "kept\n"
        info = client.inspect_container(new)
        assert info["Config"]["Labels"][L.REPLACE] == old
        assert [m["Name"] for m in info["Mounts"]] == [m["Name"] for m in mounts]
    finally:
        for cid in made:
            client.remove(cid, force=True, volumes=True)
        client.close()


pytestmark = pytest.mark.integration
