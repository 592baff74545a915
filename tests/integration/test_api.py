"""The Engine API itself: versions, errors, inactive features, Docker's JSON shapes."""

import pytest


def test_ping_headers(daemon):
    status, body, headers = daemon.api("GET", "/_ping", raw=True)
    assert (status, body) == (200, b"OK")
    assert headers["api-version"] == "1.45"
    assert headers["ostype"] == "linux"
    status, body, _ = daemon.api("HEAD", "/_ping", raw=True)
    assert (status, body) == (200, b"")


@pytest.mark.parametrize("prefix", ["", "/v1.24", "/v1.41", "/v1.45"])
def test_version_prefixes(daemon, prefix):
    status, doc = daemon.api("GET", f"{prefix}/version")
    assert status == 200
    assert doc["ApiVersion"] == "1.45" and doc["MinAPIVersion"] == "1.24"


def test_version_out_of_range(daemon):
    status, doc = daemon.api("GET", "/v1.99/info")
    assert status == 400
    assert doc["message"] == "client version 1.99 is too new. Maximum supported API version is 1.45"
    status, doc = daemon.api("GET", "/v1.12/info")
    assert status == 400 and "is too old" in doc["message"]


@pytest.mark.parametrize("method, path", [
    ("GET", "/swarm"), ("GET", "/nodes"), ("GET", "/services"), ("POST", "/swarm/init"),
    ("GET", "/secrets"), ("GET", "/configs"), ("GET", "/tasks"),
])
def test_swarm_routes_answer_not_a_manager(daemon, method, path):
    status, doc = daemon.api(method, f"/v1.45{path}")
    assert status == 503
    assert doc["message"].startswith("This node is not a swarm manager.")


def test_unknown_and_unserved_routes(daemon):
    assert daemon.api("GET", "/nosuch") == (404, {"message": "page not found"})
    assert daemon.api("GET", "/plugins") == (200, [])
    status, doc = daemon.api("POST", "/volumes/create", {"Name": "v"})
    assert status == 501 and "not implemented" in doc["message"]
    assert daemon.api("GET", "/volumes") == (200, {"Volumes": [], "Warnings": None})
    assert daemon.api("GET", "/networks") == (200, [])
    assert daemon.api("GET", "/networks/x") == (404, {"message": "network x not found"})


def test_errors_are_docker_json(daemon):
    assert daemon.api("GET", "/containers/nosuch/json") == (404, {"message": "No such container: nosuch"})
    status, doc = daemon.api("POST", "/containers/create", {"Image": "nosuch"})
    assert (status, doc) == (404, {"message": "No such image: nosuch:latest"})
    status, doc = daemon.api("POST", "/containers/create", {})
    assert status == 400
    status, doc = daemon.api("POST", "/containers/create?name=a%20b", {"Image": "busybox"})
    assert status == 400 and "Invalid container name" in doc["message"]


def test_container_json_shape(daemon):
    status, created = daemon.api("POST", "/containers/create", {"Image": "busybox", "Cmd": ["true"]})
    assert status == 201 and set(created) == {"Id", "Warnings"}
    cid = created["Id"]
    try:
        status, doc = daemon.api("GET", f"/containers/{cid[:8]}/json")
        assert status == 200
        for key in ("Id", "Created", "Path", "Args", "State", "Image", "Name", "HostConfig",
                    "Config", "NetworkSettings", "Mounts", "GraphDriver", "LogPath"):
            assert key in doc
        assert doc["State"]["Status"] == "created" and doc["State"]["StartedAt"] == "0001-01-01T00:00:00Z"
        assert doc["Config"]["Hostname"] == cid[:12]
        status, items = daemon.api("GET", '/containers/json?all=1&filters={"id":["%s"]}' % cid)
        assert [i["Id"] for i in items] == [cid]
        assert items[0]["State"] == "created" and items[0]["Status"] == "Created"
        assert daemon.api("POST", f"/containers/{cid}/start")[0] == 204
        assert daemon.api("POST", f"/containers/{cid}/wait")[1] == {"Error": None, "StatusCode": 0}
        assert daemon.api("POST", f"/containers/{cid}/stop")[0] == 304
    finally:
        daemon.api("DELETE", f"/containers/{cid}?force=1")


def test_wait_conditions(daemon):
    cid = daemon.api("POST", "/containers/create", {"Image": "busybox", "Cmd": ["sh", "-c", "exit 6"]})[1]["Id"]
    try:
        status, doc = daemon.api("POST", f"/containers/{cid}/wait?condition=nonsense")
        assert status == 400
        # not-running on a created container answers at once
        assert daemon.api("POST", f"/containers/{cid}/wait")[1]["StatusCode"] == 0
        daemon.api("POST", f"/containers/{cid}/start")
        assert daemon.api("POST", f"/containers/{cid}/wait?condition=not-running")[1]["StatusCode"] == 6
    finally:
        daemon.api("DELETE", f"/containers/{cid}?force=1")
