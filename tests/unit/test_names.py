"""ketch.engine.names against moby's restrictedNamePattern and namesgenerator.

The error text is dockerd 20.10.24's answer to `docker create --name a busybox`.
"""

import random
import re

import pytest

from ketch.engine import names
from ketch.errors import InvalidArgument


@pytest.mark.parametrize("name,stored", [
    ("web", "web"),
    ("/web", "web"),
    ("a1", "a1"),
    ("my_app.v1-2", "my_app.v1-2"),
    ("0abc", "0abc"),
    ("Web_App", "Web_App"),
    ("x" * 100_000, "x" * 100_000),  # moby has no length limit
])
def test_valid(name, stored):
    assert names.validate(name) == stored


@pytest.mark.parametrize("name", [
    "a",  # the pattern needs two characters
    "",
    "/",
    "_web",
    "-web",
    ".web",
    "web app",
    "web/x",
    "//web",
    "caf\u00e9",
    ("web\n"),
])
def test_invalid(name):
    with pytest.raises(InvalidArgument) as exc:
        names.validate(name)
    assert str(exc.value) == (
        f"Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")


NAME = re.compile(r"^[a-z]+_[a-z]+$")


def test_generate_shape(monkeypatch):
    monkeypatch.setattr(names, "random", random.Random(1))
    for _ in range(200):
        name = names.generate(set())
        assert NAME.match(name), name
        assert names.validate(name) == name


class _Scripted:
    """random stand-in: choice() returns the scripted words in turn, randint() 7."""

    def __init__(self, *words):
        self.words = list(words)

    def choice(self, seq):
        word = self.words.pop(0)
        assert word in seq
        return word

    def randint(self, a, b):
        return 7


@pytest.mark.parametrize("script,taken,expected", [
    (("admiring", "hopper"), set(), "admiring_hopper"),
    # a collision retries with a digit appended (GetRandomName(retry > 0))
    (("admiring", "hopper", "admiring", "hopper"), {"admiring_hopper"}, "admiring_hopper7"),
    (("admiring", "hopper", "nice", "turing"), {"admiring_hopper"}, "nice_turing7"),
    # Steve Wozniak is not boring: that pair is rolled again, still with no digit
    (("boring", "wozniak", "admiring", "hopper"), set(), "admiring_hopper"),
])
def test_generate_scripted(monkeypatch, script, taken, expected):
    monkeypatch.setattr(names, "random", _Scripted(*script))
    assert names.generate(taken) == expected


def test_generate_never_boring_wozniak(monkeypatch):
    monkeypatch.setattr(names, "random", _Scripted("boring", "wozniak", "boring", "hopper"))
    assert not names.generate(set()).startswith("boring_wozniak")
