"""Cache keys equal exactly when moby's image/cache compare says the configs match; Go's
formatting of the history texts."""

from ketch.build import gofmt
from ketch.build.cachekey import step_key

BASE = {"Cmd": ["/bin/sh", "-c", "#(nop) ", "ENV A=1"], "Env": ["A=1"], "User": "",
        "Labels": {"a": "1", "b": "2"}, "ExposedPorts": {"80/tcp": {}}, "Volumes": None}


def test_key_is_stable_and_ignores_what_compare_ignores():
    key = step_key("sha256:p", BASE)
    assert key.startswith("sha256:") and len(key) == 71
    assert step_key("sha256:p", dict(BASE)) == key
    same = {**BASE, "Labels": {"b": "2", "a": "1"}, "Volumes": {}, "Hostname": "abc",
            "WorkingDir": "/x", "Image": "sha256:other", "Healthcheck": {"Test": ["NONE"]}}
    assert step_key("sha256:p", same) == key


def test_key_changes_with_what_compare_looks_at():
    key = step_key("sha256:p", BASE)
    for change in ({"Cmd": ["/bin/sh", "-c", "#(nop) ", "ENV A=2"]}, {"Env": ["A=2"]},
                   {"Env": ["A=1", "B=1"]}, {"User": "1"}, {"Labels": {"a": "1"}},
                   {"ExposedPorts": {"81/tcp": {}}}, {"Entrypoint": ["x"]}, {"Volumes": {"/v": {}}},
                   {"Tty": True}):
        assert step_key("sha256:p", {**BASE, **change}) != key, change
    assert step_key("sha256:q", BASE) != key
    assert step_key("", BASE) != key  # scratch


def test_open_stdin_is_never_cached():
    assert step_key("sha256:p", {**BASE, "OpenStdin": True}) == ""


def test_go_formats():
    assert gofmt.quote_list(["echo", 'a"b']) == '["echo" "a\\"b"]'
    assert gofmt.quote_list(None) == "[]"
    assert gofmt.plain_list(["/x", "/y"]) == "[/x /y]"
    assert [gofmt.quote_rune(n) for n in (0, 2, 10, 65, 39)] == ["'\\x00'", "'\\x02'", "'\\n'", "'A'", "'\\''"]
    assert gofmt.quote_health({"Test": ["CMD-SHELL", "true"], "Interval": 90_000_000_000,
                               "Retries": 3}) == '&{["CMD-SHELL" "true"] "1m30s" "0s" "0s" \'\\x03\'}'
