"""ketch.compose.loader.shortsyntax/canonical/normalize: short syntax -> canonical form."""

import pytest

from ketch.compose.errors import LoadError
from ketch.compose.loader import shortsyntax as ss
from ketch.compose.loader.canonical import canonical, service
from ketch.compose.loader.normalize import abs_path, normalize, resolve_environment, resolve_paths, set_defaults


@pytest.mark.parametrize("spec,want", [
    ("/d", {"type": "volume", "target": "/d"}),
    ("/data", {"type": "volume", "target": "/data", "volume": {}}),
    ("db:/data", {"type": "volume", "source": "db", "target": "/data", "volume": {}}),
    ("db:/data:ro,nocopy", {"type": "volume", "source": "db", "target": "/data", "read_only": True,
                            "volume": {"nocopy": True}}),
    ("./d:/d/", {"type": "bind", "source": "./d", "target": "/d", "bind": {"create_host_path": True}}),
    ("~/d:/d:rw", {"type": "bind", "source": "~/d", "target": "/d", "bind": {"create_host_path": True}}),
    ("/h:/c:ro,Z,rshared", {"type": "bind", "source": "/h", "target": "/c", "read_only": True,
                            "bind": {"create_host_path": True, "selinux": "Z", "propagation": "rshared"}}),
    ("${DIR:-/x}:/c", {"type": "volume", "source": "${DIR:-/x}", "target": "/c", "volume": {}}),
    ("C:\\d:/c", {"type": "bind", "source": "C:\\d", "target": "/c", "bind": {"create_host_path": True}}),
])
def test_volume_short_syntax(spec, want):
    assert ss.volume(spec) == want


@pytest.mark.parametrize("spec,err", [
    ("vol::b", "invalid spec: vol::b: empty section between colons"),
    ("vol:/a:ro:x", "invalid spec: vol:/a:ro:x: too many colons"),
])
def test_volume_errors(spec, err):
    with pytest.raises(LoadError, match=err):
        ss.volume(spec)


def test_ports():
    assert ss.ports(["80", 81, "8000-8001:80-81/udp", "[::1]:53:53/udp"], "p") == [
        {"target": 80, "protocol": "tcp", "mode": "ingress"},
        {"target": 81, "protocol": "tcp", "mode": "ingress"},
        {"target": 80, "published": "8000", "protocol": "udp", "mode": "ingress"},
        {"target": 81, "published": "8001", "protocol": "udp", "mode": "ingress"},
        {"target": 53, "published": "53", "host_ip": "::1", "protocol": "udp", "mode": "ingress"},
    ]
    assert ss.ports(["9000-9010:80"], "p") == [
        {"target": 80, "published": "9000-9010", "protocol": "tcp", "mode": "ingress"}]
    with pytest.raises(LoadError, match="invalid proto: bogus"):
        ss.ports(["80/bogus"], "p")


def test_values():
    assert ss.size("1g", "k") == 1 << 30 and ss.size(100, "k") == 100 and ss.size("100", "k") == 100
    assert ss.extra_hosts({"h": ["1.1.1.1", "::1"]}) == ["h=1.1.1.1", "h=::1"]
    with pytest.raises(LoadError, match="invalid additional host, missing IP: nohost"):
        ss.extra_hosts(["nohost"])
    assert ss.mapping_with_equals([1, "A=", "B"]) == {"1": None, "A": "", "B": None}
    with pytest.raises(LoadError, match="environment variable A  is declared with a trailing space"):
        ss.mapping_with_equals(["A =1"])
    assert ss.device("/dev/a:/dev/b") == {"source": "/dev/a", "target": "/dev/b", "permissions": "rwm"}
    assert ss.mode("0440") == 0o440


def test_service_canonical_keys():
    s = service("web", {"build": {"context": ".", "args": ["A=1", "B"]}, "env_file": "a.env",
                        "depends_on": {"db": None}, "pull_policy": "if_not_present",
                        "healthcheck": {"test": ["CMD", "true"], "retries": "3"}, "scale": "2"})
    assert s["build"]["args"] == {"A": "1", "B": None}
    assert s["env_file"] == [{"path": "a.env", "required": True}]
    assert s["depends_on"] == {"db": {"condition": "service_started", "required": True}}
    assert s["pull_policy"] == "missing"
    assert s["healthcheck"]["retries"] == 3 and s["scale"] == 2


def test_external_name_legacy():
    warnings = []
    doc = canonical({"volumes": {"v": {"external": {"name": "real"}}}}, warnings.append)
    assert doc["volumes"]["v"] == {"external": True, "name": "real"}
    assert warnings == ["volumes.v: external.name is deprecated. Please set name and external: true"]
    with pytest.raises(LoadError, match="volumes.v: name and external.name conflict; only use name"):
        canonical({"volumes": {"v": {"name": "a", "external": {"name": "b"}}}})


def _normalize(doc, env=None, read=None):
    """What the loader does once the files are merged."""
    doc = canonical(doc)
    set_defaults(doc)
    resolve_paths(doc, "/p")
    resolve_environment(doc, (env or {}).get)
    return normalize(doc, project="proj", working_dir="/p", lookup=(env or {}).get,
                     read_env_file=read or (lambda path, lookup: {}))


def test_paths_defaults_and_names():
    doc = _normalize({
        "services": {"web": {"build": "sub", "volumes": ["../up:/u", "/abs:/a",
                                                         {"type": "bind", "source": "b", "target": "/b", "bind": {}},
                                                         {"type": "bind", "source": "c", "target": "/c"}],
                             "secrets": ["s"]},
                     "git": {"build": {"context": "https://github.com/x/y.git", "dockerfile_inline": "FROM x"}}},
        "secrets": {"s": {"file": "s.txt"}},
        "volumes": {"v": None, "ext": {"external": True}, "named": {"name": "given"},
                    "dev": {"driver": "local", "driver_opts": {"o": "bind", "device": "./dev"}}},
    })
    web = doc["services"]["web"]
    assert web["build"] == {"context": "/p/sub", "dockerfile": "Dockerfile"}
    assert [v["source"] for v in web["volumes"]] == ["/up", "/abs", "/p/b", "/p/c"]
    # Compose 2.29 (compose-go 2.2): only the short syntax creates a missing host path
    assert [v.get("bind") for v in web["volumes"][2:]] == [{}, None]
    assert web["secrets"] == [{"source": "s", "target": "/run/secrets/s"}]
    assert doc["services"]["git"]["build"] == {"context": "https://github.com/x/y.git", "dockerfile_inline": "FROM x"}
    assert doc["secrets"]["s"] == {"file": "/p/s.txt", "name": "proj_s"}
    assert {k: v["name"] for k, v in doc["volumes"].items()} == {
        "v": "proj_v", "ext": "ext", "named": "given", "dev": "proj_dev"}
    assert doc["volumes"]["dev"]["driver_opts"]["device"] == "/p/dev"
    assert doc["networks"] == {"default": {"name": "proj_default"}}


def test_default_network_only_when_used():
    doc = _normalize({"services": {"a": {"image": "x", "network_mode": "host"},
                                   "b": {"image": "x", "networks": ["n"]}},
                      "networks": {"n": {}}})
    assert "default" not in doc["networks"]
    assert "networks" not in doc["services"]["a"]


def test_implicit_dependencies():
    doc = _normalize({"services": {"a": {"links": ["b:alias", "c"], "pid": "service:d",
                                         "volumes_from": ["e:ro", "container:f"],
                                         "depends_on": {"b": {"condition": "service_healthy"}}}}})
    assert doc["services"]["a"]["depends_on"] == {
        "b": {"condition": "service_healthy", "required": True},
        "c": {"condition": "service_started", "restart": True, "required": True},
        "d": {"condition": "service_started", "restart": True, "required": True},
        "e": {"condition": "service_started", "restart": False, "required": True},
    }


def test_environment_resolution_and_env_file(tmp_path):
    env_file = tmp_path / "web.env"
    env_file.write_text("X")
    reads = []
    env_file2 = tmp_path / "second.env"
    env_file2.write_text("X")

    def read(path, lookup):
        reads.append(path)
        return {"FROM_FILE": lookup("HOST"), "A": "file", "SVC": lookup("OWN"), "EARLIER": lookup("A")}
    doc = _normalize({"services": {"web": {"environment": {"A": "mine", "HOST": None, "GONE": None, "OWN": "o"},
                                           "env_file": [str(env_file), {"path": "/nope", "required": False}, str(env_file2)],
                                           "build": {"args": ["HOST", "GONE", "SET=1"]}}}},
                     env={"HOST": "h"}, read=read)
    web = doc["services"]["web"]
    assert reads == [str(env_file), str(env_file2)]
    assert web["environment"] == {"FROM_FILE": "h", "A": "mine", "SVC": None, "EARLIER": "file",
                                  "HOST": "h", "GONE": None, "OWN": "o"}
    assert web["build"]["args"] == {"HOST": "h", "SET": "1"}
    assert "env_file" not in web


def test_abs_path(monkeypatch):
    monkeypatch.setenv("HOME", "/home/u")
    assert abs_path("/p", "~") == "/home/u"
    assert abs_path("/p", "~/a/../b") == "/home/u/b"
    assert abs_path("/p", "./a//b/") == "/p/a/b"
    assert abs_path("/p", "/x") == "/x"


@pytest.mark.parametrize("line,want", [
    ("sh -c 'a b' \"c d\" e\\ f", ["sh", "-c", "a b", "c d", "e f"]),
    ("echo \"a\\\"b\" 'c\\d'", ["echo", 'a"b', "c\\d"]),
    ("printf \"x\\ty\"", ["printf", "x\ty"]),
    ("a '' \"\"", ["a", "", ""]),
    ("echo $(date) `x y`", ["echo", "$(date)", "`x y`"]),
    ("echo a; echo b", ["echo", "a"]),
    ("run 2>/dev/null", ["run"]),
    ("  spaced\targs\n", ["spaced", "args"]),
])
def test_shell_words(line, want):
    assert ss.shell_words(line, "k") == want


@pytest.mark.parametrize("line", ["sh -c 'open", "a (b)", "a)", "x\\"])
def test_shell_words_errors(line):
    with pytest.raises(LoadError, match="^invalid command line string$"):
        ss.shell_words(line, "k")
