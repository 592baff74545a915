"""ketch.engine.containers.merge_config against moby's merge(userConf, imageConf).

IMAGE is the config of an image built on dockerd 20.10.24; each row's expected
values are what `docker inspect` showed in Config after `POST /containers/create`
with the user's body (through `docker create` flags or the API directly).
"""

import pytest

from ketch.engine.containers.service import merge_config

PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
IMAGE = {
    "User": "alice", "ExposedPorts": {"80/tcp": {}}, "Env": [PATH, "A=img", "B=img"],
    "Entrypoint": ["/bin/echo"], "Cmd": ["img-cmd"], "WorkingDir": "/imgdir",
    "Labels": {"l1": "img", "l2": "img"}, "StopSignal": "SIGUSR1", "OnBuild": ["RUN echo hi"],
}
# what an unmodified `docker create IMAGE` shows
INHERITED = {
    "User": "alice", "Env": [PATH, "A=img", "B=img"], "Cmd": ["img-cmd"],
    "Entrypoint": ["/bin/echo"], "WorkingDir": "/imgdir", "Labels": {"l1": "img", "l2": "img"},
    "StopSignal": "SIGUSR1", "ExposedPorts": {"80/tcp": {}}, "Volumes": None,
}


# the user's create body -> the fields of the merged config that differ from INHERITED
MERGED = [
    ({"Image": "x"}, {}),
    ({"Cmd": []}, {}),  # an empty Cmd inherits the image's
    ({"Cmd": ["x", "y"]}, {"Cmd": ["x", "y"]}),  # the image's Entrypoint stays
    ({"Entrypoint": ["/bin/sh"]}, {"Entrypoint": ["/bin/sh"], "Cmd": None}),
    ({"Entrypoint": ["/bin/sh"], "Cmd": ["-c", "true"]},
     {"Entrypoint": ["/bin/sh"], "Cmd": ["-c", "true"]}),
    # `--entrypoint ""`: no entrypoint and the image's Cmd is not inherited either
    ({"Entrypoint": [""], "Cmd": ["x"]}, {"Entrypoint": None, "Cmd": ["x"]}),
    ({"Entrypoint": [""]}, {"Entrypoint": None, "Cmd": None}),
    ({"Env": ["A=user", "C=user"]}, {"Env": ["A=user", "C=user", PATH, "B=img"]}),
    ({"Env": ["PATH"]}, {"Env": ["PATH", "A=img", "B=img"]}),  # a bare name still shadows
    ({"Labels": {"l1": "user", "l3": "user"}}, {"Labels": {"l1": "user", "l2": "img", "l3": "user"}}),
    ({"User": "root", "WorkingDir": "/w", "StopSignal": "SIGTERM"},
     {"User": "root", "WorkingDir": "/w", "StopSignal": "SIGTERM"}),
    ({"User": "", "WorkingDir": ""}, {}),
    ({"ExposedPorts": {"81/tcp": {}}}, {"ExposedPorts": {"80/tcp": {}, "81/tcp": {}}}),
    ({"Volumes": {"/v": {}}}, {"Volumes": {"/v": {}}}),
    ({"Entrypoint": [], "Cmd": ["x"]}, {"Entrypoint": [], "Cmd": ["x"]}),
    ({"Entrypoint": []}, {"Entrypoint": []}),
]


@pytest.mark.parametrize("user,changed", MERGED)
def test_merge(user, changed):
    merged = merge_config(user, IMAGE)
    expected = {**INHERITED, **changed}
    assert {k: merged.get(k) for k in expected} == expected


def test_onbuild_is_not_inherited():
    assert merge_config({}, IMAGE).get("OnBuild") is None


def test_healthcheck_inherited_unless_given():
    image = {**IMAGE, "Healthcheck": {"Test": ["CMD-SHELL", "true"]}}
    assert merge_config({}, image)["Healthcheck"] == {"Test": ["CMD-SHELL", "true"]}
    mine = {"Test": ["NONE"]}
    assert merge_config({"Healthcheck": mine}, image)["Healthcheck"] == mine


def test_inputs_are_not_modified():
    user = {"Env": ["A=1"], "Labels": {"x": "1"}, "ExposedPorts": {"81/tcp": {}}}
    image = {k: (v.copy() if hasattr(v, "copy") else v) for k, v in IMAGE.items()}
    merge_config(user, image)
    assert user == {"Env": ["A=1"], "Labels": {"x": "1"}, "ExposedPorts": {"81/tcp": {}}}
    assert image == IMAGE


def test_empty_image_config():
    merged = merge_config({"Cmd": ["sh"], "Env": ["A=1"]}, {})
    assert (merged["Cmd"], merged["Env"], merged.get("Entrypoint"), merged["Labels"]) == (
        ["sh"], ["A=1"], None, {})
