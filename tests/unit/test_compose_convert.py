"""Service -> create body goldens: each tests/golden/compose/convert/<case>.yaml holds a
project in the canonical form (what the loader gives) and the calls to make; <case>.json
what they give. The config hash is checked against labels.config_hash, then blanked in the
golden so a change of the model's canonical form does not rewrite every file here.
Set KETCH_UPDATE_GOLDEN=1 to rewrite the goldens.
"""

import dataclasses
import json
import os

import pytest
import yaml

from ketch.compose import labels as L
from ketch.compose import model
from ketch.compose.convert import (RunOverrides, container_create, network_create,
                                   volume_create)

GOLDEN = os.path.join(os.path.dirname(__file__), "..", "golden", "compose", "convert")
CASES = sorted(f[:-5] for f in os.listdir(GOLDEN) if f.endswith(".yaml"))
HASH = "<config-hash>"


def project_of(doc: dict) -> model.Project:
    """from_canonical, each service given its key as name (the loader's part)."""
    doc = dict(doc)
    doc["services"] = {k: {"name": k, **v} for k, v in doc.get("services", {}).items()}
    return model.from_canonical(model.Project, doc)


def run_case(doc: dict) -> dict:
    project = project_of(doc["project"])
    calls = doc.get("calls") or [{"service": s, "number": 1} for s in project.services]
    containers = []
    for call in calls:
        kw = dict(call)
        service = project.services[kw.pop("service")]
        number = kw.pop("number")
        if "overrides" in kw:
            kw["overrides"] = model.from_canonical(RunOverrides, kw["overrides"])
        kw.setdefault("image", service.image or f"{project.name}-{service.name}")
        made = container_create(project, service, number, **kw)
        labels = made.body["Labels"]
        assert len(labels[L.CONFIG_HASH]) == 64
        labels[L.CONFIG_HASH] = HASH
        out = dataclasses.asdict(made)
        for f in out["files"]:
            f["content"] = f["content"].decode()
        containers.append({"call": call, **out})
    return {
        "containers": containers,
        "networks": {k: network_create(project, k) for k, n in project.networks.items() if not n.external},
        "volumes": {k: volume_create(project, k) for k, v in project.volumes.items() if not v.external},
    }


@pytest.mark.parametrize("case", CASES)
def test_golden(case):
    with open(os.path.join(GOLDEN, case + ".yaml")) as f:
        doc = yaml.safe_load(f)
    got = run_case(doc)
    path = os.path.join(GOLDEN, case + ".json")
    if os.environ.get("KETCH_UPDATE_GOLDEN"):
        with open(path, "w") as f:
            json.dump(got, f, indent=2)
            f.write("\n")
    with open(path) as f:
        assert json.loads(json.dumps(got)) == json.load(f)


# -- behaviours beside the goldens ------------------------------------------------------

from ketch.compose.convert import container_name, files_archive, image_name  # noqa: E402
from ketch.compose.errors import ComposeError  # noqa: E402


def small(**service) -> model.Project:
    return project_of({"name": "p", "working_dir": "/w", "config_files": ["/w/compose.yaml"],
                       "services": {"s": {"image": "busybox", "networks": {"default": None},
                                          **service},
                                    "other": {"image": "busybox", "networks": {"default": None}}},
                       "networks": {"default": {"name": "p_default"}}})


def test_names():
    p = small()
    assert container_name(p, p.services["s"], 3) == "p-s-3"
    assert image_name(p, p.services["s"]) == "busybox"
    built = dataclasses.replace(p.services["s"], image=None, container_name="fixed")
    assert image_name(p, built) == "p-s"
    assert container_name(p, built, 2) == "fixed"


def test_config_hash_label_is_the_service_hash():
    p = small(command=["sleep", "1"])
    made = container_create(p, p.services["s"], 1, image="busybox")
    assert made.body["Labels"][L.CONFIG_HASH] == L.config_hash(p.services["s"])


def test_run_slug_is_random_when_not_given():
    p = small()
    a = container_create(p, p.services["s"], 1, image="busybox", oneoff=True)
    b = container_create(p, p.services["s"], 1, image="busybox", oneoff=True)
    slug = a.body["Labels"][L.SLUG]
    assert len(slug) == 64 and slug != b.body["Labels"][L.SLUG]
    assert a.name == f"p-s-run-{slug[:12]}"


@pytest.mark.parametrize("key,mode,message", [
    ("network_mode", "service:other", "cannot share network namespace with service other: container missing"),
    ("ipc", "service:other", "cannot share IPC namespace with service other: container missing"),
    ("pid", "service:other", "cannot share PID namespace with service other: container missing"),
    ("volumes_from", ["other"], "cannot share volume with service other: container missing"),
])
def test_shared_with_a_service_without_containers(key, mode, message):
    p = small(**{key: mode})
    with pytest.raises(ComposeError, match=message):
        container_create(p, p.services["s"], 1, image="busybox", peers={"other": []})


def test_missing_environment_for_a_secret():
    p = project_of({"name": "p", "working_dir": "/w",
                    "services": {"s": {"image": "busybox", "secrets": [{"source": "pw"}]}},
                    "secrets": {"pw": {"name": "pw", "environment": "NOPE"}}})
    with pytest.raises(ComposeError, match='environment variable "NOPE" required by file "pw" is not set'):
        container_create(p, p.services["s"], 1, image="busybox")


def test_external_secret_is_refused():
    p = project_of({"name": "p", "working_dir": "/w",
                    "services": {"s": {"image": "busybox", "secrets": [{"source": "pw"}]}},
                    "secrets": {"pw": {"name": "pw", "external": True}}})
    with pytest.raises(ComposeError, match="unsupported external secret pw"):
        container_create(p, p.services["s"], 1, image="busybox")


def test_mac_address_must_match_the_main_network():
    p = small(mac_address="02:00:00:00:00:01",
              networks={"default": {"mac_address": "02:00:00:00:00:02"}})
    with pytest.raises(ComposeError, match="the service-level mac_address should have the same value as network default"):
        container_create(p, p.services["s"], 1, image="busybox")


def test_no_project_network_is_none():
    p = project_of({"name": "p", "working_dir": "/w", "services": {"s": {"image": "busybox"}}})
    body = container_create(p, p.services["s"], 1, image="busybox").body
    assert body["HostConfig"]["NetworkMode"] == "none" and "NetworkingConfig" not in body


def test_seccomp_profile_is_read_and_compacted(tmp_path):
    (tmp_path / "prof.json").write_text('{\n  "defaultAction": "SCMP_ACT_ALLOW",\n  "syscalls": []\n}\n')
    p = dataclasses.replace(small(security_opt=["seccomp=prof.json", "seccomp:unconfined"]),
                            working_dir=str(tmp_path))
    opts = container_create(p, p.services["s"], 1, image="busybox").body["HostConfig"]["SecurityOpt"]
    assert opts == ['seccomp={"defaultAction":"SCMP_ACT_ALLOW","syscalls":[]}', "seccomp:unconfined"]
    p = dataclasses.replace(p, services={"s": dataclasses.replace(p.services["s"], security_opt=["seccomp=nope.json"])})
    with pytest.raises(ComposeError, match=r"opening seccomp profile \(nope.json\) failed"):
        container_create(p, p.services["s"], 1, image="busybox")
    p = dataclasses.replace(p, services={"s": dataclasses.replace(p.services["s"], security_opt=["bogus"])})
    with pytest.raises(ComposeError, match='Invalid security-opt: "bogus"'):
        container_create(p, p.services["s"], 1, image="busybox")


def test_default_platform_from_the_environment():
    p = dataclasses.replace(small(), environment={"DOCKER_DEFAULT_PLATFORM": "linux/arm64"})
    assert container_create(p, p.services["s"], 1, image="busybox").platform == "linux/arm64"


def test_files_archive():
    import io
    import tarfile
    from ketch.compose.convert import InjectedFile
    data = files_archive([InjectedFile("/run/secrets/pw", b"hunter2", 0o400, 1000, 1000, True),
                          InjectedFile("/etc/app.conf", b"a=1\n")])
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = tar.getmembers()
        assert [(m.name, m.mode, m.uid, m.gid, m.size) for m in members] == [
            ("run/secrets/pw", 0o400, 1000, 1000, 7), ("etc/app.conf", 0o444, 0, 0, 4)]
        assert tar.extractfile(members[0]).read() == b"hunter2"


def test_network_and_volume_create_keep_user_labels_under_compose_ones():
    p = project_of({"name": "p", "working_dir": "/w",
                    "networks": {"n": {"name": "p_n", "labels": {L.PROJECT: "spoof", "a": "b"}}},
                    "volumes": {"v": {"name": "p_v", "labels": {L.PROJECT: "spoof"}}}})
    assert network_create(p, "n")["Labels"][L.PROJECT] == "p"
    assert network_create(p, "n")["Labels"]["a"] == "b"
    assert network_create(p, "n")["CheckDuplicate"] is True  # dockerd 20.10 makes duplicates without it
    assert volume_create(p, "v")["Labels"][L.PROJECT] == "p"
