"""cli/credentials: Docker's config.json auths, credential helpers, X-Registry-Auth."""

import base64
import json
import os
import stat

import pytest

from ketch.cli import credentials


def test_file_store_round_trip(tmp_path):
    store = credentials.Store(str(tmp_path / "cfg"))
    assert store.get("localhost:5000").empty
    auth = credentials.AuthConfig("alice", "s3:cret", "localhost:5000")
    assert store.save_credentials(auth) is True  # in clear: the caller warns
    path = tmp_path / "cfg" / "config.json"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    doc = json.loads(path.read_text())
    assert doc == {"auths": {"localhost:5000": {"auth": base64.b64encode(b"alice:s3:cret").decode()}}}
    again = credentials.Store(str(tmp_path / "cfg"))
    assert again.get("localhost:5000") == auth
    again.erase("localhost:5000")
    assert json.loads(path.read_text()) == {"auths": {}}


def test_other_keys_survive_and_old_spellings_are_found(tmp_path):
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"psFormat": "{{.ID}}", "auths": {
        "https://localhost:5000/v1/": {"auth": base64.b64encode(b"bob:pw").decode(),
                                       "identitytoken": "tok"}}}))
    store = credentials.Store(str(tmp_path))
    got = store.get("localhost:5000")
    assert (got.username, got.password, got.identity_token) == ("bob", "pw", "tok")
    store.erase("localhost:5000")
    assert json.loads(cfg.read_text()) == {"psFormat": "{{.ID}}", "auths": {}}


HELPER = """#!/bin/sh
echo "$1 $(cat)" >> {log}
case "$1" in
get) case "$(tail -n1 {log})" in
       *nobody*) echo "credentials not found in native keychain"; exit 1 ;;
       *tokenhost*) echo '{{"ServerURL":"x","Username":"<token>","Secret":"T0K"}}' ;;
       *) echo '{{"ServerURL":"x","Username":"carol","Secret":"pw"}}' ;;
     esac ;;
broken) exit 3 ;;
esac
"""


@pytest.fixture
def helper(tmp_path, monkeypatch):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "helper.log"
    for name in ("docker-credential-fake",):
        script = bindir / name
        script.write_text(HELPER.format(log=log))
        script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    return log


def test_helpers(tmp_path, helper):
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    (cfg / "config.json").write_text(json.dumps({"credsStore": "fake",
                                                 "credHelpers": {"other:1": "missing"}}))
    store = credentials.Store(str(cfg))
    assert store.get("reg:5000") == credentials.AuthConfig("carol", "pw", "reg:5000")
    assert store.get("tokenhost:1") == credentials.AuthConfig(server_address="tokenhost:1",
                                                              identity_token="T0K")
    assert store.get("nobody:1").empty
    assert store.save_credentials(credentials.AuthConfig("dave", "pw2", "reg:5000")) is False
    assert json.loads((cfg / "config.json").read_text())["auths"] == {"reg:5000": {}}
    store.erase("reg:5000")
    calls = helper.read_text().splitlines()
    assert calls[-2] == 'store {"ServerURL":"reg:5000","Username":"dave","Secret":"pw2"}'
    assert calls[-1] == "erase reg:5000"
    with pytest.raises(credentials.CredentialsError, match='exec: "docker-credential-missing": '
                                                           "executable file not found in \\$PATH"):
        store.get("other:1")


def test_lookup_reads_docker_s_config_unless_a_directory_was_chosen(tmp_path, monkeypatch):
    home = tmp_path / "home"
    (home / ".docker").mkdir(parents=True)
    (home / ".docker" / "config.json").write_text(json.dumps(
        {"auths": {"reg:1": {"auth": base64.b64encode(b"eve:pw").decode()}}}))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("KETCH_CONFIG", raising=False)
    monkeypatch.delenv("DOCKER_CONFIG", raising=False)
    assert credentials.lookup(None, "reg:1").username == "eve"
    assert credentials.lookup(str(tmp_path / "elsewhere"), "reg:1").empty
    monkeypatch.setenv("KETCH_CONFIG", str(tmp_path / "k"))
    assert credentials.lookup(None, "reg:1").empty


def test_header_and_server_keys():
    auth = credentials.AuthConfig("a", "p", "reg:1")
    doc = json.loads(base64.urlsafe_b64decode(auth.header()))
    assert doc == {"username": "a", "password": "p", "serveraddress": "reg:1"}
    assert credentials.AuthConfig().header() == "e30="  # {}
    assert credentials.server_key("docker.io") == "https://index.docker.io/v1/"
    assert credentials.server_key("localhost:5000") == "localhost:5000"
    assert credentials.hostname("https://reg.example:5000/v2/") == "reg.example:5000"
