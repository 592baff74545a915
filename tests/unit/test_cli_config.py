"""ketch.cli.config: the client's config.json, found and read as docker/cli does."""

import os

from ketch.cli import config


def test_directory_precedence(monkeypatch):
    monkeypatch.setenv("HOME", "/home/someone")
    monkeypatch.delenv("KETCH_CONFIG", raising=False)
    assert config.directory(None) == "/home/someone/.ketch"
    monkeypatch.setenv("KETCH_CONFIG", "/etc/kc")
    assert config.directory(None) == "/etc/kc"
    assert config.directory("/from/flag") == "/from/flag"


def test_load(tmp_path, capsys):
    assert config.load(str(tmp_path)) == {}  # no file: an empty config, silently
    path = tmp_path / "config.json"
    path.write_text("  \n")
    assert config.load(str(tmp_path)) == {}
    path.write_text('{"detachKeys": "ctrl-e", "psFormat": "{{.Names}}"}')
    assert config.load(str(tmp_path)) == {"detachKeys": "ctrl-e", "psFormat": "{{.Names}}"}
    assert capsys.readouterr().err == ""


def test_a_broken_file_is_a_warning(tmp_path, capsys):
    path = tmp_path / "config.json"
    path.write_text("{not json")
    assert config.load(str(tmp_path)) == {}
    err = capsys.readouterr().err
    assert err.startswith(f"WARNING: Error loading config file: {path}: ")
    path.write_text("[1, 2]")
    assert config.load(str(tmp_path)) == {}


def test_unreadable_file_is_a_warning(tmp_path, capsys):
    os.mkdir(tmp_path / "config.json")  # reading a directory fails with EISDIR
    assert config.load(str(tmp_path)) == {}
    assert "Is a directory" in capsys.readouterr().err


def test_string_settings():
    doc = {"detachKeys": "ctrl-e", "psFormat": 7}
    assert config.string(doc, "detachKeys") == "ctrl-e"
    assert config.string(doc, "psFormat") == ""
    assert config.string(doc, "imagesFormat") == ""
