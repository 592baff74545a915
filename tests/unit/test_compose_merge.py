"""ketch.compose.loader.merge: the specification's merge rules on canonical mappings."""

import pytest

from ketch.compose.errors import LoadError
from ketch.compose.loader.canonical import canonical
from ketch.compose.loader.merge import merge, remove_paths


def merged(*docs):
    out = {}
    for doc in docs:
        out = merge(out, canonical(doc))
    return out


def web(**keys):
    return {"services": {"web": keys}}


def test_mappings_merge_scalars_override():
    got = merged(web(image="a", user="1"), web(image="b", working_dir="/w"))
    assert got["services"]["web"] == {"image": "b", "user": "1", "working_dir": "/w"}


def test_sequences_append():
    got = merged(web(security_opt=["a"]), web(security_opt=["b", "a"]))
    assert got["services"]["web"]["security_opt"] == ["a", "b", "a"]


def test_commands_replace():
    got = merged(web(command=["a", "b"], entrypoint="x y", healthcheck={"test": ["CMD", "a"], "retries": 2}),
                 web(command="c", entrypoint=["z"], healthcheck={"test": "b"}))
    s = got["services"]["web"]
    assert s["command"] == ["c"]
    assert s["entrypoint"] == ["z"]
    assert s["healthcheck"] == {"test": ["CMD-SHELL", "b"], "retries": 2}


def test_environment_and_labels_merge_by_key():
    got = merged(web(environment=["A=1", "B=2"], labels={"x": "1"}),
                 web(environment={"B": 3, "C": None}, labels=["y"]))
    s = got["services"]["web"]
    assert s["environment"] == {"A": "1", "B": "3", "C": None}
    assert s["labels"] == {"x": "1", "y": ""}


def test_environment_without_value_replaces():
    got = merged(web(environment={"A": "1"}), web(environment=["A"]))
    assert got["services"]["web"]["environment"] == {"A": None}


def test_unique_resources():
    got = merged(web(ports=["80:80", "81:81"], volumes=["va:/data", "./x:/x"], secrets=["s"],
                     dns=["1.1.1.1"], expose=[80]),
                 web(ports=["80:80", "82:82"], volumes=["vb:/data"], secrets=[{"source": "s", "mode": 0o400}],
                     dns=["1.1.1.1", "8.8.8.8"], expose=["80", 81]))
    s = got["services"]["web"]
    assert [p["published"] for p in s["ports"]] == ["80", "81", "82"]
    assert [(v.get("source"), v["target"]) for v in s["volumes"]] == [("vb", "/data"), ("./x", "/x")]
    assert s["secrets"] == [{"source": "s", "mode": 0o400}]
    assert s["dns"] == ["1.1.1.1", "8.8.8.8"]
    assert s["expose"] == ["80", "81"]


def test_ports_differ_by_protocol_and_ip():
    got = merged(web(ports=["80:80"]), web(ports=["80:80/udp", "127.0.0.1:80:80"]))
    assert len(got["services"]["web"]["ports"]) == 3


def test_networks_and_depends_on_merge_by_key():
    got = merged(web(networks=["a"], depends_on={"db": {"condition": "service_healthy"}}),
                 web(networks={"a": {"aliases": ["x"]}, "b": None}, depends_on=["cache"]))
    s = got["services"]["web"]
    assert s["networks"] == {"a": {"aliases": ["x"]}, "b": None}
    assert s["depends_on"] == {"db": {"condition": "service_healthy", "required": True},
                               "cache": {"condition": "service_started", "required": True}}


def test_aliases_unique():
    got = merged(web(networks={"a": {"aliases": ["x", "y"]}}), web(networks={"a": {"aliases": ["y", "z"]}}))
    assert got["services"]["web"]["networks"]["a"]["aliases"] == ["x", "y", "z"]


def test_logging_driver_change_replaces():
    base = web(logging={"driver": "json-file", "options": {"max-size": "1m"}})
    assert merged(base, web(logging={"driver": "syslog"}))["services"]["web"]["logging"] == {"driver": "syslog"}
    same = merged(base, web(logging={"options": {"max-file": "2"}}))["services"]["web"]["logging"]
    assert same == {"driver": "json-file", "options": {"max-size": "1m", "max-file": "2"}}


def test_build_string_and_object_merge():
    got = merged(web(build="./a"), web(build={"dockerfile": "Other", "args": ["X=1"]}))
    assert got["services"]["web"]["build"] == {"context": "./a", "dockerfile": "Other", "args": {"X": "1"}}


def test_ulimits_replace_whole_entry():
    got = merged(web(ulimits={"nofile": {"soft": 1, "hard": 2}}), web(ulimits={"nofile": 5}))
    assert got["services"]["web"]["ulimits"] == {"nofile": {"single": 5}}


def test_ipam_config_by_subnet():
    net = lambda cfg: {"networks": {"n": {"ipam": {"config": cfg}}}}  # noqa: E731
    got = merged(net([{"subnet": "10.0.0.0/8"}]), net([{"subnet": "10.0.0.0/8", "gateway": "10.0.0.1"},
                                                       {"subnet": "11.0.0.0/8"}]))
    assert got["networks"]["n"]["ipam"]["config"] == [{"subnet": "10.0.0.0/8", "gateway": "10.0.0.1"},
                                                      {"subnet": "11.0.0.0/8"}]


def test_type_clash():
    with pytest.raises(LoadError, match="cannot override services.web.deploy"):
        merge({"services": {"web": {"deploy": {"replicas": 1}}}}, {"services": {"web": {"deploy": ["x"]}}})


def test_reset_and_override_paths():
    base = merged(web(image="a", ports=["80:80"], environment={"A": "1", "B": "2"}))
    remove_paths(base, [("services", "web", "ports"), ("services", "web", "environment", "A"),
                        ("services", "nope", "x")])
    assert base["services"]["web"] == {"image": "a", "environment": {"B": "2"}}


def test_inputs_not_modified():
    a = canonical(web(dns=["1"]))
    b = canonical(web(dns=["2"]))
    merge(a, b)
    assert a["services"]["web"]["dns"] == ["1"] and b["services"]["web"]["dns"] == ["2"]
