"""The Engine API itself: versions, errors, inactive features, Docker's JSON shapes."""

import json

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
    status, doc = daemon.api("PUT", "/v1.45/volumes/v?version=1", {})
    assert (status, doc) == (503, {"message": "volume update only valid for cluster volumes, "
                                              "but swarm is unavailable"})
    status, nets = daemon.api("GET", "/networks")
    assert status == 200 and {"bridge", "host", "none"} <= {n["Name"] for n in nets}
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


# -- Docker's router and Go's net/http, byte for byte (dockerd 20.10 and moby 26's code) --

@pytest.mark.parametrize("method, path", [
    ("GET", "/nosuch"), ("GET", "/v1.45/nosuch"), ("DELETE", "/_ping"),
    ("PUT", "/containers/json"), ("POST", "/v1.45/version"), ("GET", "/v1.11/nosuch"),
    ("GET", "/v1.x/version"),
])
def test_unknown_routes_and_methods_are_the_routers_bare_404(daemon, method, path):
    # moby's mux answers a wrong method with its not-found handler too, before any middleware
    status, body, headers = daemon.api(method, path, raw=True)
    assert (status, body) == (404, b'{"message":"page not found"}\n')
    assert sorted(headers) == ["content-length", "content-type", "date"], headers


def test_every_answer_has_a_date(daemon):
    import email.utils
    import time
    for method, path in [("GET", "/_ping"), ("GET", "/version"), ("GET", "/containers/nosuch/json")]:
        headers = daemon.api(method, path, raw=True)[2]
        assert abs(email.utils.parsedate_to_datetime(headers["date"]).timestamp() - time.time()) < 30
        assert headers["api-version"] == "1.45" and headers["docker-experimental"] == "false"


@pytest.mark.parametrize("version, message", [
    ("1.11", "client version 1.11 is too old. Minimum supported API version is 1.24, "
             "please upgrade your client to a newer version"),
    ("1.99", "client version 1.99 is too new. Maximum supported API version is 1.45"),
])
def test_unsupported_versions_are_refused_before_the_route(daemon, version, message):
    status, body, headers = daemon.api("GET", f"/v{version}/version", raw=True)
    assert (status, json.loads(body)) == (400, {"message": message})
    # the version middleware set its headers; the experimental one never ran
    assert headers["api-version"] == "1.45" and headers["ostype"] == "linux"
    assert "docker-experimental" not in headers


@pytest.mark.parametrize("body, message", [
    (b"{bad", "invalid JSON: invalid character 'b' looking for beginning of object key string"),
    (b'{"Image":"busybox"', "invalid JSON: unexpected EOF"),
    (b'{"Image":"busybox",}', "invalid JSON: invalid character '}' looking for beginning of object key string"),
    (b'{"Env":["a" "b"]}', "invalid JSON: invalid character '\"' after array element"),
    (b'{"Image":1}', "invalid JSON: json: cannot unmarshal number into Go struct field "
                     "ContainerConfigWrapper.Image of type string"),
    (b"", "invalid JSON: got EOF while reading request body"),
    (b"{}", "config cannot be empty in order to create a container"),
])
def test_malformed_create_bodies_get_mobys_400(daemon, body, message):
    status, doc = daemon.api("POST", "/containers/create", body)
    assert (status, doc) == (400, {"message": message})


def test_an_early_answer_reads_the_body_first(daemon):
    """A refusal before the body is read still reads it (up to Go's 256 KiB), so the
    connection stays usable; past that the answer says Connection: close."""
    import socket
    for size, keeps in ((100 << 10, True), (1 << 20, False)):
        sock = socket.socket(socket.AF_UNIX)
        sock.settimeout(10)
        sock.connect(daemon.socket)
        head = (f"POST /v1.45/images/create?fromSrc=-&changes=BOGUS HTTP/1.1\r\nHost: d\r\n"
                f"Content-Type: application/x-tar\r\nContent-Length: {size}\r\n\r\n").encode()
        sock.sendall(head + b"\0" * min(size, 200 << 10))
        answer = b""
        while b'"}\n' not in answer:
            answer += sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n")
        assert answer.endswith(b'{"message":"bogus is not a valid change command"}\n')
        assert (b"\r\nConnection: close\r\n" not in answer) == keeps
        if keeps:
            sock.sendall(b"GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n")
            assert sock.recv(65536).startswith(b"HTTP/1.1 200 OK\r\n")
        sock.close()


def test_a_create_body_must_be_declared_json(daemon):
    import socket
    for ctype, message in (("text/plain", "unsupported Content-Type header (text/plain): must be 'application/json'"),
                           (None, "malformed Content-Type header (): mime: no media type")):
        body = b'{"Image":"busybox"}'
        sock = socket.socket(socket.AF_UNIX)
        sock.settimeout(10)
        sock.connect(daemon.socket)
        head = "POST /v1.45/containers/create HTTP/1.1\r\nHost: d\r\nConnection: close\r\n"
        head += f"Content-Type: {ctype}\r\n" if ctype else ""
        sock.sendall(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        sock.close()
        assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n")
        assert json.loads(answer.split(b"\r\n\r\n", 1)[1]) == {"message": message}


def test_the_attach_head_is_mobys_hand_written_one(daemon):
    import socket
    cid = daemon.api("POST", "/containers/create", {"Image": "busybox", "Cmd": ["cat"], "OpenStdin": True})[1]["Id"]
    try:
        for upgrade, head in ((True, b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.multiplexed-stream"
                                     b"\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n"),
                              (False, b"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\n")):
            sock = socket.socket(socket.AF_UNIX)
            sock.settimeout(10)
            sock.connect(daemon.socket)
            extra = "Upgrade: tcp\r\nConnection: Upgrade\r\n" if upgrade else ""
            sock.sendall(f"POST /v1.45/containers/{cid}/attach?stream=1&stdout=1 HTTP/1.1\r\n"
                         f"Host: d\r\n{extra}\r\n".encode())
            got = b""
            while b"\r\n\r\n" not in got:
                got += sock.recv(4096)
            assert got == head  # no Date, no version headers (moby 26 and dockerd 20.10 alike)
            sock.close()
    finally:
        daemon.api("DELETE", f"/containers/{cid}?force=1")
