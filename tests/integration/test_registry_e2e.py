"""ketchd against ketch's own registry server (`ketch registry serve`): the docker CLI's
push, rmi, pull and run through ketchd, ketch search (the server's /v1/search), htpasswd
login/push/logout, and skopeo reading what ketchd pushed."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess

import bcrypt
import pytest

from tests.integration.test_registry_server import Registry

SKOPEO = shutil.which("skopeo")
needs_skopeo = pytest.mark.skipif(SKOPEO is None, reason="skopeo is not installed")


def ok(res) -> str:
    assert res.returncode == 0, f"exit {res.returncode}\n{res.stdout}\n{res.stderr}"
    return res.stdout


@pytest.fixture
def serve(tmp_path):
    started: list[Registry] = []

    def start(*args: str) -> Registry:
        started.append(Registry(str(tmp_path / f"storage{len(started)}"), *args))
        return started[-1]
    yield start
    for registry in started:
        registry.stop()


def skopeo_inspect(ref: str, *args: str) -> dict:
    res = subprocess.run([SKOPEO, "inspect", "--tls-verify=false", *args, f"docker://{ref}"],
                         capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


@needs_skopeo
def test_docker_cli_push_rmi_pull_run_search_and_skopeo(daemon, serve, tmp_path):
    d = daemon
    registry = serve()
    repo = f"{registry.host}/e2e/bb"
    cfg = str(tmp_path / "docker-config")  # the docker CLI's own config, not root's
    ok(d.docker("--config", cfg, "tag", "busybox", f"{repo}:1"))
    try:
        out = ok(d.docker("--config", cfg, "push", f"{repo}:1"))
        assert f"The push refers to repository [{repo}]" in out
        last = out.splitlines()[-1]
        assert last.startswith("1: digest: sha256:") and " size: " in last
        digest = last.split()[2]

        found = skopeo_inspect(f"{repo}:1")
        local = json.loads(ok(d.ketch("image", "inspect", f"{repo}:1")))[0]
        assert found["Digest"] == digest
        assert len(found["Layers"]) == len(local["RootFS"]["Layers"])
        assert (found["Os"], found["Architecture"]) == (local["Os"], local["Architecture"])
        assert found["Created"].startswith(local["Created"][:19]) and found["RepoTags"] == ["1"]
        raw = subprocess.run([SKOPEO, "inspect", "--raw", "--tls-verify=false", f"docker://{repo}:1"],
                             capture_output=True, timeout=60, check=True).stdout
        assert "sha256:" + hashlib.sha256(raw).hexdigest() == digest  # the bytes ketchd pushed
        manifest = json.loads(raw)
        # the manifest the image was made with (README, known gaps: moby rebuilds a schema 2 one)
        assert manifest["mediaType"] in ("application/vnd.docker.distribution.manifest.v2+json",
                                         "application/vnd.oci.image.manifest.v1+json")
        assert [layer["digest"] for layer in manifest["layers"]] == found["Layers"]
        assert manifest["config"]["digest"] == local["Id"]

        ok(d.docker("--config", cfg, "rmi", f"{repo}:1"))
        out = ok(d.docker("--config", cfg, "pull", f"{repo}:1"))
        assert f"Digest: {digest}" in out and out.splitlines()[-1] == f"{repo}:1"
        assert ok(d.docker("--config", cfg, "run", "--rm", f"{repo}:1", "echo", "e2e")) == "e2e\n"
        pulled = json.loads(ok(d.ketch("image", "inspect", f"{repo}:1")))[0]
        assert pulled["Id"] == local["Id"] and pulled["RepoDigests"] == [f"{repo}@{digest}"]

        # again: every layer is there; into another repository: mounted from the first
        out = ok(d.docker("--config", cfg, "push", f"{repo}:1"))
        assert ": Layer already exists" in out and out.splitlines()[-1] == last
        ok(d.docker("--config", cfg, "tag", f"{repo}:1", f"{registry.host}/e2e/other:2"))
        try:
            out = ok(d.ketch("push", f"{registry.host}/e2e/other:2"))
            assert ": Mounted from e2e/bb" in out, out
        finally:
            d.ketch("rmi", f"{registry.host}/e2e/other:2")
        # by digest, and every tag
        ok(d.ketch("rmi", f"{repo}:1"))
        out = ok(d.ketch("pull", f"{repo}@{digest}"))
        assert out.splitlines()[-1] == f"{repo}@{digest}"
        ok(d.ketch("rmi", f"{repo}@{digest}"))
        out = ok(d.docker("--config", cfg, "pull", "-a", repo))
        assert "1: Pulling from e2e/bb" in out and out.splitlines()[-1] == repo

        out = ok(d.docker("--config", cfg, "search", f"{registry.host}/e2e"))
        assert [line.split()[0] for line in out.splitlines()[1:]] == ["e2e/bb", "e2e/other"]
        out = ok(d.ketch("search", f"{registry.host}/e2e/b"))
        assert out.splitlines()[0].split() == ["NAME", "DESCRIPTION", "STARS", "OFFICIAL"]
        assert [line.split()[0] for line in out.splitlines()[1:]] == ["e2e/bb"]
        assert ok(d.ketch("search", f"{registry.host}/nothing-like-it")).splitlines()[1:] == []
    finally:
        d.ketch("rmi", f"{repo}:1")


@needs_skopeo
def test_htpasswd_login_push_logout(daemon, serve, tmp_path):
    d = daemon
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text("alice:" + bcrypt.hashpw(b"s3cret", bcrypt.gensalt(5)).decode() + "\n")
    registry = serve("--htpasswd", str(htpasswd))
    ref = f"{registry.host}/private/bb:1"
    cfg = tmp_path / "cfg"

    def ketch(*args, input=None):
        return subprocess.run(d._ketch_cmd(args), input=input, capture_output=True, text=True,
                              timeout=60, env=dict(d.env(), KETCH_CONFIG=str(cfg)))
    ok(d.ketch("tag", "busybox", ref))
    try:
        res = ketch("push", ref)
        assert res.returncode == 1 and "no basic auth credentials" in res.stderr, res.stderr
        res = ketch("login", "-u", "alice", "--password-stdin", registry.host, input="wrong\n")
        assert res.returncode == 1
        assert f"login attempt to http://{registry.host}/v2/ failed with status: 401 Unauthorized" in res.stderr
        res = ketch("login", "-u", "alice", "--password-stdin", registry.host, input="s3cret\n")
        assert res.returncode == 0 and res.stdout == "Login Succeeded\n", res.stderr
        out = ok(ketch("push", ref))
        digest = out.splitlines()[-1].split()[2]
        assert skopeo_inspect(ref, "--creds", "alice:s3cret")["Digest"] == digest
        ok(d.ketch("rmi", ref))
        ok(ketch("pull", ref))
        out = ok(ketch("search", f"{registry.host}/priv"))  # the server asks for the login too
        assert [line.split()[0] for line in out.splitlines()[1:]] == ["private/bb"]
        # the docker CLI's login goes through ketchd's POST /auth
        dcfg = str(tmp_path / "docker-cfg")
        res = d.docker("--config", dcfg, "login", "-u", "alice", "--password-stdin", registry.host,
                       input="s3cret")
        assert res.returncode == 0 and res.stdout.endswith("Login Succeeded\n"), res.stderr
        res = d.docker("--config", dcfg, "login", "-u", "alice", "--password-stdin", registry.host,
                       input="wrong")
        assert res.returncode == 1 and "401 Unauthorized" in res.stderr, res.stderr
        res = ketch("logout", registry.host)
        assert res.returncode == 0 and res.stdout == f"Removing login credentials for {registry.host}\n"
        res = ketch("pull", ref)
        assert res.returncode == 1 and "no basic auth credentials" in res.stderr, res.stderr
    finally:
        d.ketch("rmi", ref)


def test_token_auth_login_push_pull_search(daemon, serve, tmp_path):
    """A token server beside the registry (distribution's protocol): ketchd asks it for the
    scopes each call needs with the stored login, search's registry:catalog:search too."""
    from tests.integration.registries import TokenServer
    d = daemon
    cfg = tmp_path / "cfg"

    def ketch(*args, input=None):
        return subprocess.run(d._ketch_cmd(args), input=input, capture_output=True, text=True,
                              timeout=60, env=dict(d.env(), KETCH_CONFIG=str(cfg)))
    with TokenServer() as tokens:
        registry = serve("--token-realm", tokens.realm, "--token-service", tokens.service,
                         "--token-issuer", tokens.issuer, "--token-key", tokens.key.cert)
        ref = f"{registry.host}/team/bb:1"
        ok(d.ketch("tag", "busybox", ref))
        try:
            res = ketch("push", ref)
            assert res.returncode == 1 and "denied: requested access to the resource is denied" in res.stderr
            res = ketch("login", "-u", "alice", "--password-stdin", registry.host, input="wrong\n")
            assert res.returncode == 1
            ok(ketch("login", "-u", "alice", "--password-stdin", registry.host, input="s3cret\n"))
            digest = ok(ketch("push", ref)).splitlines()[-1].split()[2]
            ok(d.ketch("rmi", ref))
            assert f"Digest: {digest}" in ok(ketch("pull", ref))
            out = ok(ketch("search", f"{registry.host}/team"))
            assert [line.split()[0] for line in out.splitlines()[1:]] == ["team/bb"]
            granted = [r for r in tokens.requests if r.user == "alice"]
            assert any("registry:catalog:search" in r.scopes for r in granted), tokens.requests
        finally:
            d.ketch("rmi", ref)
