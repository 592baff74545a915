"""A build's base image: pulled when it is not here (with the X-Registry-Config credentials
the client sends, its progress in the build's stream), taken as it is when it is."""

import base64
import json
import sys
import urllib.parse

import pytest

from tests.integration.conftest import REPO
from tests.integration.registries import DockerRegistry
from tests.integration.test_build_cache import context_tar

pytestmark = pytest.mark.integration


def _post(daemon, path: str, body: bytes = b"", headers: dict | None = None) -> tuple[int, bytes]:
    sys.path.insert(0, REPO)
    from ketch.client.http import Connection
    conn = Connection(daemon.socket, daemon.host)
    try:
        resp = conn.send("POST", path, body, headers or {})
        return resp.status, resp.read()
    finally:
        conn.close()


def _messages(payload: bytes) -> list[dict]:
    return [json.loads(line) for line in payload.decode().splitlines() if line.strip()]


def test_a_missing_base_image_is_pulled_with_the_builds_credentials(fresh_daemon):
    d = fresh_daemon
    with DockerRegistry(htpasswd={"alice": "s3cret"}) as reg:
        auth = {"username": "alice", "password": "s3cret", "serveraddress": reg.host}
        header = base64.urlsafe_b64encode(json.dumps(auth).encode()).decode()
        repo = f"{reg.host}/h5/base"
        assert _post(d, f"/images/busybox/tag?repo={urllib.parse.quote(repo)}&tag=1")[0] == 201
        status, out = _post(d, f"/images/{repo}/push?tag=1", headers={"X-Registry-Auth": header})
        assert status == 200 and b"errorDetail" not in out, out
        assert d.api("DELETE", f"/images/{repo}:1")[0] == 200
        context = context_tar({"Dockerfile": f"FROM {repo}:1\nENV FROM=registry\n"})
        # no credentials: the pull's error ends the stream, nothing is built
        status, out = _post(d, "/build?t=pulled:1", context, {"Content-Type": "application/x-tar"})
        assert status == 200 and "errorDetail" in _messages(out)[-1]
        assert d.api("GET", "/images/pulled:1/json")[0] == 404
        # with them (the docker CLI's X-Registry-Config: registry -> AuthConfig)
        configs = base64.urlsafe_b64encode(json.dumps({reg.host: auth}).encode()).decode()
        status, out = _post(d, "/build?t=pulled:1", context,
                            {"Content-Type": "application/x-tar", "X-Registry-Config": configs})
        messages = _messages(out)
        assert status == 200 and not [m for m in messages if "errorDetail" in m], messages
        assert {"status": "Pulling from h5/base", "id": "1"} in messages
        assert any(m.get("status", "").startswith("Digest: sha256:") for m in messages)
        built = d.api("GET", "/images/pulled:1/json")[1]
        base = d.api("GET", f"/images/{repo}:1/json")[1]
        assert built["Parent"] == base["Id"] and "FROM=registry" in built["Config"]["Env"]
        for name in ("pulled:1", f"{repo}:1"):
            d.api("DELETE", f"/images/{name}")
