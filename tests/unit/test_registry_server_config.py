"""registry.yaml (distribution's format) and the flags over it."""

import pytest

from ketch.registry.server import config
from ketch.registry.server.config import Config, ConfigError

FULL = """
version: 0.1
log:
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: /srv/registry
  delete:
    enabled: false
  cache:
    blobdescriptor: inmemory
http:
  addr: 0.0.0.0:5443
  relativeurls: true
  tls:
    certificate: /etc/r/cert.pem
    key: /etc/r/key.pem
auth:
  htpasswd:
    realm: Mine
    path: /etc/r/htpasswd
catalog:
  maxentries: 50
notifications: {}
"""


def test_a_full_file():
    assert config.from_yaml(FULL) == {
        "addr": "0.0.0.0:5443", "relative_urls": True, "tls_cert": "/etc/r/cert.pem", "tls_key": "/etc/r/key.pem",
        "storage": "/srv/registry", "delete_enabled": False, "htpasswd": "/etc/r/htpasswd",
        "htpasswd_realm": "Mine", "catalog_max": 50, "access_log": False}


def test_inmemory_and_token():
    settings = config.from_yaml("storage:\n  inmemory: {}\nauth:\n  token:\n    realm: https://a/token\n"
                                "    service: reg\n    issuer: iss\n    rootcertbundle: /k.pem\n")
    assert settings == {"storage": None, "token_realm": "https://a/token", "token_service": "reg",
                        "token_issuer": "iss", "token_key": "/k.pem"}


def test_flags_win_over_the_file(tmp_path):
    path = tmp_path / "registry.yaml"
    path.write_text(FULL)
    loaded = config.load(str(path), {"addr": "127.0.0.1:6000", "storage": None, "htpasswd": "/other"})
    assert (loaded.addr, loaded.storage, loaded.htpasswd, loaded.catalog_max) == \
        ("127.0.0.1:6000", "/srv/registry", "/other", 50)
    assert config.load(None, {}) == Config()


@pytest.mark.parametrize("text", ["http: 5", "[1, 2]", "http:\n  addr: 5000\n", "storage:\n  delete:\n    enabled: yes please\n",
                                  "a: [", "catalog:\n  maxentries: many\n"])
def test_bad_files(text):
    with pytest.raises(ConfigError):
        config.from_yaml(text)


@pytest.mark.parametrize("overrides, message", [
    ({"addr": "5000"}, "expected HOST:PORT"),
    ({"addr": "h:99999"}, "expected HOST:PORT"),
    ({"tls_cert": "/c"}, "go together"),
    ({"token_realm": "https://a"}, "token auth needs"),
    ({"htpasswd": "/h", "token_realm": "r", "token_service": "s", "token_issuer": "i", "token_key": "k"},
     "cannot both"),
])
def test_checks(overrides, message):
    with pytest.raises(ConfigError, match=message):
        config.load(None, overrides)


@pytest.mark.parametrize("addr, expected", [("127.0.0.1:5000", ("127.0.0.1", 5000)), (":5000", ("", 5000)),
                                            ("[::1]:5000", ("::1", 5000))])
def test_host_port(addr, expected):
    assert Config(addr=addr).host_port() == expected


def test_missing_file():
    with pytest.raises(ConfigError, match="cannot read /nonexistent.yaml"):
        config.load("/nonexistent.yaml", {})
