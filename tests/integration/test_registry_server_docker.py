"""The oracle's client against ketch's registry server: a dockerd of the test's own
(Debian's docker.io on a temporary root) pushes to, pulls from, logs in to and searches
`ketch registry serve` on loopback (insecure by default there, as in Docker)."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tarfile

import bcrypt
import pytest

from tests.integration.differential.dockerd import Dockerd, DockerdUnavailable
from tests.integration.test_registry_server import Registry
from tests.registry_helpers import TokenIssuer, pem

# Every dockerd of the tests runs on the one worker of this group, one after another: each
# removes at its end the host paths (/run/docker, ...) that were not there at its start, so
# two at once on the two workers took those paths from under each other (CI: "dockerd left:
# {'host paths': ['/run/docker/plugins', '/run/docker']}").
pytestmark = pytest.mark.xdist_group("differential")

DOCKER = shutil.which("docker")


@pytest.fixture(scope="module")
def dockerd():
    if DOCKER is None:
        pytest.skip("no docker client on PATH")
    d = Dockerd()
    try:
        d.start()
    except DockerdUnavailable as exc:
        d.stop()
        shutil.rmtree(d.root, ignore_errors=True)
        pytest.skip(str(exc))
    yield d
    problems = d.stop()
    shutil.rmtree(d.root, ignore_errors=True)
    assert not problems, problems


@pytest.fixture
def docker(dockerd, tmp_path):
    env = dict(os.environ, DOCKER_HOST=dockerd.host, DOCKER_CONFIG=str(tmp_path / "docker-config"))
    env.pop("DOCKER_CONTEXT", None)

    def run(*args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
        res = subprocess.run([DOCKER, *args], capture_output=True, text=True, timeout=120, env=env,
                             input=input, stdin=None if input is not None else subprocess.DEVNULL)
        if check and res.returncode != 0:
            raise AssertionError(f"docker {args} exited {res.returncode}: {res.stderr}")
        return res
    return run


@pytest.fixture
def image_tar(tmp_path) -> str:
    path = tmp_path / "rootfs.tar"
    with tarfile.open(path, "w") as tar:
        for name, data in (("hello.txt", b"hello\n"), ("etc/os-release", b"ID=test\n")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return str(path)


@pytest.fixture
def registry(tmp_path):
    started = []

    def start(*args: str) -> Registry:
        started.append(Registry(str(tmp_path / "storage"), *args))
        return started[-1]
    yield start
    for r in started:
        r.stop()


def test_docker_push_pull_and_search(docker, registry, image_tar):
    reg = registry()
    ref = f"{reg.host}/team/app:1"
    docker("import", image_tar, ref)
    pushed = docker("push", ref)
    assert "1: digest: sha256:" in pushed.stdout
    digest = pushed.stdout.split("digest: ")[1].split()[0]
    docker("rmi", ref)
    pulled = docker("pull", ref)
    assert f"Digest: {digest}" in pulled.stdout
    inspect = json.loads(docker("image", "inspect", ref).stdout)[0]
    assert inspect["RepoDigests"] == [f"{reg.host}/team/app@{digest}"]
    docker("pull", f"{reg.host}/team/app@{digest}")
    missing = docker("pull", f"{reg.host}/team/app:nope", check=False)
    assert missing.returncode == 1 and "manifest unknown" in missing.stderr
    found = docker("search", "--format", "{{.Name}}", f"{reg.host}/team")
    assert found.stdout.split() == ["team/app"]
    docker("rmi", ref, f"{reg.host}/team/app@{digest}", check=False)


def test_docker_login_with_htpasswd(docker, registry, image_tar, tmp_path):
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text("alice:" + bcrypt.hashpw(b"s3cret", bcrypt.gensalt(5)).decode() + "\n")
    reg = registry("--htpasswd", str(htpasswd))
    ref = f"{reg.host}/private:1"
    docker("import", image_tar, ref)
    denied = docker("push", ref, check=False)
    assert denied.returncode == 1 and "no basic auth credentials" in denied.stderr
    bad = docker("login", "-u", "alice", "--password-stdin", reg.host, input="wrong", check=False)
    assert bad.returncode == 1 and "401 Unauthorized" in bad.stderr
    good = docker("login", "-u", "alice", "--password-stdin", reg.host, input="s3cret")
    assert "Login Succeeded" in good.stdout
    docker("push", ref)
    docker("rmi", ref)
    docker("pull", ref)
    docker("rmi", ref)


def test_docker_with_token_auth(docker, registry, image_tar, tmp_path):
    issuer = TokenIssuer("test-issuer", "ketch-registry", {"alice": "s3cret"})
    try:
        key = tmp_path / "token.pem"
        key.write_bytes(pem(issuer.cert))
        reg = registry("--token-realm", issuer.realm, "--token-service", "ketch-registry",
                       "--token-issuer", "test-issuer", "--token-key", str(key))
        ref = f"{reg.host}/team/tok:1"
        docker("import", image_tar, ref)
        anonymous = docker("push", ref, check=False)
        assert anonymous.returncode == 1  # the issuer gives anonymous callers pull only
        docker("login", "-u", "alice", "--password-stdin", reg.host, input="s3cret")
        docker("push", ref)
        docker("rmi", ref)
        docker("pull", ref)
        docker("rmi", ref)
        assert {"user": "alice", "scope": ["repository:team/tok:push,pull"], "service": "ketch-registry"} \
            in issuer.requests
    finally:
        issuer.close()
