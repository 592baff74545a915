"""yamlfile: values as compose-go reads them (YAML 1.2 core scalars), anchors and merge keys,
lines by key path, compose's !reset/!override tags, go-yaml's error texts."""

import pytest

from ketch.compose.errors import LoadError
from ketch.compose.loader import yamlfile


def data(text):
    return yamlfile.load(text, "/p/compose.yaml").data


@pytest.mark.parametrize("text,value", [
    ("yes", "yes"), ("no", "no"), ("on", "on"), ("off", "off"), ("y", "y"), ("Yes", "Yes"),
    ("true", True), ("True", True), ("TRUE", True), ("false", False), ("FALSE", False),
    ("~", None), ("null", None), ("", None), ("NULL", None),
    ("1", 1), ("-12", -12), ("+3", 3), ("0x1f", 31), ("0o17", 15), ("0777", 511), ("0b101", 5), ("1_000", 1000),
    ("08", 8.0), ("1.5", 1.5), ("1e3", 1000.0), (".5", 0.5), ("-.inf", float("-inf")),
    ("2001-12-14", "2001-12-14"), ("1:20", "1:20"), ("'123'", "123"), ('"true"', "true"),
    ("!!str 123", "123"), ("!!str yes", "yes"), ("=", "="), ("8080:80", "8080:80"), ("0.5.1", "0.5.1"),
    ("|\n  a\n  b", "a\nb\n"), ("nginx:1.25", "nginx:1.25"),
])
def test_scalars(text, value):
    assert data(f"k: {text}\n") == {"k": value}


def test_anchors_and_merge_keys():
    text = """\
x-base: &base
  image: busybox
  environment: &env
    A: "1"
  restart: always
x-more: &more
  restart: "no"
  user: nobody
services:
  web:
    <<: [*base, *more]
    restart: unless-stopped
    environment: *env
  db:
    <<: *more
"""
    doc = yamlfile.load(text, "/p/compose.yaml")
    assert doc.data["services"] == {
        "web": {"restart": "unless-stopped", "environment": {"A": "1"}, "image": "busybox", "user": "nobody"},
        "db": {"restart": "no", "user": "nobody"},
    }
    assert doc.line(("services", "web", "restart")) == 12  # its own key, not the merged one
    assert doc.line(("services", "web", "image")) == 2  # where the merged value is written
    assert doc.line(("services", "db", "user")) == 8
    # aliased values are copies: changing one leaves the other
    doc.data["services"]["web"]["environment"]["A"] = "2"
    assert doc.data["x-base"]["environment"]["A"] == "1"


def test_lines():
    text = "name: p\nservices:\n  web:\n    image: x\n    ports:\n      - 80:80\n      - target: 81\n"
    doc = yamlfile.load(text, "/p/compose.yaml")
    assert doc.line(("services",)) == 2
    assert doc.line(("services", "web", "ports", 0)) == 6
    assert doc.line(("services", "web", "ports", 1, "target")) == 7
    assert doc.line(("services", "web", "ports", 1, "published")) == 7  # the nearest known ancestor
    assert doc.line(("nope",)) == 1


def test_reset_and_override_tags():
    doc = yamlfile.load("services:\n  web:\n    ports: !reset []\n    environment: !override\n      A: b\n"
                        "    command: [a, !reset b, c]\n", "f")
    assert doc.data == {"services": {"web": {"environment": {"A": "b"}, "command": ["a", "c"]}}}
    assert doc.resets == [("services", "web", "ports"), ("services", "web", "command", 1)]
    assert doc.overrides == [("services", "web", "environment")]


def test_documents_and_empty():
    assert yamlfile.load("", "f").data is None
    assert yamlfile.load("# only a comment\n", "f").data is None
    doc = yamlfile.load("a: 1\n---\nb: 2\n", "f")
    assert doc.data == {"a": 1} and [d.data for d in doc.more] == [{"b": 2}]
    assert yamlfile.load("- 1\n", "f").data == [1]  # the caller says a top level must be a mapping


@pytest.mark.parametrize("text,message", [
    ("services:\n  web:\n\timage: x\n", "yaml: line 3: found character that cannot start any token"),
    ("a: b\n  c: d\n", "yaml: line 2: mapping values are not allowed in this context"),
    ("services:\n  web:\n    image: x\n   bad: y\n", "yaml: line 1: did not find expected key"),
    ('a: "unterminated\n', "yaml: line 2: found unexpected end of stream"),
    ("a: *nope\n", "yaml: unknown anchor 'nope' referenced"),
    ("a: 1\nb: 2\na: 3\n", 'yaml: line 3: mapping key "a" already defined at line 1'),
    ("a:\n  <<: [1]\n", "yaml: line 2: map merge requires map or sequence of maps as the value"),
])
def test_syntax_errors(text, message):
    with pytest.raises(LoadError) as info:
        yamlfile.load(text, "/p/compose.yaml")
    assert str(info.value) == f"failed to parse /p/compose.yaml: {message}"


@pytest.mark.parametrize("text,message", [
    ("123:\n  foo:\n    image: busybox\n", "Non-string key at top level: 123"),
    ("services:\n  foo:\n    image: busybox\n  123:\n    image: busybox\n", "Non-string key in services: 123"),
    ("networks:\n  default:\n    ipam:\n      config:\n        - 123: oh dear\n",
     "Non-string key in networks.default.ipam.config[0]: 123"),
    ("services:\n  e:\n    environment:\n      1: FOO\n", "Non-string key in services.e.environment: 1"),
])
def test_non_string_key(text, message):
    with pytest.raises(LoadError) as info:
        yamlfile.load(text, "f")
    assert str(info.value) == message
