"""ketch.fastjson: the same answers as json, without importing it (or re, or enum)."""

import json
import pathlib
import subprocess
import sys

import pytest

from ketch import fastjson

REPO = str(pathlib.Path(__file__).resolve().parents[2])

DOCS = [
    {}, [], "", 0, -1.5e300, True, None, "snow \u2603 \U0001f600 \"q\" \\ \n",
    {"a": [1, 2.5, {"b": None}], "nested": {"deep": [[[]]]}, "unicode-key-\u00e9": "v"},
    [float("inf"), float("-inf")],
]


@pytest.mark.parametrize("doc", DOCS)
def test_round_trip_matches_json(doc):
    text = fastjson.dumps(doc)
    assert text == json.dumps(doc, separators=(",", ":"))
    assert fastjson.loads(text) == doc
    assert fastjson.loads(text.encode()) == doc
    assert fastjson.loads(f" \n\t{text}\r\n ") == doc


@pytest.mark.parametrize("text", ["", "   ", "{", "{not json", "[1,]", '{"a" 1}', "1 2", "nul", '"\\x"'])
def test_errors_are_value_errors(text):
    with pytest.raises(ValueError):
        fastjson.loads(text)


def test_errors_without_json_imported():
    """_json reports errors through json.decoder; in a process that never imported json
    that used to surface as a SystemError."""
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from ketch import fastjson\n"
            "assert 'json' not in sys.modules\n"
            "for text in ('{broken', '[1,]', '{\"a\" 1}', 'nul'):\n"
            "    try:\n"
            "        fastjson.loads(text)\n"
            "    except ValueError as exc:\n"
            "        print(type(exc).__name__)\n")
    res = subprocess.run([sys.executable, "-I", "-S", "-c", code, REPO], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["JSONDecodeError"] * 4


def test_dumps_refuses_what_json_refuses():
    with pytest.raises(TypeError, match="Object of type set is not JSON serializable"):
        fastjson.dumps({1, 2})
    loop: list = []
    loop.append(loop)
    with pytest.raises(ValueError):
        fastjson.dumps(loop)


def test_this_python_is_accelerated():
    """Otherwise the start-up figures in the docstring (bench/json_startup.py) are void."""
    assert fastjson.ACCELERATED


@pytest.mark.parametrize("fake", [
    "None",  # no _json at all: import fails
    "types.SimpleNamespace()",  # no make_scanner
    "types.SimpleNamespace(make_scanner=lambda ctx, extra: None)",  # another signature
    "types.SimpleNamespace(make_scanner=lambda ctx: (lambda s, i: ('wrong', i)))",  # another meaning
])
def test_a_different_json_accelerator_falls_back_to_json(fake):
    # json is imported first so that it keeps the real accelerator: only fastjson sees the fake
    code = ("import json, sys, types; sys.path.insert(0, sys.argv[1])\n"
            f"sys.modules['_json'] = {fake}\n"
            "from ketch import fastjson\n"
            "assert not fastjson.ACCELERATED\n"
            "assert fastjson.loads(' {\"a\": [1, null]} ') == {'a': [1, None]}\n"
            "assert fastjson.dumps({'a': [1, '\\u00e9']}) == '{\"a\":[1,\"\\\\u00e9\"]}'\n"
            "try:\n"
            "    fastjson.loads('{broken')\n"
            "except fastjson.JSONDecodeError:\n"
            "    print('ok')\n")
    res = subprocess.run([sys.executable, "-I", "-S", "-c", code, REPO], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["ok"]
